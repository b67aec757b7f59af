//! The compressed_segmentation encoding of uint32 and uint64 label chunks.
//!
//! A file is one little-endian u32 word per channel giving the channel's start (in words from the
//! file start), then each channel: a grid of two-word block headers, then each block's packed
//! lookup-table indices and lookup table. All offsets inside a channel are in words from the
//! channel start. `encode` writes the canonical bytes of Neuroglancer's own encoder; `decode_into`
//! checks every offset, bit width and index against the buffer.

mod decode;
mod encode;

pub use decode::{check_header, decode_into};
pub use encode::encode;

use std::hash::Hash;

use crate::element::Element;
use crate::error::{invalid_argument, Result};

/// A chunk or block extent as (x, y, z).
pub type Shape3 = [usize; 3];

/// A label type the encoding supports: u32 or u64.
pub trait Label: Element + Ord + Hash {
    /// Number of 32-bit words one lookup-table entry takes.
    const WORDS: usize = Self::SIZE / 4;

    /// The label's high and low 32-bit words (the high word of a u32 label is 0).
    fn split(self) -> (u32, u32);

    /// The label made of these high and low words.
    fn join(high: u32, low: u32) -> Self;
}

impl Label for u32 {
    fn split(self) -> (u32, u32) {
        (0, self)
    }

    fn join(_high: u32, low: u32) -> Self {
        low
    }
}

impl Label for u64 {
    fn split(self) -> (u32, u32) {
        ((self >> 32) as u32, self as u32)
    }

    fn join(high: u32, low: u32) -> Self {
        u64::from(high) << 32 | u64::from(low)
    }
}

/// Readers keep offsets in 24 bits (tensorstore, Neuroglancer's TypeScript), so no channel may
/// reach 2^24 words.
pub const MAX_CHANNEL_WORDS: usize = 1 << 24;

/// The bit widths a block's packed indices may use.
const BIT_WIDTHS: [u32; 7] = [0, 1, 2, 4, 8, 16, 32];

/// The narrowest bit width that can index `distinct_values` values.
fn bits_for(distinct_values: usize) -> u32 {
    BIT_WIDTHS
        .into_iter()
        .find(|&bits| (distinct_values as u64) <= 1u64 << bits)
        .unwrap_or(32)
}

/// Number of u32 words holding `num_values` indices of `bits` bits each, if that is addressable.
fn packed_words(bits: u32, num_values: usize) -> Option<usize> {
    Some(num_values.checked_mul(bits as usize)?.div_ceil(32))
}

/// The block grid over a chunk, and the block size checked to be usable.
#[derive(Clone, Copy, Debug)]
struct BlockGrid {
    chunk: Shape3,
    block: Shape3,
    blocks: Shape3,
}

impl BlockGrid {
    fn new(chunk: Shape3, block: Shape3) -> Result<Self> {
        if block.contains(&0) {
            return invalid_argument!("block_size must be three positive integers, got {block:?}");
        }
        if block[0]
            .checked_mul(block[1])
            .and_then(|n| n.checked_mul(block[2]))
            .is_none()
        {
            return invalid_argument!("block_size {block:?} is too large");
        }
        let blocks = [0, 1, 2].map(|axis| chunk[axis].div_ceil(block[axis]));
        Ok(Self {
            chunk,
            block,
            blocks,
        })
    }

    /// Number of voxels in one full block.
    fn block_volume(&self) -> usize {
        self.block.iter().product()
    }

    /// Number of header words each channel starts with, if it is addressable.
    fn header_words(&self) -> Option<usize> {
        self.blocks[0]
            .checked_mul(self.blocks[1])?
            .checked_mul(self.blocks[2])?
            .checked_mul(2)
    }

    /// Every block, in header order (x fastest), as its origin and its extent inside the chunk.
    fn blocks(&self) -> impl Iterator<Item = (Shape3, Shape3)> + '_ {
        let [gx, gy, gz] = self.blocks;
        (0..gz).flat_map(move |bz| {
            (0..gy).flat_map(move |by| {
                (0..gx).map(move |bx| {
                    let origin = [bx * self.block[0], by * self.block[1], bz * self.block[2]];
                    let extent = [0, 1, 2].map(|a| self.block[a].min(self.chunk[a] - origin[a]));
                    (origin, extent)
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_widths_follow_the_spec() {
        let cases = [
            (1, 0),
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (16, 4),
            (17, 8),
            (256, 8),
        ];
        for (distinct, bits) in cases {
            assert_eq!(bits_for(distinct), bits, "{distinct} values");
        }
        assert_eq!(bits_for(257), 16);
        assert_eq!(bits_for(65536), 16);
        assert_eq!(bits_for(65537), 32);
    }

    #[test]
    fn grid_covers_partial_blocks() {
        let grid = BlockGrid::new([10, 20, 30], [8, 8, 8]).unwrap();
        assert_eq!(grid.blocks, [2, 3, 4]);
        assert_eq!(grid.header_words(), Some(48));
        let blocks: Vec<_> = grid.blocks().collect();
        assert_eq!(blocks[0], ([0, 0, 0], [8, 8, 8]));
        assert_eq!(blocks[1], ([8, 0, 0], [2, 8, 8]));
        assert_eq!(blocks.last(), Some(&([8, 16, 24], [2, 4, 6])));
    }

    #[test]
    fn zero_block_size_is_refused() {
        assert!(BlockGrid::new([8, 8, 8], [8, 0, 8]).is_err());
        assert!(BlockGrid::new([8, 8, 8], [usize::MAX, 2, 1]).is_err());
    }
}
