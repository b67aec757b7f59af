//! Downsampling kernels: each block of `factors` voxels (X, Y, Z) becomes one voxel, by the
//! definitions of tensorstore's `downsample` driver.
//!
//! Blocks are aligned to global coordinate 0, not to the array's first voxel: an array whose
//! first voxel sits at `origin` covers the output blocks `floor(origin / f)` up to
//! `ceil((origin + size) / f)`, and the blocks cut by either edge of the array reduce the voxels
//! that exist. `stride` keeps the voxels at multiples of the factors, so it covers the blocks
//! whose first voxel is in the array: `ceil(origin / f)` up to `floor((origin + size - 1) / f)`.
//!
//! An array that no block holds two voxels of is copied as it is, as tensorstore does.
//!
//! The kernels read rows along x in place when x is contiguous; for integers, whose reductions
//! are exact in any order, whichever axis is contiguous plays x. Other layouts are copied, a
//! slab of planes at a time, in C order.
//!
//! Arrays are (C, Z, Y, X) views of any memory layout; origins, sizes and factors are (X, Y, Z).

mod reduce;
mod voxel;

use ndarray::{
    s, Array4, ArrayView3, ArrayView4, ArrayViewMut2, ArrayViewMut3, ArrayViewMut4, Axis,
};

use crate::error::{invalid_argument, Result};
use crate::raw;
use reduce::{Folding, Max, Mean, Min, Mode, Reducer};
pub use voxel::Voxel;

/// How a block of voxels becomes one voxel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// The mean; integers exactly, rounded half to even; floats summed in their own type.
    Mean,
    /// The most frequent value, ties to the lowest; integers only. With `ignore_zero`, the most
    /// frequent non-zero value unless the block is all 0.
    Mode { ignore_zero: bool },
    /// The block's first voxel, at a multiple of the factors.
    Stride,
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
}

impl Method {
    /// The method of a name as tensorstore spells it: mean, mode, stride, min or max.
    pub fn from_name(name: &str, ignore_zero: bool) -> Result<Method> {
        let method = match name {
            "mean" => Method::Mean,
            "mode" => Method::Mode { ignore_zero },
            "stride" => Method::Stride,
            "min" => Method::Min,
            "max" => Method::Max,
            other => {
                return invalid_argument!(
                    "method must be one of mean, mode, stride, min, max, not {other:?}"
                )
            }
        };
        if ignore_zero && !matches!(method, Method::Mode { .. }) {
            return invalid_argument!("ignore_zero applies to method mode only, not {name}");
        }
        Ok(method)
    }
}

/// The output's origin and size (X, Y, Z) for an input at `origin` of `size` voxels.
///
/// Fails when a factor is 0 or the coordinates overflow.
pub fn output_geometry(
    origin: [i64; 3],
    size: [usize; 3],
    factors: [usize; 3],
    method: Method,
) -> Result<([i64; 3], [usize; 3])> {
    let mut out_origin = [0; 3];
    let mut out_size = [0; 3];
    for axis in 0..3 {
        let (start, len) = output_extent(origin[axis], size[axis], factors[axis], method)?;
        out_origin[axis] = start;
        out_size[axis] = len;
    }
    Ok((out_origin, out_size))
}

/// The output's origin and size along one axis.
fn output_extent(origin: i64, size: usize, factor: usize, method: Method) -> Result<(i64, usize)> {
    if factor == 0 {
        return invalid_argument!("factors must be positive, not 0");
    }
    let (Ok(factor), Ok(len)) = (i128::try_from(factor), i128::try_from(size)) else {
        return invalid_argument!("a factor or size does not fit in 64 bits");
    };
    let (first, last) = (i128::from(origin), i128::from(origin) + len - 1);
    let (start, end) = match method {
        Method::Stride => (
            first.div_euclid(factor) + i128::from(first.rem_euclid(factor) != 0),
            last.div_euclid(factor) + 1,
        ),
        _ => (first.div_euclid(factor), last.div_euclid(factor) + 1),
    };
    let out_len = if size == 0 { 0 } else { (end - start).max(0) };
    // The output lies within the input's range, so both fit when the input's end does.
    match (i64::try_from(start), i64::try_from(last + 1)) {
        (Ok(start), Ok(_)) => Ok((start, out_len as usize)),
        _ => invalid_argument!("origin {origin} plus size {size} overflows 64 bits"),
    }
}

