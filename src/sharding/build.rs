//! Building one shard file: the fixed shard index, the chunks in (minishard, id) order, then the
//! minishard indexes in minishard order.
//!
//! Building is two steps so that the caller can encode (compress) the minishard indexes in
//! between: [`layout_shard`] orders the chunks and writes the raw indexes, whose offsets depend
//! only on the chunk sizes; [`write_shard`] assembles the file. [`encode_shard`] does both.

use super::ShardingSpec;
use crate::error::{invalid_argument, Result};

/// Where each chunk of a shard goes, and the raw minishard indexes that find them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardLayout {
    /// Positions in the caller's chunk list, in the order their bytes are written.
    pub order: Vec<usize>,
    /// The minishards that hold chunks, increasing.
    pub minishards: Vec<u64>,
    /// The raw minishard index of each of `minishards`.
    pub indexes: Vec<Vec<u8>>,
}

/// Orders the chunks `ids` (of `sizes` encoded bytes) of one shard by minishard, then id, and
/// writes each minishard's raw index for chunk data laid out in that order.
pub fn layout_shard(spec: &ShardingSpec, ids: &[u64], sizes: &[u64]) -> Result<ShardLayout> {
    if ids.len() != sizes.len() {
        return invalid_argument!("{} chunk ids but {} sizes", ids.len(), sizes.len());
    }
    let Some(&first) = ids.first() else {
        return Ok(ShardLayout::default());
    };
    let shard = spec.locate(first).shard;
    let mut keyed = Vec::with_capacity(ids.len());
    for (i, &id) in ids.iter().enumerate() {
        let location = spec.locate(id);
        if location.shard != shard {
            return invalid_argument!(
                "chunk ids {first} and {id} are in different shards ({shard} and {})",
                location.shard
            );
        }
        keyed.push((location.minishard, id, i));
    }
    keyed.sort_unstable();
    if let Some(pair) = keyed.windows(2).find(|pair| pair[0].1 == pair[1].1) {
        return invalid_argument!("chunk id {} is given twice", pair[0].1);
    }

    let mut layout = ShardLayout {
        order: keyed.iter().map(|&(_, _, i)| i).collect(),
        ..ShardLayout::default()
    };
    // Offsets from the end of the shard index; chunks follow each other without gaps, so each
    // minishard's first chunk carries the offset and the others a delta of 0.
    let mut offset = 0u64;
    for group in keyed.chunk_by(|a, b| a.0 == b.0) {
        let n = group.len();
        let mut columns = vec![0u64; 3 * n];
        let mut previous_id = 0;
        for (i, &(_, id, position)) in group.iter().enumerate() {
            columns[i] = id - previous_id;
            previous_id = id;
            columns[2 * n + i] = sizes[position];
        }
        columns[n] = offset;
        offset = group
            .iter()
            .try_fold(offset, |offset, &(_, _, position)| {
                offset.checked_add(sizes[position])
            })
            .map_or_else(
                || invalid_argument!("the chunks add up to more than 2^64 bytes"),
                Ok,
            )?;
        layout.minishards.push(group[0].0);
        layout
            .indexes
            .push(columns.iter().flat_map(|v| v.to_le_bytes()).collect());
    }
    Ok(layout)
}

/// Length of the shard file holding `chunks` and the encoded minishard `indexes`, if addressable.
pub fn shard_len(spec: &ShardingSpec, chunks: &[&[u8]], indexes: &[&[u8]]) -> Option<usize> {
    chunks.iter().chain(indexes).try_fold(
        usize::try_from(spec.shard_index_len()).ok()?,
        |len, part| len.checked_add(part.len()),
    )
}

