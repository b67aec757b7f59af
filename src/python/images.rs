//! Bindings of the image and segmentation codecs beside Neuroglancer's own (jpeg, png,
//! compresso).

use numpy::{PyArrayMethods, PyReadonlyArray4};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::codecs::EncodedChunk;
use super::{empty, to_py_err};

use crate::compressed_segmentation::Shape3;
use crate::compresso;
use crate::element::Element;
use crate::jpeg;
use crate::png;

/// A (C, Z, Y, X) chunk of an image format's samples, in any layout.
#[derive(FromPyObject)]
pub(super) enum ImageChunk<'py> {
    U8(PyReadonlyArray4<'py, u8>),
    U16(PyReadonlyArray4<'py, u16>),
}

/// Encodes a (C, Z, Y, X) uint8 chunk of 1 or 3 channels as a JPEG image `width` pixels wide.
#[pyfunction]
pub(super) fn jpeg_encode<'py>(
    py: Python<'py>,
    chunk: PyReadonlyArray4<'py, u8>,
    width: usize,
    quality: u8,
    progressive: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    let mode = if progressive {
        jpeg::Mode::Progressive
    } else {
        jpeg::Mode::Baseline
    };
    let view = chunk.as_array();
    let encoded = py
        .detach(|| jpeg::encode(view, width, quality, mode))
        .map_err(to_py_err)?;
    Ok(PyBytes::new(py, &encoded))
}

/// Decodes a JPEG into a new (C, Z, Y, X) uint8 array of `num_channels` (1 or 3) channels.
#[pyfunction]
pub(super) fn jpeg_decode<'py>(
    py: Python<'py>,
    buf: EncodedChunk<'py>,
    chunk_size: Shape3,
    num_channels: usize,
) -> PyResult<Bound<'py, PyAny>> {
    if !matches!(num_channels, 1 | 3) {
        return Err(PyValueError::new_err(format!(
            "JPEG chunks have 1 or 3 channels, not {num_channels}"
        )));
    }
    let buf = buf.as_bytes()?;
    let [x, y, z] = chunk_size;
    // The header is checked before the output is allocated: a tiny file cannot claim a huge chunk.
    let reader =
        jpeg::Reader::new(buf, num_channels, pixel_count(chunk_size)).map_err(to_py_err)?;
    decode_new::<u8>(py, [num_channels, z, y, x], |planes| {
        reader.decode_into(planes)
    })
}

/// The pixels of an image of a chunk's voxels, or None if they cannot be counted.
fn pixel_count([x, y, z]: Shape3) -> Option<usize> {
    x.checked_mul(y).and_then(|xy| xy.checked_mul(z))
}

/// A new (C, Z, Y, X) array of `shape`, filled by `decode` with the GIL released.
fn decode_new<'py, T: numpy::Element>(
    py: Python<'py>,
    shape: [usize; 4],
    decode: impl FnOnce(&mut [T]) -> crate::Result<()> + Send,
) -> PyResult<Bound<'py, PyAny>> {
    let array = empty::<T>(py, shape)?;
    {
        let mut writable = array.try_readwrite()?;
        let out = writable.as_slice_mut()?;
        py.detach(|| decode(out)).map_err(to_py_err)?;
    }
    Ok(array.into_any())
}

/// Encodes a (C, Z, Y, X) uint8 or uint16 chunk of 1 to 4 channels as a PNG image `width` pixels
/// wide, at zlib `level` 0 to 9.
#[pyfunction]
pub(super) fn png_encode<'py>(
    py: Python<'py>,
    chunk: ImageChunk<'py>,
    width: usize,
    level: u8,
) -> PyResult<Bound<'py, PyBytes>> {
    let encoded = match &chunk {
        ImageChunk::U8(array) => {
            let view = array.as_array();
            py.detach(|| png::encode(view, width, level))
        }
        ImageChunk::U16(array) => {
            let view = array.as_array();
            py.detach(|| png::encode(view, width, level))
        }
    }
    .map_err(to_py_err)?;
    Ok(PyBytes::new(py, &encoded))
}

/// Decodes a PNG into a new (C, Z, Y, X) array of `num_channels` (1 to 4) channels of
/// `sample_bytes` (1: uint8, 2: uint16).
#[pyfunction]
pub(super) fn png_decode<'py>(
    py: Python<'py>,
    buf: EncodedChunk<'py>,
    chunk_size: Shape3,
    num_channels: usize,
    sample_bytes: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let buf = buf.as_bytes()?;
    let [x, y, z] = chunk_size;
    // The header is checked before the output is allocated: a tiny file cannot claim a huge chunk.
    let reader = png::Reader::new(buf, num_channels, sample_bytes, pixel_count(chunk_size))
        .map_err(to_py_err)?;
    let shape = [num_channels, z, y, x];
    if sample_bytes == 1 {
        decode_new::<u8>(py, shape, |planes| reader.decode_into(planes))
    } else {
        decode_new::<u16>(py, shape, |planes| reader.decode_into(planes))
    }
}

/// Decodes compresso into a new (1, Z, Y, X) array of unsigned labels of `label_bytes` bytes.
#[pyfunction]
pub(super) fn compresso_decode<'py>(
    py: Python<'py>,
    buf: EncodedChunk<'py>,
    chunk_size: Shape3,
    label_bytes: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let buf = buf.as_bytes()?;
    match label_bytes {
        1 => decode_compresso::<u8>(py, buf, chunk_size),
        2 => decode_compresso::<u16>(py, buf, chunk_size),
        4 => decode_compresso::<u32>(py, buf, chunk_size),
        8 => decode_compresso::<u64>(py, buf, chunk_size),
        other => Err(PyValueError::new_err(format!(
            "compresso labels are 1, 2, 4 or 8 bytes, not {other}"
        ))),
    }
}

fn decode_compresso<'py, T: Element + numpy::Element>(
    py: Python<'py>,
    buf: &[u8],
    chunk_size: Shape3,
) -> PyResult<Bound<'py, PyAny>> {
    // The header is checked before the output is allocated: a tiny file cannot claim a huge chunk.
    compresso::check_header(buf, chunk_size, T::SIZE).map_err(to_py_err)?;
    let [x, y, z] = chunk_size;
    decode_new::<T>(py, [1, z, y, x], |out| {
        compresso::decode_into(buf, chunk_size, out)
    })
}