/// Downsamples `input` (C, Z, Y, X), whose first voxel is at `origin` (X, Y, Z), by `factors`
/// (X, Y, Z) into a new C-order array.
pub fn downsample<T: Voxel>(
    input: ArrayView4<'_, T>,
    origin: [i64; 3],
    factors: [usize; 3],
    method: Method,
) -> Result<Array4<T>> {
    let (channels, z, y, x) = input.dim();
    let (_, [out_x, out_y, out_z]) = output_geometry(origin, [x, y, z], factors, method)?;
    let mut out = Array4::default((channels, out_z, out_y, out_x));
    downsample_into(input, origin, factors, method, out.view_mut(), 1)?;
    Ok(out)
}

/// Downsamples `input` (C, Z, Y, X), whose first voxel is at `origin` (X, Y, Z), by `factors`
/// (X, Y, Z) into `out`, whose shape must be that of [`output_geometry`] with the same channels.
/// Both may have any memory layout. Up to `threads` threads share the output's planes.
pub fn downsample_into<T: Voxel>(
    input: ArrayView4<'_, T>,
    origin: [i64; 3],
    factors: [usize; 3],
    method: Method,
    mut out: ArrayViewMut4<'_, T>,
    threads: usize,
) -> Result<()> {
    let (channels, z, y, x) = input.dim();
    let (_, [out_x, out_y, out_z]) = output_geometry(origin, [x, y, z], factors, method)?;
    if out.dim() != (channels, out_z, out_y, out_x) {
        return invalid_argument!(
            "output shape {:?} (C, Z, Y, X) should be {:?}",
            out.shape(),
            [channels, out_z, out_y, out_x]
        );
    }
    if matches!(method, Method::Mode { .. }) && !T::INTEGER {
        return invalid_argument!("method mode needs integer labels, not floating-point values");
    }
    if out.is_empty() {
        return Ok(());
    }
    let size = [x, y, z];
    if (0..3).all(|axis| factors[axis] == 1 || size[axis] == 1) {
        // No block holds two voxels: tensorstore returns the array as it is, so a lone NaN stays
        // NaN for `min` and -0 stays -0 for `mean`.
        out.assign(&input);
        return Ok(());
    }
    // Blocks along each axis, in the input's own coordinates.
    let blocks = |axis: usize| Blocks {
        first_len: factors[axis] - offset_in_block(origin[axis], factors[axis]),
        factor: factors[axis],
        len: size[axis],
    };
    let blocks = [blocks(0), blocks(1), blocks(2)];
    // Integer reductions are exact in any order, so an axis closer in memory than x can play x:
    // its rows are then contiguous, with no copy. Floats keep x, for tensorstore's order.
    let axes = if T::INTEGER {
        rows_along_fastest(&input)
    } else {
        [0, 1, 2, 3]
    };
    let (input, mut out) = (input.permuted_axes(axes), out.permuted_axes(axes));
    // The blocks of the array's axes 3, 2, 1 as permuted: (X, Y, Z) unless an axis moved.
    let blocks = [3, 2, 1].map(|axis| blocks[3 - axes[axis]].clone());
    match method {
        Method::Stride => {
            // From the first voxel at a multiple of the factor, every factor-th; a step as long
            // as the axis takes the first voxel alone, whatever the factor.
            let axis = |axis: usize| {
                let first =
                    (factors[axis] - offset_in_block(origin[axis], factors[axis])) % factors[axis];
                let step = factors[axis].min(size[axis]);
                ndarray::Slice::new(first as isize, None, step as isize)
            };
            let strided = input.slice(s![
                ..,
                axis(3 - axes[1]),
                axis(3 - axes[2]),
                axis(3 - axes[3])
            ]);
            out.assign(&strided);
        }
        Method::Mean => reduce(input, blocks, Folding::<T, Mean>::new, out, threads),
        Method::Min => reduce(input, blocks, Folding::<T, Min>::new, out, threads),
        Method::Max => reduce(input, blocks, Folding::<T, Max>::new, out, threads),
        Method::Mode { ignore_zero } => {
            reduce(input, blocks, || Mode::new(ignore_zero), out, threads)
        }
    }
    Ok(())
}