/// Writes a shard file into `out` (of [`shard_len`] bytes): the shard index, `chunks` in the
/// layout's order, then the encoded `indexes` of `minishards`. An empty minishard gets an empty
/// range at the place its index would have.
pub fn write_shard(
    spec: &ShardingSpec,
    chunks: &[&[u8]],
    minishards: &[u64],
    indexes: &[&[u8]],
    out: &mut [u8],
) -> Result<()> {
    if minishards.len() != indexes.len() {
        return invalid_argument!(
            "{} minishards but {} minishard indexes",
            minishards.len(),
            indexes.len()
        );
    }
    if minishards.windows(2).any(|pair| pair[0] >= pair[1])
        || minishards.last() >= Some(&spec.minishard_count())
    {
        return invalid_argument!(
            "minishards {minishards:?} must increase and be below {}",
            spec.minishard_count()
        );
    }
    if shard_len(spec, chunks, indexes) != Some(out.len()) {
        return invalid_argument!("the output buffer has the wrong length ({})", out.len());
    }
    let (shard_index, mut rest) = out.split_at_mut(spec.shard_index_len() as usize);
    for part in chunks.iter().chain(indexes) {
        let (target, tail) = rest.split_at_mut(part.len());
        target.copy_from_slice(part);
        rest = tail;
    }

    let mut cursor: u64 = chunks.iter().map(|chunk| chunk.len() as u64).sum();
    let mut written = minishards.iter().zip(indexes).peekable();
    for (minishard, entry) in (0..).zip(shard_index.chunks_exact_mut(16)) {
        let start = cursor;
        if let Some((_, index)) = written.next_if(|(&m, _)| m == minishard) {
            cursor += index.len() as u64;
        }
        entry[..8].copy_from_slice(&start.to_le_bytes());
        entry[8..].copy_from_slice(&cursor.to_le_bytes());
    }
    Ok(())
}

