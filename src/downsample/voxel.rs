//! The value types the kernels reduce, with the arithmetic of each: tensorstore's.
//!
//! Integer means are exact: sums in a type twice as wide as any block can need (64 bits for
//! values of up to 32 bits, 128 bits for 64-bit values), then divided with rounding half to even.
//! Float means add the values one by one in their own type, starting from 0, and divide by the
//! count in that type, as tensorstore does.

use std::ops::{BitOr, BitXor};

/// A value type the downsampling kernels take: every Neuroglancer data type, plus int64 and
/// float64.
pub trait Voxel: Copy + PartialOrd + Default + Send + Sync + 'static {
    /// Whether the values are integers; `mode` needs labels that compare exactly.
    const INTEGER: bool;
    /// The starting point of `min`: the largest value (infinity for floats).
    const HIGHEST: Self;
    /// The starting point of `max`: the smallest value (minus infinity for floats).
    const LOWEST: Self;
    /// The running sum of `mean`.
    type Sum: Copy + std::ops::Add<Output = Self::Sum>;
    /// The empty sum.
    const ZERO_SUM: Self::Sum;
    /// `sum` plus `value`.
    fn add(sum: Self::Sum, value: Self) -> Self::Sum;
    /// The mean of `count` values adding up to `sum`.
    fn mean(sum: Self::Sum, count: usize) -> Self;
    /// A sum of up to 8 values, in a type as narrow as can hold it, so that loops over such sums
    /// vectorize; floats add in their own type.
    type SmallSum: Copy + std::ops::Add<Output = Self::SmallSum>;
    /// The empty small sum.
    const ZERO_SMALL_SUM: Self::SmallSum;
    /// The value as a term of a `SmallSum`.
    fn small(self) -> Self::SmallSum;
    /// The mean of `1 << shift` values adding up to `sum`, for `shift` of 1 to 3.
    fn mean_pow2(sum: Self::SmallSum, shift: u32) -> Self;
    /// The value's bits: integers differ exactly where their bits do, so whether many labels are
    /// one folds with `^` and `|`, which vectorize for every width (64-bit `==` does not on
    /// baseline x86-64).
    type Bits: Copy + Default + PartialEq + BitXor<Output = Self::Bits> + BitOr<Output = Self::Bits>;
    fn bits(self) -> Self::Bits;
}

/// `sum >> shift` rounded half to even, for any integer type with a flooring right shift, signed
/// or not: `sum` is `q << shift` plus a remainder below `1 << shift`, and adding `half - 1` plus
/// the parity of `q` carries into `q` exactly when the remainder is past the half or at the half
/// with `q` odd.
macro_rules! shift_round_half_even {
    ($sum:expr, $shift:expr) => {{
        let (sum, shift) = ($sum, $shift);
        (sum + ((1 << (shift - 1)) - 1) + ((sum >> shift) & 1)) >> shift
    }};
}

/// `sum / count` rounded to the nearest integer, ties to the even one.
macro_rules! div_round_half_even {
    ($name:ident, $t:ty) => {
        fn $name(sum: $t, count: $t) -> $t {
            // Division is slow, and most blocks hold a power of two voxels: shift and mask.
            let (quotient, remainder) = if count.is_power_of_two() {
                (sum >> count.trailing_zeros(), sum & (count - 1))
            } else {
                (sum / count, sum % count)
            };
            // The remainder is below `count`, so twice it cannot overflow.
            let twice_remainder = remainder * 2;
            let round_up =
                twice_remainder > count || (twice_remainder == count && quotient & 1 == 1);
            quotient + <$t>::from(round_up)
        }
    };
}

div_round_half_even!(div_round_u64, u64);
div_round_half_even!(div_round_u128, u128);

/// `sum / count` rounded half to even, in 64-bit arithmetic when the sum fits (128-bit division
/// is a slow library call).
fn div_round_wide(sum: u128, count: usize) -> u128 {
    match u64::try_from(sum) {
        Ok(sum) => u128::from(div_round_u64(sum, count as u64)),
        Err(_) => div_round_u128(sum, count as u128),
    }
}

