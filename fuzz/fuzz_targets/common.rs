//! Shared by the fuzz targets: how an input picks a chunk geometry, and a plain restatement of
//! what a compressed_segmentation file must satisfy, to check the real decoder against.
#![allow(dead_code)]

use ngcodec::compressed_segmentation::{self, Label, Shape3};
use ngcodec::Error;

/// Largest output a target allocates per input, in values: keeps every run fast.
pub const MAX_VOXELS: usize = 1 << 18;

/// A decode request: the chunk, block size and channel count, and the file bytes.
#[derive(Debug)]
pub struct Request<'a> {
    pub chunk: Shape3,
    pub block: Shape3,
    pub channels: usize,
    pub buf: &'a [u8],
}

/// Reads a request from a fuzz input.
///
/// Byte 0 chooses the mode. Even: bytes 1-7 are x, y, z (each 0 to 64), then the block size (each
/// 1 to 16) and the channel count (1 to 4); the file starts at byte 8. This is the mode of the
/// seed corpus. Odd: six little-endian u64 give any chunk and block size (zero and huge
/// included), then a channel byte; only the header check runs unless the output is small.
pub fn parse_request(data: &[u8]) -> Option<Request<'_>> {
    let (&mode, rest) = data.split_first()?;
    if mode & 1 == 0 {
        let (config, buf) = (rest.get(..7)?, rest.get(7..)?);
        let dims = |i: usize| config[i] as usize % 65;
        let block = |i: usize| config[3 + i] as usize % 16 + 1;
        Some(Request {
            chunk: [dims(0), dims(1), dims(2)],
            block: [block(0), block(1), block(2)],
            channels: config[6] as usize % 4 + 1,
            buf,
        })
    } else {
        let config = rest.get(..49)?;
        let value = |i: usize| {
            let bytes: [u8; 8] = config[8 * i..8 * i + 8].try_into().unwrap();
            u64::from_le_bytes(bytes) as usize
        };
        Some(Request {
            chunk: [value(0), value(1), value(2)],
            block: [value(3), value(4), value(5)],
            channels: config[48] as usize % 8,
            buf: &rest[49..],
        })
    }
}

/// Number of output values of a request, if it is small enough to allocate here.
pub fn small_output(request: &Request<'_>) -> Option<usize> {
    let [x, y, z] = request.chunk;
    if request.chunk.iter().any(|&side| side > MAX_VOXELS) {
        return None; // ndarray, like NumPy, refuses shapes whose nonzero axes overflow
    }
    let len = x
        .checked_mul(y)?
        .checked_mul(z)?
        .checked_mul(request.channels)?;
    (len <= MAX_VOXELS).then_some(len)
}

/// Decodes as the Python binding does (header check, then allocation, then decode), and checks
/// the result against `reference_decode` and the error kinds against the contract.
pub fn check_decode<T: Label + std::fmt::Debug>(data: &[u8]) {
    let Some(request) = parse_request(data) else {
        return;
    };
    let Request {
        chunk,
        block,
        channels,
        buf,
    } = request;
    let header = compressed_segmentation::check_header(buf, chunk, block, channels);
    let block_overflows = block
        .iter()
        .try_fold(1usize, |volume, &side| volume.checked_mul(side))
        .is_none();
    let bad_arguments = block.contains(&0) || block_overflows || channels == 0;
    match &header {
        Err(Error::InvalidArgument(_)) => assert!(bad_arguments, "{header:?} for {request:?}"),
        Err(Error::InvalidFormat(message)) => assert!(!message.is_empty()),
        Ok(()) => {}
    }
    let Some(len) = small_output(&request) else {
        return;
    };
    if bad_arguments || block.iter().product::<usize>() > MAX_VOXELS {
        return;
    }
    let mut out = vec![T::default(); len];
    let decoded = compressed_segmentation::decode_into(buf, chunk, block, channels, &mut out);
    if header.is_err() {
        assert!(decoded.is_err(), "header check failed but decode passed");
    }
    let expected = reference_decode::<T>(buf, chunk, block, channels);
    match (&decoded, &expected) {
        (Ok(()), Some(values)) => assert!(out == *values, "decoded values differ"),
        (Err(Error::InvalidFormat(_)), None) => {}
        _ => panic!(
            "decoder says {decoded:?}, the reference {}",
            if expected.is_some() {
                "accepts"
            } else {
                "rejects"
            }
        ),
    }
    if decoded.is_ok() && len <= 1 << 15 {
        // Whatever decodes is a chunk the encoder can write and read back.
        let [x, y, z] = chunk;
        let array = ndarray::ArrayView4::from_shape((channels, z, y, x), &out).unwrap();
        let encoded = compressed_segmentation::encode(array, block, false).unwrap();
        let mut again = vec![T::default(); len];
        compressed_segmentation::decode_into(&encoded, chunk, block, channels, &mut again).unwrap();
        assert!(again == out, "re-encoding changed the chunk");
    }
}

