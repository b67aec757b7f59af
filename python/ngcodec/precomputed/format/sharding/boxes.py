"""Sharding written by ngcodec: shards that are boxes of chunks, of a chosen size.

With the identity hash and preshift + minishard + shard bits equal to the grid's Morton bits, a
shard holds the chunks of one box of the grid (the low Morton bits interleave the axes), so one
task can own one shard file. Grid positions and shapes are in chunks, (x, y, z).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ngcodec.precomputed.format.sharding.spec import ShardingSpec, _grid, shard_numbers

__all__ = ["DEFAULT_SHARD_BYTES", "MAX_PRESHIFT_BITS", "ShardBox", "choose_sharding", "shard_boxes"]

DEFAULT_SHARD_BYTES = 2 << 30
"""Uncompressed bytes per shard that :func:`choose_sharding` aims at by default."""
MAX_PRESHIFT_BITS = 9
"""Preshift bits :func:`choose_sharding` gives at most: minishards of up to 512 chunks, whose
index is 12 KiB before compression (tensorstore's choice)."""


def _morton_bits(grid_shape: Sequence[int]) -> tuple[int, int, int]:
    """Morton bits of each axis: ceil(log2(chunks))."""
    bits = tuple((n - 1).bit_length() for n in _grid(grid_shape))
    if sum(bits) > 64:
        raise ValueError(f"grid_shape {tuple(grid_shape)} needs {sum(bits)} bits of chunk id")
    return bits  # type: ignore[return-value]


def _low_morton_bits(bits: Sequence[int], count: int) -> list[int]:
    """How many of the lowest ``count`` Morton bits each axis has."""
    taken = [0, 0, 0]
    for bit in range(max(bits)):
        for axis in range(3):
            if bit < bits[axis] and count > 0:
                taken[axis] += 1
                count -= 1
    return taken


def choose_sharding(
    grid_shape: Sequence[int],
    chunk_bytes: int,
    *,
    target_shard_bytes: int = DEFAULT_SHARD_BYTES,
    data_encoding: str = "gzip",
    minishard_index_encoding: str = "gzip",
) -> ShardingSpec:
    """A sharding spec whose shards are boxes of about ``target_shard_bytes`` uncompressed bytes.

    As tensorstore derives it: the identity hash, and preshift + minishard + shard bits equal to
    the grid's Morton bits, so each shard is a box of chunks (:func:`shard_boxes`) that one task
    can own. The chunks per shard are the power of two nearest ``target_shard_bytes /
    chunk_bytes`` (at most the whole grid); up to 512 of them share a minishard (``preshift_bits``
    <= 9), so a minishard index stays near 12 KiB. ``chunk_bytes`` is one chunk's uncompressed
    size (voxels x channels x bytes per value); jpeg and png chunks want ``data_encoding="raw"``.
    """
    bits = _morton_bits(grid_shape)
    if chunk_bytes < 1 or target_shard_bytes < 1:
        raise ValueError("chunk_bytes and target_shard_bytes must be positive")
    total_bits = sum(bits)
    target_chunks = (target_shard_bytes + chunk_bytes // 2) // chunk_bytes
    within = 0
    while within < total_bits and 1 << within < target_chunks:
        within += 1
    if within > 0 and (1 << within) - target_chunks > target_chunks - (1 << (within - 1)):
        within -= 1
    preshift = min(within, MAX_PRESHIFT_BITS)
    return ShardingSpec(
        preshift_bits=preshift,
        hash="identity",
        minishard_bits=within - preshift,
        shard_bits=total_bits - within,
        minishard_index_encoding=minishard_index_encoding,
        data_encoding=data_encoding,
    )


@dataclass(frozen=True)
class ShardBox:
    """The chunks of one shard: grid positions from ``start`` up to ``stop`` (x, y, z)."""

    shard: int
    start: tuple[int, int, int]
    stop: tuple[int, int, int]


def shard_boxes(spec: ShardingSpec, grid_shape: Sequence[int]) -> list[ShardBox]:
    """Every shard that holds chunks, as a box of chunk grid positions, by shard number.

    Needs shards that are boxes: the identity hash, and at least as many preshift + minishard +
    shard bits as the grid's Morton bits (what :func:`choose_sharding` gives).
    """
    bits = _morton_bits(grid_shape)
    total_bits = sum(bits)
    if spec.hash != "identity" or spec.preshift_bits + spec.minishard_bits + spec.shard_bits < (
        total_bits
    ):
        raise ValueError(
            "the shards of this spec are not boxes of chunks: that takes the identity hash and "
            f"preshift + minishard + shard bits of at least {total_bits}"
        )
    within = _low_morton_bits(bits, min(spec.preshift_bits + spec.minishard_bits, total_bits))
    grid = _grid(grid_shape)
    side = np.array([1 << b for b in within])
    axes = (np.arange(0, n, s) for n, s in zip(grid, side, strict=True))
    starts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    stops = np.minimum(starts + side, grid)
    shards = shard_numbers(spec, starts, grid)
    boxes = [
        ShardBox(int(shard), tuple(map(int, start)), tuple(map(int, stop)))  # type: ignore[arg-type]
        for shard, start, stop in zip(shards, starts, stops, strict=True)
    ]
    return sorted(boxes, key=lambda box: box.shard)
