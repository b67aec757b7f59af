//! The png encoding through the pure-Rust `png` crate: 8 or 16 bits a sample, 1 to 4 channels.
//!
//! An image chunk is one picture whose pixels, row after row, are the chunk's voxels in C order,
//! its channels interleaved in each pixel: greyscale, greyscale+alpha, RGB or RGBA. 16-bit samples
//! are big-endian, as PNG stores them.

use std::io::Cursor;

use ndarray::ArrayView4;
use png::{BitDepth, ColorType, DecodeOptions, Decoder, DecodingError, Encoder, Limits};

use crate::element::Element;
use crate::error::{invalid_argument, invalid_format, Result};
use crate::interleave::{deinterleave, interleave};

/// The eight bytes every PNG file starts with.
pub const SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// Memory the decoder may take beside the output: its rows are no longer than the chunk's (the
/// pixel count is checked first), and no metadata chunk can make it allocate more than this.
const DECODER_MEMORY: usize = 64 << 20;

fn colour_type(channels: usize) -> Option<ColorType> {
    match channels {
        1 => Some(ColorType::Grayscale),
        2 => Some(ColorType::GrayscaleAlpha),
        3 => Some(ColorType::Rgb),
        4 => Some(ColorType::Rgba),
        _ => None,
    }
}

fn bit_depth(sample_bytes: usize) -> Option<BitDepth> {
    match sample_bytes {
        1 => Some(BitDepth::Eight),
        2 => Some(BitDepth::Sixteen),
        _ => None,
    }
}

/// A pixel format as PNG users name it: "16-bit RGB", "8-bit greyscale+alpha", "4-bit palette".
fn pixel_format(colour: ColorType, depth: BitDepth) -> String {
    let kind = match colour {
        ColorType::Grayscale => "greyscale",
        ColorType::GrayscaleAlpha => "greyscale+alpha",
        ColorType::Rgb => "RGB",
        ColorType::Rgba => "RGBA",
        ColorType::Indexed => "palette",
    };
    format!("{}-bit {kind}", depth as u8)
}

/// Whether samples of type `T` differ in memory from PNG's big-endian order.
fn native_is_not_big_endian<T: Element>() -> bool {
    T::SIZE > 1 && cfg!(target_endian = "little")
}

/// Samples to or from PNG's big-endian order, in place.
fn swap_to_big_endian<T: Element>(samples: &mut [T]) {
    if native_is_not_big_endian::<T>() {
        samples
            .iter_mut()
            .for_each(|sample| *sample = sample.swap_bytes());
    }
}

/// Encodes a (C, Z, Y, X) chunk of 1 to 4 channels of u8 or u16, in any layout, as a PNG image
/// `width` pixels wide, at zlib `level` 0 (stored, unfiltered) to 9, rows filtered adaptively.
pub fn encode<T: Element>(chunk: ArrayView4<'_, T>, width: usize, level: u8) -> Result<Vec<u8>> {
    let channels = chunk.shape()[0];
    let (Some(colour), Some(depth)) = (colour_type(channels), bit_depth(T::SIZE)) else {
        return invalid_argument!(
            "PNG chunks have 1 to 4 channels of 8 or 16 bits, not {channels} of {}",
            8 * T::SIZE
        );
    };
    if level > 9 {
        return invalid_argument!("png_level must be between 0 and 9, got {level}");
    }
    let pixels = chunk.len() / channels;
    if width == 0 || pixels == 0 || pixels % width != 0 {
        return invalid_argument!("{pixels} pixels do not make an image {width} pixels wide");
    }
    // PNG's limit: sides fit in 31 bits.
    let side = |pixels: usize| i32::try_from(pixels).map(|side| side as u32);
    let (Ok(png_width), Ok(png_height)) = (side(width), side(pixels / width)) else {
        return invalid_argument!("a PNG image is at most 2^31 - 1 pixels a side");
    };
    let mut samples = interleave(chunk);
    if native_is_not_big_endian::<T>() {
        swap_to_big_endian(samples.to_mut());
    }
    let mut encoded = Vec::new();
    let mut encoder = Encoder::new(&mut encoded, png_width, png_height);
    encoder.set_color(colour);
    encoder.set_depth(depth);
    encoder.set_deflate_compression(match level {
        0 => png::DeflateCompression::NoCompression,
        level => png::DeflateCompression::Level(level),
    });
    encoder.set_filter(png::Filter::Adaptive);
    let mut writer = encoder.write_header().map_err(encode_error)?;
    writer
        .write_image_data(bytemuck::cast_slice(&samples))
        .map_err(encode_error)?;
    writer.finish().map_err(encode_error)?;
    Ok(encoded)
}

fn encode_error(error: png::EncodingError) -> crate::Error {
    crate::Error::InvalidArgument(format!("PNG encoding failed: {error}"))
}

/// A PNG whose header matches the chunk asked for, read up to its image data.
pub struct Reader<'a> {
    reader: png::Reader<Cursor<&'a [u8]>>,
    channels: usize,
}

