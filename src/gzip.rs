//! gzip (RFC 1952) members, and zlib (RFC 1950) streams for reading, over libdeflate.
//!
//! libdeflate works on whole buffers: the output must be allocated before inflating. A gzip
//! member's trailer gives its inflated size (ISIZE), which is checked against the caller's
//! `max_size` before anything is allocated, so a decompression bomb costs neither memory nor time,
//! and one whose trailer lies stops when the buffer of the size it claims is full. A zlib stream
//! gives no size: it inflates into a growing buffer, never larger than `max_size`.
//!
//! What is accepted: one gzip member, whose trailer (CRC-32 and ISIZE) is the input's last eight
//! bytes, with any of the optional header fields (FEXTRA, FNAME, FCOMMENT, and FHCRC, which is
//! checked). Refused: reserved flag bits, methods other than deflate, members inflating to 4 GiB
//! or more (their ISIZE wraps), and anything after the member: trailing bytes or a second member
//! make the last eight bytes a wrong trailer. One leniency: libdeflate (as libdeflater wraps it)
//! does not say where the deflate data ends, so bytes between its end and the trailer go
//! unnoticed when the last eight bytes still match what it inflated to (`cat x.gz x.gz` reads as
//! x, and an empty member, then junk, then eight zero bytes as empty). Finding the end would take
//! a second inflation or a slower inflater. Every writer of chunk files (gzip, Python's gzip and
//! zlib, libdeflate, cloud-files) writes one member.

use std::cell::RefCell;

use libdeflater::{CompressionLvl, Compressor, DecompressionError, Decompressor};

use crate::error::{invalid_argument, invalid_format, Result};

/// The compression levels `compress` takes: libdeflate's, where 1-9 match zlib's in spirit and
/// 10-12 search much harder for a few percent more.
pub const LEVELS: std::ops::RangeInclusive<i32> = 1..=12;

const MAGIC: [u8; 2] = [0x1f, 0x8b];
const METHOD_DEFLATE: u8 = 8;
const HEADER_LEN: usize = 10;
const TRAILER_LEN: usize = 8;

// Header flags (FLG).
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const RESERVED: u8 = 0xe0;

/// Compresses `data` into one gzip member with no file name and a zero timestamp, so that the
/// same data and level always give the same bytes.
pub fn compress(data: &[u8], level: i32) -> Result<Vec<u8>> {
    let (level, level_index) = match CompressionLvl::new(level) {
        Ok(valid) if LEVELS.contains(&level) => (valid, level as usize),
        _ => {
            return invalid_argument!(
                "gzip_level must be from {} to {}, not {level}",
                LEVELS.start(),
                LEVELS.end()
            )
        }
    };
    Ok(COMPRESSORS.with_borrow_mut(|compressors| {
        let compressor = compressors[level_index].get_or_insert_with(|| Compressor::new(level));
        let mut out = vec![0; compressor.gzip_compress_bound(data.len())];
        let len = compressor
            .gzip_compress(data, &mut out)
            .expect("the output holds libdeflate's bound");
        out.truncate(len);
        out
    }))
}

thread_local! {
    /// Each thread's compressor of each level, made on first use: making one (its match-finder
    /// tables take up to a few MB) costs as much as compressing a small chunk.
    static COMPRESSORS: RefCell<[Option<Compressor>; 13]> = RefCell::new(Default::default());
}

/// Inflates one gzip member, refusing any that inflates to more than `max_size` bytes.
pub fn decompress(data: &[u8], max_size: usize) -> Result<Vec<u8>> {
    let mut out = vec![0; decompressed_len(data, max_size)?];
    decompress_into(data, &mut out)?;
    Ok(out)
}

