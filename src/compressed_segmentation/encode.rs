//! The canonical compressed_segmentation encoder.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use ndarray::{s, ArrayView3, ArrayView4, Axis};

use super::{bits_for, packed_words, BlockGrid, Label, Shape3, MAX_CHANNEL_WORDS};
use crate::error::{invalid_argument, Result};

/// Blocks with at most this many distinct values (4-bit indices) are indexed by one comparison
/// pass per value; larger ones by sorting their voxels.
const SMALL_TABLE: usize = 16;

/// Encodes `chunk` (C, Z, Y, X), in any memory layout, with blocks of `block` (x, y, z) voxels.
///
/// `byteswapped` says the labels in memory have the byte order opposite to the host's. The bytes
/// are those of Neuroglancer's own encoder: per block, the packed indices and then the sorted
/// lookup table, unless the same table was already written in this channel.
pub fn encode<T: Label>(
    chunk: ArrayView4<'_, T>,
    block: Shape3,
    byteswapped: bool,
) -> Result<Vec<u8>> {
    let (num_channels, z, y, x) = chunk.dim();
    let grid = BlockGrid::new([x, y, z], block)?;
    let mut out = vec![0u8; num_channels * 4];
    let mut encoder = ChannelEncoder::new(grid, byteswapped);
    for (channel_index, channel) in chunk.outer_iter().enumerate() {
        let Ok(channel_start) = u32::try_from(out.len() / 4) else {
            return invalid_argument!(
                "the chunk encodes to more than 2^32 words; encode it in smaller chunks"
            );
        };
        write_word(&mut out, channel_index, channel_start);
        encoder.encode_channel(channel, &mut out)?;
    }
    Ok(out)
}

fn write_word(out: &mut [u8], index: usize, word: u32) {
    out[4 * index..4 * index + 4].copy_from_slice(&word.to_le_bytes());
}

/// Encodes the channels of one chunk, reusing its scratch buffers from block to block.
struct ChannelEncoder<T> {
    grid: BlockGrid,
    byteswapped: bool,
    /// The block's labels, x fastest, without padding.
    values: Vec<T>,
    /// Each voxel's position in `table`, for blocks indexed by sorting or partial blocks (empty
    /// for the others, whose positions are in `planes`).
    indices: Vec<u32>,
    planes: IndexPlanes,
    /// The block's distinct labels, ascending.
    table: Vec<T>,
    /// The table as written to the file.
    table_bytes: Vec<u8>,
    /// (label, voxel) pairs, sorted to index blocks with many distinct labels.
    sorted_pairs: Vec<(T, u32)>,
    /// The low words of u64 labels that share their high word, and their table.
    low_values: Vec<u32>,
    low_table: Vec<u32>,
    packed: Vec<u32>,
    written_tables: WrittenTables,
}

impl<T: Label> ChannelEncoder<T> {
    fn new(grid: BlockGrid, byteswapped: bool) -> Self {
        Self {
            grid,
            byteswapped,
            values: Vec::new(),
            indices: Vec::new(),
            planes: IndexPlanes::default(),
            table: Vec::new(),
            table_bytes: Vec::new(),
            sorted_pairs: Vec::new(),
            low_values: Vec::new(),
            low_table: Vec::new(),
            packed: Vec::new(),
            written_tables: WrittenTables::default(),
        }
    }