/// The axes of `input` (C, Z, Y, X) in the order that puts last the spatial axis closest in
/// memory (of more than one voxel), the others in their order.
fn rows_along_fastest<T>(input: &ArrayView4<'_, T>) -> [usize; 4] {
    let fastest = (1..4)
        .filter(|&axis| input.len_of(Axis(axis)) > 1)
        .min_by_key(|&axis| (input.stride_of(Axis(axis)).unsigned_abs(), 3 - axis));
    match fastest {
        Some(1) => [0, 2, 3, 1],
        Some(2) => [0, 1, 3, 2],
        _ => [0, 1, 2, 3],
    }
}

/// Where `origin` lies within its block of `factor` voxels: `origin mod factor`, in 0..factor.
fn offset_in_block(origin: i64, factor: usize) -> usize {
    // The remainder is below the factor, so it fits.
    i128::from(origin).rem_euclid(factor as i128) as usize
}

/// The blocks along one axis of the input: the first holds `first_len` voxels (fewer than
/// `factor` when the array starts inside a block), the next ones `factor`, the last what is left
/// of the `len` voxels.
#[derive(Clone)]
struct Blocks {
    first_len: usize,
    factor: usize,
    len: usize,
}

impl Blocks {
    /// The input voxels of output block `i`.
    fn range(&self, i: usize) -> std::ops::Range<usize> {
        let start = if i == 0 {
            0
        } else {
            self.first_len + (i - 1) * self.factor
        };
        let end = if i == 0 {
            self.first_len
        } else {
            start.saturating_add(self.factor)
        };
        start..end.min(self.len)
    }
}

/// Reduces every block of `input` into `out`, plane by plane of the output; the planes of each
/// channel are shared among up to `threads` threads, each with a reducer of its own.
fn reduce<T: Voxel, R: Reducer<T>>(
    input: ArrayView4<'_, T>,
    [bx, by, bz]: [Blocks; 3],
    new_reducer: impl Fn() -> R + Sync,
    mut out: ArrayViewMut4<'_, T>,
    threads: usize,
) {
    for (channel, mut out_channel) in out.outer_iter_mut().enumerate() {
        let volume = input.index_axis(Axis(0), channel);
        let depth = out_channel.len_of(Axis(0));
        // A thread is worth starting for tens of thousands of voxels (a spawn costs microseconds).
        let worth = (volume.len() / PER_THREAD_VOXELS).max(1);
        let parts = threads.min(worth).min(depth).max(1);
        if parts == 1 {
            reduce_planes_of(volume, [&bx, &by, &bz], &mut new_reducer(), out_channel);
            continue;
        }
        let per_part = depth.div_ceil(parts);
        std::thread::scope(|scope| {
            for (part, out_part) in out_channel
                .axis_chunks_iter_mut(Axis(0), per_part)
                .enumerate()
            {
                // The input planes of this part's output planes; past the first part, every
                // part starts on a block's first plane.
                let first = part * per_part;
                let last = first + out_part.len_of(Axis(0)) - 1;
                let zs = bz.range(first).start..bz.range(last).end;
                let part_bz = Blocks {
                    first_len: if first == 0 { bz.first_len } else { bz.factor },
                    factor: bz.factor,
                    len: zs.len(),
                };
                let planes = volume.slice_move(s![zs, .., ..]);
                let (bx, by, new_reducer) = (&bx, &by, &new_reducer);
                scope.spawn(move || {
                    reduce_planes_of(planes, [bx, by, &part_bz], &mut new_reducer(), out_part)
                });
            }
        });
    }
}

