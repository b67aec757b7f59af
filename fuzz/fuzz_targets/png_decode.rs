//! png decode: any bytes as a chunk of 1 to 4 channels of 8 or 16 bits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ndarray::ArrayView4;
use ngcodec::element::Element;
use ngcodec::{png, Error};

/// Outputs above this many samples only get the header check.
const MAX_SAMPLES: usize = 1 << 20;

// Byte 0: bits 0-1 are the channels - 1, bit 2 picks 16 bits; with bit 3 set, the request is the
// pixel count of the file's own IHDR (so the pixels get decoded), else bytes 1-2 (u16) are.
fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let channels = usize::from(selector & 3) + 1;
    let (pixels, buf) = if selector & 8 != 0 {
        let declared = rest.get(16..24).map(|ihdr| {
            let side = |bytes: &[u8]| u32::from_be_bytes(bytes.try_into().unwrap()) as usize;
            side(&ihdr[..4]) * side(&ihdr[4..])
        });
        (declared.unwrap_or(0), rest)
    } else if rest.len() >= 2 {
        (
            usize::from(u16::from_le_bytes([rest[0], rest[1]])),
            &rest[2..],
        )
    } else {
        return;
    };
    if selector & 4 != 0 {
        check::<u16>(buf, channels, pixels);
    } else {
        check::<u8>(buf, channels, pixels);
    }
});

fn check<T: Element + PartialEq + std::fmt::Debug>(buf: &[u8], channels: usize, pixels: usize) {
    let reader = match png::Reader::new(buf, channels, T::SIZE, Some(pixels)) {
        Ok(reader) => reader,
        Err(Error::InvalidFormat(_)) => return,
        Err(other) => panic!("png header check gave {other:?}"),
    };
    if pixels * channels > MAX_SAMPLES {
        return;
    }
    let mut planes = vec![T::default(); pixels * channels];
    match reader.decode_into(&mut planes) {
        Ok(()) if pixels > 0 => {
            // What decodes is an image: it encodes and decodes back to the same samples.
            let chunk = ArrayView4::from_shape((channels, 1, 1, pixels), &planes[..]).unwrap();
            let encoded = png::encode(chunk, pixels, 1).unwrap();
            let mut again = vec![T::default(); planes.len()];
            png::Reader::new(&encoded, channels, T::SIZE, Some(pixels))
                .and_then(|reader| reader.decode_into(&mut again))
                .unwrap();
            assert_eq!(again, planes);
        }
        Ok(()) | Err(Error::InvalidFormat(_)) => {}
        Err(other) => panic!("png decode gave {other:?}"),
    }
}
