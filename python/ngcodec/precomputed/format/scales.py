"""Multi-resolution pyramids: which coarser scales to add, and what each one's info says (its
geometry, and its sharding if it is sharded).

Each scale is made from the one before it by an integer factor per axis (X, Y, Z). Downsampling
windows are aligned to global coordinate 0, as tensorstore's ``downsample`` aligns them, so a scale
of ``size`` voxels from ``voxel_offset`` gives ``ceil((offset + size) / f) - floor(offset / f)``
voxels from ``floor(offset / f)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ngcodec.precomputed.format.grid import Vec3, vec3
from ngcodec.precomputed.format.info import GZIP_ENCODINGS, format_resolution, scale_grid
from ngcodec.precomputed.format.sharding import DEFAULT_SHARD_BYTES, choose_sharding

__all__ = [
    "DOWNSAMPLING_METHODS",
    "add_scales",
    "default_method",
    "downsampled_scale",
    "plan_factors",
    "shard_scales",
]

DOWNSAMPLING_METHODS = ("mean", "mode", "stride", "min", "max")


def default_method(layer_type: str) -> str:
    """``mode`` for segmentation (labels are not averaged), ``mean`` for images."""
    return "mode" if layer_type == "segmentation" else "mean"


def plan_factors(
    size: Sequence[int],
    resolution: Sequence[float],
    chunk_size: Sequence[int],
    *,
    max_scales: int | None = None,
) -> list[Vec3]:
    """The factors (X, Y, Z) of each coarser scale relative to the one before, for a dyadic pyramid.

    Every axis is halved at each scale, except that an axis coarser than the finest waits
    ``round(log2(resolution / finest))`` scales, so that anisotropic voxels become near-isotropic
    before they shrink together (as neuroglancer-scripts plans them). Scales are added until the
    coarsest fits in one chunk, or until there are ``max_scales`` scales in all.
    """
    size = list(vec3(size, "size", minimum=1))
    chunk = vec3(chunk_size, "chunk_size", minimum=1)
    if max_scales is not None and (
        isinstance(max_scales, bool) or not isinstance(max_scales, int) or max_scales < 1
    ):
        raise ValueError(f"max_scales must be a positive integer, got {max_scales!r}")
    finest = min(resolution)
    delays = [round(math.log2(r / finest)) for r in resolution]
    factors: list[Vec3] = []
    while any(s > c for s, c in zip(size, chunk, strict=True)):
        if max_scales is not None and len(factors) + 1 >= max_scales:
            break
        level = len(factors) + 1
        step = tuple(2 if level > delay else 1 for delay in delays)
        factors.append(step)  # type: ignore[arg-type]
        size = [-(-s // f) for s, f in zip(size, step, strict=True)]
    return factors


def downsampled_scale(scale: Mapping[str, Any], factors: Sequence[int]) -> dict[str, Any]:
    """The info of the scale made from ``scale`` by ``factors`` (X, Y, Z).

    Its encoding, block size and chunk size are the same; its key is its resolution (``16_16_40``).

    :raises ValueError: if a factor is not a positive integer, or shrinks an axis of one voxel
    """
    step = vec3(factors, "factors", minimum=1)
    size = vec3(scale["size"], "size", minimum=1)
    offset = vec3(scale.get("voxel_offset", (0, 0, 0)), "voxel_offset")
    for axis, (s, f) in enumerate(zip(size, step, strict=True)):
        if s == 1 and f > 1:
            raise ValueError(
                f"factors {list(step)} shrink the {'xyz'[axis]} axis of scale {scale['key']}, "
                "which is one voxel already: too many scales for this volume"
            )
    new = dict(scale)
    new["voxel_offset"] = [o // f for o, f in zip(offset, step, strict=True)]
    new["size"] = [-(-(o + s) // f) - o // f for o, s, f in zip(offset, size, step, strict=True)]
    new["resolution"] = [r * f for r, f in zip(scale["resolution"], step, strict=True)]
    new["key"] = format_resolution(new["resolution"])
    new.pop("sharding", None)  # chosen per scale by the writer, from the scale's own size
    return new


def add_scales(info: Mapping[str, Any], factors: Sequence[Sequence[int]]) -> dict[str, Any]:
    """The info with a scale appended for each factor, each made from the scale before it.

    :raises ValueError: if two scales would get the same key
    """
    scales = [dict(s) for s in info["scales"]]
    for step in factors:
        scales.append(downsampled_scale(scales[-1], step))
    keys = [s["key"] for s in scales]
    if len(set(keys)) != len(keys):
        raise ValueError(f"the scales would not have distinct keys: {keys}")
    return {**info, "scales": scales}


def shard_scales(
    info: Mapping[str, Any],
    *,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    above: int = 0,
    gzip: bool = True,
    keys: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The info with a ``sharding`` member in each scale (or each of ``keys``) of more than
    ``above`` bytes of uncompressed data.

    The sharding is :func:`~ngcodec.precomputed.format.sharding.choose_sharding`'s for shards of
    about ``shard_bytes`` uncompressed: shards are boxes of chunks. Chunks are gzipped in their
    shards if ``gzip`` and the encoding gains from it (not the image encodings); minishard indexes
    always are.

    :raises ValueError: if ``shard_bytes`` is not positive or ``above`` is negative
    """
    for name, value, least in (("shard_bytes", shard_bytes, 1), ("sharded_above", above, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an integer of at least {least}, got {value!r}")
    voxel_bytes = np.dtype(info["data_type"]).itemsize * int(info["num_channels"])
    scales = []
    for scale in info["scales"]:
        scale = dict(scale)
        grid = scale_grid(scale, "the info")
        if (keys is None or scale["key"] in keys) and math.prod(grid.size) * voxel_bytes > above:
            gzipped = gzip and scale["encoding"] in GZIP_ENCODINGS
            scale["sharding"] = choose_sharding(
                grid.grid_shape,
                math.prod(grid.chunk_size) * voxel_bytes,
                target_shard_bytes=shard_bytes,
                data_encoding="gzip" if gzipped else "raw",
            ).to_json()
        scales.append(scale)
    return {**info, "scales": scales}