/// Input voxels per thread below which [`reduce`] starts no more threads.
const PER_THREAD_VOXELS: usize = 1 << 16;

/// Reduces the blocks of one channel's planes (Z, Y, X) into its output planes.
fn reduce_planes_of<T: Voxel, R: Reducer<T>>(
    volume: ArrayView3<'_, T>,
    [bx, by, bz]: [&Blocks; 3],
    reducer: &mut R,
    mut out: ArrayViewMut3<'_, T>,
) {
    let rows_contiguous = volume.stride_of(Axis(2)) == 1 || volume.len_of(Axis(2)) <= 1;
    if rows_contiguous {
        for (oz, out_plane) in out.outer_iter_mut().enumerate() {
            let planes = volume.slice(s![bz.range(oz), .., ..]);
            reduce_planes(planes, by, bx, reducer, out_plane);
        }
        return;
    }
    // Rows must be slices: copy slabs of about COPIED_PLANES planes in C order, deep enough
    // for long runs along an axis that is faster than x.
    let mut copy = Vec::new();
    let depth = out.len_of(Axis(0));
    let per_slab = (COPIED_PLANES / bz.factor).max(1);
    for first in (0..depth).step_by(per_slab) {
        let last = (first + per_slab).min(depth);
        let zs = bz.range(first).start..bz.range(last - 1).end;
        let slab = in_c_order(volume.slice(s![zs.clone(), .., ..]), &mut copy);
        for oz in first..last {
            let planes = bz.range(oz);
            let planes = slab.slice(s![planes.start - zs.start..planes.end - zs.start, .., ..]);
            reduce_planes(planes, by, bx, reducer, out.index_axis_mut(Axis(0), oz));
        }
    }
}

/// Input planes copied at once when rows are not contiguous.
const COPIED_PLANES: usize = 64;

/// `planes` copied into `buffer` in C order; through tiles, as the raw encoder does, when an
/// axis lies closer in memory than x (a volume whose z or y is fastest would take a cache miss
/// per voxel read in C order).
fn in_c_order<'b, T: Voxel>(
    planes: ArrayView3<'_, T>,
    buffer: &'b mut Vec<T>,
) -> ArrayView3<'b, T> {
    buffer.clear();
    buffer.resize(planes.len(), T::default());
    let slab = planes.insert_axis(Axis(0));
    match raw::faster_axis_than_x(&slab) {
        Some(fast_axis) => raw::copy_tiled(slab, fast_axis, buffer),
        None => match ArrayViewMut3::from_shape(planes.raw_dim(), &mut buffer[..]) {
            Ok(mut copy) => copy.assign(&planes),
            Err(_) => unreachable!("the buffer holds one value per voxel"),
        },
    }
    match ArrayView3::from_shape(planes.raw_dim(), &buffer[..]) {
        Ok(copy) => copy,
        Err(_) => unreachable!("the buffer holds one value per voxel"),
    }
}