/// Builds a shard file from `(id, encoded bytes)` chunks, all of one shard, passing each raw
/// minishard index through `encode_index` (identity for the `raw` index encoding).
pub fn encode_shard(
    spec: &ShardingSpec,
    chunks: &[(u64, &[u8])],
    mut encode_index: impl FnMut(Vec<u8>) -> Vec<u8>,
) -> Result<Vec<u8>> {
    let ids: Vec<u64> = chunks.iter().map(|&(id, _)| id).collect();
    let sizes: Vec<u64> = chunks.iter().map(|(_, data)| data.len() as u64).collect();
    let layout = layout_shard(spec, &ids, &sizes)?;
    let ordered: Vec<&[u8]> = layout.order.iter().map(|&i| chunks[i].1).collect();
    let indexes: Vec<Vec<u8>> = layout.indexes.into_iter().map(&mut encode_index).collect();
    let indexes: Vec<&[u8]> = indexes.iter().map(Vec::as_slice).collect();
    let len = shard_len(spec, &ordered, &indexes)
        .ok_or_else(|| crate::Error::InvalidArgument("the shard is too large".into()))?;
    let mut out = Vec::new();
    if out.try_reserve_exact(len).is_err() {
        return invalid_argument!("a shard of {len} bytes cannot be allocated");
    }
    out.resize(len, 0);
    write_shard(spec, &ordered, &layout.minishards, &indexes, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{parse_minishard_index, parse_shard_index, HashFunction, Location};
    use super::*;

    fn spec(preshift: u32, hash: HashFunction, minishard: u32, shard: u32) -> ShardingSpec {
        ShardingSpec::new(preshift, hash, minishard, shard).unwrap()
    }

    /// Every chunk of a shard, found the way a reader does.
    fn read_back(spec: &ShardingSpec, shard: u64, file: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let index_len = spec.shard_index_len() as usize;
        let ranges = parse_shard_index(spec, 0, &file[..index_len]).unwrap();
        let mut chunks = vec![];
        for (minishard, range) in (0..).zip(ranges) {
            let bytes = &file[range.start as usize..range.end as usize];
            let location = Location { shard, minishard };
            for entry in parse_minishard_index(spec, location, bytes).unwrap() {
                let data = &file[entry.range.start as usize..entry.range.end as usize];
                chunks.push((entry.id, data.to_vec()));
            }
        }
        chunks
    }

    #[test]
    fn chunks_come_back_in_minishard_then_id_order() {
        let spec = spec(1, HashFunction::Identity, 2, 1);
        // Shard bit is bit 3; minishard bits 1-2; bit 0 is preshifted away.
        let chunks: Vec<(u64, Vec<u8>)> = [0b0110u64, 0b0001, 0b0111, 0b0000, 0b0011, 0b0010]
            .iter()
            .map(|&id| (id, vec![id as u8; id as usize + 1]))
            .collect();
        let borrowed: Vec<(u64, &[u8])> = chunks.iter().map(|(id, d)| (*id, &d[..])).collect();
        let file = encode_shard(&spec, &borrowed, |raw| raw).unwrap();
        let back = read_back(&spec, 0, &file);
        let ids: Vec<u64> = back.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [0b0000, 0b0001, 0b0010, 0b0011, 0b0110, 0b0111]);
        for (id, data) in back {
            assert_eq!(data, vec![id as u8; id as usize + 1]);
        }
        // The data sits right after the 64-byte shard index, in that order.
        assert_eq!(file[64], 0);
        assert_eq!(&file[65..67], &[1, 1]);
    }

    #[test]
    fn an_empty_minishard_keeps_its_place_in_the_shard_index() {
        let spec = spec(0, HashFunction::Identity, 2, 0);
        // Minishards 0 and 3 hold chunks; 1 and 2 are empty.
        let file = encode_shard(&spec, &[(0, b"ab"), (3, b"cde")], |raw| raw).unwrap();
        let ranges = parse_shard_index(&spec, 0, &file[..64]).unwrap();
        let relative: Vec<(u64, u64)> = ranges.iter().map(|r| (r.start - 64, r.end - 64)).collect();
        // Data: 5 bytes; index 0 is 24 bytes, index 3 is 24 bytes.
        assert_eq!(relative, [(5, 29), (29, 29), (29, 29), (29, 53)]);
        assert_eq!(file.len(), 64 + 5 + 48);
        assert_eq!(read_back(&spec, 0, &file).len(), 2);
    }

    #[test]
    fn encoded_indexes_are_what_the_shard_index_points_at() {
        let spec = spec(0, HashFunction::MurmurHash3X86_128, 3, 2);
        let shard = spec.locate(7).shard;
        let ids: Vec<u64> = (0..200)
            .filter(|&id| spec.locate(id).shard == shard)
            .collect();
        let chunks: Vec<(u64, &[u8])> = ids.iter().map(|&id| (id, &b"chunk"[..])).collect();
        let marked = encode_shard(&spec, &chunks, |mut raw| {
            raw.extend_from_slice(b"!!");
            raw
        })
        .unwrap();
        let ranges = parse_shard_index(&spec, 0, &marked[..128]).unwrap();
        for range in ranges.iter().filter(|r| !r.is_empty()) {
            assert_eq!(&marked[range.end as usize - 2..range.end as usize], b"!!");
        }
    }

    #[test]
    fn bad_chunk_lists_are_refused() {
        let spec = spec(0, HashFunction::Identity, 1, 1);
        let error = encode_shard(&spec, &[(0, b""), (2, b"")], |raw| raw).unwrap_err();
        assert!(format!("{error}").contains("different shards"));
        let error = encode_shard(&spec, &[(1, b"a"), (1, b"b")], |raw| raw).unwrap_err();
        assert!(format!("{error}").contains("given twice"));
        assert!(layout_shard(&spec, &[1], &[]).is_err());
        let mut out = vec![0; 32];
        assert!(write_shard(&spec, &[], &[2], &[b""], &mut out).is_err());
        assert!(write_shard(&spec, &[], &[1, 0], &[b"", b""], &mut out).is_err());
        assert!(write_shard(&spec, &[], &[], &[], &mut out[..31]).is_err());
    }

    #[test]
    fn an_empty_shard_is_its_index() {
        let spec = spec(0, HashFunction::Identity, 3, 0);
        let file = encode_shard(&spec, &[], |raw| raw).unwrap();
        assert_eq!(file, vec![0; 128]);
    }
}