    fn encode_channel(&mut self, channel: ArrayView3<'_, T>, out: &mut Vec<u8>) -> Result<()> {
        let channel_start = out.len();
        let header_words = self
            .grid
            .header_words()
            .filter(|&words| words <= MAX_CHANNEL_WORDS);
        let Some(header_words) = header_words else {
            return too_large();
        };
        out.resize(channel_start + 4 * header_words, 0);
        self.written_tables.clear();
        let grid = self.grid;
        for (block_index, (origin, extent)) in grid.blocks().enumerate() {
            self.gather(channel, origin, extent);
            self.build_lookup_table();
            let bits = bits_for(self.table.len());
            self.pack(bits, extent)?;

            let values_offset = (out.len() - channel_start) / 4;
            out.extend_from_slice(little_endian_bytes(&self.packed, &mut self.table_bytes));
            let table = little_endian_bytes(&self.table, &mut self.table_bytes);
            let table_offset = match self.written_tables.find(table, out) {
                Some(offset) => offset,
                None => {
                    let offset = (out.len() - channel_start) / 4;
                    self.written_tables.insert(table, offset, out.len());
                    out.extend_from_slice(table);
                    offset
                }
            };
            if out.len() - channel_start > 4 * MAX_CHANNEL_WORDS {
                return too_large();
            }
            let header = channel_start / 4 + 2 * block_index;
            write_word(out, header, table_offset as u32 | bits << 24);
            write_word(out, header + 1, values_offset as u32);
        }
        Ok(())
    }

    /// Copies the block at `origin` of size `extent` into `values`, x fastest, in host order.
    fn gather(&mut self, channel: ArrayView3<'_, T>, origin: Shape3, extent: Shape3) {
        let block = channel.slice(s![
            origin[2]..origin[2] + extent[2],
            origin[1]..origin[1] + extent[1],
            origin[0]..origin[0] + extent[0]
        ]);
        self.values.clear();
        for row in block.lanes(Axis(2)) {
            match row.as_slice() {
                Some(labels) => extend_row(&mut self.values, labels),
                None => self.values.extend(row.iter().copied()),
            }
        }
        if self.byteswapped {
            self.values
                .iter_mut()
                .for_each(|label| *label = label.swap_bytes());
        }
    }

    /// Fills `table` with the distinct labels of `values`, ascending, and `planes` (few labels)
    /// or `indices` (many) with the position of each label in it.
    fn build_lookup_table(&mut self) {
        self.table.clear();
        self.indices.clear();
        let Some(&first) = self.values.first() else {
            return;
        };
        if all_equal(&self.values, first) {
            self.table.push(first);
            return;
        }
        if T::SIZE == 8 {
            // The labels of a block nearly always share their high word: the search then runs
            // on the low words, twice as many to a vector register.
            let high = first.split().0;
            if all_equal_by(&self.values, |label| label.split().0 == high) {
                self.low_values.clear();
                self.low_values
                    .extend(self.values.iter().map(|label| label.split().1));
                if self.planes.index(&self.low_values, &mut self.low_table) {
                    let table = self.low_table.iter().map(|&low| T::join(high, low));
                    self.table.extend(table);
                } else {
                    self.index_by_sorting();
                }
                return;
            }
        }
        if !self.planes.index(&self.values, &mut self.table) {
            self.index_by_sorting();
        }
    }

    /// Indexes a block with many distinct labels by sorting (label, voxel) pairs.
    fn index_by_sorting(&mut self) {
        self.sorted_pairs.clear();
        self.sorted_pairs.extend(
            self.values
                .iter()
                .enumerate()
                .map(|(voxel, &l)| (l, voxel as u32)),
        );
        self.sorted_pairs.sort_unstable();
        self.indices.resize(self.values.len(), 0);
        for &(label, voxel) in &self.sorted_pairs {
            if self.table.last() != Some(&label) {
                self.table.push(label);
            }
            self.indices[voxel as usize] = self.table.len() as u32 - 1;
        }
    }

