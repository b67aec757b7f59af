//! The raw encoding: values little-endian, x fastest, then y, z and channel; no header.

use ndarray::{s, ArrayView4, ArrayViewD, ArrayViewMut, Axis};

use crate::element::{stored_little_endian, Element};
use crate::error::{invalid_argument, invalid_format, Result};

/// Number of bytes the raw encoding of `num_values` values of `T` takes, if it fits in memory.
pub fn encoded_len<T: Element>(num_values: usize) -> Option<usize> {
    num_values.checked_mul(T::SIZE)
}

/// Writes `chunk` (C, Z, Y, X), in any memory layout, to `out` in the raw encoding.
///
/// `byteswapped` says the values in memory have the byte order opposite to the host's.
pub fn encode_into<T: Element>(
    chunk: ArrayView4<'_, T>,
    byteswapped: bool,
    out: &mut [u8],
) -> Result<()> {
    if Some(out.len()) != encoded_len::<T>(chunk.len()) {
        return invalid_argument!(
            "output holds {} bytes but the chunk encodes to {} values of {} bytes",
            out.len(),
            chunk.len(),
            T::SIZE
        );
    }
    let swap = !stored_little_endian(byteswapped);
    if let (false, Some(values)) = (swap, chunk.as_slice()) {
        out.copy_from_slice(bytemuck::cast_slice(values));
        return Ok(());
    }
    // Python's bytes objects are aligned for any value type; other buffers may not be.
    let Ok(values) = bytemuck::try_cast_slice_mut::<u8, T>(out) else {
        for (&value, bytes) in chunk.iter().zip(out.chunks_exact_mut(T::SIZE)) {
            let value = if byteswapped {
                value.swap_bytes()
            } else {
                value
            };
            value.write_le(bytes);
        }
        return Ok(());
    };
    match faster_axis_than_x(&chunk) {
        Some(fast_axis) => copy_tiled(chunk, fast_axis, values),
        None => copy_in_order(chunk.into_dyn(), values),
    }
    // Byte-swapped input is rare: one more pass, over values still in cache for most chunks.
    if swap {
        values
            .iter_mut()
            .for_each(|value| *value = value.swap_bytes());
    }
    Ok(())
}

/// Copies `chunk`, whose x axis is the fastest in memory, into `out` in C order: each of its
/// largest contiguous parts (planes, when only an outer axis is reversed or sliced) in one copy,
/// and the others plane by plane, along x.
fn copy_in_order<T: Element>(chunk: ArrayViewD<'_, T>, out: &mut [T]) {
    if out.is_empty() {
        return;
    }
    if let Some(values) = chunk.as_slice() {
        out.copy_from_slice(values);
    } else if chunk.ndim() <= 2 {
        match ArrayViewMut::from_shape(chunk.raw_dim(), out) {
            Ok(mut in_order) => in_order.assign(&chunk),
            Err(_) => unreachable!("the output has one value per voxel"),
        }
    } else {
        let part = out.len() / chunk.len_of(Axis(0));
        for (sub_chunk, out) in chunk.outer_iter().zip(out.chunks_exact_mut(part)) {
            copy_in_order(sub_chunk, out);
        }
    }
}

/// Side of the square tiles in which chunks whose x axis is not the fastest in memory are copied.
const TILE: usize = 32;

/// The axis to copy `chunk` along in tiles, if one is closer packed in memory than x (Fortran
/// order, transposed views) and x so far apart that rows along x would read one cache line per
/// value.
pub(crate) fn faster_axis_than_x<T>(chunk: &ArrayView4<'_, T>) -> Option<usize> {
    let step = |axis: usize| chunk.stride_of(Axis(axis)).unsigned_abs();
    // Few channels are often the closest packed; an axis a tile long makes longer reads.
    let fast_axis = (0..3)
        .filter(|&axis| chunk.len_of(Axis(axis)) > 1)
        .min_by_key(|&axis| (chunk.len_of(Axis(axis)) < TILE, step(axis)))?;
    // When the x lanes of a tile lie close together, reading across them in place stays in L1.
    let lanes_apart = step(3) * std::mem::size_of::<T>() * TILE > 16 * 1024;
    (chunk.len_of(Axis(3)) > 1 && step(fast_axis) < step(3) && lanes_apart).then_some(fast_axis)
}

