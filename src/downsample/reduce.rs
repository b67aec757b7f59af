//! How the voxels of one block become one voxel: `mean`, `min`, `max` and `mode`.
//!
//! A block is given as its rows along x (z outermost, then y, as they lie in the volume) and the
//! block's range of x in them. Floats are folded in that order, z then y then x, the order
//! tensorstore adds them in for x-fastest volumes. Integer folds are exact in any order, so their
//! loops run the way that vectorizes: the rows combined column by column, then each block's
//! columns.
//!
//! Blocks two voxels wide over two or four rows, the factors (2, 2, 1) and (2, 2, 2), have fast
//! paths: integer folds in narrow columns of a constant length, and a mode that finds the blocks
//! of one label a column at a time and counts only when a block holds three labels or more.

use std::ops::Range;

use super::voxel::Voxel;

/// Turns blocks of voxels into voxels.
pub(super) trait Reducer<T: Voxel> {
    /// The voxel of the block made of `xs` in each of `rows`.
    fn block(&mut self, rows: &[&[T]], xs: Range<usize>) -> T;

    /// The voxels of blocks two voxels wide over `R` rows, each of `2 * out.len()` voxels.
    fn pairs<const R: usize>(&mut self, rows: [&[T]; R], out: &mut [T]);

    /// The voxels of `out.len()` whole blocks of `factor` voxels along x, the first starting at
    /// `x0`, whatever the number of rows and the factor.
    fn blocks(&mut self, rows: &[&[T]], x0: usize, factor: usize, out: &mut [T]);

    /// Fills `out` with the voxels of `out.len()` whole blocks of `factor` voxels along x, the
    /// first starting at `x0`: blocks two voxels wide over two or four rows by `pairs`.
    fn whole_blocks(&mut self, rows: &[&[T]], x0: usize, factor: usize, out: &mut [T]) {
        let xs = x0..x0 + 2 * out.len();
        match (rows, factor) {
            (&[a, b], 2) => self.pairs([&a[xs.clone()], &b[xs]], out),
            (&[a, b, c, d], 2) => {
                self.pairs(
                    [&a[xs.clone()], &b[xs.clone()], &c[xs.clone()], &d[xs]],
                    out,
                );
            }
            _ => self.blocks(rows, x0, factor, out),
        }
    }
}

/// A reduction that folds the voxels of a block one by one: `mean`, `min` and `max`.
pub(super) trait Fold<T: Voxel> {
    /// The running value over a block of any size, folded in the block's order.
    type Acc: Copy;
    const START: Self::Acc;
    fn add(acc: Self::Acc, value: T) -> Self::Acc;
    /// Two running values as one; for integers, in any order.
    fn merge(a: Self::Acc, b: Self::Acc) -> Self::Acc;
    fn finish(acc: Self::Acc, count: usize) -> T;

    /// The running value over a block of at most 8 voxels, in a type narrow enough to vectorize.
    type Small: Copy;
    const SMALL_START: Self::Small;
    fn small(value: T) -> Self::Small;
    /// Combines two running values; for integers, in any order.
    fn combine(a: Self::Small, b: Self::Small) -> Self::Small;
    /// The voxel of a block of `1 << shift` voxels.
    fn finish_small(acc: Self::Small, shift: u32) -> T;
}

/// The rounded mean (see [`Voxel`]).
pub(super) struct Mean;

/// The smallest value; NaN is skipped, as `std::min` does in tensorstore.
pub(super) struct Min;

/// The largest value; NaN is skipped.
pub(super) struct Max;

impl<T: Voxel> Fold<T> for Mean {
    type Acc = T::Sum;
    const START: T::Sum = T::ZERO_SUM;

    #[inline(always)]
    fn add(acc: T::Sum, value: T) -> T::Sum {
        T::add(acc, value)
    }

    #[inline(always)]
    fn merge(a: T::Sum, b: T::Sum) -> T::Sum {
        a + b
    }

    #[inline(always)]
    fn finish(acc: T::Sum, count: usize) -> T {
        T::mean(acc, count)
    }

    type Small = T::SmallSum;
    const SMALL_START: T::SmallSum = T::ZERO_SMALL_SUM;

    #[inline(always)]
    fn small(value: T) -> T::SmallSum {
        value.small()
    }

    #[inline(always)]
    fn combine(a: T::SmallSum, b: T::SmallSum) -> T::SmallSum {
        a + b
    }