/// The size one gzip member inflates to, as its trailer says, after checking the header and that
/// the size is at most `max_size`: the length of the buffer `decompress_into` fills.
pub fn decompressed_len(data: &[u8], max_size: usize) -> Result<usize> {
    let member = Member::parse(data)?;
    let size = member.size as usize;
    let most = most_inflated(member.deflate);
    if size > most {
        return invalid_format!(
            "the gzip trailer gives an inflated size of {size} bytes, more than its {} bytes of \
             deflate data can hold (a truncated or corrupt stream)",
            member.deflate.len()
        );
    }
    if size > max_size {
        return invalid_format!(
            "the gzip trailer gives an inflated size of {size} bytes, more than the {max_size} \
             expected (a corrupt stream or a decompression bomb)"
        );
    }
    Ok(size)
}

/// The most bytes that `deflate` can inflate to: 258 bytes (the longest match) for every two bits
/// (a length and a distance code of one bit each), so 1032 per byte. A trailer or a caller's
/// bound beyond it is refused or capped before any buffer is allocated.
fn most_inflated(deflate: &[u8]) -> usize {
    deflate.len().saturating_mul(1032)
}

/// Inflates one gzip member into `out`, which must be as long as its trailer says
/// (`decompressed_len`), and checks its CRC-32.
pub fn decompress_into(data: &[u8], out: &mut [u8]) -> Result<()> {
    let member = Member::parse(data)?;
    if out.len() != member.size as usize {
        return invalid_argument!(
            "output holds {} bytes but the gzip member inflates to {}",
            out.len(),
            member.size
        );
    }
    let len = match Decompressor::new().deflate_decompress(member.deflate, out) {
        Ok(len) => len,
        Err(DecompressionError::BadData) => {
            return invalid_format!("the gzip stream's deflate data is corrupt or truncated")
        }
        Err(DecompressionError::InsufficientSpace) => {
            return invalid_format!(
                "the gzip stream inflates to more than the {} bytes its trailer gives (ISIZE), \
                 or to 4 GiB or more",
                member.size
            )
        }
    };
    if len != out.len() {
        return invalid_format!(
            "the gzip stream inflates to {len} bytes, not the {} its trailer gives (ISIZE)",
            member.size
        );
    }
    let crc = libdeflater::crc32(out);
    if crc != member.crc {
        return invalid_format!(
            "gzip CRC-32 mismatch: the trailer says {:08x}, the data gives {crc:08x}",
            member.crc
        );
    }
    Ok(())
}

/// Inflates one zlib stream (RFC 1950: a 2-byte header, deflate data, a big-endian Adler-32),
/// refusing any that inflates to more than `max_size` bytes.
///
/// zlib gives no size, and libdeflate needs the whole output buffer: it starts at four times the
/// input and doubles, inflating again, until the data fits or `max_size` is reached, so the work
/// is at most about twice the inflation's and the buffer never exceeds `max_size`.
pub fn decompress_zlib(data: &[u8], max_size: usize) -> Result<Vec<u8>> {
    let (deflate, adler) = parse_zlib(data)?;
    let limit = max_size.min(most_inflated(deflate));
    let mut decompressor = Decompressor::new();
    let mut capacity = limit.min(data.len().saturating_mul(4).max(1 << 16));
    let mut out = Vec::new();
    let len = loop {
        out.resize(capacity, 0);
        match decompressor.deflate_decompress(deflate, &mut out) {
            Ok(len) => break len,
            Err(DecompressionError::InsufficientSpace) if capacity < limit => {
                capacity = capacity.saturating_mul(2).min(limit);
            }
            Err(DecompressionError::InsufficientSpace) if limit == max_size => {
                return invalid_format!(
                    "the zlib stream inflates to more than the {max_size} bytes expected \
                     (a corrupt stream or a decompression bomb)"
                )
            }
            Err(_) => {
                return invalid_format!("the zlib stream's deflate data is corrupt or truncated")
            }
        }
    };
    out.truncate(len);
    let computed = libdeflater::adler32(&out);
    if computed != adler {
        return invalid_format!(
            "zlib Adler-32 mismatch: the trailer says {adler:08x}, the data gives {computed:08x}"
        );
    }
    Ok(out)
}

/// A gzip member split into its deflate data and the trailer's CRC-32 and size.
struct Member<'a> {
    deflate: &'a [u8],
    crc: u32,
    size: u32,
}

