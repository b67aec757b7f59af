//! A compressed_segmentation decoder that trusts nothing in the buffer.

use std::convert::Infallible;

use super::{packed_words, BlockGrid, Label, Shape3, BIT_WIDTHS};
use crate::error::{invalid_argument, invalid_format, Result};

/// Checks the channel offsets of `buf` and that each channel has room for its block headers,
/// without allocating: call it before allocating the output for a chunk from an untrusted source.
pub fn check_header(buf: &[u8], chunk: Shape3, block: Shape3, num_channels: usize) -> Result<()> {
    let layout = FileLayout::new(buf, chunk, block, num_channels)?;
    for channel in 0..num_channels {
        layout.channel(channel)?;
    }
    Ok(())
}

/// Decodes `buf` into `out`, the (C, Z, Y, X) chunk in C order, x fastest.
///
/// Every offset, bit width and lookup index is checked against the buffer; a malformed buffer
/// gives `Error::InvalidFormat` naming the problem and leaves `out` partly written.
pub fn decode_into<T: Label>(
    buf: &[u8],
    chunk: Shape3,
    block: Shape3,
    num_channels: usize,
    out: &mut [T],
) -> Result<()> {
    let layout = FileLayout::new(buf, chunk, block, num_channels)?;
    let channel_len = chunk[0]
        .checked_mul(chunk[1])
        .and_then(|n| n.checked_mul(chunk[2]));
    if channel_len.and_then(|n| n.checked_mul(num_channels)) != Some(out.len()) {
        return invalid_argument!(
            "output holds {} values, the chunk {chunk:?} with {num_channels} channel(s) needs more",
            out.len()
        );
    }
    let channel_len = channel_len.unwrap_or(0);
    let mut scratch = BlockScratch::default();
    for channel in 0..num_channels {
        let data = layout.channel(channel)?;
        let out = &mut out[channel * channel_len..(channel + 1) * channel_len];
        let decoder = ChannelDecoder {
            data,
            grid: layout.grid,
            header_words: layout.header_words,
            channel,
        };
        decoder.decode(out, &mut scratch)?;
    }
    Ok(())
}

/// The block grid and the channel table of one file.
struct FileLayout<'a> {
    buf: &'a [u8],
    grid: BlockGrid,
    header_words: usize,
    num_channels: usize,
}

impl<'a> FileLayout<'a> {
    fn new(buf: &'a [u8], chunk: Shape3, block: Shape3, num_channels: usize) -> Result<Self> {
        let grid = BlockGrid::new(chunk, block)?;
        let Some(header_words) = grid.header_words() else {
            return invalid_format!("chunk {chunk:?} has more blocks than any buffer can describe");
        };
        if num_channels == 0 {
            return invalid_argument!("num_channels must be at least 1");
        }
        if buf.len() % 4 != 0 {
            return invalid_format!(
                "compressed_segmentation file length {} is not a whole number of 32-bit words \
                 (truncated file?)",
                buf.len()
            );
        }
        if buf.len() / 4 < num_channels {
            return invalid_format!(
                "compressed_segmentation file too short: {} bytes cannot hold the offsets of {} \
                 channel(s)",
                buf.len(),
                num_channels
            );
        }
        Ok(Self {
            buf,
            grid,
            header_words,
            num_channels,
        })
    }

    /// The bytes of channel `channel`, checked to lie after the channel table and before the next
    /// channel, and to have room for the block headers.
    fn channel(&self, channel: usize) -> Result<&'a [u8]> {
        let words = self.buf.len() / 4;
        let start = word(self.buf, channel) as usize;
        let end = match channel + 1 < self.num_channels {
            true => word(self.buf, channel + 1) as usize,
            false => words,
        };
        if start < self.num_channels || start > words {
            return invalid_format!(
                "channel {channel} starts at word {start}, outside the data (words {} to {words})",
                self.num_channels
            );
        }
        if end < start || end > words {
            return invalid_format!(
                "channel offsets must increase within the file: channel {channel} starts at word \
                 {start} and the next at word {end} (file has {words} words)"
            );
        }
        if end - start < self.header_words {
            return invalid_format!(
                "compressed_segmentation file too short: channel {channel} has {} words, its \
                 {} block headers need {}",
                end - start,
                self.header_words / 2,
                self.header_words
            );
        }
        Ok(&self.buf[4 * start..4 * end])
    }
}

