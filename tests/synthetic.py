"""Synthetic label fields and chunking shared by the interoperability and property tests.

Everything is (Z, Y, X) or (C, Z, Y, X) in C order, the layout ngcodec's API takes. NumPy only.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np


def label_ids(count: int, dtype: str, rng: np.random.Generator) -> np.ndarray:
    """`count` distinct labels spread over the whole range of `dtype`, in random order.

    Both ends of the range are among them (once there are two), and the others of uint64 are 2^40
    or above, so a codec that drops the high word or mishandles 0 or the maximum cannot pass.
    """
    info = np.iinfo(dtype)
    low = 2**40 if dtype == "uint64" else 1
    ids = {0, int(info.max)} if count >= 2 else set()
    while len(ids) < count:
        ids.update(rng.integers(low, info.max, count - len(ids), dtype=dtype).tolist())
    return rng.permutation(np.fromiter(ids, dtype, count))


def voronoi(
    shape: tuple[int, int, int], cells: int, dtype: str = "uint64", seed: int = 0
) -> np.ndarray:
    """A segmentation-like (Z, Y, X) field: each voxel takes the label of its nearest seed point.

    Convex cells with planar boundaries, like neurons cut by a connectome, so blocks hold from one
    to a handful of labels: the realistic mix of 0-, 1-, 2- and 4-bit blocks.
    """
    rng = np.random.default_rng(seed)
    seeds = rng.uniform(0, 1, (cells, 3)) * np.array(shape)
    grid = np.indices(shape, dtype=np.float32)
    nearest = np.zeros(shape, np.intp)
    best = np.full(shape, np.inf, np.float32)
    for cell, point in enumerate(seeds.astype(np.float32)):
        distance = sum(
            (axis - coordinate) ** 2 for axis, coordinate in zip(grid, point, strict=True)
        )
        closer = distance < best
        best[closer] = distance[closer]
        nearest[closer] = cell
    return label_ids(cells, dtype, rng)[nearest]


def noise(
    shape: tuple[int, ...], distinct: int, dtype: str = "uint64", seed: int = 0
) -> np.ndarray:
    """Independent random labels drawn from `distinct` values: the high-cardinality worst case."""
    rng = np.random.default_rng(seed)
    return label_ids(distinct, dtype, rng)[rng.integers(0, distinct, shape)]


def all_distinct(shape: tuple[int, ...], dtype: str = "uint32", seed: int = 0) -> np.ndarray:
    """Every voxel a different label (a shuffled range, offset into the high word for uint64)."""
    size = int(np.prod(shape))
    offset = 2**40 if dtype == "uint64" else 0
    values = np.random.default_rng(seed).permutation(size).astype(dtype) + np.array(offset, dtype)
    return values.reshape(shape)


def runs(
    shape: tuple[int, ...], distinct: int, run: int, dtype: str = "uint64", seed: int = 0
) -> np.ndarray:
    """Random labels in cubes of `run` voxels a side (the last axes): runs of equal labels leave
    0-bit and low-bit blocks next to noisy ones. `run` 1 is plain noise."""
    coarse = tuple(n if axis < len(shape) - 3 else -(-n // run) for axis, n in enumerate(shape))
    field = noise(coarse, distinct, dtype, seed)
    for axis in range(len(shape) - 3, len(shape)):
        field = field.repeat(run, axis)
    return np.ascontiguousarray(field[tuple(slice(0, n) for n in shape)])


def random_bits(data_type: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Random bit patterns of a type: its whole range and, for floats, NaNs, infinities, -0."""
    dtype = np.dtype(data_type)
    count = int(np.prod(shape)) * dtype.itemsize
    return np.random.default_rng(seed).integers(0, 256, count, np.uint8).view(dtype).reshape(shape)


def constant(shape: tuple[int, ...], value: int, dtype: str = "uint64") -> np.ndarray:
    """A single label everywhere."""
    return np.full(shape, value, dtype)


def chunks(
    volume: np.ndarray, chunk_xyz: tuple[int, int, int]
) -> Iterator[tuple[tuple[int, int, int], np.ndarray]]:
    """Cut a (Z, Y, X) volume into chunks of `chunk_xyz` voxels, the edge ones truncated.

    Yields the chunk's (x, y, z) origin and a (1, Z, Y, X) C-contiguous copy: the grid a
    precomputed volume uses, whose upper-edge chunks are encoded at their truncated size.
    """
    size_z, size_y, size_x = volume.shape
    step_x, step_y, step_z = chunk_xyz
    for z, y, x in itertools.product(
        range(0, size_z, step_z), range(0, size_y, step_y), range(0, size_x, step_x)
    ):
        chunk = volume[z : z + step_z, y : y + step_y, x : x + step_x]
        yield (x, y, z), np.ascontiguousarray(chunk)[np.newaxis]


LAYOUTS = [
    "C",
    "Fortran",
    "strided",
    "negative strides",
    "moved axes",
    "big-endian",
    "big-endian Fortran",
    "read-only",
    "read-only big-endian",
    "unaligned",
]


def in_layout(chunk: np.ndarray, layout: str) -> np.ndarray:
    """The same logical (C, Z, Y, X) chunk in another memory layout, as callers hand them over."""
    big_endian = chunk.dtype.newbyteorder(">")
    if layout == "C":
        view = chunk
    elif layout == "Fortran":
        view = np.asfortranarray(chunk)
    elif layout == "strided":
        padded = np.zeros((2 * chunk.shape[0], *(2 * n + 1 for n in chunk.shape[1:])), chunk.dtype)
        padded[::2, 1::2, 1::2, 1::2] = chunk
        view = padded[::2, 1::2, 1::2, 1::2]
    elif layout == "negative strides":
        view = np.ascontiguousarray(chunk[::-1, ::-1, ::-1, ::-1])[::-1, ::-1, ::-1, ::-1]
    elif layout == "moved axes":
        view = np.moveaxis(np.ascontiguousarray(np.moveaxis(chunk, 3, 0)), 0, 3)
    elif layout == "big-endian":
        view = chunk.astype(big_endian)
    elif layout == "big-endian Fortran":
        view = np.asfortranarray(chunk.astype(big_endian))
    elif layout == "read-only":
        view = np.frombuffer(chunk.tobytes(), chunk.dtype).reshape(chunk.shape)
        assert not view.flags.writeable
    elif layout == "read-only big-endian":
        view = np.frombuffer(chunk.astype(big_endian).tobytes(), big_endian).reshape(chunk.shape)
    elif layout == "unaligned":
        buffer = b"\0" + chunk.tobytes()
        view = np.frombuffer(buffer, chunk.dtype, offset=1).reshape(chunk.shape)
    else:
        raise ValueError(layout)
    assert view.shape == chunk.shape and view.astype(chunk.dtype).tobytes() == chunk.tobytes()
    return view