/// Copies `chunk` into `out` in C order, a tile of `fast_axis` × x at a time: each tile is read
/// down `fast_axis`, the way its values lie in memory, into a buffer whose rows are then copied
/// out whole along x.
pub(crate) fn copy_tiled<T: Copy + Default>(
    chunk: ArrayView4<'_, T>,
    fast_axis: usize,
    out: &mut [T],
) {
    let dims = [
        chunk.len_of(Axis(0)),
        chunk.len_of(Axis(1)),
        chunk.len_of(Axis(2)),
        chunk.len_of(Axis(3)),
    ];
    let out_strides = [dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1];
    let [outer, inner] = match fast_axis {
        0 => [1, 2],
        1 => [0, 2],
        _ => [0, 1],
    };
    let view = chunk.permuted_axes([outer, inner, fast_axis, 3]);
    // tile[x][f]: the block as it lies in memory, one lane down the fast axis per x.
    let mut tile = [[T::default(); TILE]; TILE];
    for (i, planes) in view.outer_iter().enumerate() {
        for (j, plane) in planes.outer_iter().enumerate() {
            let base = i * out_strides[outer] + j * out_strides[inner];
            let (fast_len, x_len) = plane.dim();
            for fast_start in (0..fast_len).step_by(TILE) {
                let rows = TILE.min(fast_len - fast_start);
                for x_start in (0..x_len).step_by(TILE) {
                    let width = TILE.min(x_len - x_start);
                    let block =
                        plane.slice(s![fast_start..fast_start + rows, x_start..x_start + width]);
                    for (column, lane) in tile.iter_mut().zip(block.columns()) {
                        match lane.as_slice() {
                            Some(values) => column[..rows].copy_from_slice(values),
                            None => column.iter_mut().zip(&lane).for_each(|(t, &v)| *t = v),
                        }
                    }
                    for f in 0..rows {
                        let at = base + (fast_start + f) * out_strides[fast_axis] + x_start;
                        for (value, column) in out[at..at + width].iter_mut().zip(&tile) {
                            *value = column[f];
                        }
                    }
                }
            }
        }
    }
}