/// Word `index` of `bytes`, which the caller has checked is in range.
fn word(bytes: &[u8], index: usize) -> u32 {
    bytes
        .get(4 * index..4 * index + 4)
        .map_or(0, |w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

/// Entries in the lookup table of a block with at most 8-bit indices.
const SMALL_TABLE: usize = 256;

/// Buffers reused from block to block.
struct BlockScratch<T> {
    /// The lookup-table index of each voxel of the block, padding included.
    indices: Vec<u32>,
    /// The lookup table of a block with at most 8-bit indices, decoded once per block.
    table: [T; SMALL_TABLE],
}

impl<T: Label> Default for BlockScratch<T> {
    fn default() -> Self {
        Self {
            indices: Vec::new(),
            table: [T::default(); SMALL_TABLE],
        }
    }
}

struct ChannelDecoder<'a> {
    data: &'a [u8],
    grid: BlockGrid,
    header_words: usize,
    channel: usize,
}

impl ChannelDecoder<'_> {
    fn decode<T: Label>(&self, out: &mut [T], scratch: &mut BlockScratch<T>) -> Result<()> {
        let words = self.data.len() / 4;
        let block_volume = self.grid.block_volume();
        let mut padding = PaddingCheck::default();
        for (block_index, (origin, extent)) in self.grid.blocks().enumerate() {
            let header = word(self.data, 2 * block_index);
            let values_offset = word(self.data, 2 * block_index + 1) as usize;
            let bits = header >> 24;
            let table_offset = (header & 0xFF_FFFF) as usize;
            let at = || format!("block {origin:?} of channel {}", self.channel);

            if !BIT_WIDTHS.contains(&bits) {
                return invalid_format!(
                    "{}: invalid number of encoding bits {bits} (must be one of 0, 1, 2, 4, 8, \
                     16, 32)",
                    at()
                );
            }
            if table_offset < self.header_words || table_offset >= words {
                return invalid_format!(
                    "{}: lookup table offset {table_offset} is outside the block data (words {} \
                     to {words})",
                    at(),
                    self.header_words
                );
            }
            // The table length is not stored: it runs to at most 2^bits entries, or the channel end.
            let table_entries = ((words - table_offset) / T::WORDS).min(1usize << bits.min(31));
            if table_entries == 0 {
                return invalid_format!("{}: lookup table runs past the end of the channel", at());
            }
            let table = &self.data[4 * table_offset..4 * (table_offset + table_entries * T::WORDS)];
            let rows = OutputRows {
                origin,
                extent,
                chunk: self.grid.chunk,
            };
            if bits == 0 {
                let label = T::from_le_slice(&table[..T::SIZE]);
                let filled: std::result::Result<(), Infallible> = rows.for_each(out, |_, row| {
                    row.fill(label);
                    Ok(())
                });
                let Ok(()) = filled;
                continue;
            }
            let packed_len = packed_words(bits, block_volume).unwrap_or(usize::MAX);
            if values_offset < self.header_words
                || values_offset > words
                || packed_len > words - values_offset
            {
                return invalid_format!(
                    "{}: encoded values at word {values_offset} ({packed_len} words) run outside \
                     the block data (words {} to {words})",
                    at(),
                    self.header_words
                );
            }
            let packed = &self.data[4 * values_offset..4 * (values_offset + packed_len)];
            // Padding voxels may hold any index the table can resolve; a table cut short by the
            // channel end is the only case where some index cannot be resolved.
            if table_entries < 1usize << bits {
                // Blocks may share or overlap their values: scanning each would cost the block
                // volume per block, far more than the chunk when blocks are larger than it.
                let largest = padding.largest_index(self.data, values_offset, bits, block_volume);
                if largest as usize >= table_entries {
                    let index = first_index_at_least(bits, packed, block_volume, table_entries);
                    return invalid_format!(
                        "{}: lookup table index {} is out of range (the table has at most \
                         {table_entries} entries before the channel ends)",
                        at(),
                        index.unwrap_or(largest)
                    );
                }
            }
            let block = self.grid.block;
            if bits <= 8 {
                // At most 256 entries: decode them once, into a table no u8 index can leave.
                let entries = &mut scratch.table;
                for (entry, bytes) in entries.iter_mut().zip(table.chunks_exact(T::SIZE)) {
                    *entry = T::from_le_slice(bytes);
                }
                if block[0] == 8 {
                    decode_rows_of_8(bits, packed, entries, block, rows, out);
                    continue;
                }
            }
            // Only the voxels inside the chunk: a block may be far larger than the chunk.
            let (indices, row_length) = if extent == block {
                let all = unpack_indices(bits, packed, block_volume, &mut scratch.indices);
                (all, [block[0], block[1]])
            } else {
                let inside = indices_inside(bits, packed, block, extent, &mut scratch.indices);
                (inside, [extent[0], extent[1]])
            };
            if bits <= 8 {
                let entries = &scratch.table;
                write_labels(indices, row_length, rows, out, |i| {
                    entries[i as usize % SMALL_TABLE]
                });
            } else {
                // Up to 2^32 entries: read the ones used in place.
                write_labels(indices, row_length, rows, out, |i| {
                    let i = i as usize;
                    T::from_le_slice(&table[i * T::SIZE..(i + 1) * T::SIZE])
                });
            }
        }
        Ok(())
    }
}