    /// Packs `indices` into `packed` at `bits` bits each, laid out over the full block; padding
    /// voxels of a partial block get index 0.
    fn pack(&mut self, bits: u32, extent: Shape3) -> Result<()> {
        self.packed.clear();
        let words = packed_words(bits, self.grid.block_volume());
        // A huge block size could otherwise ask for more memory than the file may hold.
        let Some(words) = words.filter(|&words| words <= MAX_CHANNEL_WORDS) else {
            return too_large();
        };
        self.packed.resize(words, 0);
        let (packed, block) = (&mut self.packed[..], self.grid.block);
        if bits == 0 {
            return Ok(());
        }
        if self.indices.is_empty() {
            if extent == block {
                match bits {
                    1 => self.planes.pack::<1>(packed),
                    2 => self.planes.pack::<2>(packed),
                    _ => self.planes.pack::<4>(packed),
                }
                return Ok(());
            }
            // A partial block's voxels lie in the packed words row by row, with padding between.
            self.planes.to_indices(self.values.len(), &mut self.indices);
        }
        let indices = &self.indices;
        match bits {
            1 => pack_indices::<1>(indices, extent, block, packed),
            2 => pack_indices::<2>(indices, extent, block, packed),
            4 => pack_indices::<4>(indices, extent, block, packed),
            8 => pack_indices::<8>(indices, extent, block, packed),
            16 => pack_indices::<16>(indices, extent, block, packed),
            _ => pack_indices::<32>(indices, extent, block, packed),
        }
        Ok(())
    }
}

/// Packs indices LSB first: voxel `p = x + bx*(y + by*z)` of the block at bit `p*BITS`.
fn pack_indices<const BITS: usize>(
    indices: &[u32],
    extent: Shape3,
    block: Shape3,
    packed: &mut [u32],
) {
    let per_word = 32 / BITS;
    let pack_group = |group: &[u32]| {
        group
            .iter()
            .enumerate()
            .fold(0, |word, (k, &index)| word | index << (k * BITS))
    };
    if extent == block {
        let groups = indices.chunks_exact(per_word);
        let last = groups.remainder();
        let mut words = packed.iter_mut();
        // Groups first: zip must not take a word when the groups have run out.
        for (group, word) in groups.zip(words.by_ref()) {
            *word = pack_group(group);
        }
        if let (Some(word), false) = (words.next(), last.is_empty()) {
            *word = pack_group(last);
        }
        return;
    }
    let mut rows = indices.chunks_exact(extent[0].max(1));
    for z in 0..extent[2] {
        for y in 0..extent[1] {
            let row_start = block[0] * (y + block[1] * z);
            for (x, &index) in rows.next().unwrap_or(&[]).iter().enumerate() {
                let bit = (row_start + x) * BITS;
                packed[bit / 32] |= index << (bit % 32);
            }
        }
    }
}

/// Appends one row of a block; rows of 8 labels, the usual block width, are copied inline.
fn extend_row<T: Label>(values: &mut Vec<T>, row: &[T]) {
    match <&[T; 8]>::try_from(row) {
        Ok(&row) => values.extend_from_slice(&row),
        Err(_) => values.extend_from_slice(row),
    }
}

/// The indices of a block with few labels, as bit planes: bit `b` of the index of voxel `v` is
/// bit `v % 64` of word `v / 64` of plane `b`. Scratch reused from block to block.
#[derive(Default)]
struct IndexPlanes {
    /// Words per plane: one bit per voxel.
    words: usize,
    bits: usize,
    planes: Vec<u64>,
    /// The voxels equal to each label found, in order of first appearance, `words` apiece.
    masks: Vec<u64>,
    /// The voxels whose label has been found.
    seen: Vec<u64>,
}