fn word(buf: &[u8], index: usize) -> Option<u32> {
    let bytes = buf.get(4 * index..4 * index + 4)?;
    Some(u32::from_le_bytes(bytes.try_into().unwrap()))
}

/// The file format, restated plainly and slowly: `None` for any file a decoder must refuse,
/// otherwise the (C, Z, Y, X) values. Every index of a block is checked, padding included.
pub fn reference_decode<T: Label>(
    buf: &[u8],
    chunk: Shape3,
    block: Shape3,
    channels: usize,
) -> Option<Vec<T>> {
    if buf.len() % 4 != 0 || buf.len() / 4 < channels {
        return None;
    }
    let words = buf.len() / 4;
    let grid = [0, 1, 2].map(|a| chunk[a].div_ceil(block[a]));
    let header_words = 2 * grid[0] * grid[1] * grid[2];
    let block_volume = block[0] * block[1] * block[2];
    let entry_words = T::SIZE / 4;
    let channel_len = chunk[0] * chunk[1] * chunk[2];
    let mut out = vec![T::default(); channel_len * channels];
    for channel in 0..channels {
        let start = word(buf, channel)? as usize;
        let end = match channel + 1 < channels {
            true => word(buf, channel + 1)? as usize,
            false => words,
        };
        if start < channels || start > end || end > words || end - start < header_words {
            return None;
        }
        let data = &buf[4 * start..4 * end];
        let data_words = end - start;
        for bz in 0..grid[2] {
            for by in 0..grid[1] {
                for bx in 0..grid[0] {
                    let header = bx + grid[0] * (by + grid[1] * bz);
                    let first = word(data, 2 * header)?;
                    let values_offset = word(data, 2 * header + 1)? as usize;
                    let bits = (first >> 24) as usize;
                    let table_offset = (first & 0xFF_FFFF) as usize;
                    if ![0, 1, 2, 4, 8, 16, 32].contains(&bits) {
                        return None;
                    }
                    if table_offset < header_words || table_offset >= data_words {
                        return None;
                    }
                    let table_len = ((data_words - table_offset) / entry_words).min(1 << bits);
                    if table_len == 0 {
                        return None;
                    }
                    let entry = |i: usize| {
                        let at = 4 * (table_offset + i * entry_words);
                        T::from_le_slice(&data[at..at + T::SIZE])
                    };
                    let packed_len = (block_volume * bits).div_ceil(32);
                    if bits > 0
                        && (values_offset < header_words || values_offset + packed_len > data_words)
                    {
                        return None;
                    }
                    let volume = if bits == 0 { 1 } else { block_volume };
                    for voxel in 0..volume {
                        let index = if bits == 0 {
                            0
                        } else {
                            let bit = voxel * bits;
                            let packed = word(data, values_offset + bit / 32)? as u64;
                            ((packed >> (bit % 32)) & ((1u64 << bits) - 1)) as usize
                        };
                        if index >= table_len {
                            return None;
                        }
                        let label = entry(index);
                        let origin = [bx * block[0], by * block[1], bz * block[2]];
                        let fill = |x: usize, y: usize, z: usize, out: &mut Vec<T>| {
                            if x < chunk[0] && y < chunk[1] && z < chunk[2] {
                                out[channel * channel_len + x + chunk[0] * (y + chunk[1] * z)] =
                                    label;
                            }
                        };
                        if bits == 0 {
                            for z in 0..block[2] {
                                for y in 0..block[1] {
                                    for x in 0..block[0] {
                                        fill(origin[0] + x, origin[1] + y, origin[2] + z, &mut out);
                                    }
                                }
                            }
                        } else {
                            let x = voxel % block[0];
                            let y = voxel / block[0] % block[1];
                            let z = voxel / (block[0] * block[1]);
                            fill(origin[0] + x, origin[1] + y, origin[2] + z, &mut out);
                        }
                    }
                }
            }
        }
    }
    Some(out)
}
