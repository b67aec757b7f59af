//! Bindings of gzip compression and gzip and zlib decompression.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::codecs::EncodedChunk;
use super::to_py_err;

use crate::gzip;

/// Compresses `data` into one gzip member with a zero timestamp.
#[pyfunction]
pub(super) fn gzip_compress<'py>(
    py: Python<'py>,
    data: EncodedChunk<'py>,
    level: i32,
) -> PyResult<Bound<'py, PyBytes>> {
    bytes_from(py, &data, |data| gzip::compress(data, level))
}

/// Inflates one gzip member of at most `max_size` bytes, straight into the returned bytes.
#[pyfunction]
pub(super) fn gzip_decompress<'py>(
    py: Python<'py>,
    data: EncodedChunk<'py>,
    max_size: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let data = data.as_bytes()?;
    let len = gzip::decompressed_len(data, max_size).map_err(to_py_err)?;
    PyBytes::new_with(py, len, |out| {
        py.detach(|| gzip::decompress_into(data, out))
            .map_err(to_py_err)
    })
}

/// Inflates one zlib stream of at most `max_size` bytes.
#[pyfunction]
pub(super) fn zlib_decompress<'py>(
    py: Python<'py>,
    data: EncodedChunk<'py>,
    max_size: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    bytes_from(py, &data, |data| gzip::decompress_zlib(data, max_size))
}

/// The output of `codec`, run over the borrowed bytes without the GIL, as `bytes`.
fn bytes_from<'py>(
    py: Python<'py>,
    data: &EncodedChunk<'py>,
    codec: impl FnOnce(&[u8]) -> crate::Result<Vec<u8>> + Send,
) -> PyResult<Bound<'py, PyBytes>> {
    let data = data.as_bytes()?;
    let out = py.detach(|| codec(data)).map_err(to_py_err)?;
    Ok(PyBytes::new(py, &out))
}
