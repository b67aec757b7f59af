//! Image pixels to and from chunk channels: an image chunk's pixels are its (Z, Y, X) voxels in C
//! order, each holding one sample per channel, interleaved.

use std::borrow::Cow;

use ndarray::ArrayView4;

/// The pixels of a (C, Z, Y, X) chunk in any layout, the C samples of each interleaved; borrowed
/// when the chunk is one C-contiguous channel.
pub fn interleave<T: Copy + Default>(chunk: ArrayView4<'_, T>) -> Cow<'_, [T]> {
    let channels = chunk.shape()[0];
    if channels == 1 {
        if let Some(samples) = chunk.to_slice() {
            return Cow::Borrowed(samples);
        }
    }
    let mut pixels = vec![T::default(); chunk.len()];
    if let Some(planes) = chunk.to_slice().filter(|_| channels > 0) {
        // C order, the usual case: plain slices, several times faster than ndarray's iterators.
        let plane_len = planes.len() / channels;
        for (channel, plane) in planes.chunks_exact(plane_len.max(1)).enumerate() {
            let samples = pixels.iter_mut().skip(channel).step_by(channels);
            samples.zip(plane).for_each(|(out, &value)| *out = value);
        }
        return Cow::Owned(pixels);
    }
    for (channel, plane) in chunk.outer_iter().enumerate() {
        let samples = pixels.iter_mut().skip(channel).step_by(channels);
        samples
            .zip(plane.iter())
            .for_each(|(out, &value)| *out = value);
    }
    Cow::Owned(pixels)
}

/// Splits `pixels` of `channels` interleaved samples into `planes`, one plane per channel after
/// the other: the (C, Z, Y, X) chunk in C order. Both hold the same number of samples.
pub fn deinterleave<T: Copy>(pixels: &[T], channels: usize, planes: &mut [T]) {
    debug_assert_eq!(pixels.len(), planes.len());
    let plane_len = planes.len() / channels.max(1);
    if plane_len == 0 {
        return;
    }
    let mut outputs: Vec<&mut [T]> = planes.chunks_exact_mut(plane_len).collect();
    if let [red, green, blue] = &mut outputs[..] {
        // The common case, in one pass that the compiler unrolls.
        let samples = pixels.chunks_exact(3).zip(red.iter_mut());
        for ((pixel, red), (green, blue)) in samples.zip(green.iter_mut().zip(blue.iter_mut())) {
            (*red, *green, *blue) = (pixel[0], pixel[1], pixel[2]);
        }
        return;
    }
    for (channel, plane) in outputs.into_iter().enumerate() {
        let samples = pixels.iter().skip(channel).step_by(channels);
        plane
            .iter_mut()
            .zip(samples)
            .for_each(|(out, &value)| *out = value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array4;

    #[test]
    fn interleaves_and_splits_back_in_any_layout() {
        let chunk = Array4::from_shape_fn((3, 2, 3, 4), |(c, z, y, x)| {
            (c * 100 + z * 12 + y * 4 + x) as u16
        });
        let pixels = interleave(chunk.view());
        assert_eq!(&pixels[..6], &[0, 100, 200, 1, 101, 201]);
        let fortran = chunk.t().as_standard_layout().into_owned().reversed_axes();
        assert_eq!(interleave(fortran.view()), pixels);
        let mut planes = vec![0; chunk.len()];
        deinterleave(&pixels, 3, &mut planes);
        assert_eq!(planes, chunk.as_slice().unwrap());
        let pair = chunk.slice(ndarray::s![..2, .., .., ..]);
        let mut planes = vec![0; pair.len()];
        deinterleave(&interleave(pair), 2, &mut planes);
        assert_eq!(planes, pair.iter().copied().collect::<Vec<_>>());
    }

    #[test]
    fn one_contiguous_channel_is_borrowed() {
        let chunk = Array4::<u8>::zeros((1, 2, 3, 4));
        assert!(matches!(interleave(chunk.view()), Cow::Borrowed(_)));
        let strided = chunk.slice(ndarray::s![.., .., .., ..;2]);
        assert!(matches!(interleave(strided), Cow::Owned(_)));
    }
}
