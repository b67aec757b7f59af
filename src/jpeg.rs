//! The jpeg encoding through libjpeg-turbo (its TurboJPEG API, built from the vendored source).
//!
//! An image chunk is one picture whose pixels, row after row, are the chunk's voxels in C order;
//! 1 channel is greyscale, 3 are RGB (stored as YCbCr, 4:4:4, as Pillow and the reference do).

use ndarray::ArrayView4;
use turbojpeg::{Colorspace, Compressor, Decompressor, Image, PixelFormat, Subsamp, YuvImage};

use crate::error::{invalid_argument, invalid_format, Result};
use crate::interleave::{deinterleave, interleave};

/// Progressive scans a file may have: libjpeg's own progressive files have at most 10, and each
/// scan of a crafted file can cost a pass over the whole image.
const MAX_SCANS: u32 = 100;

/// How a chunk is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Progressive with optimised Huffman tables: the bytes of neuroglancer-scripts (Pillow).
    Progressive,
    /// Baseline with the standard Huffman tables, in one pass: several times faster to write and
    /// to read, for files a few percent larger.
    Baseline,
}

/// Encodes a (C, Z, Y, X) chunk of 1 or 3 channels, in any layout, as a JPEG image `width`
/// pixels wide, at `quality` (1 to 100), with the accurate integer DCT.
pub fn encode(chunk: ArrayView4<'_, u8>, width: usize, quality: u8, mode: Mode) -> Result<Vec<u8>> {
    let (format, subsampling) = match chunk.shape()[0] {
        1 => (PixelFormat::GRAY, Subsamp::Gray),
        3 => (PixelFormat::RGB, Subsamp::None),
        channels => return invalid_argument!("JPEG chunks have 1 or 3 channels, not {channels}"),
    };
    let pixels = chunk.len() / chunk.shape()[0];
    if width == 0 || pixels == 0 || pixels % width != 0 {
        return invalid_argument!("{pixels} pixels do not make an image {width} pixels wide");
    }
    let samples = interleave(chunk);
    let image = Image {
        pixels: &samples[..],
        width,
        pitch: width * chunk.shape()[0],
        height: pixels / width,
        format,
    };
    let progressive = mode == Mode::Progressive;
    let mut compressor = Compressor::new().map_err(encode_error)?;
    compressor
        .set_quality(quality.into())
        .map_err(encode_error)?;
    compressor.set_subsamp(subsampling).map_err(encode_error)?;
    compressor.set_optimize(progressive).map_err(encode_error)?;
    compressor
        .set_progressive(progressive)
        .map_err(encode_error)?;
    compressor.compress_to_vec(image).map_err(encode_error)
}

fn encode_error(error: turbojpeg::Error) -> crate::Error {
    crate::Error::InvalidArgument(format!("JPEG encoding failed: {error}"))
}

/// A JPEG whose header matches the chunk asked for, ready to decode.
pub struct Reader<'a> {
    buf: &'a [u8],
    decompressor: Decompressor,
    width: usize,
    height: usize,
    channels: usize,
    format: PixelFormat,
    /// YCbCr without subsampling: decoded as planes straight into the output (see `decode_into`).
    full_ycc: bool,
}

impl<'a> Reader<'a> {
    /// Reads the header of `buf` and checks it against a chunk of `channels` (1 or 3) channels and
    /// `pixels` voxels (any image width): greyscale for 1 channel, colour for 3, the pixel count.
    pub fn new(buf: &'a [u8], channels: usize, pixels: Option<usize>) -> Result<Self> {
        let mut decompressor = Decompressor::new().map_err(decode_error)?;
        decompressor
            .set_scan_limit(MAX_SCANS)
            .map_err(decode_error)?;
        let header = decompressor.read_header(buf).map_err(decode_error)?;
        let (found, format) = match header.colorspace {
            Colorspace::Gray => ("L", PixelFormat::GRAY),
            Colorspace::YCbCr | Colorspace::RGB => ("RGB", PixelFormat::RGB),
            Colorspace::CMYK | Colorspace::YCCK => ("CMYK", PixelFormat::CMYK),
        };
        let expected = if channels == 1 { "L" } else { "RGB" };
        if found != expected {
            return invalid_format!(
                "The JPEG chunk is encoded with mode={found} instead of {expected}"
            );
        }
        if header.width.checked_mul(header.height) != pixels {
            return invalid_format!(
                "The JPEG-encoded chunk has an incompatible shape ({}x{} pixels, expecting {})",
                header.width,
                header.height,
                pixels.map_or("more than any image holds".into(), |n| n.to_string())
            );
        }
        Ok(Self {
            buf,
            decompressor,
            width: header.width,
            height: header.height,
            channels,
            format,
            full_ycc: header.colorspace == Colorspace::YCbCr && header.subsamp == Subsamp::None,
        })
    }