    #[inline(always)]
    fn finish_small(acc: T::SmallSum, shift: u32) -> T {
        T::mean_pow2(acc, shift)
    }
}

/// `min` and `max`: the running value is a voxel whatever the block's size.
macro_rules! order_fold {
    ($name:ident, $start:ident, |$acc:ident, $value:ident| $keep_value:expr) => {
        impl<T: Voxel> Fold<T> for $name {
            type Acc = T;
            const START: T = T::$start;

            #[inline(always)]
            fn add($acc: T, $value: T) -> T {
                if $keep_value {
                    $value
                } else {
                    $acc
                }
            }

            #[inline(always)]
            fn merge(a: T, b: T) -> T {
                <Self as Fold<T>>::add(a, b)
            }

            #[inline(always)]
            fn finish(acc: T, _count: usize) -> T {
                acc
            }

            type Small = T;
            const SMALL_START: T = T::$start;

            #[inline(always)]
            fn small(value: T) -> T {
                value
            }

            #[inline(always)]
            fn combine(a: T, b: T) -> T {
                <Self as Fold<T>>::add(a, b)
            }

            #[inline(always)]
            fn finish_small(acc: T, _shift: u32) -> T {
                acc
            }
        }
    };
}

// `std::min(acc, value)` and `std::max(acc, value)`: ties and NaN keep the running value.
order_fold!(Min, HIGHEST, |acc, value| value < acc);
order_fold!(Max, LOWEST, |acc, value| acc < value);

/// Folds `values` in order into `acc`.
#[inline(always)]
fn fold_all<T: Voxel, F: Fold<T>>(acc: F::Acc, values: &[T]) -> F::Acc {
    values.iter().fold(acc, |acc, &value| F::add(acc, value))
}

/// Reduces blocks with a [`Fold`].
pub(super) struct Folding<T: Voxel, F: Fold<T>> {
    /// The running values of one output row, kept to save an allocation per row.
    accs: Vec<F::Acc>,
}

impl<T: Voxel, F: Fold<T>> Folding<T, F> {
    pub(super) fn new() -> Self {
        Folding { accs: Vec::new() }
    }
}

impl<T: Voxel, F: Fold<T>> Reducer<T> for Folding<T, F> {
    fn block(&mut self, rows: &[&[T]], xs: Range<usize>) -> T {
        let acc = rows
            .iter()
            .fold(F::START, |acc, row| fold_all::<T, F>(acc, &row[xs.clone()]));
        F::finish(acc, rows.len() * xs.len())
    }

    /// Row after row into running values along the whole rows, in loops that vectorize: one
    /// per column (x) for integers, whose folds are exact in any order, then the columns of each
    /// block; one per block for floats, which must see their voxels in z, y, x order.
    fn blocks(&mut self, rows: &[&[T]], x0: usize, factor: usize, out: &mut [T]) {
        let xs = x0..x0 + factor * out.len();
        let count = rows.len() * factor;
        self.accs.clear();
        if T::INTEGER || factor == 1 {
            self.accs.resize(xs.len(), F::START);
            for row in rows {
                for (acc, &value) in self.accs.iter_mut().zip(&row[xs.clone()]) {
                    *acc = F::add(*acc, value);
                }
            }
            for (voxel, block) in out.iter_mut().zip(self.accs.chunks_exact(factor)) {
                let acc = block[1..]
                    .iter()
                    .fold(block[0], |acc, &column| F::merge(acc, column));
                *voxel = F::finish(acc, count);
            }
        } else {
            self.accs.resize(out.len(), F::START);
            for row in rows {
                let blocks = row[xs.clone()].chunks_exact(factor);
                for (acc, block) in self.accs.iter_mut().zip(blocks) {
                    *acc = fold_all::<T, F>(*acc, block);
                }
            }
            for (voxel, &acc) in out.iter_mut().zip(&self.accs) {
                *voxel = F::finish(acc, count);
            }
        }
    }

    fn pairs<const R: usize>(&mut self, rows: [&[T]; R], out: &mut [T]) {
        let shift = (2 * R).trailing_zeros();
        if T::INTEGER {
            pairs_by_columns::<T, F, R>(rows, shift, out);
        } else {
            for (i, voxel) in out.iter_mut().enumerate() {
                let acc = rows.iter().fold(F::SMALL_START, |acc, row| {
                    let acc = F::combine(acc, F::small(row[2 * i]));
                    F::combine(acc, F::small(row[2 * i + 1]))
                });
                *voxel = F::finish_small(acc, shift);
            }
        }
    }
}

