//! Compressed Morton codes: the chunk ids of a sharded volume scale.
//!
//! Bit `i` of each axis's grid position goes into the code, from the lowest bit up, x then y then
//! z, for as long as the axis has bits: an axis of `n` chunks has `ceil(log2(n))` of them, so bits
//! that are 0 for every chunk of the grid take no room.

use crate::error::{invalid_argument, Result};

/// The chunk grid of one scale, (x, y, z) chunks, and the Morton bits each axis takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MortonGrid {
    shape: [u64; 3],
    bits: [u32; 3],
    /// Where each bit of a code comes from, lowest first: (axis, bit of that axis).
    sources: [(u8, u8); 64],
}

impl MortonGrid {
    /// The grid of `shape` chunks; every axis has at least one, and the axes 64 bits at most.
    pub fn new(shape: [u64; 3]) -> Result<Self> {
        if shape.contains(&0) {
            return invalid_argument!("grid_shape {shape:?} has an axis without chunks");
        }
        let bits = shape.map(|chunks| u64::BITS - (chunks - 1).leading_zeros());
        let total: u32 = bits.iter().sum();
        if total > u64::BITS {
            return invalid_argument!(
                "grid_shape {shape:?} needs {total} bits of chunk id, more than the 64 of a uint64"
            );
        }
        let mut sources = [(0, 0); 64];
        let rounds = bits.iter().copied().max().unwrap_or(0);
        let order = (0..rounds).flat_map(|bit| (0..3).map(move |axis| (axis, bit)));
        let used = order.filter(|&(axis, bit)| bit < bits[axis]);
        for (source, (axis, bit)) in sources.iter_mut().zip(used) {
            *source = (axis as u8, bit as u8);
        }
        Ok(Self {
            shape,
            bits,
            sources,
        })
    }

    /// Chunks along (x, y, z).
    pub fn shape(&self) -> [u64; 3] {
        self.shape
    }

    /// Morton bits of each axis: `ceil(log2(chunks))`.
    pub fn bits(&self) -> [u32; 3] {
        self.bits
    }

    /// Morton bits of a chunk id, all axes together.
    pub fn total_bits(&self) -> u32 {
        self.bits.iter().sum()
    }

    /// (axis, bit of that axis) of each bit of a code, lowest first.
    fn sources(&self) -> &[(u8, u8)] {
        &self.sources[..self.total_bits() as usize]
    }

    /// The compressed Morton code of a chunk's grid position (x, y, z).
    pub fn code(&self, position: [u64; 3]) -> Result<u64> {
        if position.iter().zip(self.shape).any(|(&p, n)| p >= n) {
            return invalid_argument!(
                "chunk position {position:?} is outside the grid of {:?} chunks",
                self.shape
            );
        }
        let mut code = 0;
        for (out_bit, &(axis, bit)) in self.sources().iter().enumerate() {
            code |= (position[axis as usize] >> bit & 1) << out_bit;
        }
        Ok(code)
    }

    /// The grid position (x, y, z) of the chunk whose code this is.
    pub fn position(&self, code: u64) -> Result<[u64; 3]> {
        let mut position = [0u64; 3];
        for (out_bit, &(axis, bit)) in self.sources().iter().enumerate() {
            position[axis as usize] |= (code >> out_bit & 1) << bit;
        }
        // Bits above the grid's, or a position past a grid axis that is not a power of two.
        let beyond = code.checked_shr(self.total_bits()).unwrap_or(0) != 0;
        if beyond || position.iter().zip(self.shape).any(|(&p, n)| p >= n) {
            return invalid_argument!(
                "chunk id {code} is not a position in the grid of {:?} chunks",
                self.shape
            );
        }
        Ok(position)
    }

    /// The codes of many positions.
    pub fn codes(&self, positions: impl IntoIterator<Item = [u64; 3]>) -> Result<Vec<u64>> {
        positions.into_iter().map(|p| self.code(p)).collect()
    }

