"""The chunk grid of a scale: boxes of voxels, chunk names, and which chunks cover a region.

Coordinates are global voxel coordinates (X, Y, Z); the grid starts at the scale's
``voxel_offset``, and chunks at the upper edges are truncated to the volume.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Box", "ChunkGrid", "Vec3", "is_chunk_name", "vec3"]

Vec3 = tuple[int, int, int]

_CHUNK_NAME = re.compile(r"^(\d+)-(\d+)_(\d+)-(\d+)_(\d+)-(\d+)$")


def vec3(value: Any, name: str, *, minimum: int | None = None) -> Vec3:
    """Three integers (X, Y, Z) from a sequence of three or a single number, checked."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        items: list[Any] = [value] * 3
    else:
        try:
            items = list(value)
        except TypeError:
            items = []
    if len(items) != 3 or any(
        isinstance(n, bool) or not isinstance(n, (int, np.integer)) for n in items
    ):
        raise ValueError(f"{name} must be three integers (X, Y, Z), got {value!r}")
    vec = (int(items[0]), int(items[1]), int(items[2]))
    if minimum is not None and min(vec) < minimum:
        raise ValueError(f"{name} must be at least {minimum} on every axis, got {list(vec)}")
    return vec


def is_chunk_name(name: str) -> bool:
    """Whether a file name is a chunk name ``x0-x1_y0-y1_z0-z1``."""
    return _CHUNK_NAME.match(name) is not None


@dataclass(frozen=True)
class Box:
    """A box of voxels, ``start`` inclusive and ``stop`` exclusive, in (X, Y, Z) coordinates."""

    start: Vec3
    stop: Vec3

    @property
    def size(self) -> Vec3:
        """The extent (X, Y, Z)."""
        return (
            self.stop[0] - self.start[0],
            self.stop[1] - self.start[1],
            self.stop[2] - self.start[2],
        )

    @property
    def name(self) -> str:
        """The chunk file name ``x0-x1_y0-y1_z0-z1``."""
        return "_".join(f"{a}-{b}" for a, b in zip(self.start, self.stop, strict=True))

    @property
    def num_voxels(self) -> int:
        x, y, z = self.size
        return x * y * z

    def is_empty(self) -> bool:
        return min(self.size) <= 0

    def intersection(self, other: Box) -> Box:
        start = tuple(max(a, b) for a, b in zip(self.start, other.start, strict=True))
        stop = tuple(min(a, b) for a, b in zip(self.stop, other.stop, strict=True))
        return Box(start, stop)  # type: ignore[arg-type]

    def slices_within(self, outer: Box) -> tuple[slice, slice, slice]:
        """Slices (Z, Y, X) that cut this box out of an array covering ``outer``."""
        x, y, z = (
            slice(a - o, b - o) for a, b, o in zip(self.start, self.stop, outer.start, strict=True)
        )
        return (z, y, x)

    @classmethod
    def parse(cls, name: str) -> Box:
        """The box of a chunk file name ``x0-x1_y0-y1_z0-z1`` (``.gz`` allowed)."""
        match = _CHUNK_NAME.match(name.removesuffix(".gz"))
        if match is None:
            raise ValueError(f"{name!r} is not a chunk name of the form x0-x1_y0-y1_z0-z1")
        v = [int(g) for g in match.groups()]
        return cls((v[0], v[2], v[4]), (v[1], v[3], v[5]))


@dataclass(frozen=True)
class ChunkGrid:
    """The chunks of one scale: ``size`` voxels from ``voxel_offset``, in chunks of
    ``chunk_size`` (all (X, Y, Z))."""

    size: Vec3
    voxel_offset: Vec3
    chunk_size: Vec3

    @property
    def bounds(self) -> Box:
        """The whole volume, in global voxel coordinates."""
        start = self.voxel_offset
        stop = (start[0] + self.size[0], start[1] + self.size[1], start[2] + self.size[2])
        return Box(start, stop)

    @property
    def grid_shape(self) -> Vec3:
        """The number of chunks along (X, Y, Z)."""
        return (
            -(-self.size[0] // self.chunk_size[0]),
            -(-self.size[1] // self.chunk_size[1]),
            -(-self.size[2] // self.chunk_size[2]),
        )

    @property
    def num_chunks(self) -> int:
        gx, gy, gz = self.grid_shape
        return gx * gy * gz

    def chunk_boxes(self, bbox: Box | None = None) -> Iterator[Box]:
        """The chunks that intersect ``bbox`` (by default all), z slowest then y then x."""
        region = self.bounds if bbox is None else self.bounds.intersection(bbox)
        if region.is_empty():
            return
        ranges = []
        for axis in range(3):
            origin, step = self.voxel_offset[axis], self.chunk_size[axis]
            first = (region.start[axis] - origin) // step
            last = (region.stop[axis] - 1 - origin) // step
            ranges.append(range(first, last + 1))
        for k in ranges[2]:
            for j in ranges[1]:
                for i in ranges[0]:
                    yield self.chunk_box((i, j, k))

    def chunk_box(self, grid_index: Sequence[int]) -> Box:
        """The (truncated) box of the chunk at this index of the chunk grid (X, Y, Z)."""
        start = tuple(
            o + g * c
            for o, g, c in zip(self.voxel_offset, grid_index, self.chunk_size, strict=True)
        )
        stop = tuple(
            min(s + c, o + n)
            for s, c, o, n in zip(start, self.chunk_size, self.voxel_offset, self.size, strict=True)
        )
        return Box(start, stop)  # type: ignore[arg-type]

    def is_chunk(self, box: Box) -> bool:
        """Whether the box is exactly one chunk of this grid."""
        for axis in range(3):
            offset = box.start[axis] - self.voxel_offset[axis]
            if offset < 0 or offset % self.chunk_size[axis]:
                return False
        return box == self.chunk_box(
            [(box.start[a] - self.voxel_offset[a]) // self.chunk_size[a] for a in range(3)]
        )
