"""The ``info`` file: a dataset's data type, channels and scales, made and checked.

Sizes, offsets, resolutions and chunk sizes are (X, Y, Z), as in the file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ngcodec import chunk_encoding
from ngcodec.chunk_encoding import NEUROGLANCER_DATA_TYPES, InvalidInfoError, get_encoder
from ngcodec.precomputed.format.grid import ChunkGrid, vec3
from ngcodec.precomputed.store.compression import DEFAULT_GZIP_LEVEL

__all__ = [
    "ENCODINGS",
    "GZIP_ENCODINGS",
    "dump_info",
    "make_info",
    "parse_info",
    "scale_grid",
    "select_scale",
]

ENCODINGS: tuple[str, ...] = chunk_encoding.ENCODINGS
"""The encodings ngcodec writes: every one :func:`get_encoder` knows."""

GZIP_ENCODINGS = ("raw", "compressed_segmentation", "compresso")
"""Encodings whose chunks are gzipped when asked; image data does not shrink further."""

SEGMENTATION_ENCODINGS = ("compressed_segmentation", "compresso")
"""Encodings made for labels: their datasets are segmentation layers by default."""


def stored_gzip_level(scale: Mapping[str, Any], gzip_level: int | None) -> int | None:
    """The level a scale's chunks are gzipped at as stored by a write at ``gzip_level``, None if
    they are stored plain: in a sharded scale, as its sharding's ``data_encoding`` says (at
    ``gzip_level``, by default ``DEFAULT_GZIP_LEVEL``); otherwise the GZIP_ENCODINGS at
    ``gzip_level``, images never."""
    sharding = scale.get("sharding")
    if sharding is not None:
        if sharding.get("data_encoding", "raw") != "gzip":
            return None
        return DEFAULT_GZIP_LEVEL if gzip_level is None else gzip_level
    return gzip_level if scale["encoding"] in GZIP_ENCODINGS else None


def _resolution(value: Any) -> list[float | int]:
    """Three positive numbers (X, Y, Z), kept as given (integers stay integers in the info)."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        value = [value] * 3
    try:
        items = list(value)
    except TypeError:
        items = []
    if len(items) != 3 or not all(
        isinstance(r, (int, float, np.integer, np.floating)) and not isinstance(r, bool)
        for r in items
    ):
        raise ValueError(f"resolution must be three numbers (X, Y, Z), got {value!r}")
    numbers = [int(r) if isinstance(r, (int, np.integer)) else float(r) for r in items]
    if not all(math.isfinite(r) and r > 0 for r in numbers):
        raise ValueError(f"resolution must be positive and finite, got {numbers}")
    return numbers


def format_resolution(resolution: Sequence[float | int]) -> str:
    return "_".join(format(r, "g") for r in resolution)


