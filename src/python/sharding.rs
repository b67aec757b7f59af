//! Bindings of the sharded format's core: Morton codes, hashing, shard building, index parsing.
//! Sharding specs arrive as `(preshift_bits, hash, minishard_bits, shard_bits)` tuples; chunk
//! ids and positions as uint64 arrays, positions (n, 3) in (x, y, z) order.

use ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::codecs::EncodedChunk;
use super::to_py_err;

use crate::sharding::{self, HashFunction, Location, MortonGrid, ShardingSpec};

type SpecTuple = (u32, String, u32, u32);

fn spec_from(
    (preshift_bits, hash, minishard_bits, shard_bits): SpecTuple,
) -> PyResult<ShardingSpec> {
    let hash = match hash.as_str() {
        "identity" => HashFunction::Identity,
        "murmurhash3_x86_128" => HashFunction::MurmurHash3X86_128,
        other => {
            return Err(PyValueError::new_err(format!(
                "hash must be \"identity\" or \"murmurhash3_x86_128\", not {other:?}"
            )))
        }
    };
    ShardingSpec::new(preshift_bits, hash, minishard_bits, shard_bits).map_err(to_py_err)
}

fn bytes_of<'a>(chunk: &'a EncodedChunk<'_>) -> PyResult<&'a [u8]> {
    Ok(match chunk {
        EncodedChunk::Bytes(bytes) => bytes.as_bytes(),
        EncodedChunk::Array(array) => array.as_slice()?,
    })
}

/// A (rows, n) uint64 array from `rows` columns laid out one after the other.
fn rows_array<'py>(
    py: Python<'py>,
    rows: usize,
    values: Vec<u64>,
) -> PyResult<Bound<'py, PyArray2<u64>>> {
    let columns = values.len() / rows;
    let array = Array2::from_shape_vec((rows, columns), values)
        .map_err(|error| PyValueError::new_err(error.to_string()))?;
    Ok(array.into_pyarray(py))
}

/// The compressed Morton codes (chunk ids) of C-contiguous (n, 3) grid positions in a grid of
/// `grid_shape`.
#[pyfunction]
pub(super) fn morton_encode<'py>(
    py: Python<'py>,
    positions: PyReadonlyArray2<'py, u64>,
    grid_shape: [u64; 3],
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let grid = MortonGrid::new(grid_shape).map_err(to_py_err)?;
    let positions = positions.as_slice()?;
    if positions.len() % 3 != 0 {
        return Err(PyValueError::new_err("positions must have shape (n, 3)"));
    }
    let codes = py
        .detach(|| {
            let rows = positions.chunks_exact(3);
            grid.codes(rows.map(|row| [row[0], row[1], row[2]]))
        })
        .map_err(to_py_err)?;
    Ok(codes.into_pyarray(py))
}

/// The (n, 3) grid positions of compressed Morton codes in a grid of `grid_shape`.
#[pyfunction]
pub(super) fn morton_decode<'py>(
    py: Python<'py>,
    codes: PyReadonlyArray1<'py, u64>,
    grid_shape: [u64; 3],
) -> PyResult<Bound<'py, PyArray2<u64>>> {
    let grid = MortonGrid::new(grid_shape).map_err(to_py_err)?;
    let codes = codes.as_array();
    let positions = py
        .detach(|| grid.positions(codes.iter().copied()))
        .map_err(to_py_err)?;
    let array = Array2::from_shape_fn((positions.len(), 3), |(i, axis)| positions[i][axis]);
    Ok(array.into_pyarray(py))
}

/// The low 64 bits of MurmurHash3_x86_128 (seed 0) of each value's 8 little-endian bytes.
#[pyfunction]
pub(super) fn murmurhash3_x86_128<'py>(
    py: Python<'py>,
    values: PyReadonlyArray1<'py, u64>,
) -> Bound<'py, PyArray1<u64>> {
    let values = values.as_array();
    let hashes: Vec<u64> = py.detach(|| {
        values
            .iter()
            .map(|&v| sharding::murmurhash3_x86_128(v))
            .collect()
    });
    hashes.into_pyarray(py)
}

/// The (2, n) shard and minishard numbers of chunk ids.
#[pyfunction]
pub(super) fn sharding_locate<'py>(
    py: Python<'py>,
    spec: SpecTuple,
    ids: PyReadonlyArray1<'py, u64>,
) -> PyResult<Bound<'py, PyArray2<u64>>> {
    let spec = spec_from(spec)?;
    let ids = ids.as_array();
    let locations: Vec<Location> = py.detach(|| ids.iter().map(|&id| spec.locate(id)).collect());
    let shards = locations.iter().map(|l| l.shard);
    let values = shards
        .chain(locations.iter().map(|l| l.minishard))
        .collect();
    rows_array(py, 2, values)
}