/// Blocks two voxels wide over `R` rows of integers, in two passes that vectorize: the rows
/// combined voxel by voxel into a column, then the column's neighbours by pairs. Integer folds
/// are exact, so the order does not matter.
fn pairs_by_columns<T: Voxel, F: Fold<T>, const R: usize>(
    rows: [&[T]; R],
    shift: u32,
    out: &mut [T],
) {
    let mut chunks = out.chunks_exact_mut(COLUMN / 2);
    for (k, out) in chunks.by_ref().enumerate() {
        // Slices of a constant length: the compiler unrolls and vectorizes the passes.
        let xs = k * COLUMN..(k + 1) * COLUMN;
        pairs_of_column::<T, F, R>(rows.map(|row| &row[xs.clone()]), shift, out);
    }
    let tail = chunks.into_remainder();
    let x0 = rows[0].len() - 2 * tail.len();
    pairs_of_column::<T, F, R>(rows.map(|row| &row[x0..]), shift, tail);
}

/// Voxels per column: short enough to stay in registers or L1.
const COLUMN: usize = 32;

/// [`pairs_by_columns`] over rows of at most [`COLUMN`] voxels.
#[inline(always)]
fn pairs_of_column<T: Voxel, F: Fold<T>, const R: usize>(
    rows: [&[T]; R],
    shift: u32,
    out: &mut [T],
) {
    let mut column = [F::SMALL_START; COLUMN];
    for (acc, &value) in column.iter_mut().zip(rows[0]) {
        *acc = F::small(value);
    }
    for row in &rows[1..] {
        for (acc, &value) in column.iter_mut().zip(*row) {
            *acc = F::combine(*acc, F::small(value));
        }
    }
    for (voxel, pair) in out.iter_mut().zip(column.chunks_exact(2)) {
        *voxel = F::finish_small(F::combine(pair[0], pair[1]), shift);
    }
}

/// The most frequent value of each block, ties to the lowest; with `ignore_zero`, the most
/// frequent non-zero value unless the block is all 0.
pub(super) struct Mode<T> {
    ignore_zero: bool,
    /// The values of the block being reduced, kept to save an allocation per block.
    values: Vec<T>,
}

impl<T: Voxel> Mode<T> {
    pub(super) fn new(ignore_zero: bool) -> Self {
        Mode {
            ignore_zero,
            values: Vec::new(),
        }
    }
}

impl<T: Voxel> Reducer<T> for Mode<T> {
    fn block(&mut self, rows: &[&[T]], xs: Range<usize>) -> T {
        self.values.clear();
        for row in rows {
            self.values.extend_from_slice(&row[xs.clone()]);
        }
        mode(&mut self.values, self.ignore_zero)
    }

    fn pairs<const R: usize>(&mut self, rows: [&[T]; R], out: &mut [T]) {
        if self.ignore_zero {
            mode_of_pairs::<T, R, true>(rows, out);
        } else {
            mode_of_pairs::<T, R, false>(rows, out);
        }
    }

    fn blocks(&mut self, rows: &[&[T]], x0: usize, factor: usize, out: &mut [T]) {
        if rows.len() * factor > FEW {
            for (i, voxel) in out.iter_mut().enumerate() {
                let start = x0 + i * factor;
                *voxel = self.block(rows, start..start + factor);
            }
        } else if self.ignore_zero {
            mode_of_small_blocks::<T, true>(rows, x0, factor, out);
        } else {
            mode_of_small_blocks::<T, false>(rows, x0, factor, out);
        }
    }
}

/// The most voxels a block may have to be reduced on the stack.
const FEW: usize = 8;

/// The modes of blocks of at most [`FEW`] voxels, gathered on the stack.
fn mode_of_small_blocks<T: Voxel, const IGNORE_ZERO: bool>(
    rows: &[&[T]],
    x0: usize,
    factor: usize,
    out: &mut [T],
) {
    let mut values = [T::default(); FEW];
    let volume = rows.len() * factor;
    for (i, voxel) in out.iter_mut().enumerate() {
        let start = x0 + i * factor;
        for (r, row) in rows.iter().enumerate() {
            for (j, &value) in row[start..start + factor].iter().enumerate() {
                values[r * factor + j] = value;
            }
        }
        let values = &values[..volume];
        *voxel = mode_of_few::<T, IGNORE_ZERO>(values);
    }
}

