//! Bindings of the downsampling kernels.

use ndarray::ArrayView4;
use numpy::{PyArrayMethods, PyReadonlyArray4};
use pyo3::prelude::*;

use super::{empty, to_py_err};

use crate::downsample::output_geometry;
use crate::downsample::{downsample_into, Method, Voxel};

/// A (C, Z, Y, X) volume in any layout, of its own type: the kernels' arithmetic and ordering
/// differ between signed, unsigned and float values of one size.
#[derive(FromPyObject)]
pub(super) enum Volume<'py> {
    U8(PyReadonlyArray4<'py, u8>),
    I8(PyReadonlyArray4<'py, i8>),
    U16(PyReadonlyArray4<'py, u16>),
    I16(PyReadonlyArray4<'py, i16>),
    U32(PyReadonlyArray4<'py, u32>),
    I32(PyReadonlyArray4<'py, i32>),
    U64(PyReadonlyArray4<'py, u64>),
    I64(PyReadonlyArray4<'py, i64>),
    F32(PyReadonlyArray4<'py, f32>),
    F64(PyReadonlyArray4<'py, f64>),
}

/// Downsamples a (C, Z, Y, X) volume whose first voxel is at `origin` (X, Y, Z) by `factors`
/// (X, Y, Z) into a new C-order array of the same type.
#[pyfunction]
pub(super) fn downsample<'py>(
    py: Python<'py>,
    volume: Volume<'py>,
    origin: [i64; 3],
    factors: [usize; 3],
    method: &str,
    ignore_zero: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let method = Method::from_name(method, ignore_zero).map_err(to_py_err)?;
    match &volume {
        Volume::U8(array) => downsample_view(py, array.as_array(), origin, factors, method),
        Volume::I8(array) => downsample_view(py, array.as_array(), origin, factors, method),
        Volume::U16(array) => downsample_view(py, array.as_array(), origin, factors, method),
        Volume::I16(array) => downsample_view(py, array.as_array(), origin, factors, method),
        Volume::U32(array) => downsample_view(py, array.as_array(), origin, factors, method),
        Volume::I32(array) => downsample_view(py, array.as_array(), origin, factors, method),
        Volume::U64(array) => downsample_view(py, array.as_array(), origin, factors, method),
        Volume::I64(array) => downsample_view(py, array.as_array(), origin, factors, method),
        Volume::F32(array) => downsample_view(py, array.as_array(), origin, factors, method),
        Volume::F64(array) => downsample_view(py, array.as_array(), origin, factors, method),
    }
}

fn downsample_view<'py, T: Voxel + numpy::Element>(
    py: Python<'py>,
    input: ArrayView4<'_, T>,
    origin: [i64; 3],
    factors: [usize; 3],
    method: Method,
) -> PyResult<Bound<'py, PyAny>> {
    let (channels, z, y, x) = input.dim();
    let (_, [out_x, out_y, out_z]) =
        output_geometry(origin, [x, y, z], factors, method).map_err(to_py_err)?;
    let out = empty::<T>(py, [channels, out_z, out_y, out_x])?;
    {
        let mut writable = out.try_readwrite()?;
        let out_view = writable.as_array_mut();
        py.detach(|| downsample_into(input, origin, factors, method, out_view))
            .map_err(to_py_err)?;
    }
    Ok(out.into_any())
}

/// The origin and size (X, Y, Z) of the downsampled array of one at `origin` of `size` voxels.
#[pyfunction]
pub(super) fn downsample_geometry(
    origin: [i64; 3],
    size: [usize; 3],
    factors: [usize; 3],
    method: &str,
) -> PyResult<([i64; 3], [usize; 3])> {
    let method = Method::from_name(method, false).map_err(to_py_err)?;
    output_geometry(origin, size, factors, method).map_err(to_py_err)
}