/// The (shard, minishard) of one chunk id.
#[pyfunction]
pub(super) fn sharding_locate_one(spec: SpecTuple, id: u64) -> PyResult<(u64, u64)> {
    let location = spec_from(spec)?.locate(id);
    Ok((location.shard, location.minishard))
}

/// The layout of one shard: the order to write the chunks in, the minishards that hold them, and
/// their raw minishard indexes.
#[pyfunction]
#[allow(clippy::type_complexity)]
pub(super) fn sharding_layout<'py>(
    py: Python<'py>,
    spec: SpecTuple,
    ids: PyReadonlyArray1<'py, u64>,
    sizes: PyReadonlyArray1<'py, u64>,
) -> PyResult<(
    Bound<'py, PyArray1<usize>>,
    Bound<'py, PyArray1<u64>>,
    Vec<Bound<'py, PyBytes>>,
)> {
    let spec = spec_from(spec)?;
    let (ids, sizes) = (ids.as_slice()?, sizes.as_slice()?);
    let layout = py
        .detach(|| sharding::layout_shard(&spec, ids, sizes))
        .map_err(to_py_err)?;
    let indexes = layout
        .indexes
        .iter()
        .map(|index| PyBytes::new(py, index))
        .collect();
    Ok((
        layout.order.into_pyarray(py),
        layout.minishards.into_pyarray(py),
        indexes,
    ))
}

/// A shard file: the shard index, `chunks` in layout order, then the encoded minishard `indexes`
/// of `minishards`.
#[pyfunction]
pub(super) fn sharding_write<'py>(
    py: Python<'py>,
    spec: SpecTuple,
    chunks: Vec<EncodedChunk<'py>>,
    minishards: PyReadonlyArray1<'py, u64>,
    indexes: Vec<EncodedChunk<'py>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let spec = spec_from(spec)?;
    let chunks = chunks.iter().map(bytes_of).collect::<PyResult<Vec<_>>>()?;
    let indexes = indexes.iter().map(bytes_of).collect::<PyResult<Vec<_>>>()?;
    let minishards = minishards.as_slice()?;
    let len = sharding::shard_len(&spec, &chunks, &indexes)
        .ok_or_else(|| PyValueError::new_err("the shard is too large"))?;
    PyBytes::new_with(py, len, |out| {
        py.detach(|| sharding::write_shard(&spec, &chunks, minishards, &indexes, out))
            .map_err(to_py_err)
    })
}

/// Shard index entries for minishards from `first_minishard`, as an (n, 2) array of [start, end)
/// ranges from the start of the file.
#[pyfunction]
pub(super) fn sharding_parse_shard_index<'py>(
    py: Python<'py>,
    spec: SpecTuple,
    first_minishard: u64,
    buf: EncodedChunk<'py>,
) -> PyResult<Bound<'py, PyArray2<u64>>> {
    let spec = spec_from(spec)?;
    let buf = bytes_of(&buf)?;
    let ranges = py
        .detach(|| sharding::parse_shard_index(&spec, first_minishard, buf))
        .map_err(to_py_err)?;
    let array = Array2::from_shape_fn((ranges.len(), 2), |(i, end)| {
        if end == 0 {
            ranges[i].start
        } else {
            ranges[i].end
        }
    });
    Ok(array.into_pyarray(py))
}

/// A decoded minishard index of minishard `minishard` of shard `shard`, as a (3, n) array: chunk
/// ids (increasing), then the start and end of each chunk's bytes from the start of the file.
#[pyfunction]
pub(super) fn sharding_parse_minishard_index<'py>(
    py: Python<'py>,
    spec: SpecTuple,
    shard: u64,
    minishard: u64,
    buf: EncodedChunk<'py>,
) -> PyResult<Bound<'py, PyArray2<u64>>> {
    let spec = spec_from(spec)?;
    let buf = bytes_of(&buf)?;
    let location = Location { shard, minishard };
    let chunks = py
        .detach(|| sharding::parse_minishard_index(&spec, location, buf))
        .map_err(to_py_err)?;
    let ids = chunks.iter().map(|c| c.id);
    let starts = chunks.iter().map(|c| c.range.start);
    let ends = chunks.iter().map(|c| c.range.end);
    rows_array(py, 3, ids.chain(starts).chain(ends).collect())
}

/// The [start, end) of chunk `id` in a (3, n) minishard index from
/// `sharding_parse_minishard_index`, or None if the minishard lacks it.
#[pyfunction]
pub(super) fn sharding_find_chunk(
    index: PyReadonlyArray2<'_, u64>,
    id: u64,
) -> PyResult<Option<(u64, u64)>> {
    let index = index.as_array();
    if index.nrows() != 3 {
        return Err(PyValueError::new_err("index must have shape (3, n)"));
    }
    let ids = index.row(0);
    let ids = ids
        .as_slice()
        .ok_or_else(|| PyValueError::new_err("index must be C-contiguous"))?;
    Ok(ids
        .binary_search(&id)
        .ok()
        .map(|i| (index[[1, i]], index[[2, i]])))
}