/// The modes of blocks two voxels wide over `R` rows, a column at a time: first, in a loop that
/// vectorizes, which blocks hold one label (most of a segmentation's), then the others alone.
fn mode_of_pairs<T: Voxel, const R: usize, const IGNORE_ZERO: bool>(
    rows: [&[T]; R],
    out: &mut [T],
) {
    let mut chunks = out.chunks_exact_mut(COLUMN / 2);
    for (k, out) in chunks.by_ref().enumerate() {
        let column = rows.map(|row| match row[k * COLUMN..(k + 1) * COLUMN].try_into() {
            Ok(column) => column,
            Err(_) => unreachable!("a range of COLUMN voxels"),
        });
        mode_of_pairs_column::<T, R, IGNORE_ZERO>(column, out);
    }
    // The last blocks, fewer than a column's, one by one.
    let tail = chunks.into_remainder();
    let x0 = rows[0].len() - 2 * tail.len();
    for (i, voxel) in tail.iter_mut().enumerate() {
        let pairs = rows.map(|row| [row[x0 + 2 * i], row[x0 + 2 * i + 1]]);
        *voxel = mode_of_few::<T, IGNORE_ZERO>(pairs.as_flattened());
    }
}

/// [`mode_of_pairs`] over rows of [`COLUMN`] voxels: arrays, whose length the compiler knows.
#[inline(always)]
fn mode_of_pairs_column<T: Voxel, const R: usize, const IGNORE_ZERO: bool>(
    rows: [&[T; COLUMN]; R],
    out: &mut [T],
) {
    // Where each voxel differs from the one above it in the first row, folded over the rows in
    // place (no shuffling of pairs), bitwise so that it vectorizes.
    let differs: [T::Bits; COLUMN] = std::array::from_fn(|x| {
        let first = rows[0][x].bits();
        rows[1..].iter().fold(T::Bits::default(), |differ, row| {
            differ | (row[x].bits() ^ first)
        })
    });
    for (i, voxel) in out.iter_mut().enumerate() {
        let first = rows[0][2 * i];
        let one_label =
            differs[2 * i] | differs[2 * i + 1] | (rows[0][2 * i + 1].bits() ^ first.bits())
                == T::Bits::default();
        // A block of one label is its own mode, 0 included, ignored or not.
        *voxel = if one_label {
            first
        } else {
            let pairs = rows.map(|row| [row[2 * i], row[2 * i + 1]]);
            mode_of_few::<T, IGNORE_ZERO>(pairs.as_flattened())
        };
    }
}

/// The mode of a few values, decided without counting each value when the block holds at most
/// two labels, as nearly every block of a segmentation does: the first value's copies are
/// counted, and those of the last value that differs from it; if the two counts cover the block,
/// the larger wins (ties to the lower label). Blocks of three or more labels are counted value by
/// value.
#[inline(always)]
fn mode_of_few<T: Voxel, const IGNORE_ZERO: bool>(values: &[T]) -> T {
    let first = values[0];
    let (mut first_count, mut other) = (0, first);
    for &value in values {
        let same = value == first;
        first_count += usize::from(same);
        other = if same { other } else { value };
    }
    if first_count == values.len() {
        return first;
    }
    let other_count = values
        .iter()
        .map(|&value| usize::from(value == other))
        .sum::<usize>();
    if first_count + other_count < values.len() {
        return counted_mode::<T, IGNORE_ZERO>(values);
    }
    let zero = T::default();
    let first_wins = if IGNORE_ZERO && (first == zero || other == zero) {
        other == zero
    } else {
        first_count > other_count || (first_count == other_count && first < other)
    };
    if first_wins {
        first
    } else {
        other
    }
}

/// The mode of a few values by counting each value's copies, ties to the lowest. Out of line:
/// blocks of three labels are rare, and inlined it would crowd the vectorized loops around it.
#[inline(never)]
fn counted_mode<T: Voxel, const IGNORE_ZERO: bool>(values: &[T]) -> T {
    let zero = T::default();
    let (mut best, mut best_count) = (zero, 0);
    for &value in values {
        let count = if IGNORE_ZERO && value == zero {
            0
        } else {
            values
                .iter()
                .map(|&other| usize::from(other == value))
                .sum()
        };
        if count > best_count || (count == best_count && value < best) {
            (best, best_count) = (value, count);
        }
    }
    best
}