impl<'a> Reader<'a> {
    /// Reads the header of `buf` and checks it against a chunk of `channels` channels of
    /// `sample_bytes` bytes (1 or 2) and `pixels` voxels (any image width), before any memory is
    /// sized by the file.
    pub fn new(
        buf: &'a [u8],
        channels: usize,
        sample_bytes: usize,
        pixels: Option<usize>,
    ) -> Result<Self> {
        let (Some(colour), Some(depth)) = (colour_type(channels), bit_depth(sample_bytes)) else {
            return invalid_argument!(
                "PNG chunks have 1 to 4 channels of 1 or 2 bytes, not {channels} of {sample_bytes}"
            );
        };
        if !buf.starts_with(SIGNATURE) {
            return invalid_format!("The PNG-encoded chunk could not be decoded: not a PNG file");
        }
        let mut options = DecodeOptions::default();
        // Checked like zlib (Pillow) does, and every chunk's CRC, not only the critical ones'.
        options.set_ignore_adler32(false);
        options.set_skip_ancillary_crc_failures(false);
        // Text and colour profiles say nothing about voxels, and may be compressed (bombs).
        options.set_ignore_text_chunk(true);
        options.set_ignore_iccp_chunk(true);
        let mut decoder = Decoder::new_with_options(Cursor::new(buf), options);
        decoder.set_limits(Limits {
            bytes: DECODER_MEMORY,
        });
        let header = decoder.read_header_info().map_err(decode_error)?;
        if (header.color_type, header.bit_depth) != (colour, depth) {
            return invalid_format!(
                "The PNG chunk holds {} pixels instead of {} ({channels} channel(s) of uint{})",
                pixel_format(header.color_type, header.bit_depth),
                pixel_format(colour, depth),
                8 * sample_bytes
            );
        }
        let (width, height) = (header.width as usize, header.height as usize);
        if width.checked_mul(height) != pixels {
            return invalid_format!(
                "The PNG-encoded chunk has an incompatible shape ({width}x{height} = {} pixels, \
                 expecting {})",
                width as u64 * height as u64,
                pixels.map_or("more than any image holds".into(), |n| n.to_string())
            );
        }
        let reader = decoder.read_info().map_err(decode_error)?;
        Ok(Self { reader, channels })
    }

    /// Decodes the image into `planes`, its channels one after the other: the (C, Z, Y, X) chunk
    /// in C order, native-endian. The file must go on, intact, to its IEND chunk.
    pub fn decode_into<T: Element>(mut self, planes: &mut [T]) -> Result<()> {
        let expected = self.reader.output_buffer_size();
        if Some(planes.len() * T::SIZE) != expected {
            return invalid_argument!(
                "{} output bytes for a {expected:?}-byte image",
                planes.len() * T::SIZE
            );
        }
        let mut interleaved = Vec::new();
        let samples = if self.channels == 1 {
            &mut *planes
        } else {
            interleaved.resize(planes.len(), T::default());
            &mut interleaved[..]
        };
        let frame = self
            .reader
            .next_frame(bytemuck::cast_slice_mut(samples))
            .map_err(decode_error)?;
        // An animated PNG's first frame may be smaller than its image; the chunk is the image.
        if Some(frame.buffer_size()) != expected {
            return invalid_format!(
                "The PNG-encoded chunk's first frame ({}x{}) does not cover its image",
                frame.width,
                frame.height
            );
        }
        self.reader.finish().map_err(decode_error)?;
        swap_to_big_endian(samples);
        if self.channels > 1 {
            deinterleave(&interleaved, self.channels, planes);
        }
        Ok(())
    }
}

