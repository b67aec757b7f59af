"""Downsampling: each block of voxels becomes one voxel, as in tensorstore's ``downsample`` driver.

Arrays are (C, Z, Y, X); origins, sizes and factors are (X, Y, Z). Blocks are aligned to global
coordinate 0, not to the array's first voxel: an array whose first voxel sits at ``origin``
covers the output voxels ``floor(origin / f)`` up to ``ceil((origin + size) / f)``, and a block cut
by an edge of the array reduces the voxels that exist. ``stride`` keeps the voxels at multiples of
the factors, so its output covers ``ceil(origin / f)`` up to ``floor((origin + size - 1) / f)``.

Methods:

- ``mean``: exact for integers (sums in 64 or 128 bits), rounded half to even; floating-point
  values are added one by one in their own type, in z, y, x order, and divided by the count.
- ``mode``: the most frequent value, ties to the lowest; integers only. With ``ignore_zero``,
  the most frequent non-zero value unless the whole block is 0.
- ``stride``: the voxel at the multiple of the factors.
- ``min``, ``max``: NaN is skipped (a block of NaN gives +inf for ``min``, -inf for ``max``).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np

from ngcodec import _native

__all__ = ["METHODS", "downsample", "output_geometry"]

METHODS = ("mean", "mode", "stride", "min", "max")

# Kinds and sizes of the data types the kernels take: the Neuroglancer ones, int64 and float64.
_INTEGER_SIZES = (1, 2, 4, 8)
_FLOAT_SIZES = (4, 8)


def downsample(
    array: np.typing.ArrayLike,
    factors: int | Sequence[int],
    method: str = "mean",
    *,
    origin: Sequence[int] = (0, 0, 0),
    ignore_zero: bool = False,
    threads: int = 1,
) -> np.ndarray:
    """Downsample ``array`` (C, Z, Y, X), or (Z, Y, X), by ``factors`` (X, Y, Z, or one for all).

    ``origin`` (X, Y, Z) is the global position of the array's first voxel: blocks are aligned to
    coordinate 0. Returns a new C-order array of the same data type and number of dimensions;
    its origin and size are those of :func:`output_geometry`.

    Any memory layout is read in place; the work runs without the GIL, its planes shared among
    up to ``threads`` threads.
    """
    method = _method(method)
    factors = _factors(factors)
    origin = _triple(origin, "origin")
    if not isinstance(ignore_zero, (bool, np.bool_)):
        raise TypeError(f"ignore_zero must be a bool, not {type(ignore_zero).__name__}")
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be a positive integer, not {threads!r}")
    if ignore_zero and method != "mode":
        raise ValueError(f"ignore_zero applies to method 'mode' only, not {method!r}")
    volume = np.asarray(array)
    if volume.ndim not in (3, 4):
        raise ValueError(
            f"array must have 4 dimensions (C, Z, Y, X) or 3 (Z, Y, X), not {volume.ndim}"
        )
    dtype = volume.dtype
    if not (
        (dtype.kind in "ui" and dtype.itemsize in _INTEGER_SIZES)
        or (dtype.kind == "f" and dtype.itemsize in _FLOAT_SIZES)
    ):
        raise TypeError(f"array has dtype {dtype}, which cannot be downsampled")
    if method == "mode" and dtype.kind == "f":
        raise TypeError(f"method 'mode' needs integer labels, but array has dtype {dtype}")
    if not dtype.isnative:
        volume = volume.astype(dtype.newbyteorder("="))
    elif not volume.flags.aligned:  # Rust reads values in place only where they are aligned
        volume = volume.copy()
    out = _native.downsample(
        volume if volume.ndim == 4 else volume[np.newaxis],
        origin,
        factors,
        method,
        bool(ignore_zero),
        int(threads),
    )
    return out if volume.ndim == 4 else out[0]


def output_geometry(
    origin: Sequence[int],
    size: Sequence[int],
    factors: int | Sequence[int],
    method: str = "mean",
) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """The origin and size (X, Y, Z) of :func:`downsample`'s output for an array at ``origin`` of
    ``size`` voxels (X, Y, Z).

    For every method but ``stride``: ``floor(origin / f)`` and ``ceil((origin + size) / f) -
    floor(origin / f)``; for ``stride``, the multiples of ``f`` in the array, which may be none.
    """
    origin = _triple(origin, "origin")
    size = _triple(size, "size")
    if any(s < 0 for s in size):
        raise ValueError(f"size must not be negative, not {size}")
    out_origin, out_size = _native.downsample_geometry(
        origin, size, _factors(factors), _method(method)
    )
    return tuple(out_origin), tuple(out_size)  # type: ignore[return-value]


def _method(method: str) -> str:
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    return method


def _factors(factors: int | Sequence[int]) -> tuple[int, int, int]:
    if not isinstance(factors, (Sequence, np.ndarray)):
        factors = (factors, factors, factors)  # type: ignore[assignment]
    triple = _triple(factors, "factors")  # type: ignore[arg-type]
    if any(f < 1 for f in triple):
        raise ValueError(f"factors must be positive integers, not {triple}")
    return triple


def _triple(values: Sequence[int], name: str) -> tuple[int, int, int]:
    """Three integers (X, Y, Z), or a TypeError/ValueError naming the argument."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be 3 integers (X, Y, Z), not {values!r}")
    if len(values) != 3:
        raise ValueError(f"{name} must be 3 integers (X, Y, Z), not {len(values)}: {values!r}")
    try:
        if any(isinstance(v, (bool, np.bool_)) for v in values):
            raise TypeError
        x, y, z = (operator.index(v) for v in values)
    except TypeError:
        raise TypeError(f"{name} must be 3 integers (X, Y, Z), not {values!r}") from None
    return x, y, z
