//! jpeg decode: any bytes as a greyscale or RGB chunk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ngcodec::{jpeg, Error};

/// Outputs above this many samples only get the header check.
const MAX_SAMPLES: usize = 1 << 20;

// Byte 0: bit 0 picks 3 channels over 1; with bit 1 set, the request is the pixel count of the
// file's own header (as libjpeg-turbo reads it, so the pixels get decoded), else bytes 1-3 (u24)
// are; the file follows them.
fuzz_target!(|data: &[u8]| {
    let [selector, p0, p1, p2, buf @ ..] = data else {
        return;
    };
    let channels = if selector & 1 != 0 { 3 } else { 1 };
    let pixels = if selector & 2 != 0 {
        match turbojpeg::read_header(buf) {
            Ok(header) => header.width * header.height,
            Err(_) => return,
        }
    } else {
        usize::from(*p0) | usize::from(*p1) << 8 | usize::from(*p2) << 16
    };
    let reader = match jpeg::Reader::new(buf, channels, Some(pixels)) {
        Ok(reader) => reader,
        Err(Error::InvalidFormat(_)) => return,
        Err(other) => panic!("jpeg header check gave {other:?}"),
    };
    if pixels * channels > MAX_SAMPLES {
        return;
    }
    match reader.decode_into(&mut vec![0; pixels * channels]) {
        Ok(()) | Err(Error::InvalidFormat(_)) => {}
        Err(other) => panic!("jpeg decode gave {other:?}"),
    }
});