impl<'a> Member<'a> {
    fn parse(data: &'a [u8]) -> Result<Self> {
        let start = &data[..data.len().min(MAGIC.len())];
        if start.is_empty() {
            return invalid_format!("not gzip data: the stream is empty");
        }
        if !MAGIC.starts_with(start) {
            return invalid_format!("not gzip data: it starts with {start:02x?}, not [1f, 8b]");
        }
        let Some(header) = data.get(..HEADER_LEN) else {
            return invalid_format!(
                "truncated gzip stream: {} bytes, less than a gzip header",
                data.len()
            );
        };
        let (method, flags) = (header[2], header[3]);
        if method != METHOD_DEFLATE {
            return invalid_format!(
                "unsupported gzip compression method {method} (only 8, deflate, is defined)"
            );
        }
        if flags & RESERVED != 0 {
            return invalid_format!(
                "invalid gzip header: reserved flag bits set (FLG {flags:#04x})"
            );
        }
        let mut reader = HeaderReader {
            data,
            at: HEADER_LEN,
        };
        if flags & FEXTRA != 0 {
            let len = reader.take(2, "FEXTRA length")?;
            let len = u16::from_le_bytes([len[0], len[1]]);
            reader.take(len.into(), "FEXTRA field")?;
        }
        if flags & FNAME != 0 {
            reader.take_zero_terminated("file name (FNAME)")?;
        }
        if flags & FCOMMENT != 0 {
            reader.take_zero_terminated("comment (FCOMMENT)")?;
        }
        if flags & FHCRC != 0 {
            // The low 16 bits of the CRC-32 of the header before it.
            let computed = libdeflater::crc32(&data[..reader.at]) as u16;
            let stored = reader.take(2, "header CRC (FHCRC)")?;
            let stored = u16::from_le_bytes([stored[0], stored[1]]);
            if stored != computed {
                return invalid_format!(
                    "gzip header CRC mismatch: the header says {stored:04x}, it gives {computed:04x}"
                );
            }
        }
        let body = &data[reader.at..];
        let Some(deflate_len) = body.len().checked_sub(TRAILER_LEN) else {
            return invalid_format!(
                "truncated gzip stream: {} bytes after the header, too few for the {TRAILER_LEN}-byte \
                 trailer",
                body.len()
            );
        };
        let (deflate, trailer) = body.split_at(deflate_len);
        let word = |at: usize| u32::from_le_bytes(trailer[at..at + 4].try_into().expect("4 bytes"));
        Ok(Self {
            deflate,
            crc: word(0),
            size: word(4),
        })
    }
}

/// Reads the optional fields of a gzip header, saying which one the data ends in.
struct HeaderReader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> HeaderReader<'a> {
    fn take(&mut self, len: usize, field: &str) -> Result<&'a [u8]> {
        let Some(bytes) = self.data.get(self.at..self.at + len) else {
            return invalid_format!("truncated gzip stream: it ends in the header's {field}");
        };
        self.at += len;
        Ok(bytes)
    }

    fn take_zero_terminated(&mut self, field: &str) -> Result<()> {
        let Some(len) = self.data[self.at..].iter().position(|&byte| byte == 0) else {
            return invalid_format!("truncated gzip stream: it ends in the header's {field}");
        };
        self.at += len + 1;
        Ok(())
    }
}