/// Decodes a block 8 voxels wide with indices of at most 8 bits: each row of 8 indices is then
/// `bits` whole bytes of the packed values, read at once without unpacking the block first.
fn decode_rows_of_8<T: Label>(
    bits: u32,
    packed: &[u8],
    table: &[T; SMALL_TABLE],
    block: Shape3,
    rows: OutputRows,
    out: &mut [T],
) {
    match bits {
        1 => rows_of_8::<1, T>(packed, table, block, rows, out),
        2 => rows_of_8::<2, T>(packed, table, block, rows, out),
        4 => rows_of_8::<4, T>(packed, table, block, rows, out),
        _ => rows_of_8::<8, T>(packed, table, block, rows, out),
    }
}

fn rows_of_8<const BITS: usize, T: Label>(
    packed: &[u8],
    table: &[T; SMALL_TABLE],
    block: Shape3,
    rows: OutputRows,
    out: &mut [T],
) {
    let mask = (1u64 << BITS) - 1;
    let written: std::result::Result<(), Infallible> = rows.for_each(out, |[y, z], row| {
        let start = (y + block[1] * z) * BITS;
        let bytes = packed.get(start..start + BITS).unwrap_or(&[]);
        let indices = bytes
            .iter()
            .rev()
            .fold(0u64, |word, &byte| word << 8 | u64::from(byte));
        for (k, label) in row.iter_mut().enumerate() {
            *label = table[((indices >> (k * BITS)) & mask) as usize];
        }
        Ok(())
    });
    let Ok(()) = written;
}

/// The rows of one block in the channel's output, x fastest.
#[derive(Clone, Copy)]
struct OutputRows {
    origin: Shape3,
    extent: Shape3,
    chunk: Shape3,
}

impl OutputRows {
    /// Calls `fill(row_start_in_block, row)` for each row (y, z) of the block, where
    /// `row_start_in_block` is `(y, z)` and `row` the output voxels of that row.
    fn for_each<T, E>(
        self,
        out: &mut [T],
        mut fill: impl FnMut([usize; 2], &mut [T]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let [x0, y0, z0] = self.origin;
        let [cx, cy, _] = self.chunk;
        let width = self.extent[0];
        for z in 0..self.extent[2] {
            for y in 0..self.extent[1] {
                let start = ((z0 + z) * cy + y0 + y) * cx + x0;
                let row = &mut out[start..start + width];
                // Rows of the usual 8-voxel blocks get a length the compiler knows, so that
                // `fill` is unrolled for them.
                match <&mut [T; 8]>::try_from(&mut *row) {
                    Ok(row) => fill([y, z], row)?,
                    Err(_) => fill([y, z], row)?,
                }
            }
        }
        Ok(())
    }
}

/// Unpacks the first `count` indices of `bits` bits from the little-endian words `packed`, into
/// `indices`, which keeps its length from block to block so as not to be cleared each time.
fn unpack_indices<'a>(
    bits: u32,
    packed: &[u8],
    count: usize,
    indices: &'a mut Vec<u32>,
) -> &'a [u32] {
    match bits {
        1 => unpack_bits::<1>(packed, count, indices),
        2 => unpack_bits::<2>(packed, count, indices),
        4 => unpack_bits::<4>(packed, count, indices),
        8 => unpack_bits::<8>(packed, count, indices),
        16 => unpack_bits::<16>(packed, count, indices),
        _ => unpack_bits::<32>(packed, count, indices),
    }
}

