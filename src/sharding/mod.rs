//! The `neuroglancer_uint64_sharded_v1` format: many chunks in a few shard files, found through a
//! two-level index.
//!
//! A chunk id (for volumes, the compressed Morton code of the chunk's grid position, [`morton`])
//! is shifted right by `preshift_bits` and hashed; the low `minishard_bits` of the hash pick the
//! minishard, the next `shard_bits` the shard file. A shard file starts with a fixed index of
//! 2^minishard_bits (start, end) u64 pairs, relative to the index's end, that locate each
//! minishard's index: a delta-coded [3, n] u64 array of chunk ids, offsets and sizes ([`index`]).
//! Compression (`gzip` index or data encodings) happens outside this module: the builder takes
//! and the parsers return raw minishard indexes.

pub mod build;
pub mod index;
pub mod morton;
mod murmur;

pub use build::{encode_shard, layout_shard, shard_len, write_shard, ShardLayout};
pub use index::{parse_minishard_index, parse_shard_index, ByteRange, ChunkEntry};
pub use morton::MortonGrid;
pub use murmur::murmurhash3_x86_128;

use crate::error::{invalid_argument, Result};

/// The function that maps a (preshifted) chunk id to its shard and minishard bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashFunction {
    Identity,
    MurmurHash3X86_128,
}

impl HashFunction {
    /// The hash of a preshifted chunk id.
    pub fn hash(self, key: u64) -> u64 {
        match self {
            HashFunction::Identity => key,
            HashFunction::MurmurHash3X86_128 => murmurhash3_x86_128(key),
        }
    }
}

/// Where a chunk lives: its shard file and the minishard inside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    pub shard: u64,
    pub minishard: u64,
}

/// The part of a sharding specification that places chunks (the encodings are the caller's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardingSpec {
    preshift_bits: u32,
    hash: HashFunction,
    minishard_bits: u32,
    shard_bits: u32,
}

/// Largest `minishard_bits`: the shard index alone is then 64 GiB (tensorstore's limit too).
pub const MAX_MINISHARD_BITS: u32 = 32;

impl ShardingSpec {
    /// A spec with `preshift_bits` <= 64, `minishard_bits` <= 32 and `shard_bits` <= 64 -
    /// `minishard_bits`, the ranges in which every shift is defined.
    pub fn new(
        preshift_bits: u32,
        hash: HashFunction,
        minishard_bits: u32,
        shard_bits: u32,
    ) -> Result<Self> {
        if preshift_bits > 64 {
            return invalid_argument!("preshift_bits must be 0 to 64, not {preshift_bits}");
        }
        if minishard_bits > MAX_MINISHARD_BITS {
            return invalid_argument!(
                "minishard_bits must be 0 to {MAX_MINISHARD_BITS}, not {minishard_bits}"
            );
        }
        if shard_bits > 64 - minishard_bits {
            return invalid_argument!(
                "shard_bits must be 0 to {} (64 - minishard_bits), not {shard_bits}",
                64 - minishard_bits
            );
        }
        Ok(Self {
            preshift_bits,
            hash,
            minishard_bits,
            shard_bits,
        })
    }

    pub fn preshift_bits(&self) -> u32 {
        self.preshift_bits
    }

    pub fn hash(&self) -> HashFunction {
        self.hash
    }

    pub fn minishard_bits(&self) -> u32 {
        self.minishard_bits
    }

    pub fn shard_bits(&self) -> u32 {
        self.shard_bits
    }

    /// Minishards per shard: 2^minishard_bits.
    pub fn minishard_count(&self) -> u64 {
        1 << self.minishard_bits
    }

    /// Bytes of the shard index at the start of every shard file; offsets count from its end.
    pub fn shard_index_len(&self) -> u64 {
        16 << self.minishard_bits
    }

    /// The shard and minishard of a chunk id.
    pub fn locate(&self, chunk_id: u64) -> Location {
        let hashed = self.hash.hash(shift_right(chunk_id, self.preshift_bits));
        Location {
            shard: shift_right(hashed, self.minishard_bits) & low_bits(self.shard_bits),
            minishard: hashed & low_bits(self.minishard_bits),
        }
    }
}

/// `value >> shift`, 0 for a shift by 64 (which Rust's `>>` leaves undefined).
fn shift_right(value: u64, shift: u32) -> u64 {
    value.checked_shr(shift).unwrap_or(0)
}

/// A mask of the low `bits` bits, all ones for 64.
fn low_bits(bits: u32) -> u64 {
    u64::MAX.checked_shr(u64::BITS - bits).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(preshift: u32, hash: HashFunction, minishard: u32, shard: u32) -> ShardingSpec {
        ShardingSpec::new(preshift, hash, minishard, shard).unwrap()
    }

    #[test]
    fn masks_and_shifts_cover_0_to_64_bits() {
        assert_eq!(low_bits(0), 0);
        assert_eq!(low_bits(1), 1);
        assert_eq!(low_bits(63), u64::MAX >> 1);
        assert_eq!(low_bits(64), u64::MAX);
        assert_eq!(shift_right(u64::MAX, 64), 0);
        assert_eq!(shift_right(0b1100, 2), 0b11);
    }

    #[test]
    fn identity_hash_splits_the_id_into_bit_fields() {
        let spec = spec(2, HashFunction::Identity, 3, 4);
        // From the top: a bit above the shard's, shard 0b1011, minishard 0b101, preshift 0b11.
        let id = (0b1 << 9) | (0b1011 << 5) | (0b101 << 2) | 0b11;
        assert_eq!(
            spec.locate(id),
            Location {
                shard: 0b1011,
                minishard: 0b101
            }
        );
        assert_eq!(spec.minishard_count(), 8);
        assert_eq!(spec.shard_index_len(), 128);
    }

    #[test]
    fn shifts_by_64_are_defined() {
        let all = spec(64, HashFunction::Identity, 0, 64);
        assert_eq!(
            all.locate(u64::MAX),
            Location {
                shard: 0,
                minishard: 0
            }
        );
        let whole_id = spec(0, HashFunction::Identity, 0, 64);
        assert_eq!(whole_id.locate(u64::MAX).shard, u64::MAX);
        let minishards_then_shards = spec(0, HashFunction::Identity, 32, 32);
        assert_eq!(
            minishards_then_shards.locate(0x1234_5678_9abc_def0),
            Location {
                shard: 0x1234_5678,
                minishard: 0x9abc_def0
            }
        );
        // The murmur hash of id >> 64 is the hash of 0.
        let murmur = spec(64, HashFunction::MurmurHash3X86_128, 8, 8);
        assert_eq!(murmur.locate(12345), murmur.locate(0));
        assert_eq!(murmur.locate(0).minishard, 0x41);
        assert_eq!(murmur.locate(0).shard, 0xae);
    }

    #[test]
    fn out_of_range_bits_are_refused() {
        assert!(ShardingSpec::new(65, HashFunction::Identity, 0, 0).is_err());
        assert!(ShardingSpec::new(0, HashFunction::Identity, 33, 0).is_err());
        assert!(ShardingSpec::new(0, HashFunction::Identity, 10, 55).is_err());
        assert!(ShardingSpec::new(0, HashFunction::Identity, 10, 54).is_ok());
    }
}