def make_info(
    *,
    data_type: Any,
    num_channels: int,
    size: Sequence[int],
    encoding: str = "raw",
    chunk_size: Sequence[int] | int = (64, 64, 64),
    resolution: Sequence[float] | float = (1, 1, 1),
    voxel_offset: Sequence[int] | int = (0, 0, 0),
    block_size: Sequence[int] | int = (8, 8, 8),
    layer_type: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """An ``info`` dict for a single-scale precomputed volume, checked with :func:`get_encoder`.

    :param data_type: a Neuroglancer data type (``uint8`` ... ``uint64``, ``float32``)
    :param size: the volume's extent (X, Y, Z)
    :param encoding: one of :data:`ENCODINGS`
    :param chunk_size: the chunk extent (X, Y, Z), or one number for cubic chunks
    :param resolution: voxel size (X, Y, Z) in nanometres
    :param voxel_offset: the global coordinates of the volume's first voxel
    :param block_size: the ``compressed_segmentation_block_size`` (ignored by other encodings)
    :param layer_type: ``image`` or ``segmentation``; by default ``segmentation`` for the
        ``compressed_segmentation`` and ``compresso`` encodings, ``image`` otherwise
    :param key: the scale's directory name; by default the resolution, e.g. ``8_8_40``
    :raises ValueError: (:class:`InvalidInfoError` for encoder problems) naming the bad parameter
    """
    dtype_name = np.dtype(data_type).name
    if dtype_name not in NEUROGLANCER_DATA_TYPES:
        raise InvalidInfoError(
            f"data_type {dtype_name} is not a Neuroglancer data type "
            f"({', '.join(NEUROGLANCER_DATA_TYPES)})"
        )
    if encoding not in ENCODINGS:
        raise InvalidInfoError(f"encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
    if layer_type is None:
        layer_type = "segmentation" if encoding in SEGMENTATION_ENCODINGS else "image"
    if layer_type not in ("image", "segmentation"):
        raise ValueError(f"layer_type must be 'image' or 'segmentation', got {layer_type!r}")
    resolution_list = _resolution(resolution)
    scale: dict[str, Any] = {
        "key": key if key is not None else format_resolution(resolution_list),
        "size": list(vec3(size, "size", minimum=1)),
        "resolution": resolution_list,
        "voxel_offset": list(vec3(voxel_offset, "voxel_offset")),
        "chunk_sizes": [list(vec3(chunk_size, "chunk_size", minimum=1))],
        "encoding": encoding,
    }
    if encoding == "compressed_segmentation":
        scale["compressed_segmentation_block_size"] = list(
            vec3(block_size, "block_size", minimum=1)
        )
    if not scale["key"] or "/" in scale["key"] or scale["key"] in (".", ".."):
        raise ValueError(f"key must be a plain directory name, got {scale['key']!r}")
    info = {
        "@type": "neuroglancer_multiscale_volume",
        "type": layer_type,
        "data_type": dtype_name,
        "num_channels": int(num_channels),
        "scales": [scale],
    }
    get_encoder(info, scale)  # the same checks as any reader: channels, data type, block size
    return info


def parse_info(data: bytes, where: str) -> dict[str, Any]:
    """The info dict held in an ``info`` file's bytes.

    :param where: the file, for messages
    :raises InvalidInfoError: if it is not a JSON object
    """
    try:
        info = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInfoError(f"{where} is not valid JSON: {exc}") from exc
    if not isinstance(info, dict):
        raise InvalidInfoError(f"{where} does not hold a JSON object")
    return info


def dump_info(info: Mapping[str, Any]) -> bytes:
    """The bytes of an ``info`` file."""
    return (json.dumps(info) + "\n").encode()


def select_scale(info: Mapping[str, Any], key: str | None, where: str) -> dict[str, Any]:
    """The scale with this key (by default the first one) of an info dict.

    :raises InvalidInfoError: if there is no such scale
    """
    scales = info.get("scales")
    if not isinstance(scales, list) or not scales:
        raise InvalidInfoError(f"the info of {where} has no scales")
    if key is None:
        return dict(scales[0])
    matching = [s for s in scales if isinstance(s, dict) and s.get("key") == key]
    if not matching:
        keys = [s.get("key") for s in scales if isinstance(s, dict)]
        raise InvalidInfoError(f"{where} has no scale {key!r} (it has {keys})")
    return dict(matching[0])


def scale_grid(scale: Mapping[str, Any], where: str) -> ChunkGrid:
    """The chunk grid a scale describes (its first chunk size).

    :raises InvalidInfoError: if a field is missing or malformed
    """
    try:
        return ChunkGrid(
            size=vec3(scale["size"], "size", minimum=0),
            voxel_offset=vec3(scale.get("voxel_offset", (0, 0, 0)), "voxel_offset"),
            chunk_size=vec3(scale["chunk_sizes"][0], "chunk_sizes", minimum=1),
        )
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise InvalidInfoError(f"invalid scale in the info of {where}: {exc}") from exc
