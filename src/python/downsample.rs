//! Bindings of the downsampling kernels.

use ndarray::ArrayView4;
use numpy::{PyArray4, PyArrayDescrMethods, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use super::{empty, to_py_err};

use crate::downsample::output_geometry;
use crate::downsample::{downsample_into, Method, Voxel};

/// Downsamples a (C, Z, Y, X) volume whose first voxel is at `origin` (X, Y, Z) by `factors`
/// (X, Y, Z) into a new C-order array of the same type, on up to `threads` threads. Each type is read as itself: the kernels'
/// arithmetic and ordering differ between signed, unsigned and float values of one size.
#[pyfunction]
pub(super) fn downsample<'py>(
    py: Python<'py>,
    volume: &Bound<'py, PyUntypedArray>,
    origin: [i64; 3],
    factors: [usize; 3],
    method: &str,
    ignore_zero: bool,
    threads: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let method = Method::from_name(method, ignore_zero).map_err(to_py_err)?;
    if volume.ndim() != 4 {
        return Err(PyValueError::new_err(format!(
            "volume must have 4 dimensions (C, Z, Y, X), not {}",
            volume.ndim()
        )));
    }
    let dtype = volume.dtype();
    // One dtype comparison per type: extracting each type in turn would build an error per miss.
    macro_rules! downsample_as {
        ($($t:ty),*) => {$(
            if dtype.is_equiv_to(&numpy::dtype::<$t>(py)) {
                let array = volume.cast::<PyArray4<$t>>()?.try_readonly()?;
                return downsample_view(py, array.as_array(), origin, factors, method, threads);
            }
        )*};
    }
    downsample_as!(u8, i8, u16, i16, u32, i32, u64, i64, f32, f64);
    Err(PyTypeError::new_err(format!(
        "volume has dtype {dtype}, which cannot be downsampled"
    )))
}

fn downsample_view<'py, T: Voxel + numpy::Element>(
    py: Python<'py>,
    input: ArrayView4<'_, T>,
    origin: [i64; 3],
    factors: [usize; 3],
    method: Method,
    threads: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let (channels, z, y, x) = input.dim();
    let (_, [out_x, out_y, out_z]) =
        output_geometry(origin, [x, y, z], factors, method).map_err(to_py_err)?;
    let out = empty::<T>(py, [channels, out_z, out_y, out_x])?;
    {
        let mut writable = out.try_readwrite()?;
        let out_view = writable.as_array_mut();
        py.detach(|| downsample_into(input, origin, factors, method, out_view, threads))
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