/// A zlib stream's deflate data and Adler-32, after checking its header.
fn parse_zlib(data: &[u8]) -> Result<(&[u8], u32)> {
    let Some(&[cmf, flg]) = data.get(..2) else {
        return invalid_format!(
            "truncated zlib stream: {} bytes, less than its header",
            data.len()
        );
    };
    if cmf & 0x0f != METHOD_DEFLATE || (u16::from(cmf) << 8 | u16::from(flg)) % 31 != 0 {
        return invalid_format!("not zlib data: it starts with {cmf:02x} {flg:02x}");
    }
    if cmf >> 4 > 7 {
        return invalid_format!(
            "invalid zlib header: a window of 2^{} bytes, more than deflate's 32 KiB",
            (cmf >> 4) + 8
        );
    }
    if flg & 0x20 != 0 {
        return invalid_format!("unsupported zlib stream: it needs a preset dictionary (FDICT)");
    }
    let Some(deflate_end) = data.len().checked_sub(4).filter(|&end| end >= 2) else {
        return invalid_format!(
            "truncated zlib stream: {} bytes, too few for its header and Adler-32",
            data.len()
        );
    };
    let adler = u32::from_be_bytes(data[deflate_end..].try_into().expect("4 bytes"));
    Ok((&data[2..deflate_end], adler))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    /// Compressible but not trivial: runs of a few repeated patterns with some noise.
    fn sample(len: usize) -> Vec<u8> {
        let mut state = 0x2545_f491_u32;
        (0..len)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                if state % 8 == 0 {
                    state as u8
                } else {
                    (i / 64 % 7) as u8
                }
            })
            .collect()
    }

    fn message(result: Result<Vec<u8>>) -> String {
        match result {
            Err(Error::InvalidFormat(message)) => message,
            other => panic!("expected InvalidFormat, got {other:?}"),
        }
    }

    /// A gzip member with the given flags and optional fields around libdeflate's deflate data.
    fn member(data: &[u8], flags: u8, fields: &[u8]) -> Vec<u8> {
        let mut compressor = Compressor::new(CompressionLvl::default());
        let mut deflate = vec![0; compressor.deflate_compress_bound(data.len())];
        let len = compressor.deflate_compress(data, &mut deflate).unwrap();
        let mut out = vec![0x1f, 0x8b, 8, flags, 1, 2, 3, 4, 0, 3];
        out.extend_from_slice(fields);
        if flags & FHCRC != 0 {
            let crc = libdeflater::crc32(&out) as u16;
            out.extend_from_slice(&crc.to_le_bytes());
        }
        out.extend_from_slice(&deflate[..len]);
        out.extend_from_slice(&libdeflater::crc32(data).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out
    }

    /// A zlib stream of `data`, with the default header (78 9c).
    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut compressor = Compressor::new(CompressionLvl::default());
        let mut out = vec![0; compressor.zlib_compress_bound(data.len())];
        let len = compressor.zlib_compress(data, &mut out).unwrap();
        out.truncate(len);
        out
    }

    #[test]
    fn every_level_round_trips() {
        for len in [0, 1, 100, 70_000] {
            let data = sample(len);
            for level in LEVELS {
                let packed = compress(&data, level).unwrap();
                assert_eq!(
                    decompress(&packed, len).unwrap(),
                    data,
                    "{len} bytes, level {level}"
                );
            }
        }
    }

    #[test]
    fn compressed_members_are_deterministic_and_have_a_zero_timestamp() {
        let data = sample(10_000);
        let packed = compress(&data, 6).unwrap();
        assert_eq!(packed, compress(&data, 6).unwrap());
        assert_eq!(&packed[..8], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
        assert!(packed.len() < data.len() / 2);
    }

    #[test]
    fn levels_outside_1_to_12_are_refused() {
        for level in [-1, 0, 13, i32::MAX] {
            let Err(Error::InvalidArgument(message)) = compress(b"x", level) else {
                panic!("level {level} was accepted");
            };
            assert!(message.contains("gzip_level"), "{message}");
        }
    }

    #[test]
    fn optional_header_fields_are_skipped() {
        let data = sample(5_000);
        let extra = [4, 0, b'a', b'b', 2, 0];
        for (flags, fields) in [
            (FEXTRA, &extra[..]),
            (FNAME, b"chunk.raw\0"),
            (FCOMMENT, b"a comment\0"),
            (FHCRC, b""),
            (
                FEXTRA | FNAME | FCOMMENT | FHCRC,
                b"\x02\x00xyname\0comment\0",
            ),
            (0x01, b""), // FTEXT is only a hint
        ] {
            assert_eq!(
                decompress(&member(&data, flags, fields), 5_000).unwrap(),
                data
            );
        }
    }

    #[test]
    fn a_wrong_header_crc_is_refused() {
        let mut packed = member(b"data", FHCRC, b"");
        packed[10] ^= 1;
        assert!(message(decompress(&packed, 4)).contains("header CRC mismatch"));
    }

    #[test]
    fn non_gzip_data_is_refused() {
        assert!(message(decompress(b"", 10)).contains("not gzip data"));
        assert!(message(decompress(b"\x1f", 10)).contains("less than a gzip header"));
        assert!(message(decompress(b"PK\x03\x04", 10)).contains("not gzip data"));
        assert!(message(decompress(&zlib(b"data"), 10)).contains("not gzip data"));
        let mut packed = compress(b"data", 6).unwrap();
        packed[2] = 7;
        assert!(message(decompress(&packed, 10)).contains("compression method 7"));
        packed[2] = 8;
        packed[3] = 0x20;
        assert!(message(decompress(&packed, 10)).contains("reserved flag bits"));
    }

    #[test]
    fn deflate_data_holds_at_most_1032_bytes_a_byte() {
        // libdeflate, like zlib, gets close: 258-byte matches at one bit per code.
        let zeros = vec![0; 4 << 20];
        let packed = compress(&zeros, 12).unwrap();
        let deflate = &packed[HEADER_LEN..packed.len() - TRAILER_LEN];
        assert!(most_inflated(deflate) >= zeros.len());
        assert!(
            most_inflated(deflate) < 2 * zeros.len(),
            "{} bytes",
            deflate.len()
        );
        let mut claims_more = packed.clone();
        let n = packed.len();
        let most = (most_inflated(deflate) + 1) as u32;
        claims_more[n - 4..].copy_from_slice(&most.to_le_bytes());
        let text = message(decompress(&claims_more, usize::MAX));
        assert!(
            text.contains("can hold (a truncated or corrupt stream)"),
            "{text}"
        );
        assert_eq!(decompress_zlib(&zlib(&zeros), usize::MAX).unwrap(), zeros);
    }

    #[test]
    fn every_truncation_is_refused() {
        let data = sample(3_000);
        for packed in [
            compress(&data, 6).unwrap(),
            member(&data, FEXTRA | FNAME | FCOMMENT | FHCRC, b"\x01\x00xn\0c\0"),
        ] {
            for len in 0..packed.len() {
                message(decompress(&packed[..len], 3_000));
                message(decompress(&packed[..len], usize::MAX));
            }
        }
    }

    #[test]
    fn trailing_bytes_and_second_members_are_refused() {
        let packed = compress(b"some data", 6).unwrap();
        for tail in [
            &b"\0"[..],
            b"garbage",
            &[0; 8],
            &compress(b"more", 6).unwrap(),
        ] {
            let mut longer = packed.clone();
            longer.extend_from_slice(tail);
            message(decompress(&longer, 1000));
        }
    }

    #[test]
    fn the_one_leniency_is_a_trailer_that_still_matches() {
        // The module's documented leniency: libdeflate stops at the end of the deflate data.
        let packed = compress(b"twice", 6).unwrap();
        assert_eq!(
            decompress(&[&packed[..], &packed].concat(), 100).unwrap(),
            b"twice"
        );
        let empty = [&compress(b"", 6).unwrap()[..10], b"\x03\x00junk", &[0; 8]].concat();
        assert_eq!(decompress(&empty, 100).unwrap(), b"");
    }

    #[test]
    fn a_wrong_crc_or_size_is_refused() {
        let data = sample(1000);
        let packed = compress(&data, 6).unwrap();
        let n = packed.len();

        let mut bad_crc = packed.clone();
        bad_crc[n - 8] ^= 0x80;
        assert!(message(decompress(&bad_crc, 1000)).contains("CRC-32 mismatch"));

        let mut short = packed.clone();
        short[n - 4..].copy_from_slice(&999u32.to_le_bytes());
        assert!(message(decompress(&short, 1000)).contains("more than the 999 bytes"));

        let mut long = packed.clone();
        long[n - 4..].copy_from_slice(&1001u32.to_le_bytes());
        assert!(message(decompress(&long, 2000)).contains("inflates to 1000 bytes, not the 1001"));
    }

    #[test]
    fn corrupt_deflate_data_is_refused() {
        let mut packed = compress(&sample(1000), 6).unwrap();
        // Block type 3 is reserved.
        packed[10] |= 0b110;
        assert!(message(decompress(&packed, 1000)).contains("corrupt or truncated"));
    }

    #[test]
    fn a_bomb_is_refused_from_its_trailer_before_inflating() {
        let zeros = vec![0; 8 << 20];
        let bomb = compress(&zeros, 1).unwrap();
        assert!(bomb.len() < zeros.len() / 500);
        let text = message(decompress(&bomb, 1 << 20));
        assert!(
            text.contains("8388608 bytes, more than the 1048576"),
            "{text}"
        );
        assert_eq!(decompressed_len(&bomb, 8 << 20), Ok(8 << 20));
    }

    #[test]
    fn a_bomb_with_a_small_trailer_stops_at_the_size_it_claims() {
        let zeros = vec![0; 4 << 20];
        let mut bomb = compress(&zeros, 1).unwrap();
        let n = bomb.len();
        bomb[n - 4..].copy_from_slice(&1024u32.to_le_bytes());
        assert!(message(decompress(&bomb, 1 << 20)).contains("more than the 1024 bytes"));
    }

    #[test]
    fn decompress_into_needs_the_trailer_size() {
        let packed = compress(b"12345", 6).unwrap();
        let mut out = [0; 4];
        assert!(matches!(
            decompress_into(&packed, &mut out),
            Err(Error::InvalidArgument(_))
        ));
        let mut out = [0; 5];
        decompress_into(&packed, &mut out).unwrap();
        assert_eq!(&out, b"12345");
    }

    #[test]
    fn zlib_streams_round_trip_within_max_size() {
        for len in [0, 1, 1000, 70_000, 1 << 20] {
            let data = sample(len);
            assert_eq!(decompress_zlib(&zlib(&data), len).unwrap(), data);
            assert_eq!(decompress_zlib(&zlib(&data), len + 100).unwrap(), data);
            assert_eq!(decompress_zlib(&zlib(&data), usize::MAX).unwrap(), data);
        }
        // Far more compressible than the first guess of the output size: several doublings.
        let zeros = vec![0; 2 << 20];
        assert_eq!(decompress_zlib(&zlib(&zeros), 2 << 20).unwrap(), zeros);
        // zlib's level-1 header (78 01) and a stored-only stream are as valid.
        let mut stored = vec![0x78, 0x01, 0x01, 0x03, 0x00, 0xfc, 0xff, b'a', b'b', b'c'];
        stored.extend_from_slice(&libdeflater::adler32(b"abc").to_be_bytes());
        assert_eq!(decompress_zlib(&stored, 3).unwrap(), b"abc");
    }

    #[test]
    fn hostile_zlib_streams_are_refused() {
        let data = sample(1000);
        let packed = zlib(&data);
        for len in 0..packed.len() {
            message(decompress_zlib(&packed[..len], 1000));
        }
        assert!(message(decompress_zlib(&packed, 999)).contains("more than the 999 bytes"));
        let mut bad_adler = packed.clone();
        *bad_adler.last_mut().unwrap() ^= 1;
        assert!(message(decompress_zlib(&bad_adler, 1000)).contains("Adler-32 mismatch"));
        let gzipped = compress(&data, 6).unwrap();
        assert!(message(decompress_zlib(&gzipped, 1000)).contains("not zlib data"));
        // 0x88 0x1c passes the check bits but asks for a 64 KiB window.
        assert!(message(decompress_zlib(b"\x88\x1c\x03\x00\0\0\0\x01", 10)).contains("window"));
        // 0x78 0xbb passes the check bits and sets FDICT.
        assert!(
            message(decompress_zlib(b"\x78\xbb\0\0\0\0\x03\x00\0\0\0\x01", 10))
                .contains("preset dictionary")
        );
        let zeros = vec![0; 2 << 20];
        assert!(message(decompress_zlib(&zlib(&zeros), 1 << 20)).contains("bomb"));
    }
}
