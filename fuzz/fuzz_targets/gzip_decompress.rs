//! gzip and zlib decompression: any bytes, any output bound, checked against flate2 (miniz_oxide).
#![no_main]

use std::io::Read;

use flate2::{Decompress, FlushDecompress, Status};
use libfuzzer_sys::fuzz_target;
use ngcodec::{gzip, Error};

// Byte 0: bit 0 picks zlib over gzip, bits 2-5 a compression level for the round trip; bytes 1-2:
// the most bytes the stream may inflate to (little-endian), small enough for bombs to be found;
// the stream after them.
fuzz_target!(|data: &[u8]| {
    let Some(([selector, low, high], stream)) = data.split_first_chunk::<3>() else {
        return;
    };
    let max_size = usize::from(u16::from_le_bytes([*low, *high]));
    if selector & 1 == 0 {
        check_gzip(stream, max_size);
    } else {
        check_zlib(stream, max_size);
    }
    // Whatever the bytes, they compress and come back, and another decoder reads them.
    let level = i32::from(selector >> 2 & 15) % 12 + 1;
    let packed = gzip::compress(stream, level).expect("levels 1 to 12 are valid");
    assert_eq!(gzip::decompress(&packed, stream.len()).unwrap(), stream);
    assert_eq!(
        reference_gzip(&packed, stream.len()),
        Some((stream.to_vec(), true))
    );
});

fn check_gzip(stream: &[u8], max_size: usize) {
    let reference = reference_gzip(stream, max_size);
    match gzip::decompress(stream, max_size) {
        Ok(out) => {
            assert!(out.len() <= max_size);
            assert_eq!(gzip::decompressed_len(stream, max_size), Ok(out.len()));
            let (expected, _) = reference.expect("what ngcodec reads, flate2 reads");
            assert_eq!(out, expected);
        }
        Err(Error::InvalidFormat(message)) => {
            assert!(!message.is_empty());
            // A member that flate2 reads whole within the bound, with no reserved flag bits (which
            // RFC 1952 says to refuse), must have been read.
            let reserved = stream.get(3).is_some_and(|flags| flags & 0xe0 != 0);
            if let Some((expected, true)) = reference {
                assert!(reserved || expected.len() > max_size, "refused: {message}");
            }
        }
        Err(other) => panic!("gzip decompress gave {other:?}"),
    }
}

fn check_zlib(stream: &[u8], max_size: usize) {
    let reference = reference_zlib(stream, max_size);
    match gzip::decompress_zlib(stream, max_size) {
        Ok(out) => {
            assert!(out.len() <= max_size);
            let (expected, _) = reference.expect("what ngcodec reads, flate2 reads");
            assert_eq!(out, expected);
        }
        Err(Error::InvalidFormat(message)) => {
            assert!(!message.is_empty());
            if let Some((expected, true)) = reference {
                assert!(expected.len() > max_size, "refused: {message}");
            }
        }
        Err(other) => panic!("zlib decompress gave {other:?}"),
    }
}

/// flate2's reading of the first gzip member, up to one byte past `max_size`, and whether the
/// member is the whole stream.
fn reference_gzip(stream: &[u8], max_size: usize) -> Option<(Vec<u8>, bool)> {
    let mut decoder = flate2::bufread::GzDecoder::new(stream);
    let mut out = Vec::new();
    (&mut decoder)
        .take(max_size as u64 + 1)
        .read_to_end(&mut out)
        .ok()?;
    if out.len() > max_size {
        return Some((out, true));
    }
    Some((out, decoder.into_inner().is_empty()))
}

/// flate2's reading of a zlib stream, up to one byte past `max_size`, and whether it is the
/// whole input.
fn reference_zlib(stream: &[u8], max_size: usize) -> Option<(Vec<u8>, bool)> {
    let mut decompress = Decompress::new(true);
    let mut out = Vec::with_capacity(max_size + 1);
    let status = decompress
        .decompress_vec(stream, &mut out, FlushDecompress::Finish)
        .ok()?;
    match status {
        Status::StreamEnd => Some((out, decompress.total_in() == stream.len() as u64)),
        _ if out.len() > max_size => Some((out, true)),
        _ => None,
    }
}