    /// The positions of many codes.
    pub fn positions(&self, codes: impl IntoIterator<Item = u64>) -> Result<Vec<[u64; 3]>> {
        codes.into_iter().map(|c| self.position(c)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_per_axis_are_the_ceiling_of_log2() {
        assert_eq!(MortonGrid::new([1, 2, 3]).unwrap().bits(), [0, 1, 2]);
        assert_eq!(MortonGrid::new([4, 5, 1024]).unwrap().bits(), [2, 3, 10]);
        assert_eq!(MortonGrid::new([1 << 21; 3]).unwrap().total_bits(), 63);
        assert_eq!(MortonGrid::new([u64::MAX, 1, 1]).unwrap().total_bits(), 64);
    }

    #[test]
    fn grids_that_no_id_can_hold_are_refused() {
        assert!(MortonGrid::new([0, 1, 1]).is_err());
        assert!(MortonGrid::new([1 << 22, 1 << 21, 1 << 21]).is_ok());
        let message = format!("{:?}", MortonGrid::new([1 << 22, 1 << 22, 1 << 21]));
        assert!(message.contains("65 bits"), "{message}");
    }

    #[test]
    fn cubic_grids_give_the_plain_morton_code() {
        let grid = MortonGrid::new([8, 8, 8]).unwrap();
        assert_eq!(grid.code([1, 0, 0]), Ok(0b001));
        assert_eq!(grid.code([0, 1, 0]), Ok(0b010));
        assert_eq!(grid.code([0, 0, 1]), Ok(0b100));
        assert_eq!(grid.code([7, 0, 5]), Ok(0b101_001_101));
    }

    #[test]
    fn axes_that_ran_out_of_bits_are_skipped() {
        // x: 1 bit, y: 3 bits, z: 2 bits -> order x0 y0 z0 y1 z1 y2.
        let grid = MortonGrid::new([2, 8, 4]).unwrap();
        assert_eq!(grid.code([1, 0, 0]), Ok(0b1));
        assert_eq!(grid.code([0, 0b100, 0]), Ok(0b100000));
        assert_eq!(grid.code([0, 0b010, 0b10]), Ok(0b011000));
        assert_eq!(grid.code([1, 0b111, 0b11]), Ok(0b111111));
        // The volume.md example: x 16 bits, y 14 bits, z 24 bits. Bits 0-41 take x, y, z in
        // turn, 42-45 x and z (y ran out), 46-53 z alone.
        let grid = MortonGrid::new([1 << 16, 1 << 14, 1 << 24]).unwrap();
        assert_eq!(grid.code([0, 0, 1 << 14]), Ok(1 << 43));
        assert_eq!(grid.code([0, 0, 1 << 23]), Ok(1 << 53));
        assert_eq!(grid.code([1 << 14, 0, 0]), Ok(1 << 42));
        assert_eq!(grid.code([1 << 15, 0, 0]), Ok(1 << 44));
    }

    #[test]
    fn positions_round_trip_over_odd_grids() {
        for shape in [[1, 1, 1], [3, 1, 7], [5, 6, 2], [1, 9, 1], [4, 4, 3]] {
            let grid = MortonGrid::new(shape).unwrap();
            let mut seen = std::collections::HashSet::new();
            for x in 0..shape[0] {
                for y in 0..shape[1] {
                    for z in 0..shape[2] {
                        let code = grid.code([x, y, z]).unwrap();
                        assert!(code < 1 << grid.total_bits());
                        assert!(seen.insert(code));
                        assert_eq!(grid.position(code), Ok([x, y, z]));
                    }
                }
            }
        }
    }

    #[test]
    fn positions_outside_the_grid_are_refused() {
        let grid = MortonGrid::new([3, 2, 1]).unwrap();
        assert!(grid.code([3, 0, 0]).is_err());
        assert!(grid.code([0, 0, 1]).is_err());
        // Bits: x0 y0 x1. 0b100 is x = 2; 0b1000 sets a bit past the grid's three.
        assert_eq!(grid.position(0b0100), Ok([2, 0, 0]));
        assert!(grid.position(0b1000).is_err());
        // x = 3 fits in x's 2 bits but lies past the 3 chunks.
        assert!(grid.position(0b0101).is_err());
        assert_eq!(grid.codes([[0, 0, 0], [2, 1, 0]]), Ok(vec![0, 0b110]));
        assert!(grid.positions([0, 0b1000]).is_err());
    }
}
