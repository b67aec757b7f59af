//! raw decode: any bytes into an output of any value size and length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ngcodec::element::Element;
use ngcodec::{raw, Error};

// Byte 0: bits 0-1 pick the value size (1, 2, 4, 8 bytes); with bit 2 set, byte 1 is the output
// length in values (usually wrong), else the length matches the rest of the input when it can.
fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (len, buf) = match (selector & 4 != 0, rest.split_first()) {
        (true, Some((&len, buf))) => (Some(len as usize), buf),
        _ => (None, rest),
    };
    match selector & 3 {
        0 => check::<u8>(buf, len),
        1 => check::<u16>(buf, len),
        2 => check::<u32>(buf, len),
        _ => check::<u64>(buf, len),
    }
});

fn check<T: Element + PartialEq + std::fmt::Debug>(buf: &[u8], len: Option<usize>) {
    let len = len.unwrap_or(buf.len() / T::SIZE);
    let mut out = vec![T::default(); len];
    match raw::decode_into(buf, &mut out) {
        Ok(()) => {
            assert_eq!(buf.len(), len * T::SIZE);
            let expected: Vec<T> = buf.chunks_exact(T::SIZE).map(T::from_le_slice).collect();
            assert_eq!(out, expected);
        }
        Err(Error::InvalidFormat(message)) => {
            assert_ne!(buf.len(), len * T::SIZE);
            assert!(message.contains("bytes"));
        }
        Err(other) => panic!("raw decode gave {other:?}"),
    }
}