fn decode_error(error: DecodingError) -> crate::Error {
    let problem = match error {
        DecodingError::IoError(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
            "it is truncated".to_string()
        }
        DecodingError::LimitsExceeded => {
            format!("it needs more than {DECODER_MEMORY} bytes beside the chunk to decode")
        }
        error => error.to_string(),
    };
    crate::Error::InvalidFormat(format!(
        "The PNG-encoded chunk could not be decoded: {problem}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array4;

    fn ramp<T: Element + TryFrom<usize>>(channels: usize) -> Array4<T> {
        Array4::from_shape_fn((channels, 3, 5, 7), |(c, z, y, x)| {
            let value = (c * 40_000 + z * 10_007 + y * 1_009 + x * 101) % (1 << (8 * T::SIZE));
            T::try_from(value).ok().unwrap()
        })
    }

    fn decode<T: Element>(buf: &[u8], channels: usize, pixels: usize) -> Result<Vec<T>> {
        let mut planes = vec![T::default(); pixels * channels];
        Reader::new(buf, channels, T::SIZE, Some(pixels))?.decode_into(&mut planes)?;
        Ok(planes)
    }

    #[test]
    fn round_trips_8_and_16_bits_at_any_level_and_width() {
        for channels in 1..=4 {
            let small = ramp::<u8>(channels);
            let large = ramp::<u16>(channels);
            for (level, width) in [(0, 7), (1, 35), (6, 105), (9, 1)] {
                let encoded = encode(small.view(), width, level).unwrap();
                assert_eq!(
                    decode::<u8>(&encoded, channels, 105).unwrap(),
                    small.as_slice().unwrap()
                );
                let encoded = encode(large.view(), width, level).unwrap();
                assert_eq!(
                    decode::<u16>(&encoded, channels, 105).unwrap(),
                    large.as_slice().unwrap()
                );
            }
        }
    }

    #[test]
    fn stores_16_bit_samples_big_endian_and_interleaved() {
        let chunk =
            Array4::from_shape_vec((2, 1, 1, 2), vec![0x0102u16, 0x0304, 0x0506, 0x0708]).unwrap();
        let encoded = encode(chunk.view(), 2, 0).unwrap();
        let header = &encoded[16..26];
        assert_eq!(header, [0, 0, 0, 2, 0, 0, 0, 1, 16, 4]);
        // Stored rows: filter byte 0, then greyscale+alpha pixels of big-endian samples.
        let row = [0, 1, 2, 5, 6, 3, 4, 7, 8];
        assert!(encoded.windows(row.len()).any(|w| w == row));
    }

    #[test]
    fn wrong_pixel_formats_sizes_and_damage_are_invalid_formats() {
        let rgb = encode(ramp::<u8>(3).view(), 7, 6).unwrap();
        let error = decode::<u16>(&rgb, 3, 105).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("8-bit RGB pixels instead of 16-bit RGB"),
            "{error}"
        );
        let error = decode::<u8>(&rgb, 4, 105).unwrap_err();
        assert!(
            error.to_string().contains("instead of 8-bit RGBA"),
            "{error}"
        );
        for pixels in [104, 106] {
            let error = decode::<u8>(&rgb, 3, pixels).unwrap_err();
            assert!(error.to_string().contains("incompatible shape"), "{error}");
        }
        let error = Reader::new(&rgb, 3, 1, None).err().unwrap();
        assert!(
            error.to_string().contains("more than any image holds"),
            "{error}"
        );
        for end in [0, 8, 20, 40, rgb.len() - 1] {
            let error = decode::<u8>(&rgb[..end], 3, 105).unwrap_err();
            assert!(
                matches!(error, crate::Error::InvalidFormat(_)),
                "{end}: {error}"
            );
        }
        // A damaged header fails its CRC check (damaged image data may fail inflating first).
        let mut damaged = rgb.clone();
        damaged[20] ^= 1;
        let error = decode::<u8>(&damaged, 3, 105).unwrap_err();
        assert!(error.to_string().contains("CRC"), "{error}");
    }

    #[test]
    fn damaged_files_decode_or_fail_as_invalid_formats_never_panic() {
        let chunk = Array4::from_shape_fn((2, 4, 9, 11), |(c, z, y, x)| {
            ((x * x + 3 * y + 50 * z + 1000 * c) % 65_536) as u16
        });
        let pixels = chunk.len() / 2;
        for level in [0, 6] {
            let valid = encode(chunk.view(), 11, level).unwrap();
            crate::mutations::for_each_mutation(&valid, SIGNATURE.len(), 300, |damaged| {
                if let Err(error) = decode::<u16>(damaged, 2, pixels) {
                    assert!(matches!(error, crate::Error::InvalidFormat(_)), "{error}");
                }
            });
        }
    }

    #[test]
    fn a_header_claiming_a_huge_image_allocates_nothing_for_it() {
        let mut huge = encode(ramp::<u8>(1).view(), 7, 6).unwrap();
        huge[16..24].copy_from_slice(&[0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]);
        let crc = crc32(&huge[12..29]);
        huge[29..33].copy_from_slice(&crc.to_be_bytes());
        let error = decode::<u8>(&huge, 1, 105).unwrap_err();
        assert!(error.to_string().contains("incompatible shape"), "{error}");
        // Claimed exactly, the rows are refused before they are allocated.
        let claimed = Some((1usize << 31) - 1).map(|side| side * side);
        let error = Reader::new(&huge, 1, 1, claimed).err().unwrap();
        assert!(matches!(error, crate::Error::InvalidFormat(_)), "{error}");
    }

    /// PNG's CRC-32 (of a chunk's type and data), bit by bit.
    fn crc32(bytes: &[u8]) -> u32 {
        !bytes.iter().fold(!0u32, |crc, &byte| {
            (0..8).fold(crc ^ u32::from(byte), |crc, _| {
                (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg())
            })
        })
    }

    #[test]
    fn bad_arguments_are_invalid_arguments() {
        let chunk = ramp::<u8>(1);
        for (width, level) in [(0, 6), (8, 6), (7, 10)] {
            let error = encode(chunk.view(), width, level).unwrap_err();
            assert!(matches!(error, crate::Error::InvalidArgument(_)), "{error}");
        }
        let error = encode(ramp::<u8>(5).view(), 7, 6).unwrap_err();
        assert!(error.to_string().contains("1 to 4 channels"), "{error}");
        let error = encode(Array4::<u32>::zeros((1, 1, 1, 1)).view(), 1, 6).unwrap_err();
        assert!(error.to_string().contains("of 32"), "{error}");
    }
}
