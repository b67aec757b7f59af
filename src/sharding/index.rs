//! Reading the two levels of a shard's index, checked against hostile files.
//!
//! Every check a reader needs before trusting an offset is here: ranges that decrease or overflow,
//! minishard indexes that overlap, index lengths that are not whole entries, chunk ids out of
//! order, repeated, or in the wrong minishard. Memory is what the bytes given hold: one entry
//! per 16 or 24 bytes present, never a count read from the file.

use super::{Location, ShardingSpec};
use crate::error::{invalid_format, Result};

/// A byte range `[start, end)` of a shard file, from the file's first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// One chunk of a minishard: its id and where its (encoded) bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkEntry {
    pub id: u64,
    pub range: ByteRange,
}

fn u64_at(bytes: &[u8], index: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[index * 8..index * 8 + 8]);
    u64::from_le_bytes(word)
}

/// Reads shard index entries, 16 bytes each, for minishards `first_minishard` onwards (the whole
/// index, or the one entry a reader fetched), as ranges from the start of the file.
///
/// Each range must not decrease or overflow, and no two non-empty ranges may overlap.
pub fn parse_shard_index(
    spec: &ShardingSpec,
    first_minishard: u64,
    bytes: &[u8],
) -> Result<Vec<ByteRange>> {
    if bytes.len() % 16 != 0 {
        return invalid_format!(
            "the shard index is cut short: {} bytes is not a whole number of 16-byte entries",
            bytes.len()
        );
    }
    let entries = (bytes.len() / 16) as u64;
    if first_minishard
        .checked_add(entries)
        .is_none_or(|end| end > spec.minishard_count())
    {
        return invalid_format!(
            "{entries} shard index entries from minishard {first_minishard} exceed the {} \
             minishards of the spec",
            spec.minishard_count()
        );
    }
    let base = spec.shard_index_len();
    let mut ranges = Vec::with_capacity(bytes.len() / 16);
    for (i, minishard) in (first_minishard..first_minishard + entries).enumerate() {
        let (start, end) = (u64_at(bytes, 2 * i), u64_at(bytes, 2 * i + 1));
        if end < start {
            return invalid_format!(
                "minishard {minishard}: its index range [{start}, {end}) decreases"
            );
        }
        let Some(end) = end.checked_add(base) else {
            return invalid_format!(
                "minishard {minishard}: its index range [{start}, {end}) lies past any file"
            );
        };
        ranges.push(ByteRange {
            start: start + base,
            end,
        });
    }
    check_disjoint(&ranges, first_minishard)?;
    Ok(ranges)
}

/// Checks that no two non-empty minishard index ranges share a byte.
fn check_disjoint(ranges: &[ByteRange], first_minishard: u64) -> Result<()> {
    let mut occupied: Vec<(ByteRange, u64)> = (first_minishard..)
        .zip(ranges)
        .filter(|(_, range)| !range.is_empty())
        .map(|(minishard, &range)| (range, minishard))
        .collect();
    occupied.sort_unstable_by_key(|(range, _)| range.start);
    for pair in occupied.windows(2) {
        let ((before, a), (after, b)) = (pair[0], pair[1]);
        if after.start < before.end {
            return invalid_format!(
                "minishards {a} and {b}: their indexes overlap ([{}, {}) and [{}, {}))",
                before.start,
                before.end,
                after.start,
                after.end
            );
        }
    }
    Ok(())
}

/// Reads a decoded (raw) minishard index of the minishard at `location`: a delta-coded [3, n]
/// u64 array of chunk ids, offsets from the previous chunk's end and sizes. Returns the chunks
/// with ranges from the start of the file.
///
/// Ids must increase strictly and belong to `location`; offsets must not overflow (a
/// "negative" delta wraps around and does). Ranges past the file's end are the caller's to
/// check, when it knows the length.
pub fn parse_minishard_index(
    spec: &ShardingSpec,
    location: Location,
    bytes: &[u8],
) -> Result<Vec<ChunkEntry>> {
    let minishard = location.minishard;
    if bytes.len() % 24 != 0 {
        return invalid_format!(
            "minishard {minishard}: its index is {} bytes, not a whole number of 24-byte entries",
            bytes.len()
        );
    }
    let n = bytes.len() / 24;
    let mut chunks = Vec::with_capacity(n);
    let mut id = 0u64;
    let mut end = spec.shard_index_len();
    for i in 0..n {
        let (id_delta, offset_delta, size) = (
            u64_at(bytes, i),
            u64_at(bytes, n + i),
            u64_at(bytes, 2 * n + i),
        );
        id = match id.checked_add(id_delta) {
            Some(next) if i == 0 || id_delta > 0 => next,
            Some(_) => return invalid_format!("minishard {minishard}: chunk id {id} repeats"),
            None => {
                return invalid_format!(
                    "minishard {minishard}: chunk ids are out of order (after {id}, a delta of \
                     {id_delta} passes 2^64)"
                )
            }
        };
        let actual = spec.locate(id);
        if actual != location {
            return invalid_format!(
                "minishard {minishard}: chunk id {id} belongs to minishard {} of shard {}, not \
                 to minishard {minishard} of shard {}",
                actual.minishard,
                actual.shard,
                location.shard
            );
        }
        let Some(start) = end.checked_add(offset_delta) else {
            return invalid_format!(
                "minishard {minishard}: chunk {id} starts past any file (offset delta \
                 {offset_delta} after byte {end}); offsets must not decrease"
            );
        };
        let Some(stop) = start.checked_add(size) else {
            return invalid_format!(
                "minishard {minishard}: chunk {id} ends past any file ({size} bytes at {start})"
            );
        };
        end = stop;
        chunks.push(ChunkEntry {
            id,
            range: ByteRange { start, end },
        });
    }
    Ok(chunks)
}