impl IndexPlanes {
    /// Finds the at most `SMALL_TABLE` distinct labels of `values` with one vectorised
    /// comparison pass per label, and fills `table` with them, ascending, and the planes with
    /// each voxel's position in it. Returns false, having done nothing useful, when the block
    /// has more labels.
    fn index<L: Label>(&mut self, values: &[L], table: &mut Vec<L>) -> bool {
        let words = values.len().div_ceil(64);
        self.words = words;
        table.clear();
        self.masks.clear();
        self.seen.clear();
        self.seen.resize(words, 0);
        if values.len() % 64 != 0 {
            // Past the last voxel: nothing to find there.
            self.seen[words - 1] = u64::MAX << (values.len() % 64);
        }
        let mut word = 0;
        while let Some(unseen) = self.seen[word..].iter().position(|&seen| seen != u64::MAX) {
            if table.len() == SMALL_TABLE {
                table.clear();
                return false;
            }
            word += unseen;
            let voxel = 64 * word + self.seen[word].trailing_ones() as usize;
            let label = values[voxel];
            table.push(label);
            // Voxels before `voxel` all hold labels found already.
            let start = self.masks.len();
            self.masks.resize(start + words, 0);
            let masks = &mut self.masks[start + word..start + words];
            for ((mask, seen), group) in masks
                .iter_mut()
                .zip(&mut self.seen[word..])
                .zip(values[64 * word..].chunks(64))
            {
                *mask = equal_mask(group, label);
                *seen |= *mask;
            }
        }
        // The table is in order of first appearance: sort it, and give each label's voxels the
        // bits of its rank.
        let mut by_label = [(L::default(), 0usize); SMALL_TABLE];
        let by_label = &mut by_label[..table.len()];
        for (found, (pair, &label)) in by_label.iter_mut().zip(table.iter()).enumerate() {
            *pair = (label, found);
        }
        by_label.sort_unstable();
        self.bits = bits_for(table.len()) as usize;
        self.planes.clear();
        self.planes.resize(self.bits * words, 0);
        for (rank, &(label, found)) in by_label.iter().enumerate() {
            table[rank] = label;
            let mask = &self.masks[found * words..(found + 1) * words];
            for (bit, plane) in self.planes.chunks_exact_mut(words).enumerate() {
                if rank >> bit & 1 == 1 {
                    plane.iter_mut().zip(mask).for_each(|(p, &m)| *p |= m);
                }
            }
        }
        true
    }

    /// Bit `b` of voxel `voxel`'s index, in the low bit.
    fn bit(&self, b: usize, voxel: usize) -> u32 {
        (self.planes[b * self.words + voxel / 64] >> (voxel % 64)) as u32 & 1
    }

    /// The index of each of the first `count` voxels, into `indices`.
    fn to_indices(&self, count: usize, indices: &mut Vec<u32>) {
        indices.clear();
        indices.extend((0..count).map(|v| (0..self.bits).fold(0, |i, b| i | self.bit(b, v) << b)));
    }

    /// Packs the indices of a whole block at `BITS` bits each (1, 2 or 4): each packed word
    /// interleaves the bits of 32 / `BITS` voxels taken from every plane at once.
    fn pack<const BITS: usize>(&self, packed: &mut [u32]) {
        let per_word = 32 / BITS;
        let (planes, words) = (&self.planes, self.words);
        for (w, word) in packed.iter_mut().enumerate() {
            let (plane_word, shift) = (w * per_word / 64, w * per_word % 64);
            *word = (0..BITS).fold(0, |word, b| {
                let bits = (planes[b * words + plane_word] >> shift) as u32;
                word | spread::<BITS>(bits) << b
            });
        }
    }
}

/// Bit `k` set for each voxel `k` of `group` (at most 64) equal to `label`.
fn equal_mask<L: Label>(group: &[L], label: L) -> u64 {
    match <&[L; 64]>::try_from(group) {
        // Sixteen at a time, which the compiler turns into vector compares and bit masks.
        Ok(group) => group
            .chunks_exact(16)
            .enumerate()
            .fold(0, |mask, (i, sixteen)| {
                let bits = sixteen.iter().enumerate().fold(0u16, |bits, (k, &value)| {
                    bits | u16::from(value == label) << k
                });
                mask | u64::from(bits) << (16 * i)
            }),
        Err(_) => group
            .iter()
            .enumerate()
            .fold(0, |mask, (k, &value)| mask | u64::from(value == label) << k),
    }
}

