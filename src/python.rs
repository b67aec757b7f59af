//! The `ngcodec._native` extension: borrows NumPy buffers, releases the GIL around codec work and
//! turns codec errors into Python exceptions. No codec logic lives here.

use ndarray::ArrayView4;
use numpy::{PyArray4, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray4};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes};

use crate::compressed_segmentation::{self, Label, Shape3};
use crate::element::Element;
use crate::error::Error;
use crate::raw;

pyo3::import_exception!(ngcodec.chunk_encoding, InvalidFormatError);

fn to_py_err(error: Error) -> PyErr {
    match error {
        Error::InvalidFormat(message) => InvalidFormatError::new_err(message),
        Error::InvalidArgument(message) => PyValueError::new_err(message),
    }
}

/// A (C, Z, Y, X) chunk of unsigned values, in any layout; signed and float data arrive viewed as
/// the unsigned type of the same size.
#[derive(FromPyObject)]
enum RawChunk<'py> {
    U8(PyReadonlyArray4<'py, u8>),
    U16(PyReadonlyArray4<'py, u16>),
    U32(PyReadonlyArray4<'py, u32>),
    U64(PyReadonlyArray4<'py, u64>),
}

/// An encoded chunk: `bytes` as they are (immutable, so readable without the GIL), or any other
/// buffer as a uint8 array.
#[derive(FromPyObject)]
enum EncodedChunk<'py> {
    Bytes(Bound<'py, PyBytes>),
    Array(PyReadonlyArray1<'py, u8>),
}

#[derive(FromPyObject)]
enum LabelChunk<'py> {
    U32(PyReadonlyArray4<'py, u32>),
    U64(PyReadonlyArray4<'py, u64>),
}

/// Encodes a chunk to raw bytes (little-endian, x fastest).
#[pyfunction]
fn raw_encode<'py>(
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
fn compressed_segmentation_encode<'py>(
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
fn compressed_segmentation_decode<'py>(
    py: Python<'py>,
    buf: EncodedChunk<'py>,
    chunk_size: Shape3,
    num_channels: usize,
    block_size: Shape3,
    label_bytes: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let buf = match &buf {
        EncodedChunk::Bytes(bytes) => bytes.as_bytes(),
        EncodedChunk::Array(array) => array.as_slice()?,
    };
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

/// A new C-order array for the decoder to fill, or a Python exception if it cannot be had:
/// `ValueError` when its size overflows, `MemoryError` from NumPy when it cannot be allocated
/// (`PyArray4::zeros` would panic instead, for a header that passes its check but asks for a huge
/// chunk). Not zeroed: the decoder writes every voxel, and the array is dropped if it fails.
fn empty<'py, T: Element + numpy::Element>(
    py: Python<'py>,
    shape: [usize; 4],
) -> PyResult<Bound<'py, PyArray4<T>>> {
    let bytes = shape
        .iter()
        .try_fold(T::SIZE, |bytes, &axis| bytes.checked_mul(axis))
        .filter(|&bytes| isize::try_from(bytes).is_ok());
    if bytes.is_none() {
        return Err(PyValueError::new_err(format!(
            "a chunk of shape {shape:?} (C, Z, Y, X) is too large for any array"
        )));
    }
    // Looked up once: an import per call would hold the GIL long enough to slow threads.
    static NUMPY_EMPTY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let numpy_empty = NUMPY_EMPTY.import(py, "numpy", "empty")?;
    let array = numpy_empty.call1((shape, numpy::dtype::<T>(py)))?;
    Ok(array.cast_into::<PyArray4<T>>()?)
}

/// Fast codecs for Neuroglancer precomputed chunks.
#[pymodule]
mod _native {
    #[pymodule_export]
    use super::{compressed_segmentation_decode, compressed_segmentation_encode, raw_encode};
}