/// Reduces the planes (Z, Y, X) of one output plane, whose rows along x are contiguous.
fn reduce_planes<T: Voxel, R: Reducer<T>>(
    planes: ArrayView3<'_, T>,
    by: &Blocks,
    bx: &Blocks,
    reducer: &mut R,
    mut out: ArrayViewMut2<'_, T>,
) {
    let (depth, height) = (planes.len_of(Axis(0)), planes.len_of(Axis(1)));
    // Every row of the planes once, plane after plane: slicing a view costs more than a row's work.
    let plane_rows: Vec<&[T]> = planes
        .into_outer_iter()
        .flat_map(|plane| plane.into_outer_iter())
        .map(|row| match row.to_slice() {
            Some(row) => row,
            None => unreachable!("the caller passes rows contiguous along x"),
        })
        .collect();
    let mut rows = Vec::with_capacity(depth * by.factor.min(height));
    let mut row_copy = Vec::new();
    for (oy, mut out_row) in out.outer_iter_mut().enumerate() {
        rows.clear();
        for z in 0..depth {
            rows.extend_from_slice(&plane_rows[z * height..][by.range(oy)]);
        }
        match out_row.as_slice_mut() {
            Some(out_row) => reduce_row(&rows, bx, reducer, out_row),
            None => {
                row_copy.resize(out_row.len(), T::default());
                reduce_row(&rows, bx, reducer, &mut row_copy);
                out_row.assign(&ndarray::ArrayView1::from(&row_copy[..]));
            }
        }
    }
}