    /// Decodes the image into `planes`, its channels one after the other: the (C, Z, Y, X) chunk
    /// in C order. Corrupt data is an error, even where libjpeg recovers from it with a warning
    /// (a file cut short).
    pub fn decode_into(mut self, planes: &mut [u8]) -> Result<()> {
        let expected = self.width * self.height * self.channels;
        if planes.len() != expected {
            return invalid_argument!("{} output bytes for a {expected}-byte image", planes.len());
        }
        let image = |pixels| Image {
            pixels,
            width: self.width,
            pitch: self.width * self.channels,
            height: self.height,
            format: self.format,
        };
        if self.channels == 1 {
            let output = image(planes);
            return self
                .decompressor
                .decompress(self.buf, output)
                .map_err(decode_error);
        }
        if self.full_ycc {
            // The Y, Cb and Cr planes are the R, G and B planes' places: decoded there and
            // converted in place, with no interleaved copy to split (a fifth faster).
            let output = YuvImage {
                pixels: &mut *planes,
                width: self.width,
                align: 1,
                height: self.height,
                subsamp: Subsamp::None,
            };
            self.decompressor
                .decompress_to_yuv(self.buf, output)
                .map_err(decode_error)?;
            let (luma, chroma) = planes.split_at_mut(planes.len() / 3);
            let (blue, red) = chroma.split_at_mut(luma.len());
            ycc_to_rgb(luma, blue, red);
            return Ok(());
        }
        let mut samples = vec![0; planes.len()];
        let output = image(&mut samples);
        self.decompressor
            .decompress(self.buf, output)
            .map_err(decode_error)?;
        deinterleave(&samples, self.channels, planes);
        Ok(())
    }
}

/// libjpeg's conversion of YCbCr to RGB (`jdcolor.c`, whose SIMD versions give the same values),
/// in place: each pixel's Y, Cb and Cr become its R, G and B.
fn ycc_to_rgb(luma: &mut [u8], blue: &mut [u8], red: &mut [u8]) {
    // 16-bit fixed point: 1.402, 0.34414, 0.71414 and 1.772 times 2^16, rounded; half for rounding.
    const HALF: i32 = 1 << 15;
    let samples = luma.iter_mut().zip(blue.iter_mut().zip(red.iter_mut()));
    for (y, (cb, cr)) in samples {
        let (luma, cb_offset, cr_offset) =
            (i32::from(*y), i32::from(*cb) - 128, i32::from(*cr) - 128);
        let r = luma + ((91_881 * cr_offset + HALF) >> 16);
        let g = luma + ((HALF - 22_554 * cb_offset - 46_802 * cr_offset) >> 16);
        let b = luma + ((116_130 * cb_offset + HALF) >> 16);
        (*y, *cb, *cr) = (
            r.clamp(0, 255) as u8,
            g.clamp(0, 255) as u8,
            b.clamp(0, 255) as u8,
        );
    }
}