/// The most frequent of `values`, ties to the lowest (the first longest run once sorted), leaving
/// `values` in any order; with `ignore_zero`, of the non-zero values unless all are 0. Integers
/// only: `partial_cmp` is total for them.
fn mode<T: Voxel>(values: &mut [T], ignore_zero: bool) -> T {
    let zero = T::default();
    let values = if ignore_zero {
        let non_zero = partition_non_zero(values, zero);
        &mut values[..non_zero]
    } else {
        values
    };
    let Some(&first) = values.first() else {
        return zero;
    };
    // Most blocks of a segmentation lie inside one object.
    if values.iter().all(|&value| value == first) {
        return first;
    }
    values.sort_unstable_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let mut best = (values[0], 0);
    let mut run = (values[0], 0);
    for &value in values.iter() {
        if value == run.0 {
            run.1 += 1;
        } else {
            run = (value, 1);
        }
        if run.1 > best.1 {
            best = run;
        }
    }
    best.0
}

/// Moves the non-zero values to the front, returning how many there are.
fn partition_non_zero<T: Voxel>(values: &mut [T], zero: T) -> usize {
    let mut non_zero = 0;
    for i in 0..values.len() {
        if values[i] != zero {
            values.swap(non_zero, i);
            non_zero += 1;
        }
    }
    non_zero
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted_mode<T: Voxel>(values: &[T], ignore_zero: bool) -> T {
        mode(&mut values.to_vec(), ignore_zero)
    }

    #[test]
    fn mode_ties_go_to_the_lowest_value() {
        assert_eq!(sorted_mode(&[3u32, 1, 3, 1], false), 1);
        assert_eq!(sorted_mode(&[5u64, 9, 9, 5, 7, 7], false), 5);
        assert_eq!(sorted_mode(&[4i8, -3, 4, -3, 0], false), -3);
        assert_eq!(sorted_mode(&[2u8, 7, 7, 1, 1, 7], false), 7);
        assert_eq!(sorted_mode(&[6u16], false), 6);
        assert_eq!(sorted_mode(&[8u64, 8, 8, 8, 2, 2, 2, 2], false), 2);
    }

    #[test]
    fn zero_counts_unless_ignored() {
        assert_eq!(sorted_mode(&[0u32, 0, 0, 5, 5, 6], false), 0);
        assert_eq!(sorted_mode(&[0u32, 0, 0, 5, 5, 6], true), 5);
        assert_eq!(sorted_mode(&[0u32, 0, 0, 6, 5], true), 5);
        assert_eq!(sorted_mode(&[0u64, 0, 0, 0], true), 0);
        assert_eq!(sorted_mode(&[0i32, -1, 0, 2], true), -1);
    }

    /// Every block of 1 to 8 values drawn from a few labels (0 among them, a negative one for
    /// signed order): the shortcuts of `mode_of_few` agree with sorting and counting.
    #[test]
    fn few_values_agree_with_the_sorted_mode() {
        let labels = [0i8, 3, -2];
        for n in 1..=8u32 {
            for code in 0..3usize.pow(n) {
                let values: Vec<i8> = (0..n).map(|i| labels[code / 3usize.pow(i) % 3]).collect();
                for (ignore_zero, few) in [
                    (false, mode_of_few::<i8, false>(&values)),
                    (true, mode_of_few::<i8, true>(&values)),
                ] {
                    assert_eq!(
                        few,
                        sorted_mode(&values, ignore_zero),
                        "{values:?} {ignore_zero}"
                    );
                }
            }
        }
    }

    #[test]
    fn folds_skip_nan_like_std_min_and_max() {
        let values = [f32::NAN, 2.0, f32::NAN, -1.0];
        let min = |values: &[f32]| fold_all::<f32, Min>(<Min as Fold<f32>>::START, values);
        let max = |values: &[f32]| fold_all::<f32, Max>(<Max as Fold<f32>>::START, values);
        assert_eq!((min(&values), max(&values)), (-1.0, 2.0));
        assert_eq!(
            (min(&[f32::NAN]), max(&[f32::NAN])),
            (f32::INFINITY, f32::NEG_INFINITY)
        );
        // Ties keep the first value seen: 0 and -0 compare equal.
        assert!(min(&[0.0, -0.0]).is_sign_positive());
        assert!(max(&[-0.0, 0.0]).is_sign_negative());
    }
}