fn unpack_bits<'a, const BITS: usize>(
    packed: &[u8],
    count: usize,
    indices: &'a mut Vec<u32>,
) -> &'a [u32] {
    let per_word = 32 / BITS;
    let mask = (u64::MAX >> (64 - BITS)) as u32;
    let unpacked = packed.len() / 4 * per_word;
    if indices.len() < unpacked {
        indices.resize(unpacked, 0);
    }
    for (group, word) in indices
        .chunks_exact_mut(per_word)
        .zip(packed.chunks_exact(4))
    {
        let word = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        for (k, index) in group.iter_mut().enumerate() {
            *index = word >> (k * BITS) & mask;
        }
    }
    &indices[..count]
}

/// The indices of the voxels of a partial block that lie inside the chunk, x fastest, into
/// `indices`, read one by one from the little-endian words `packed`.
fn indices_inside<'a>(
    bits: u32,
    packed: &[u8],
    block: Shape3,
    extent: Shape3,
    indices: &'a mut Vec<u32>,
) -> &'a [u32] {
    indices.clear();
    for z in 0..extent[2] {
        for y in 0..extent[1] {
            let row_start = block[0] * (y + block[1] * z);
            indices
                .extend((row_start..row_start + extent[0]).map(|v| packed_index(bits, packed, v)));
        }
    }
    indices
}

/// The index of voxel `voxel` in the little-endian words `packed`, which the caller has checked
/// hold the whole block.
fn packed_index(bits: u32, packed: &[u8], voxel: usize) -> u32 {
    let bits = bits as usize;
    let bit = voxel * bits;
    word(packed, bit / 32) >> (bit % 32) & (u64::MAX >> (64 - bits)) as u32
}

/// The first of a block's `block_volume` packed indices that is at least `limit`, padding included.
fn first_index_at_least(
    bits: u32,
    packed: &[u8],
    block_volume: usize,
    limit: usize,
) -> Option<u32> {
    (0..block_volume)
        .map(|voxel| packed_index(bits, packed, voxel))
        .find(|&index| index as usize >= limit)
}

/// Writes the labels of one block's voxels, looked up from their `indices` (x fastest, in rows
/// of `row_length` (x, y)), into the block's rows of the output.
fn write_labels<T: Label>(
    indices: &[u32],
    row_length: [usize; 2],
    rows: OutputRows,
    out: &mut [T],
    lookup: impl Fn(u32) -> T,
) {
    let written: std::result::Result<(), Infallible> = rows.for_each(out, |[y, z], row| {
        let start = row_length[0] * (y + row_length[1] * z);
        let row_indices = &indices[start..start + row.len()];
        for (label, &index) in row.iter_mut().zip(row_indices) {
            *label = lookup(index);
        }
        Ok(())
    });
    let Ok(()) = written;
}

/// The largest of the indices packed at `bits` bits each in one word.
fn largest_in_word(packed_word: u32, bits: u32) -> u32 {
    if bits == 32 {
        return packed_word;
    }
    let mask = (1 << bits) - 1;
    (0..32 / bits)
        .map(|k| packed_word >> (k * bits) & mask)
        .max()
        .unwrap_or(0)
}

