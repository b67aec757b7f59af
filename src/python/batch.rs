//! Bindings of the batch calls: many chunks decoded into one array, or encoded from one.

use numpy::{PyReadonlyArray4, PyReadwriteArray4};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::codecs::{EncodedChunk, RawChunk};
use super::to_py_err;

use crate::batch::{
    self, BatchError, ChunkCodec, CompressedSegmentation, Placement, Raw, StoredChunk,
};
use crate::compressed_segmentation::Shape3;
use crate::element::Element;

/// A (C, Z, Y, X) array to decode into, of unsigned values (other types viewed as those).
#[derive(FromPyObject)]
pub(super) enum WritableChunks<'py> {
    U8(PyReadwriteArray4<'py, u8>),
    U16(PyReadwriteArray4<'py, u16>),
    U32(PyReadwriteArray4<'py, u32>),
    U64(PyReadwriteArray4<'py, u64>),
}

/// The encoding of a batch, from its name and block size.
enum Codec {
    Raw,
    CompressedSegmentation(CompressedSegmentation),
}

impl Codec {
    fn new(encoding: &str, block_size: Option<Shape3>) -> PyResult<Self> {
        match (encoding, block_size) {
            ("raw", _) => Ok(Codec::Raw),
            ("compressed_segmentation", Some(block)) => {
                Ok(Codec::CompressedSegmentation(CompressedSegmentation {
                    block,
                }))
            }
            ("compressed_segmentation", None) => Err(PyValueError::new_err(
                "compressed_segmentation needs a block_size",
            )),
            (other, _) => Err(PyValueError::new_err(format!(
                "encoding must be raw or compressed_segmentation, not {other:?}"
            ))),
        }
    }
}

/// Calls `$function(codec, array, ...)` with the batch's codec and the array of its value type.
macro_rules! with_codec {
    ($codec:expr, $array:expr, $enum:ident, $function:ident($($arg:expr),*)) => {
        match ($codec, $array) {
            (Codec::Raw, $enum::U8(array)) => $function(&Raw, array, $($arg),*),
            (Codec::Raw, $enum::U16(array)) => $function(&Raw, array, $($arg),*),
            (Codec::Raw, $enum::U32(array)) => $function(&Raw, array, $($arg),*),
            (Codec::Raw, $enum::U64(array)) => $function(&Raw, array, $($arg),*),
            (Codec::CompressedSegmentation(codec), $enum::U32(array)) => {
                $function(&codec, array, $($arg),*)
            }
            (Codec::CompressedSegmentation(codec), $enum::U64(array)) => {
                $function(&codec, array, $($arg),*)
            }
            (Codec::CompressedSegmentation(_), _) => Err(PyValueError::new_err(
                "compressed_segmentation labels are uint32 or uint64",
            )),
        }
    };
}

/// Decodes the chunks that `out` meets into it, on `threads` threads without the GIL: `chunks`
/// in the grid's order, each `(bytes, gzipped)` or None (left as it is).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (out, chunks, *, encoding, block_size, chunk_size, volume_size, start, max_inflated, threads))]
pub(super) fn decode_chunks<'py>(
    py: Python<'py>,
    mut out: WritableChunks<'py>,
    chunks: Vec<Option<(EncodedChunk<'py>, bool)>>,
    encoding: &str,
    block_size: Option<Shape3>,
    chunk_size: Shape3,
    volume_size: Shape3,
    start: Shape3,
    max_inflated: usize,
    threads: usize,
) -> PyResult<()> {
    let codec = Codec::new(encoding, block_size)?;
    let placement = Placement {
        chunk_size,
        volume_size,
        start,
    };
    let mut stored = Vec::with_capacity(chunks.len());
    for chunk in &chunks {
        stored.push(match chunk {
            Some((data, gzipped)) => Some(StoredChunk {
                data: data.as_bytes()?,
                gzipped: *gzipped,
            }),
            None => None,
        });
    }
    let (placement, stored) = (&placement, &stored[..]);
    with_codec!(
        codec,
        &mut out,
        WritableChunks,
        decode_into(py, placement, stored, max_inflated, threads)
    )
}

fn decode_into<T: Element + numpy::Element, C: ChunkCodec<T>>(
    codec: &C,
    out: &mut PyReadwriteArray4<'_, T>,
    py: Python<'_>,
    placement: &Placement,
    chunks: &[Option<StoredChunk<'_>>],
    max_inflated: usize,
    threads: usize,
) -> PyResult<()> {
    let view = out.as_array_mut();
    py.detach(|| batch::decode_chunks(codec, placement, chunks, max_inflated, view, threads))
        .map_err(|error| batch_error(py, error))
}

/// Encodes the chunks at `which` (indexes in the grid's order) of `slab`, a (C, Z, Y, X) array
/// of whole chunks, each gzipped at `gzip_level` if given, on `threads` threads without the GIL.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (slab, which, *, byteswapped, encoding, block_size, chunk_size, volume_size, start, gzip_level, threads))]
pub(super) fn encode_chunks<'py>(
    py: Python<'py>,
    slab: RawChunk<'py>,
    which: Vec<usize>,
    byteswapped: bool,
    encoding: &str,
    block_size: Option<Shape3>,
    chunk_size: Shape3,
    volume_size: Shape3,
    start: Shape3,
    gzip_level: Option<i32>,
    threads: usize,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let codec = Codec::new(encoding, block_size)?;
    let placement = Placement {
        chunk_size,
        volume_size,
        start,
    };
    let (placement, which) = (&placement, &which[..]);
    let encoded = with_codec!(
        codec,
        &slab,
        RawChunk,
        encode_from(py, placement, byteswapped, which, gzip_level, threads)
    )?;
    Ok(encoded
        .iter()
        .map(|bytes| PyBytes::new(py, bytes))
        .collect())
}

#[allow(clippy::too_many_arguments)]
fn encode_from<T: Element + numpy::Element, C: ChunkCodec<T>>(
    codec: &C,
    slab: &PyReadonlyArray4<'_, T>,
    py: Python<'_>,
    placement: &Placement,
    byteswapped: bool,
    which: &[usize],
    gzip_level: Option<i32>,
    threads: usize,
) -> PyResult<Vec<Vec<u8>>> {
    let view = slab.as_array();
    py.detach(|| {
        batch::encode_chunks(
            codec,
            placement,
            view,
            byteswapped,
            which,
            gzip_level,
            threads,
        )
    })
    .map_err(|error| batch_error(py, error))
}

/// A batch's error as Python's: a chunk's carries its index in the batch as `chunk_index`.
fn batch_error(py: Python<'_>, error: BatchError) -> PyErr {
    match error {
        BatchError::Arguments(error) => to_py_err(error),
        BatchError::Chunk { index, error } => {
            let error = to_py_err(error);
            match error.value(py).setattr("chunk_index", index) {
                Ok(()) => error,
                Err(failure) => failure,
            }
        }
    }
}