/// Reads a raw-encoded chunk into `out`, whose length sets the number of values expected.
pub fn decode_into<T: Element>(buf: &[u8], out: &mut [T]) -> Result<()> {
    if Some(buf.len()) != encoded_len::<T>(out.len()) {
        return invalid_format!(
            "raw chunk has {} bytes, expected {} ({} values of {} bytes)",
            buf.len(),
            out.len().saturating_mul(T::SIZE),
            out.len(),
            T::SIZE
        );
    }
    if cfg!(target_endian = "little") {
        bytemuck::cast_slice_mut(out).copy_from_slice(buf);
    } else {
        for (value, bytes) in out.iter_mut().zip(buf.chunks_exact(T::SIZE)) {
            *value = T::from_le_slice(bytes);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array4, ShapeBuilder};

    fn sample() -> Array4<u16> {
        Array4::from_shape_fn((2, 3, 4, 5), |(c, z, y, x)| {
            (x + 10 * y + 100 * z + 1000 * c) as u16 | 0x8000
        })
    }

    fn encode(chunk: ArrayView4<'_, u16>, byteswapped: bool) -> Vec<u8> {
        let mut out = vec![0; chunk.len() * 2];
        encode_into(chunk, byteswapped, &mut out).unwrap();
        out
    }

    fn expected(chunk: &Array4<u16>) -> Vec<u8> {
        chunk.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn every_layout_gives_the_same_bytes() {
        let chunk = sample();
        let want = expected(&chunk);
        assert_eq!(encode(chunk.view(), false), want);

        let mut fortran = Array4::zeros(chunk.dim().f());
        fortran.assign(&chunk);
        assert_eq!(encode(fortran.view(), false), want);

        let reversed = chunk.slice(ndarray::s![.., .., .., ..;-1]);
        let reversed_want: Vec<u8> = reversed.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(encode(reversed, false), reversed_want);

        let swapped = chunk.mapv(u16::swap_bytes);
        assert_eq!(encode(swapped.view(), true), want);
    }

    #[test]
    fn transposed_layouts_copied_in_tiles_give_the_same_bytes() {
        // Far enough apart in memory along x to be copied in tiles, with partial tiles on both
        // axes of each plane.
        let chunk = Array4::from_shape_fn((2, 8, 40, 37), |(c, z, y, x)| {
            (x + 40 * y + 1600 * z + 13000 * c) as u16
        });
        let mut fortran = Array4::zeros(chunk.dim().f());
        fortran.assign(&chunk);
        assert!(faster_axis_than_x(&fortran.view()).is_some());
        let swapped = fortran.mapv(u16::swap_bytes);
        let want = expected(&chunk);
        assert_eq!(encode(fortran.view(), false), want);
        assert_eq!(encode(swapped.view(), true), want);

        let chunk = Array4::from_shape_fn((1, 2, 300, 37), |(_, z, y, x)| {
            (x + 40 * y + 13000 * z) as u16
        });
        let y_fastest = chunk
            .view()
            .permuted_axes([0, 1, 3, 2])
            .as_standard_layout()
            .into_owned();
        let y_fastest = y_fastest.view().permuted_axes([0, 1, 3, 2]);
        assert!(faster_axis_than_x(&y_fastest).is_some());
        assert_eq!(encode(y_fastest, false), expected(&chunk));
    }

    #[test]
    fn strided_layouts_with_x_fastest_give_the_same_bytes() {
        let big = Array4::from_shape_fn((3, 6, 7, 16), |(c, z, y, x)| {
            (x + 16 * y + 200 * z + 2000 * c) as u16
        });
        let interleaved = Array4::from_shape_fn((6, 7, 16, 3), |(z, y, x, c)| big[[c, z, y, x]]);
        let views = [
            big.slice(ndarray::s![.., ..;-1, .., ..]),
            big.slice(ndarray::s![1.., 2..5, 1..6, 3..13]),
            big.slice(ndarray::s![.., .., .., ..;2]),
            big.slice(ndarray::s![..;-1, .., ..;-1, ..;-3]),
            interleaved.view().permuted_axes([3, 0, 1, 2]),
        ];
        for view in views {
            assert!(faster_axis_than_x(&view).is_none());
            let want = expected(&view.to_owned());
            assert_eq!(encode(view, false), want);
            assert_eq!(encode(view.mapv(u16::swap_bytes).view(), true), want);
        }
    }

    #[test]
    fn output_not_aligned_for_the_values_gets_the_same_bytes() {
        let chunk = sample();
        let mut fortran = Array4::zeros(chunk.dim().f());
        fortran.assign(&chunk);
        let mut out = vec![0u8; chunk.len() * 2 + 1];
        // One of the two offsets leaves the u16 values unaligned.
        for offset in [0, 1] {
            let out = &mut out[offset..offset + chunk.len() * 2];
            encode_into(fortran.view(), false, out).unwrap();
            assert_eq!(out, expected(&chunk));
        }
    }

    #[test]
    fn decode_inverts_encode() {
        let chunk = sample();
        let bytes = expected(&chunk);
        let mut out = vec![0u16; chunk.len()];
        decode_into(&bytes, &mut out).unwrap();
        assert_eq!(out, chunk.iter().copied().collect::<Vec<_>>());
    }

    #[test]
    fn decode_rejects_wrong_length() {
        let mut out = vec![0u32; 4];
        let error = decode_into(&[0; 15], &mut out).unwrap_err();
        assert!(
            matches!(error, crate::Error::InvalidFormat(m) if m.contains("15 bytes, expected 16"))
        );
    }

    #[test]
    fn encode_rejects_wrong_output_size() {
        let chunk = sample();
        assert!(encode_into(chunk.view(), false, &mut [0; 3]).is_err());
    }

    #[test]
    fn empty_chunk_is_empty() {
        let chunk = Array4::<u64>::zeros((1, 0, 4, 4));
        assert!(encode_into(chunk.view(), false, &mut []).is_ok());
    }
}
