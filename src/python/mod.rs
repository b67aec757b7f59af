//! The `ngcodec._native` extension: borrows NumPy buffers, releases the GIL around Rust work and
//! turns Rust errors into Python exceptions. No codec or kernel logic lives here; one file per
//! area of the library.

use numpy::PyArray4;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::error::Error;

mod batch;
mod codecs;
mod downsample;
mod gzip;
mod images;
mod sharding;

pyo3::import_exception!(ngcodec.chunk_encoding, InvalidFormatError);

fn to_py_err(error: Error) -> PyErr {
    match error {
        Error::InvalidFormat(message) => InvalidFormatError::new_err(message),
        Error::InvalidArgument(message) => PyValueError::new_err(message),
    }
}

/// A new C-order array for the decoder to fill, or a Python exception if it cannot be had:
/// `ValueError` when its size overflows, `MemoryError` from NumPy when it cannot be allocated
/// (`PyArray4::zeros` would panic instead, for a header that passes its check but asks for a huge
/// chunk). Not zeroed: the decoder writes every voxel, and the array is dropped if it fails.
fn empty<'py, T: numpy::Element>(
    py: Python<'py>,
    shape: [usize; 4],
) -> PyResult<Bound<'py, PyArray4<T>>> {
    let bytes = shape
        .iter()
        .try_fold(size_of::<T>(), |bytes, &axis| bytes.checked_mul(axis))
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

/// Fast codecs for Neuroglancer precomputed chunks, and the sharded format's core.
// No GIL needed: nothing mutable is shared (PyOnceLock statics, gzip compressors per thread).
#[pymodule(gil_used = false)]
mod _native {
    /// The crate's version, which is also the Python package's (pyproject takes it from Cargo).
    #[allow(non_upper_case_globals)]
    #[pymodule_export]
    const __version__: &str = env!("CARGO_PKG_VERSION");

    #[pymodule_export]
    use super::batch::{decode_chunks, encode_chunks};
    #[pymodule_export]
    use super::codecs::{
        compressed_segmentation_decode, compressed_segmentation_encode, raw_encode,
    };
    #[pymodule_export]
    use super::downsample::{downsample, downsample_geometry};
    #[pymodule_export]
    use super::gzip::{gzip_compress, gzip_decompress, zlib_decompress};
    #[pymodule_export]
    use super::images::{compresso_decode, jpeg_decode, jpeg_encode, png_decode, png_encode};
    #[pymodule_export]
    use super::sharding::{
        morton_decode, morton_encode, murmurhash3_x86_128, sharding_find_chunk, sharding_layout,
        sharding_locate, sharding_locate_one, sharding_parse_minishard_index,
        sharding_parse_shard_index, sharding_write,
    };
}
