//! compresso decode: any bytes, as the binding decodes them, at the chunk size and label size the
//! stream's own header declares (so that the sections get decoded).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ngcodec::element::Element;
use ngcodec::{compresso, Error};

/// Chunks above this many voxels only get the header check.
const MAX_VOXELS: usize = 1 << 18;

fuzz_target!(|data: &[u8]| {
    let declared = |at: usize| {
        data.get(at..at + 2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let (Some(x), Some(y), Some(z)) = (declared(6), declared(8), declared(10)) else {
        return;
    };
    match data[5] {
        1 => check::<u8>(data, [x, y, z]),
        2 => check::<u16>(data, [x, y, z]),
        4 => check::<u32>(data, [x, y, z]),
        _ => check::<u64>(data, [x, y, z]),
    }
});

fn check<T: Element>(buf: &[u8], size: [usize; 3]) {
    match compresso::check_header(buf, size, T::SIZE) {
        Ok(_) => {}
        Err(Error::InvalidFormat(_)) => return,
        Err(other) => panic!("compresso header check gave {other:?}"),
    }
    let voxels: usize = size.iter().product();
    if voxels > MAX_VOXELS {
        return;
    }
    let mut out = vec![T::default(); voxels];
    match compresso::decode_into(buf, size, &mut out) {
        Ok(()) | Err(Error::InvalidFormat(_)) => {}
        Err(other) => panic!("compresso decode gave {other:?}"),
    }
}