fn decode_error(error: turbojpeg::Error) -> crate::Error {
    crate::Error::InvalidFormat(format!(
        "The JPEG-encoded chunk could not be decoded: {error}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array4;

    fn smooth(channels: usize) -> Array4<u8> {
        Array4::from_shape_fn((channels, 6, 10, 12), |(c, z, y, x)| {
            (40 + 3 * x + 5 * y + 7 * z + 20 * c) as u8
        })
    }

    fn round_trip(chunk: &Array4<u8>, width: usize, mode: Mode) -> Vec<u8> {
        let encoded = encode(chunk.view(), width, 95, mode).unwrap();
        let start_of_frame = if mode == Mode::Progressive {
            0xc2
        } else {
            0xc0
        };
        assert!(encoded.windows(2).any(|w| w == [0xff, start_of_frame]));
        let channels = chunk.shape()[0];
        let mut decoded = vec![0; chunk.len()];
        let pixels = Some(chunk.len() / channels);
        let reader = Reader::new(&encoded, channels, pixels).unwrap();
        reader.decode_into(&mut decoded).unwrap();
        let error: f64 = decoded
            .iter()
            .zip(chunk.iter())
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum();
        assert!(error / (chunk.len() as f64) < 1.5, "{mode:?} {width}");
        encoded
    }

    #[test]
    fn round_trips_within_quality_95_error_in_both_modes_and_any_width() {
        for channels in [1, 3] {
            let chunk = smooth(channels);
            for mode in [Mode::Progressive, Mode::Baseline] {
                for width in [12, 120, 720] {
                    round_trip(&chunk, width, mode);
                }
            }
        }
    }

    #[test]
    fn planar_decoding_gives_libjpeg_turbos_rgb_pixels() {
        // Noise over the whole range, so that the conversion clamps in every direction.
        let mut random = crate::mutations::Random::new(7);
        let noise = Array4::from_shape_simple_fn((3, 3, 17, 21), || random.next_u64() as u8);
        for chunk in [noise, smooth(3)] {
            let width = chunk.shape()[3];
            let pixels = chunk.len() / 3;
            for (quality, mode) in [
                (95, Mode::Progressive),
                (40, Mode::Baseline),
                (100, Mode::Baseline),
            ] {
                let encoded = encode(chunk.view(), width, quality, mode).unwrap();
                let mut planes = vec![0; chunk.len()];
                let reader = Reader::new(&encoded, 3, Some(pixels)).unwrap();
                assert!(reader.full_ycc);
                reader.decode_into(&mut planes).unwrap();
                let mut rgb = vec![0; chunk.len()];
                let image = Image {
                    pixels: &mut rgb[..],
                    width,
                    pitch: width * 3,
                    height: pixels / width,
                    format: PixelFormat::RGB,
                };
                Decompressor::new()
                    .unwrap()
                    .decompress(&encoded, image)
                    .unwrap();
                let mut expected = vec![0; chunk.len()];
                deinterleave(&rgb, 3, &mut expected);
                assert_eq!(planes, expected, "quality {quality}");
            }
        }
    }

    #[test]
    fn baseline_is_larger_than_progressive_but_not_by_much() {
        let chunk = smooth(3);
        let progressive = round_trip(&chunk, 12, Mode::Progressive).len();
        let baseline = round_trip(&chunk, 12, Mode::Baseline).len();
        assert!(progressive < baseline && baseline < progressive * 2);
    }

    #[test]
    fn wrong_channels_sizes_and_garbage_are_invalid_formats() {
        let grey = encode(smooth(1).view(), 12, 90, Mode::Baseline).unwrap();
        let error = Reader::new(&grey, 3, Some(720)).err().unwrap();
        assert!(
            error.to_string().contains("mode=L instead of RGB"),
            "{error}"
        );
        for pixels in [Some(719), None] {
            let error = Reader::new(&grey, 1, pixels).err().unwrap();
            assert!(error.to_string().contains("incompatible shape"), "{error}");
        }
        for bad in [&b""[..], b"garbage", &grey[..20]] {
            let error = Reader::new(bad, 1, Some(720)).err().unwrap();
            assert!(matches!(error, crate::Error::InvalidFormat(_)), "{error}");
        }
        // Cut short: the header reads, the image data does not.
        let scan = grey.windows(2).position(|w| w == [0xff, 0xda]).unwrap();
        let reader = Reader::new(&grey[..scan + 20], 1, Some(720)).unwrap();
        let error = reader.decode_into(&mut [0; 720]).unwrap_err();
        assert!(matches!(error, crate::Error::InvalidFormat(_)), "{error}");
        // Also when colour is decoded as planes, and when the file still ends with its marker.
        let rgb = encode(smooth(3).view(), 12, 90, Mode::Progressive).unwrap();
        let scan = rgb.windows(2).position(|w| w == [0xff, 0xda]).unwrap();
        for cut in [
            rgb[..scan + 40].to_vec(),
            [&rgb[..scan + 40], &[0xff, 0xd9]].concat(),
        ] {
            let reader = Reader::new(&cut, 3, Some(720)).unwrap();
            assert!(reader.full_ycc);
            let error = reader.decode_into(&mut [0; 2160]).unwrap_err();
            assert!(matches!(error, crate::Error::InvalidFormat(_)), "{error}");
        }
    }

    #[test]
    fn damaged_files_decode_or_fail_as_invalid_formats_never_panic() {
        for (channels, mode) in [
            (1, Mode::Progressive),
            (3, Mode::Progressive),
            (3, Mode::Baseline),
        ] {
            let chunk = smooth(channels);
            let pixels = chunk.len() / channels;
            let valid = encode(chunk.view(), 12, 90, mode).unwrap();
            crate::mutations::for_each_mutation(&valid, 2, 150, |damaged| {
                let decoded = Reader::new(damaged, channels, Some(pixels))
                    .and_then(|reader| reader.decode_into(&mut vec![0; chunk.len()]));
                if let Err(error) = decoded {
                    assert!(matches!(error, crate::Error::InvalidFormat(_)), "{error}");
                }
            });
        }
    }

    #[test]
    fn bad_shapes_are_invalid_arguments() {
        let chunk = smooth(1);
        assert!(encode(chunk.view(), 7, 90, Mode::Baseline).is_err());
        assert!(encode(chunk.view(), 0, 90, Mode::Baseline).is_err());
        assert!(encode(smooth(2).view(), 12, 90, Mode::Baseline).is_err());
    }
}