fn mean_u64(sum: u64, count: usize) -> u64 {
    div_round_u64(sum, count as u64)
}

fn mean_u128(sum: u128, count: usize) -> u128 {
    div_round_wide(sum, count)
}

// Rounding half to even is symmetric about 0: signed means round the magnitude.
fn mean_i64(sum: i64, count: usize) -> i64 {
    let magnitude = mean_u64(sum.unsigned_abs(), count) as i64;
    if sum < 0 {
        magnitude.wrapping_neg()
    } else {
        magnitude
    }
}

fn mean_i128(sum: i128, count: usize) -> i128 {
    let magnitude = mean_u128(sum.unsigned_abs(), count) as i128;
    if sum < 0 {
        magnitude.wrapping_neg()
    } else {
        magnitude
    }
}

macro_rules! integer_voxel {
    ($($t:ty => $sum:ty, $small:ty, $mean:ident);*) => {$(
        impl Voxel for $t {
            const INTEGER: bool = true;
            const HIGHEST: Self = <$t>::MAX;
            const LOWEST: Self = <$t>::MIN;
            type Sum = $sum;
            const ZERO_SUM: $sum = 0;

            #[inline(always)]
            fn add(sum: $sum, value: Self) -> $sum {
                sum + <$sum>::from(value)
            }

            #[inline(always)]
            fn mean(sum: $sum, count: usize) -> Self {
                // The mean lies between the smallest and largest value, so it fits.
                $mean(sum, count) as $t
            }

            type SmallSum = $small;
            const ZERO_SMALL_SUM: $small = 0;

            #[inline(always)]
            fn small(self) -> $small {
                <$small>::from(self)
            }

            #[inline(always)]
            fn mean_pow2(sum: $small, shift: u32) -> Self {
                shift_round_half_even!(sum, shift) as $t
            }

            type Bits = $t;

            #[inline(always)]
            fn bits(self) -> $t {
                self
            }
        }
    )*};
}

integer_voxel!(
    u8 => u64, u16, mean_u64;
    u16 => u64, u32, mean_u64;
    u32 => u64, u64, mean_u64;
    u64 => u128, u128, mean_u128;
    i8 => i64, i16, mean_i64;
    i16 => i64, i32, mean_i64;
    i32 => i64, i64, mean_i64;
    i64 => i128, i128, mean_i128
);

macro_rules! float_voxel {
    ($($t:ty => $bits:ty),*) => {$(
        impl Voxel for $t {
            const INTEGER: bool = false;
            const HIGHEST: Self = <$t>::INFINITY;
            const LOWEST: Self = <$t>::NEG_INFINITY;
            type Sum = $t;
            const ZERO_SUM: $t = 0.0;

            #[inline(always)]
            fn add(sum: $t, value: Self) -> $t {
                sum + value
            }

            #[inline(always)]
            fn mean(sum: $t, count: usize) -> Self {
                sum / count as $t
            }

            type SmallSum = $t;
            const ZERO_SMALL_SUM: $t = 0.0;

            #[inline(always)]
            fn small(self) -> $t {
                self
            }

            #[inline(always)]
            fn mean_pow2(sum: $t, shift: u32) -> Self {
                sum / (1u32 << shift) as $t
            }

            type Bits = $bits;

            #[inline(always)]
            fn bits(self) -> $bits {
                self.to_bits()
            }
        }
    )*};
}