#[cfg(test)]
mod tests {
    use super::super::HashFunction;
    use super::*;

    fn words(values: &[u64]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn identity(minishard_bits: u32, shard_bits: u32) -> ShardingSpec {
        ShardingSpec::new(0, HashFunction::Identity, minishard_bits, shard_bits).unwrap()
    }

    fn message<T: std::fmt::Debug>(result: Result<T>) -> String {
        match result {
            Err(crate::Error::InvalidFormat(message)) => message,
            other => panic!("expected InvalidFormat, got {other:?}"),
        }
    }

    #[test]
    fn shard_index_ranges_count_from_the_index_end() {
        let spec = identity(2, 0);
        let index = words(&[0, 10, 10, 10, 10, 30, 30, 31]);
        let ranges = parse_shard_index(&spec, 0, &index).unwrap();
        assert_eq!(ranges[0], ByteRange { start: 64, end: 74 });
        assert!(ranges[1].is_empty());
        assert_eq!(ranges[3], ByteRange { start: 94, end: 95 });
        // One entry on its own, as a reader fetches it.
        let one = parse_shard_index(&spec, 2, &words(&[10, 30])).unwrap();
        assert_eq!(one, vec![ByteRange { start: 74, end: 94 }]);
    }

    #[test]
    fn hostile_shard_indexes_are_refused() {
        let spec = identity(1, 0);
        let decreasing = message(parse_shard_index(&spec, 0, &words(&[0, 8, 20, 10])));
        assert!(decreasing.contains("minishard 1") && decreasing.contains("decreases"));
        let overlapping = message(parse_shard_index(&spec, 0, &words(&[0, 24, 16, 40])));
        assert!(overlapping.contains("minishards 0 and 1") && overlapping.contains("overlap"));
        // Order does not matter; touching is fine.
        parse_shard_index(&spec, 0, &words(&[24, 48, 0, 24])).unwrap();
        let overflowing = message(parse_shard_index(&spec, 0, &words(&[0, u64::MAX, 0, 0])));
        assert!(overflowing.contains("past any file"));
        assert!(message(parse_shard_index(&spec, 0, &[0; 20])).contains("cut short"));
        assert!(message(parse_shard_index(&spec, 1, &[0; 32])).contains("exceed"));
        assert!(message(parse_shard_index(&spec, u64::MAX, &[0; 16])).contains("exceed"));
    }

    #[test]
    fn minishard_index_is_delta_coded() {
        let spec = identity(1, 1);
        let location = spec.locate(5);
        assert_eq!(
            location,
            Location {
                shard: 0,
                minishard: 1
            }
        );
        // Ids 1, 5, 9: bit 0 (the minishard) set, bit 1 (the shard) clear.
        let index = words(&[1, 4, 4, 0, 3, 0, 10, 20, 30]);
        let chunks = parse_minishard_index(&spec, location, &index).unwrap();
        let index_end = spec.shard_index_len();
        let expected = [(1, 0, 10), (5, 10 + 3, 20), (9, 10 + 3 + 20, 30)];
        for (chunk, (id, start, len)) in chunks.iter().zip(expected) {
            assert_eq!(chunk.id, id);
            assert_eq!(chunk.range.start, index_end + start);
            assert_eq!(chunk.range.end, index_end + start + len);
        }
        assert!(parse_minishard_index(&spec, location, &[])
            .unwrap()
            .is_empty());
    }

    #[test]
    fn hostile_minishard_indexes_are_refused() {
        let spec = identity(1, 1);
        let odd = Location {
            shard: 0,
            minishard: 1,
        };
        let check = |values: &[u64]| message(parse_minishard_index(&spec, odd, &words(values)));
        assert!(message(parse_minishard_index(&spec, odd, &[0; 25])).contains("24-byte"));
        assert!(check(&[1, 0, 0, 0, 1, 1]).contains("chunk id 1 repeats"));
        assert!(check(&[5, u64::MAX - 3, 0, 0, 1, 1]).contains("out of order"));
        assert!(check(&[3, 0, 1]).contains("chunk id 3 belongs to minishard 1 of shard 1"));
        assert!(check(&[2, 0, 1]).contains("belongs to minishard 0"));
        assert!(check(&[1, u64::MAX, 1]).contains("starts past any file"));
        assert!(check(&[1, 0, u64::MAX]).contains("ends past any file"));
        let every = message(parse_minishard_index(
            &spec,
            odd,
            &words(&[1, 4, 0, u64::MAX, 1, 1]),
        ));
        assert!(
            every.contains("minishard 1") && every.contains("chunk 5"),
            "{every}"
        );
    }
}
