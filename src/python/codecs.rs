//! Bindings of the chunk codecs (raw, compressed_segmentation).

use ndarray::ArrayView4;
use numpy::{PyArrayMethods, PyReadonlyArray1, PyReadonlyArray4};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes};

use super::{empty, to_py_err};

use crate::compressed_segmentation::{self, Label, Shape3};
use crate::element::Element;
use crate::raw;

/// A (C, Z, Y, X) chunk of unsigned values, in any layout; signed and float data arrive viewed as
/// the unsigned type of the same size.
#[derive(FromPyObject)]
pub(super) enum RawChunk<'py> {
    U8(PyReadonlyArray4<'py, u8>),
    U16(PyReadonlyArray4<'py, u16>),
    U32(PyReadonlyArray4<'py, u32>),
    U64(PyReadonlyArray4<'py, u64>),
}

/// An encoded chunk: `bytes` as they are (immutable, so readable without the GIL), or any other
/// buffer as a uint8 array.
#[derive(FromPyObject)]
pub(super) enum EncodedChunk<'py> {
    Bytes(Bound<'py, PyBytes>),
    Array(PyReadonlyArray1<'py, u8>),
}

impl EncodedChunk<'_> {
    /// The bytes, borrowed in place.
    pub(super) fn as_bytes(&self) -> PyResult<&[u8]> {
        Ok(match self {
            EncodedChunk::Bytes(bytes) => bytes.as_bytes(),
            EncodedChunk::Array(array) => array.as_slice()?,
        })
    }
}

#[derive(FromPyObject)]
pub(super) enum LabelChunk<'py> {
    U32(PyReadonlyArray4<'py, u32>),
    U64(PyReadonlyArray4<'py, u64>),
}

/// Encodes a chunk to raw bytes (little-endian, x fastest).
#[pyfunction]
pub(super) fn raw_encode<'py>(
    py: Python<'py>,
    chunk: RawChunk<'py>,
    byteswapped: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    match &chunk {
        RawChunk::U8(array) => raw_encode_view(py, array.as_array(), byteswapped),
        RawChunk::U16(array) => raw_encode_view(py, array.as_array(), byteswapped),
        RawChunk::U32(array) => raw_encode_view(py, array.as_array(), byteswapped),
        RawChunk::U64(array) => raw_encode_view(py, array.as_array(), byteswapped),
    }
}

fn raw_encode_view<'py, T: Element>(
    py: Python<'py>,
    chunk: ArrayView4<'_, T>,
    byteswapped: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    let len = raw::encoded_len::<T>(chunk.len())
        .ok_or_else(|| PyValueError::new_err("chunk is too large"))?;
    PyBytes::new_with(py, len, |out| {
        py.detach(|| raw::encode_into(chunk, byteswapped, out))
            .map_err(to_py_err)
    })
}

/// Encodes a (C, Z, Y, X) uint32 or uint64 chunk to compressed_segmentation.
#[pyfunction]
pub(super) fn compressed_segmentation_encode<'py>(
    py: Python<'py>,
    chunk: LabelChunk<'py>,
    block_size: Shape3,
    byteswapped: bool,
) -> PyResult<Bound<'py, PyByteArray>> {
    let encoded = match &chunk {
        LabelChunk::U32(array) => {
            let view = array.as_array();
            py.detach(|| compressed_segmentation::encode(view, block_size, byteswapped))
        }
        LabelChunk::U64(array) => {
            let view = array.as_array();
            py.detach(|| compressed_segmentation::encode(view, block_size, byteswapped))
        }
    };
    Ok(PyByteArray::new(py, &encoded.map_err(to_py_err)?))
}

/// Decodes compressed_segmentation into a new (C, Z, Y, X) array of uint32 or uint64 labels,
/// as `label_bytes` says.
#[pyfunction]
pub(super) fn compressed_segmentation_decode<'py>(
    py: Python<'py>,
    buf: EncodedChunk<'py>,
    chunk_size: Shape3,
    num_channels: usize,
    block_size: Shape3,
    label_bytes: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let buf = buf.as_bytes()?;
    match label_bytes {
        4 => decode_labels::<u32>(py, buf, chunk_size, num_channels, block_size),
        8 => decode_labels::<u64>(py, buf, chunk_size, num_channels, block_size),
        other => Err(PyValueError::new_err(format!(
            "compressed_segmentation labels are 4 or 8 bytes (uint32 or uint64), not {other}"
        ))),
    }
}

fn decode_labels<'py, T: Label + numpy::Element>(
    py: Python<'py>,
    buf: &[u8],
    chunk_size: Shape3,
    num_channels: usize,
    block_size: Shape3,
) -> PyResult<Bound<'py, PyAny>> {
    // Validate the header before allocating, so a tiny buffer cannot claim a huge chunk.
    compressed_segmentation::check_header(buf, chunk_size, block_size, num_channels)
        .map_err(to_py_err)?;
    let [x, y, z] = chunk_size;
    let array = empty::<T>(py, [num_channels, z, y, x])?;
    {
        let mut writable = array.try_readwrite()?;
        let out = writable.as_slice_mut()?;
        py.detach(|| {
            compressed_segmentation::decode_into(buf, chunk_size, block_size, num_channels, out)
        })
        .map_err(to_py_err)?;
    }
    Ok(array.into_any())
}