/// Finds the largest index of a block, padding included, in time linear in the channel however
/// many blocks share or overlap their encoded values: blocks are scanned one by one until that
/// has cost as many words as the channel holds, then answered from sliding-window maxima over
/// the channel's words, computed once per bit width.
#[derive(Default)]
struct PaddingCheck {
    scanned_words: usize,
    /// For a bit width, the largest index in each window of whole words a block's values fill.
    window_maxima: Vec<(u32, Vec<u32>)>,
}

impl PaddingCheck {
    /// The largest of the `block_volume` indices of `bits` bits packed from word `values_offset`
    /// of `data`, which the caller has checked lie inside `data`.
    fn largest_index(
        &mut self,
        data: &[u8],
        values_offset: usize,
        bits: u32,
        block_volume: usize,
    ) -> u32 {
        let words = data.len() / 4;
        let total_bits = block_volume * bits as usize;
        let whole_words = total_bits / 32;
        let last_bits = (total_bits % 32) as u32;
        let last = match last_bits {
            0 => 0,
            _ => largest_in_word(
                word(data, values_offset + whole_words) & ((1 << last_bits) - 1),
                bits,
            ),
        };
        if whole_words == 0 {
            return last;
        }
        let whole = if self.scanned_words + whole_words <= words {
            self.scanned_words += whole_words;
            (values_offset..values_offset + whole_words)
                .map(|w| largest_in_word(word(data, w), bits))
                .max()
                .unwrap_or(0)
        } else {
            let found = self.window_maxima.iter().position(|(b, _)| *b == bits);
            let position = found.unwrap_or_else(|| {
                let maxima = sliding_maxima(data, bits, whole_words);
                self.window_maxima.push((bits, maxima));
                self.window_maxima.len() - 1
            });
            self.window_maxima[position].1[values_offset]
        };
        whole.max(last)
    }
}

