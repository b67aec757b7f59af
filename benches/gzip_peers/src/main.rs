//! One round of benches/bench_gzip.py's Rust side: compresses and decompresses every chunk of each
//! kind with ngcodec's gzip (libdeflate) and with zlib-rs (through flate2), each library and level
//! in turn, and prints one JSON line per (kind, library, level) with the seconds each pass took.
//!
//!     ngcodec-gzip-peers DIR KIND... -- LIBRARY:LEVEL...
//!
//! DIR/KIND/ holds the chunk files of one kind. Every output is checked to decompress to its input.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use flate2::{Compression, Decompress, FlushDecompress, Status};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let split = args
        .iter()
        .position(|arg| arg == "--")
        .expect("usage: DIR KIND... -- LIB:LEVEL...");
    let (dir, kinds) = args[..split].split_first().expect("a data folder");
    for kind in kinds {
        let chunks = read_chunks(&Path::new(dir).join(kind));
        for config in &args[split + 1..] {
            let (library, level) = config.split_once(':').expect("LIBRARY:LEVEL");
            let level: i32 = level.parse().expect("a numeric level");
            let (compress, decompress): (Compressor, Decompressor) = match library {
                "libdeflate" => (libdeflate_compress, libdeflate_decompress),
                "zlib-rs" => (zlib_rs_compress, zlib_rs_decompress),
                other => panic!("unknown library {other}"),
            };
            let start = Instant::now();
            let packed: Vec<Vec<u8>> = chunks.iter().map(|chunk| compress(chunk, level)).collect();
            let compress_seconds = start.elapsed().as_secs_f64();
            // Checked once, then timed into one buffer, as a reader that reuses its memory does:
            // the figures are the inflaters', not the allocator's.
            let mut out = Vec::new();
            for (packed, chunk) in packed.iter().zip(&chunks) {
                decompress(packed, chunk.len(), &mut out);
                assert!(out == *chunk, "{library} {level} did not round-trip");
            }
            let start = Instant::now();
            for (packed, chunk) in packed.iter().zip(&chunks) {
                decompress(packed, chunk.len(), &mut out);
            }
            let decompress_seconds = start.elapsed().as_secs_f64();
            let size: usize = packed.iter().map(Vec::len).sum();
            println!(
                "{{\"kind\": \"{kind}\", \"library\": \"{library}\", \"level\": {level}, \
                 \"compress\": {compress_seconds}, \"decompress\": {decompress_seconds}, \
                 \"size\": {size}}}"
            );
        }
    }
}

type Compressor = fn(&[u8], i32) -> Vec<u8>;
/// Inflates a member of the given size into the buffer.
type Decompressor = fn(&[u8], usize, &mut Vec<u8>);

fn read_chunks(folder: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<_> = std::fs::read_dir(folder)
        .expect("a folder of chunk files")
        .map(|entry| entry.expect("a readable folder").path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| std::fs::read(path).expect("a readable chunk"))
        .collect()
}

fn libdeflate_compress(chunk: &[u8], level: i32) -> Vec<u8> {
    ngcodec::gzip::compress(chunk, level).expect("a valid level")
}

fn libdeflate_decompress(packed: &[u8], size: usize, out: &mut Vec<u8>) {
    out.resize(size, 0);
    ngcodec::gzip::decompress_into(packed, out).expect("a valid member");
}

fn zlib_rs_compress(chunk: &[u8], level: i32) -> Vec<u8> {
    let level = u32::try_from(level).expect("a level from 0 to 9");
    let mut encoder =
        flate2::write::GzEncoder::new(Vec::with_capacity(chunk.len() / 2), Compression::new(level));
    encoder.write_all(chunk).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// zlib-rs at its best: one call into a buffer already as large as the output.
fn zlib_rs_decompress(packed: &[u8], size: usize, out: &mut Vec<u8>) {
    out.clear();
    out.reserve(size);
    let status = Decompress::new_gzip(15)
        .decompress_vec(packed, out, FlushDecompress::Finish)
        .expect("a valid member");
    assert_eq!(status, Status::StreamEnd);
}