float_voxel!(f32 => u32, f64 => u64);

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_of<T: Voxel>(values: &[T]) -> T {
        T::mean(
            values.iter().fold(T::ZERO_SUM, |sum, &v| T::add(sum, v)),
            values.len(),
        )
    }

    #[test]
    fn integer_means_round_half_to_even() {
        assert_eq!(mean_of(&[1u8, 2]), 2); // 1.5
        assert_eq!(mean_of(&[2u8, 3]), 2); // 2.5
        assert_eq!(mean_of(&[0u8, 0, 1]), 0); // 0.33
        assert_eq!(mean_of(&[0u8, 1, 1]), 1); // 0.67
        assert_eq!(mean_of(&[255u8; 8]), 255);
        assert_eq!(mean_of(&[-1i8, -2]), -2); // -1.5
        assert_eq!(mean_of(&[-2i8, -3]), -2); // -2.5
        assert_eq!(mean_of(&[-128i8, -128, -127]), -128); // -127.67
        assert_eq!(mean_of(&[i8::MIN, i8::MAX]), 0); // -0.5
        assert_eq!(mean_of(&[-3i32, 0, 0, 0]), -1); // -0.75
        assert_eq!(mean_of(&[-1i16, 0, 0, 0]), 0); // -0.25
    }

    fn small_mean_of<T: Voxel>(values: &[T]) -> T {
        let sum = values[1..]
            .iter()
            .fold(values[0].small(), |sum, &v| sum + v.small());
        T::mean_pow2(sum, values.len().trailing_zeros())
    }

    #[test]
    fn small_means_round_as_exact_ones() {
        for values in [
            [1i8, 2],
            [2, 3],
            [-1, -2],
            [-2, -3],
            [i8::MIN, i8::MAX],
            [-128, -128],
        ] {
            assert_eq!(small_mean_of(&values), mean_of(&values), "{values:?}");
        }
        for values in (0..=255u8)
            .step_by(5)
            .map(|v| [v, 255 - v, v / 3, 255, v, 7, 0, v / 2])
        {
            assert_eq!(small_mean_of(&values), mean_of(&values), "{values:?}");
            assert_eq!(
                small_mean_of(&values[..4]),
                mean_of(&values[..4]),
                "{values:?}"
            );
            let signed = values.map(|v| v as i8);
            assert_eq!(small_mean_of(&signed), mean_of(&signed), "{signed:?}");
            let wide = values.map(|v| u64::MAX - u64::from(v));
            assert_eq!(small_mean_of(&wide), mean_of(&wide), "{wide:?}");
            let wide = values.map(|v| i64::MIN + i64::from(v));
            assert_eq!(small_mean_of(&wide), mean_of(&wide), "{wide:?}");
        }
    }

    #[test]
    fn sixty_four_bit_means_are_exact() {
        assert_eq!(mean_of(&[u64::MAX; 8]), u64::MAX);
        assert_eq!(mean_of(&[u64::MAX, u64::MAX - 1]), u64::MAX - 1); // .5, even below
        assert_eq!(mean_of(&[u64::MAX, u64::MAX - 2]), u64::MAX - 1);
        assert_eq!(mean_of(&[i64::MIN; 8]), i64::MIN);
        assert_eq!(mean_of(&[i64::MIN, i64::MAX]), 0); // -0.5
        assert_eq!(mean_of(&[i64::MAX, i64::MAX, i64::MAX - 1]), i64::MAX);
        // 2^63 + 1 and 2^63 + 2: a float64 sum would lose the low bits.
        assert_eq!(
            mean_of(&[(1u64 << 63) + 1, (1u64 << 63) + 4]),
            (1u64 << 63) + 2
        );
    }

    #[test]
    fn float_means_add_in_order_from_zero() {
        assert_eq!(mean_of(&[1.0f32, 2.0, 4.0]), 7.0 / 3.0);
        // Starting from +0 turns an all -0 block into +0.
        assert!(mean_of(&[-0.0f32, -0.0]).is_sign_positive());
        // In order: 1e8 + 1 - 1e8 is 0 in float32, not 1.
        assert_eq!(mean_of(&[1e8f32, 1.0, -1e8]), 0.0);
        assert!(mean_of(&[1.0f64, f64::NAN]).is_nan());
    }
}
