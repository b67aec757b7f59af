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
            match reference {
                Some((expected, _)) => assert_eq!(out, expected),
                None => assert_documented_gap(stream, &out),
            }
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

/// The one way ngcodec reads a member that flate2 refuses, as src/gzip.rs says: the deflate data
/// ends before the last eight bytes, which hold the CRC-32 and size of what it inflates to.
fn assert_documented_gap(stream: &[u8], out: &[u8]) {
    let n = stream.len();
    let mut crc = flate2::Crc::new();
    crc.update(out);
    assert_eq!(crc.sum().to_le_bytes(), stream[n - 8..n - 4]);
    assert_eq!((out.len() as u32).to_le_bytes(), stream[n - 4..]);
    let body = &stream[header_len(stream)..n - 8];
    let mut inflate = Decompress::new(false);
    let mut expected = Vec::with_capacity(out.len() + 1);
    let status = inflate
        .decompress_vec(body, &mut expected, FlushDecompress::Finish)
        .expect("flate2 inflates what ngcodec does");
    assert_eq!(status, Status::StreamEnd);
    assert!(
        inflate.total_in() < body.len() as u64,
        "the deflate data ends early"
    );
    assert_eq!(out, expected);
}

/// The length of a gzip header, from flate2's reading of its fields.
fn header_len(stream: &[u8]) -> usize {
    let mut decoder = flate2::bufread::GzDecoder::new(stream);
    let _ = decoder.read(&mut [0; 1]);
    let header = decoder.header().expect("flate2 reads the header");
    let header_crc = if stream[3] & 2 != 0 { 2 } else { 0 };
    10 + header.extra().map_or(0, |extra| 2 + extra.len())
        + header.filename().map_or(0, |name| name.len() + 1)
        + header.comment().map_or(0, |comment| comment.len() + 1)
        + header_crc
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
        Status::StreamEnd => {
            let end = decompress.total_in() as usize;
            let adler = u32::from_be_bytes(stream[end - 4..end].try_into().unwrap());
            (adler2::adler32_slice(&out) == adler).then_some((out, end == stream.len()))
        }
        _ if out.len() > max_size => Some((out, true)),
        _ => None,
    }
}
