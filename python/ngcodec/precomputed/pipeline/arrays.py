"""Input arrays as the pipeline moves them: (C, Z, Y, X) views of any axis order, and the data
type conversions that keep every value."""

from __future__ import annotations

from typing import Any

import numpy as np

from ngcodec.chunk_encoding import NEUROGLANCER_DATA_TYPES

__all__ = [
    "AXES_3D",
    "AXES_4D",
    "AxisOrderView",
    "UnrepresentableValuesError",
    "cast_block",
    "check_castable",
    "default_data_type",
]

AXES_3D = "zyx"
AXES_4D = "czyx"


class UnrepresentableValuesError(ValueError):
    """Raised when input values do not fit the dataset's data type."""


class AxisOrderView:
    """A (C, Z, Y, X) view of an array-like whose axes are in another order.

    Only slicing is delegated, so the source is never read whole: a request for a box is turned
    into the same box in the source's axis order, and the result transposed.

    :param array: anything with ``shape``, ``dtype`` and basic slicing
    :param axes: the source's axes, a permutation of ``zyx`` or ``czyx`` (``xyz``, ``zyxc``, ...);
        by default ``zyx`` for 3-D and ``czyx`` for 4-D input
    """

    def __init__(self, array: Any, axes: str | None = None) -> None:
        shape = tuple(int(n) for n in array.shape)
        if axes is None:
            axes = {3: AXES_3D, 4: AXES_4D}.get(len(shape))
            if axes is None:
                raise ValueError(
                    f"the input must have 3 axes (Z, Y, X) or 4 (C, Z, Y, X), got shape {shape}"
                )
        axes = axes.lower()
        if sorted(axes) not in (sorted(AXES_3D), sorted(AXES_4D)):
            raise ValueError(f"axes must be a permutation of 'zyx' or 'czyx', got {axes!r}")
        if len(axes) != len(shape):
            raise ValueError(f"axes {axes!r} name {len(axes)} axes but the input has shape {shape}")
        self.array = array
        self.axes = axes
        self.dtype = np.dtype(array.dtype)
        sizes = dict(zip(axes, shape, strict=True))
        self.shape = (sizes.get("c", 1), sizes["z"], sizes["y"], sizes["x"])
        self.ndim = 4

    def __getitem__(self, key: tuple[slice, slice, slice, slice]) -> np.ndarray:
        by_axis = dict(zip(AXES_4D, key, strict=True))
        source_key = tuple(by_axis[a] for a in self.axes)
        block = np.asarray(self.array[source_key])
        order = [self.axes.index(a) for a in AXES_4D if a in self.axes]
        block = block.transpose(order)
        if "c" not in self.axes:
            block = block[np.newaxis][by_axis["c"]]
        return block


def check_castable(source: Any, target: Any) -> None:
    """Raise TypeError if values of dtype source cannot become target without losing their kind.

    Integers (and booleans) go to any integer type, with each block's values checked to fit;
    floats go to float32; integers go to float32 only when every value is exact there.
    """
    source, target = np.dtype(source), np.dtype(target)
    if np.can_cast(source, target, casting="safe"):
        return
    if source.kind in "biu" and target.kind in "iu":
        return
    if source.kind == "f" and target.kind == "f":
        return
    raise TypeError(f"cannot convert {source} input to {target.name} without losing values")


def cast_block(block: np.ndarray, dtype: np.dtype[Any], where: str) -> np.ndarray:
    """The block as dtype: safe casts always, integer casts when the values fit, float downcasts."""
    if block.dtype == dtype:
        return block
    check_castable(block.dtype, dtype)
    if not np.can_cast(block.dtype, dtype, casting="safe") and dtype.kind in "iu" and block.size:
        low, high = block.min(), block.max()
        limits = np.iinfo(dtype)
        if low < limits.min or high > limits.max:
            raise UnrepresentableValuesError(
                f"{where}: values {low}..{high} do not fit in {dtype.name}; choose a wider "
                "data_type"
            )
    return block.astype(dtype)


def default_data_type(dtype: Any) -> str:
    """The Neuroglancer data type for an input dtype, or a ValueError saying what to choose."""
    dtype = np.dtype(dtype)
    if dtype.name in NEUROGLANCER_DATA_TYPES:
        return dtype.name
    if dtype.kind == "b":
        return "uint8"
    suggestion = {"i8": "uint64 or int32", "u8": "uint64", "f8": "float32", "f2": "float32"}.get(
        f"{dtype.kind}{dtype.itemsize}", "one of " + ", ".join(NEUROGLANCER_DATA_TYPES)
    )
    raise ValueError(
        f"input dtype {dtype} is not a Neuroglancer data type; choose data_type {suggestion} "
        "(values are checked to fit)"
    )