/// For every start word `i` with `i + width <= words`, the largest index of `bits` bits packed in
/// words `i..i + width` of `data` (van Herk / Gil-Werman: two passes over blocks of `width`).
fn sliding_maxima(data: &[u8], bits: u32, width: usize) -> Vec<u32> {
    let words = data.len() / 4;
    if width == 0 || width > words {
        return Vec::new();
    }
    let largest: Vec<u32> = (0..words)
        .map(|w| largest_in_word(word(data, w), bits))
        .collect();
    let mut from_block_start = largest.clone();
    let mut to_block_end = largest;
    for i in 1..words {
        if i % width != 0 {
            from_block_start[i] = from_block_start[i].max(from_block_start[i - 1]);
        }
    }
    for i in (0..words - 1).rev() {
        if (i + 1) % width != 0 {
            to_block_end[i] = to_block_end[i].max(to_block_end[i + 1]);
        }
    }
    (0..=words - width)
        .map(|i| to_block_end[i].max(from_block_start[i + width - 1]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    /// One channel of 2x2x1 voxels in one 2x2x1 block: 2 bits over the table [3, 4, 5].
    fn sample_words() -> Vec<u32> {
        vec![1, 0x0200_0003, 2, 0b0110_0001, 3, 4, 5]
    }

    fn decode(words: &[u32], chunk: Shape3, channels: usize) -> Result<Vec<u32>> {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut out = vec![0u32; chunk.iter().product::<usize>() * channels];
        decode_into(&bytes, chunk, [2, 2, 1], channels, &mut out).map(|()| out)
    }

    fn format_error(result: Result<Vec<u32>>) -> String {
        match result {
            Err(Error::InvalidFormat(message)) => message,
            other => panic!("expected an invalid format, got {other:?}"),
        }
    }

    #[test]
    fn decodes_a_valid_block() {
        assert_eq!(decode(&sample_words(), [2, 2, 1], 1).unwrap(), [4, 3, 5, 4]);
        // A partial chunk reads only its voxels.
        assert_eq!(decode(&sample_words(), [1, 2, 1], 1).unwrap(), [4, 5]);
    }

    #[test]
    fn rejects_each_structural_fault() {
        let mut bad_bits = sample_words();
        bad_bits[1] = 0x0300_0003;
        assert!(format_error(decode(&bad_bits, [2, 2, 1], 1)).contains("encoding bits 3"));

        let mut table_in_headers = sample_words();
        table_in_headers[1] = 0x0200_0001;
        assert!(
            format_error(decode(&table_in_headers, [2, 2, 1], 1)).contains("lookup table offset")
        );

        let mut values_past_end = sample_words();
        values_past_end[2] = 6;
        assert!(format_error(decode(&values_past_end, [2, 2, 1], 1)).contains("encoded values"));

        let short_table = &sample_words()[..6];
        assert!(format_error(decode(short_table, [2, 2, 1], 1)).contains("index 2 is out of range"));

        let mut channel_outside = sample_words();
        channel_outside[0] = 9;
        assert!(format_error(decode(&channel_outside, [2, 2, 1], 1)).contains("channel 0 starts"));

        let two_channels = [3, 2, 0x0200_0003, 2, 0b0110_0001, 3, 4, 5];
        assert!(format_error(decode(&two_channels, [2, 2, 1], 2)).contains("must increase"));

        assert!(format_error(decode(&[], [2, 2, 1], 1)).contains("too short"));
    }

    #[test]
    fn rejects_partial_words_and_checks_before_allocating() {
        let bytes: Vec<u8> = sample_words()
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        assert!(check_header(&bytes, [2, 2, 1], [2, 2, 1], 1).is_ok());
        assert!(check_header(&bytes[..bytes.len() - 1], [2, 2, 1], [2, 2, 1], 1).is_err());
        let huge = [1 << 20; 3];
        assert!(check_header(&bytes, huge, [8, 8, 8], 1).is_err());
    }

    #[test]
    fn sliding_maxima_match_a_plain_scan() {
        let mut state = 12345u32;
        let words: Vec<u32> = (0..61)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                state & [0x0101_0101, 0x1111_1111, 0xFFFF_FFFF][state as usize % 3]
            })
            .collect();
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        for bits in [1, 2, 4, 8, 16, 32] {
            for width in 1..=words.len() {
                let maxima = sliding_maxima(&bytes, bits, width);
                assert_eq!(maxima.len(), words.len() - width + 1);
                for (start, &largest) in maxima.iter().enumerate() {
                    let plain = words[start..start + width]
                        .iter()
                        .map(|&w| largest_in_word(w, bits))
                        .max();
                    assert_eq!(Some(largest), plain, "bits {bits} width {width} at {start}");
                }
            }
        }
    }

    /// `blocks` one-voxel-wide blocks of (block_x, 1, 1) voxels, 1-bit indices: block `b` reads
    /// its values from word `b` of a run of zero words with `bad` set at word `bad_word`, and a
    /// one-entry table [9] that the channel end cuts short.
    fn overlapping_blocks(blocks: usize, block_x: usize, bad_word: Option<usize>) -> Vec<u8> {
        let headers = 2 * blocks;
        let values = block_x / 32 + blocks;
        let mut words = vec![1u32];
        for b in 0..blocks {
            words.extend([(headers + values) as u32 | 1 << 24, (headers + b) as u32]);
        }
        let mut packed = vec![0u32; values];
        if let Some(at) = bad_word {
            packed[at] = 1 << 31;
        }
        words.extend(packed);
        words.push(9);
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn padding_is_checked_in_linear_time_for_blocks_larger_than_the_chunk() {
        // 3,000 partial blocks, each with 2^16 indices (2,048 words) of which one voxel is in
        // the chunk: a scan of every block would read 6 million words.
        let (blocks, block_x) = (3_000, 1 << 16);
        let decode = |bytes: &[u8]| {
            let mut out = vec![0u32; blocks];
            decode_into(bytes, [1, 1, blocks], [block_x, 1, 1], 1, &mut out).map(|()| out)
        };
        assert_eq!(
            decode(&overlapping_blocks(blocks, block_x, None)),
            Ok(vec![9; blocks])
        );
        // An index of 1 in the padding of the blocks whose values cover word 2,500 only: the
        // first block to reach it is block 2,500 - 2,047 = 453, found through the window maxima.
        let error = decode(&overlapping_blocks(blocks, block_x, Some(2_500))).unwrap_err();
        assert!(matches!(&error, Error::InvalidFormat(m)
            if m.starts_with("block [0, 0, 453]") && m.contains("index 1 is out of range")));
    }
}