/// The low 32 / `BITS` bits of `bits`, moved to every `BITS`-th bit: bit `k` to bit `k * BITS`.
fn spread<const BITS: usize>(bits: u32) -> u32 {
    match BITS {
        1 => bits,
        2 => {
            let x = bits & 0xFFFF;
            let x = (x | x << 8) & 0x00FF_00FF;
            let x = (x | x << 4) & 0x0F0F_0F0F;
            let x = (x | x << 2) & 0x3333_3333;
            (x | x << 1) & 0x5555_5555
        }
        _ => {
            let x = bits & 0xFF;
            let x = (x | x << 12) & 0x000F_000F;
            let x = (x | x << 6) & 0x0303_0303;
            (x | x << 3) & 0x1111_1111
        }
    }
}

/// Whether every label equals `first`, in fixed-size groups the compiler vectorises.
fn all_equal<T: Label>(values: &[T], first: T) -> bool {
    all_equal_by(values, |label| label == first)
}

/// Whether `test` holds for every label, in fixed-size groups the compiler vectorises.
fn all_equal_by<T: Label>(values: &[T], test: impl Fn(T) -> bool) -> bool {
    let groups = values.chunks_exact(16);
    let last = groups.remainder();
    groups
        .into_iter()
        .all(|group| group.iter().fold(true, |all, &label| all & test(label)))
        && last.iter().all(|&label| test(label))
}

/// The little-endian bytes of `labels` (or packed words), converted in `scratch` on big-endian hosts.
fn little_endian_bytes<'a, T: Label>(labels: &'a [T], scratch: &'a mut Vec<u8>) -> &'a [u8] {
    if cfg!(target_endian = "little") {
        bytemuck::cast_slice(labels)
    } else {
        scratch.clear();
        scratch.resize(labels.len() * T::SIZE, 0);
        for (&label, bytes) in labels.iter().zip(scratch.chunks_exact_mut(T::SIZE)) {
            label.write_le(bytes);
        }
        scratch
    }
}

fn too_large<T>() -> Result<T> {
    invalid_argument!(
        "the chunk is too large for compressed_segmentation: a channel would need 2^24 words or \
         more, beyond the 24-bit offsets readers use; encode it in smaller chunks"
    )
}

/// The lookup tables already written in the current channel, found by content.
#[derive(Default)]
struct WrittenTables {
    /// Hash of a table's bytes to the most recent entry with that hash.
    latest: HashMap<u64, usize, BuildHasherDefault<AlreadyHashed>>,
    entries: Vec<WrittenTable>,
}

struct WrittenTable {
    /// Offset in words from the channel start, as the headers store it.
    offset: usize,
    /// Where the table's bytes start in the output.
    position: usize,
    /// The previous entry with the same hash.
    previous: Option<usize>,
}

impl WrittenTables {
    fn clear(&mut self) {
        self.latest.clear();
        self.entries.clear();
    }

    fn find(&self, table: &[u8], out: &[u8]) -> Option<usize> {
        let mut entry = self.latest.get(&hash(table)).copied();
        while let Some(index) = entry {
            let written = &self.entries[index];
            if out.get(written.position..written.position + table.len()) == Some(table) {
                return Some(written.offset);
            }
            entry = written.previous;
        }
        None
    }

    fn insert(&mut self, table: &[u8], offset: usize, position: usize) {
        let index = self.entries.len();
        let previous = self.latest.insert(hash(table), index);
        self.entries.push(WrittenTable {
            offset,
            position,
            previous,
        });
    }
}