/// Reduces the blocks of one output row: the whole ones together, those cut by an edge alone.
fn reduce_row<T: Voxel, R: Reducer<T>>(rows: &[&[T]], bx: &Blocks, reducer: &mut R, out: &mut [T]) {
    let n = out.len();
    let whole_start = usize::from(bx.range(0).len() < bx.factor);
    let whole_end = if bx.range(n - 1).len() < bx.factor {
        n - 1
    } else {
        n
    }
    .max(whole_start);
    if whole_start == 1 {
        out[0] = reducer.block(rows, bx.range(0));
    }
    if whole_end > whole_start {
        let x0 = bx.range(whole_start).start;
        reducer.whole_blocks(rows, x0, bx.factor, &mut out[whole_start..whole_end]);
    }
    if whole_end < n {
        out[n - 1] = reducer.block(rows, bx.range(n - 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, ShapeBuilder};

    /// A small deterministic generator, so the tests need no crate.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    /// The definition, voxel by voxel: the values of each global block that lie in the array, in
    /// z, y, x order.
    fn reference<T: Voxel + std::fmt::Debug>(
        input: ArrayView4<'_, T>,
        origin: [i64; 3],
        factors: [usize; 3],
        method: Method,
    ) -> Array4<T> {
        let (channels, z, y, x) = input.dim();
        let (out_origin, [ox, oy, oz]) =
            output_geometry(origin, [x, y, z], factors, method).unwrap();
        if (0..3).all(|a| factors[a] == 1 || [x, y, z][a] == 1) {
            return input.to_owned();
        }
        let f = factors.map(|f| f as i64);
        let local = |axis: usize, global: i64, len: usize| {
            let i = global - origin[axis];
            (0..len as i64).contains(&i).then_some(i as usize)
        };
        Array4::from_shape_fn((channels, oz, oy, ox), |(c, k, j, i)| {
            let block = [i, j, k].map(|o| o as i64);
            let start: Vec<i64> = (0..3).map(|a| (out_origin[a] + block[a]) * f[a]).collect();
            if method == Method::Stride {
                let at = |a: usize, len| local(a, start[a], len).unwrap();
                return input[[c, at(2, z), at(1, y), at(0, x)]];
            }
            let mut values = Vec::new();
            for gz in start[2]..start[2] + f[2] {
                for gy in start[1]..start[1] + f[1] {
                    for gx in start[0]..start[0] + f[0] {
                        if let (Some(lz), Some(ly), Some(lx)) =
                            (local(2, gz, z), local(1, gy, y), local(0, gx, x))
                        {
                            values.push(input[[c, lz, ly, lx]]);
                        }
                    }
                }
            }
            assert!(!values.is_empty());
            match method {
                Method::Mean => T::mean(
                    values.iter().fold(T::ZERO_SUM, |s, &v| T::add(s, v)),
                    values.len(),
                ),
                Method::Min => values
                    .iter()
                    .fold(T::HIGHEST, |m, &v| if v < m { v } else { m }),
                Method::Max => values
                    .iter()
                    .fold(T::LOWEST, |m, &v| if m < v { v } else { m }),
                Method::Mode { ignore_zero } => counted_mode(&values, ignore_zero),
                Method::Stride => unreachable!(),
            }
        })
    }

    /// The mode by counting, keyed by the value's order: ties to the lowest.
    fn counted_mode<T: Voxel + std::fmt::Debug>(values: &[T], ignore_zero: bool) -> T {
        let mut counts: Vec<(T, usize)> = Vec::new();
        for &v in values
            .iter()
            .filter(|&&v| !(ignore_zero && v == T::default()))
        {
            match counts.iter_mut().find(|(value, _)| *value == v) {
                Some((_, count)) => *count += 1,
                None => counts.push((v, 1)),
            }
        }
        let best = counts.iter().map(|&(_, count)| count).max().unwrap_or(0);
        counts
            .iter()
            .filter(|&&(_, count)| count == best)
            .map(|&(value, _)| value)
            .fold(None, |low: Option<T>, v| match low {
                Some(low) if low < v => Some(low),
                _ => Some(v),
            })
            .unwrap_or_default()
    }

    const METHODS: [Method; 6] = [
        Method::Mean,
        Method::Mode { ignore_zero: false },
        Method::Mode { ignore_zero: true },
        Method::Stride,
        Method::Min,
        Method::Max,
    ];

    const FACTORS: [[usize; 3]; 9] = [
        [2, 2, 2],
        [2, 2, 1],
        [1, 2, 2],
        [3, 1, 2],
        [1, 1, 1],
        [2, 1, 1],
        [4, 4, 4],
        [3, 5, 2],
        [9, 9, 9],
    ];

    const ORIGINS: [[i64; 3]; 4] = [[0, 0, 0], [1, 3, 5], [-3, 7, -1], [4, 2, 6]];

    /// Every method, factor and origin on `input` and its layouts: the kernel agrees with the
    /// definition, whatever the layout.
    fn check_all<T: Voxel + std::fmt::Debug>(input: &Array4<T>) {
        let fortran = {
            let mut f = Array4::default(input.raw_dim().f());
            f.assign(input);
            f
        };
        let mut padded = Array4::default((
            input.dim().0,
            input.dim().1,
            input.dim().2 + 1,
            input.dim().3 * 2,
        ));
        padded.slice_mut(s![.., .., ..-1, ..;2]).assign(input);
        let layouts = [
            input.view(),
            fortran.view(),
            padded.slice(s![.., .., ..-1, ..;2]),
            input.slice(s![.., ..;-1, .., ..;-1]),
        ];
        for method in METHODS {
            if matches!(method, Method::Mode { .. }) && !T::INTEGER {
                continue;
            }
            for factors in FACTORS {
                for origin in ORIGINS {
                    for view in &layouts {
                        let expected = reference(view.view(), origin, factors, method);
                        let got = downsample(view.view(), origin, factors, method).unwrap();
                        let same = got
                            .iter()
                            .zip(expected.iter())
                            .all(|(&a, &b)| a == b || (is_nan(a) && is_nan(b)));
                        assert!(
                            same && got.dim() == expected.dim(),
                            "{method:?} {factors:?} at {origin:?}, strides {:?}:\n{got:?}\n!= {expected:?}",
                            view.strides()
                        );
                    }
                }
            }
        }
    }

    /// NaN is the one value unequal to itself.
    #[allow(clippy::eq_op)]
    fn is_nan<T: PartialEq>(value: T) -> bool {
        value != value
    }

    fn volume<T: Voxel>(
        shape: (usize, usize, usize, usize),
        value: impl FnMut(u64) -> T,
    ) -> Array4<T> {
        let mut lcg = Lcg(shape.0 as u64 * 1000 + shape.3 as u64);
        let mut value = value;
        Array::from_shape_simple_fn(shape, || value(lcg.next()))
    }

    #[test]
    fn every_method_factor_and_layout_agrees_with_the_definition() {
        for shape in [(1, 7, 6, 9), (2, 5, 9, 11), (1, 1, 3, 4), (1, 8, 8, 8)] {
            check_all(&volume(shape, |r| (r % 256) as u8));
            check_all(&volume(shape, |r| (r % 4) as u8 * 3)); // ties and zeros
            check_all(&volume(shape, |r| (r % 3) as i8 - 1));
            check_all(&volume(shape, |r| r as u16));
            check_all(&volume(shape, |r| (r as i16).wrapping_mul(7)));
            check_all(&volume(shape, |r| (r % 5) as u32 * 1_000_000_000));
            check_all(&volume(shape, |r| (r as i32).wrapping_mul(40_503)));
            check_all(&volume(shape, |r| u64::MAX - r % 3));
            check_all(&volume(shape, |r| (r % 4) * (1 << 62)));
            check_all(&volume(shape, |r| (r as i64) << 32));
            check_all(&volume(shape, |r| i64::MIN + (r % 3) as i64));
            check_all(&volume(shape, |r| (r as f32) / 7.0 - 1e5));
            check_all(&volume(shape, |r| {
                if r % 7 == 0 {
                    f32::NAN
                } else {
                    (r % 11) as f32 * 0.1
                }
            }));
            check_all(&volume(shape, |r| (r as f64).sqrt()));
        }
    }

    #[test]
    fn geometry_follows_tensorstore() {
        let mean = Method::Mean;
        assert_eq!(
            output_geometry([0, 0, 0], [10, 11, 1], [2, 2, 2], mean).unwrap(),
            ([0, 0, 0], [5, 6, 1])
        );
        assert_eq!(
            output_geometry([1, 5, -3], [10, 2, 4], [2, 3, 2], mean).unwrap(),
            ([0, 1, -2], [6, 2, 3])
        );
        assert_eq!(
            output_geometry([7, 0, 0], [3, 1, 1], [100, 1, 1], mean).unwrap(),
            ([0, 0, 0], [1, 1, 1])
        );
        let stride = Method::Stride;
        assert_eq!(
            output_geometry([1, 5, -3], [10, 2, 4], [2, 3, 2], stride).unwrap(),
            ([1, 2, -1], [5, 1, 2])
        );
        assert_eq!(
            output_geometry([5, 0, 0], [1, 1, 1], [2, 2, 2], stride).unwrap(),
            ([3, 0, 0], [0, 1, 1])
        );
        assert_eq!(
            output_geometry([4, 0, 0], [0, 1, 1], [2, 2, 2], mean).unwrap(),
            ([2, 0, 0], [0, 1, 1])
        );
    }

    #[test]
    fn bad_arguments_are_refused() {
        let input = Array4::<u8>::zeros((1, 2, 2, 2));
        let zero = downsample(input.view(), [0; 3], [2, 0, 2], Method::Mean).unwrap_err();
        assert!(
            zero.to_string().contains("factors must be positive"),
            "{zero}"
        );
        let float = Array4::<f32>::zeros((1, 2, 2, 2));
        let mode = downsample(
            float.view(),
            [0; 3],
            [2; 3],
            Method::Mode { ignore_zero: false },
        );
        assert!(mode.unwrap_err().to_string().contains("integer"));
        let mut wrong = Array4::<u8>::zeros((1, 1, 1, 2));
        let shape = downsample_into(
            input.view(),
            [0; 3],
            [2; 3],
            Method::Max,
            wrong.view_mut(),
            1,
        );
        assert!(shape
            .unwrap_err()
            .to_string()
            .contains("should be [1, 1, 1, 1]"));
        let overflow = output_geometry([i64::MAX, 0, 0], [2, 1, 1], [1; 3], Method::Mean);
        assert!(overflow.unwrap_err().to_string().contains("overflows"));
        assert!(Method::from_name("median", false).is_err());
        assert!(Method::from_name("mean", true).is_err());
        assert_eq!(
            Method::from_name("mode", true).unwrap(),
            Method::Mode { ignore_zero: true }
        );
    }

    /// Threads share the output's planes: parts past the first start on a block's first plane,
    /// whatever the origin, factor and layout.
    #[test]
    fn threads_give_the_single_threaded_result() {
        let labels = volume((2, 67, 130, 131), |r| (r % 5) as u16);
        let fortran = {
            let mut f = Array4::default(labels.raw_dim().f());
            f.assign(&labels);
            f
        };
        for view in [labels.view(), fortran.view()] {
            for (origin, factors) in [
                ([0; 3], [2; 3]),
                ([3, 1, 5], [3, 2, 4]),
                ([1; 3], [1, 1, 2]),
            ] {
                for method in [
                    Method::Mean,
                    Method::Mode { ignore_zero: false },
                    Method::Max,
                ] {
                    let expected = downsample(view, origin, factors, method).unwrap();
                    let mut got = Array4::default(expected.raw_dim());
                    downsample_into(view, origin, factors, method, got.view_mut(), 3).unwrap();
                    assert_eq!(got, expected, "{method:?} {factors:?} at {origin:?}");
                }
            }
        }
    }

    /// Labels in boxes, so that most blocks hold one label, in rows longer than the kernels'
    /// columns: the vectorized test for blocks of one label agrees with the definition.
    #[test]
    fn blocks_of_one_label_in_long_rows() {
        let labels = Array4::from_shape_fn((1, 9, 10, 150), |(_, z, y, x)| {
            ((z / 3 + (y / 5) * 7 + (x / 9) * 13) % 4) as u64
        });
        for ignore_zero in [false, true] {
            let method = Method::Mode { ignore_zero };
            for origin in [[0; 3], [1, 3, 5]] {
                for factors in [[2, 2, 2], [2, 2, 1]] {
                    let got = downsample(labels.view(), origin, factors, method).unwrap();
                    let expected = reference(labels.view(), origin, factors, method);
                    assert_eq!(got, expected, "{method:?} {factors:?} at {origin:?}");
                }
            }
        }
    }

    #[test]
    fn huge_factors_take_the_whole_array() {
        let input = volume((1, 3, 4, 5), |r| r as u32);
        for method in METHODS {
            let got = downsample(input.view(), [0; 3], [usize::MAX; 3], method).unwrap();
            assert_eq!(got, reference(input.view(), [0; 3], [8; 3], method));
            assert_eq!(got.dim(), (1, 1, 1, 1));
        }
    }

    #[test]
    fn hand_checked_blocks() {
        // x = 0..4 at origin x = 1: blocks {1}, {2, 3}, {4}.
        let row = Array4::from_shape_vec((1, 1, 1, 4), vec![10u8, 3, 4, 7]).unwrap();
        let mean = downsample(row.view(), [1, 0, 0], [2, 1, 1], Method::Mean).unwrap();
        assert_eq!(mean.as_slice().unwrap(), [10, 4, 7]); // 3.5 rounds to 4
        let stride = downsample(row.view(), [1, 0, 0], [2, 1, 1], Method::Stride).unwrap();
        assert_eq!(stride.as_slice().unwrap(), [3, 7]);
        // A 2x2x2 block with two labels four times each: the lower wins; 0 only if not ignored.
        let labels = Array4::from_shape_vec((1, 2, 2, 2), vec![9u64, 0, 9, 0, 0, 9, 0, 9]).unwrap();
        let mode =
            |ignore_zero| downsample(labels.view(), [0; 3], [2; 3], Method::Mode { ignore_zero });
        assert_eq!(mode(false).unwrap().into_raw_vec_and_offset().0, [0]);
        assert_eq!(mode(true).unwrap().into_raw_vec_and_offset().0, [9]);
    }
}
