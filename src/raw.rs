//! The raw encoding: values little-endian, x fastest, then y, z and channel; no header.

use ndarray::{ArrayView4, Axis};

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
    if out.is_empty() {
        return Ok(());
    }
    let already_little_endian = stored_little_endian(byteswapped);
    if let (true, Some(values)) = (already_little_endian, chunk.as_slice()) {
        out.copy_from_slice(bytemuck::cast_slice(values));
        return Ok(());
    }
    if let Some(fast_axis) = faster_axis_than_x(&chunk) {
        encode_tiled(chunk, fast_axis, byteswapped, out);
        return Ok(());
    }
    let row_bytes = chunk.len_of(Axis(3)) * T::SIZE;
    for (row, out_row) in chunk
        .rows()
        .into_iter()
        .zip(out.chunks_exact_mut(row_bytes))
    {
        match row.as_slice() {
            Some(values) if already_little_endian => {
                out_row.copy_from_slice(bytemuck::cast_slice(values));
            }
            _ => {
                for (&value, out_value) in row.iter().zip(out_row.chunks_exact_mut(T::SIZE)) {
                    let value = if byteswapped {
                        value.swap_bytes()
                    } else {
                        value
                    };
                    value.write_le(out_value);
                }
            }
        }
    }
    Ok(())
}

/// Side of the square tiles in which chunks whose x axis is not the fastest in memory are copied.
const TILE: usize = 16;

/// The axis along which `chunk` is closest packed in memory, if that is not x (Fortran order,
/// transposed views): rows along x would then read one cache line per value.
fn faster_axis_than_x<T>(chunk: &ArrayView4<'_, T>) -> Option<usize> {
    let step = |axis: usize| chunk.stride_of(Axis(axis)).unsigned_abs();
    let fast_axis = (0..3)
        .filter(|&axis| chunk.len_of(Axis(axis)) > 1)
        .min_by_key(|&axis| step(axis))?;
    (chunk.len_of(Axis(3)) > 1 && step(fast_axis) < step(3)).then_some(fast_axis)
}

/// Copies `chunk` a tile of `fast_axis` × x at a time, so that both the reads (along
/// `fast_axis`) and the writes (along x) stay within a few cache lines.
fn encode_tiled<T: Element>(
    chunk: ArrayView4<'_, T>,
    fast_axis: usize,
    byteswapped: bool,
    out: &mut [u8],
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
    for (i, planes) in view.outer_iter().enumerate() {
        for (j, plane) in planes.outer_iter().enumerate() {
            let base = i * out_strides[outer] + j * out_strides[inner];
            let (fast_len, x_len) = plane.dim();
            for fast_start in (0..fast_len).step_by(TILE) {
                for x_start in (0..x_len).step_by(TILE) {
                    for f in fast_start..(fast_start + TILE).min(fast_len) {
                        let row = base + f * out_strides[fast_axis];
                        for x in x_start..(x_start + TILE).min(x_len) {
                            let value = plane[[f, x]];
                            let value = if byteswapped {
                                value.swap_bytes()
                            } else {
                                value
                            };
                            let at = (row + x) * T::SIZE;
                            value.write_le(&mut out[at..at + T::SIZE]);
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
    fn transposed_layouts_larger_than_a_tile_give_the_same_bytes() {
        let chunk = Array4::from_shape_fn((2, 3, 20, 37), |(c, z, y, x)| {
            (x + 40 * y + 1000 * z + 7000 * c) as u16
        });
        let mut fortran = Array4::zeros(chunk.dim().f());
        fortran.assign(&chunk);
        let swapped = fortran.mapv(u16::swap_bytes);
        let want = expected(&chunk);
        assert_eq!(encode(fortran.view(), false), want);
        assert_eq!(encode(swapped.view(), true), want);
        let y_fastest = chunk
            .permuted_axes([0, 1, 3, 2])
            .as_standard_layout()
            .into_owned();
        assert_eq!(
            encode(y_fastest.view().permuted_axes([0, 1, 3, 2]), false),
            want
        );
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