/// A hash of a table's bytes. Tables are a few words long and every hit is confirmed by
/// comparing bytes, so a multiply-rotate mix per word is enough, and much cheaper than SipHash.
fn hash(bytes: &[u8]) -> u64 {
    let mixed = bytes.chunks(8).fold(bytes.len() as u64, |hash, chunk| {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        (hash.rotate_left(26) ^ u64::from_le_bytes(word)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    });
    // The map picks buckets by the low bits, which a multiplication mixes least.
    mixed ^ mixed >> 32
}

/// The map key is already a hash: passes it through instead of hashing it again.
#[derive(Default)]
struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = hash(bytes);
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compressed_segmentation::decode_into;
    use ndarray::{Array4, ShapeBuilder};

    fn words(bytes: &[u8]) -> Vec<u32> {
        bytes
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect()
    }

    /// CompressChannelTest.Basic of Neuroglancer's C++ encoder, with the channel-offset word.
    #[test]
    fn matches_the_upstream_hand_computed_vector() {
        let values_x_fastest = [4u64, 3, 5, 4, 1, 3, 3, 3];
        let chunk = Array4::from_shape_vec((1, 2, 2, 2), values_x_fastest.to_vec()).unwrap();
        let encoded = encode(chunk.view(), [2, 2, 1], false).unwrap();
        let expected = [
            1,
            0x0200_0005,
            4,
            0x0100_000C,
            11,
            0b0110_0001,
            3,
            0,
            4,
            0,
            5,
            0,
            0b1110,
            1,
            0,
            3,
            0,
        ];
        assert_eq!(words(&encoded), expected);
    }

    #[test]
    fn partial_blocks_pad_with_index_zero_and_round_trip() {
        let chunk = Array4::from_shape_fn((2, 3, 5, 7), |(c, z, y, x)| {
            ((x * y + z + c) % 5) as u32 + 10
        });
        let encoded = encode(chunk.view(), [4, 4, 2], false).unwrap();
        let mut decoded = vec![0u32; chunk.len()];
        decode_into(&encoded, [7, 5, 3], [4, 4, 2], 2, &mut decoded).unwrap();
        assert_eq!(decoded, chunk.iter().copied().collect::<Vec<_>>());

        let mut fortran = Array4::zeros(chunk.dim().f());
        fortran.assign(&chunk);
        assert_eq!(encode(fortran.view(), [4, 4, 2], false).unwrap(), encoded);
        let swapped = chunk.mapv(u32::swap_bytes);
        assert_eq!(encode(swapped.view(), [4, 4, 2], true).unwrap(), encoded);
    }

    #[test]
    fn many_distinct_values_are_sorted_into_the_table() {
        let chunk = Array4::from_shape_fn((1, 4, 4, 4), |(_, z, y, x)| {
            (1000 - x - 4 * y - 16 * z) as u64
        });
        let encoded = words(&encode(chunk.view(), [4, 4, 4], false).unwrap());
        assert_eq!(encoded[1] >> 24, 8);
        let table_start = 1 + (encoded[1] & 0xFF_FFFF) as usize;
        let table: Vec<u32> = encoded[table_start..].iter().step_by(2).copied().collect();
        assert_eq!(table, (937..=1000).collect::<Vec<_>>());
    }

    #[test]
    fn blocks_of_few_labels_round_trip_at_every_index_width() {
        // 2 to 17 labels: 1-, 2- and 4-bit planes, then the sort; blocks of 64 voxels, of fewer
        // than 64, and partial ones at the chunk edge.
        for labels in 2..=17u64 {
            let chunk = Array4::from_shape_fn((1, 9, 10, 11), |(_, z, y, x)| {
                1000 - ((x * 7 + y * 3 + z * 5) as u64 % labels) * 37
            });
            for block in [[8, 8, 8], [4, 4, 4], [5, 3, 2]] {
                let encoded = encode(chunk.view(), block, false).unwrap();
                let mut decoded = vec![0u64; chunk.len()];
                decode_into(&encoded, [11, 10, 9], block, 1, &mut decoded).unwrap();
                assert_eq!(decoded, chunk.iter().copied().collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn huge_blocks_and_channels_are_refused() {
        let chunk = Array4::from_shape_fn((1, 2, 2, 2), |(_, z, _, x)| (x + z) as u32);
        let error = encode(chunk.view(), [1 << 20, 1 << 20, 1 << 20], false).unwrap_err();
        assert!(matches!(error, crate::Error::InvalidArgument(m) if m.contains("smaller chunks")));
    }
}
