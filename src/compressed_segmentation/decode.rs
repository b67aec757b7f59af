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

/// Buffers reused from block to block.
#[derive(Default)]
struct BlockScratch<T> {
    /// The packed indices of the block, as words.
    packed: Vec<u32>,
    /// A small lookup table, decoded once per block.
    table: Vec<T>,
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
            scratch.packed.clear();
            scratch.packed.extend(
                self.data[4 * values_offset..4 * (values_offset + packed_len)]
                    .chunks_exact(4)
                    .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])),
            );
            // Padding voxels may hold any index the table can resolve; a table cut short by the
            // channel end is the only case where some index cannot be resolved.
            if table_entries < 1usize << bits {
                if let Some(index) =
                    first_index_at_least(bits, &scratch.packed, block_volume, table_entries)
                {
                    return invalid_format!(
                        "{}: lookup table index {index} is out of range (the table has at most \
                         {table_entries} entries before the channel ends)",
                        at()
                    );
                }
            }
            let unpacked = if bits <= 8 {
                scratch.table.clear();
                scratch
                    .table
                    .extend(table.chunks_exact(T::SIZE).map(T::from_le_slice));
                let small = &scratch.table;
                unpack(bits, &scratch.packed, self.grid.block, rows, out, |i| {
                    small.get(i).copied()
                })
            } else {
                let lookup = |i: usize| {
                    table
                        .get(i * T::SIZE..(i + 1) * T::SIZE)
                        .map(T::from_le_slice)
                };
                unpack(bits, &scratch.packed, self.grid.block, rows, out, lookup)
            };
            if let Err(index) = unpacked {
                return invalid_format!(
                    "{}: lookup table index {index} is out of range (the table has at most \
                     {table_entries} entries)",
                    at()
                );
            }
        }
        Ok(())
    }
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
        for z in 0..self.extent[2] {
            for y in 0..self.extent[1] {
                let start = ((z0 + z) * cy + y0 + y) * cx + x0;
                fill([y, z], &mut out[start..start + self.extent[0]])?;
            }
        }
        Ok(())
    }
}

/// Unpacks the indices of one block's voxels and writes their labels; returns the first index
/// that `lookup` cannot resolve as the error.
fn unpack<T: Label>(
    bits: u32,
    packed: &[u32],
    block: Shape3,
    rows: OutputRows,
    out: &mut [T],
    lookup: impl Fn(usize) -> Option<T>,
) -> std::result::Result<(), usize> {
    match bits {
        1 => unpack_bits::<1, T>(packed, block, rows, out, lookup),
        2 => unpack_bits::<2, T>(packed, block, rows, out, lookup),
        4 => unpack_bits::<4, T>(packed, block, rows, out, lookup),
        8 => unpack_bits::<8, T>(packed, block, rows, out, lookup),
        16 => unpack_bits::<16, T>(packed, block, rows, out, lookup),
        _ => unpack_bits::<32, T>(packed, block, rows, out, lookup),
    }
}

fn unpack_bits<const BITS: usize, T: Label>(
    packed: &[u32],
    block: Shape3,
    rows: OutputRows,
    out: &mut [T],
    lookup: impl Fn(usize) -> Option<T>,
) -> std::result::Result<(), usize> {
    let mask = (u64::MAX >> (64 - BITS)) as u32;
    rows.for_each(out, |[y, z], row| {
        let row_start = block[0] * (y + block[1] * z);
        for (x, label) in row.iter_mut().enumerate() {
            let bit = (row_start + x) * BITS;
            let index = (packed.get(bit / 32).copied().unwrap_or(0) >> (bit % 32) & mask) as usize;
            *label = lookup(index).ok_or(index)?;
        }
        Ok(())
    })
}

/// The first of a block's `block_volume` packed indices that is at least `limit`, padding included.
fn first_index_at_least(
    bits: u32,
    packed: &[u32],
    block_volume: usize,
    limit: usize,
) -> Option<usize> {
    let bits = bits as usize;
    let mask = (u64::MAX >> (64 - bits)) as u32;
    (0..block_volume)
        .map(|voxel| {
            let bit = voxel * bits;
            (packed.get(bit / 32).copied().unwrap_or(0) >> (bit % 32) & mask) as usize
        })
        .find(|&index| index >= limit)
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
}
