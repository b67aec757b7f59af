"""Many chunks of a scale encoded at once, as they are stored (encoded, then gzipped where the
scale's files or its shards' data encoding are), and written.

raw and compressed_segmentation chunks go through one native call per slab
(:class:`~ngcodec.chunk_batch.ChunkBatch`), encoded and gzipped on ``jobs`` Rust threads without
the GIL; the image encodings a chunk at a time in ``jobs`` Python threads. The store keeps its
gzip as it always does (``.gz`` files, ``Content-Encoding``): it takes the gzipped bytes whole
(:meth:`~ngcodec.precomputed.store.Store.write_gzipped`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ngcodec.precomputed.batched import local_start, naming_chunks
from ngcodec.precomputed.format import Box, stored_gzip_level
from ngcodec.precomputed.parallel import job_count, map_all
from ngcodec.precomputed.store.compression import DEFAULT_GZIP_LEVEL, gzip_compress
from ngcodec.precomputed.volume import PrecomputedVolume

__all__ = ["encode_chunks", "write_stored_chunk"]


def encode_chunks(
    volume: PrecomputedVolume,
    slab: Box,
    block: Any,
    boxes: Sequence[Box],
    *,
    gzip_level: int | None = DEFAULT_GZIP_LEVEL,
    jobs: int | None = None,
) -> list[bytes | bytearray]:
    """The chunks ``boxes`` of ``slab`` (a box of whole chunks) from its (C, Z, Y, X) block, as
    they are stored for a write at ``gzip_level``: the same bytes as
    :meth:`~PrecomputedVolume.encode_chunk` (then gzipped), on ``jobs`` threads.

    :raises ValueError: if the block's shape is not the slab's, or a box is not one of its chunks
    """
    level = stored_gzip_level(volume.scale, gzip_level)
    if volume.batch is None:

        def encode(box: Box) -> bytes | bytearray:
            encoded = volume.encode_chunk(box, block[(slice(None), *box.slices_within(slab))])
            return encoded if level is None else gzip_compress(encoded, level)

        return map_all(encode, boxes, jobs)
    shape = tuple(np.shape(block))
    if shape != (volume.num_channels, *slab.size[::-1]):
        raise ValueError(
            f"block {slab.name} must have shape {(volume.num_channels, *slab.size[::-1])} "
            f"(C, Z, Y, X), got {shape}"
        )
    index = {box: i for i, box in enumerate(volume.chunk_boxes(slab))}
    outside = [box.name for box in boxes if box not in index]
    if outside:
        raise ValueError(f"{outside[0]} is not a chunk of {slab.name} in {volume!r}")
    which = [index[box] for box in boxes]
    start = local_start(volume.grid, slab)
    with naming_chunks(boxes, None):
        return volume.batch.encode(block, start, which, gzip_level=level, threads=job_count(jobs))  # type: ignore[return-value]


def write_stored_chunk(
    volume: PrecomputedVolume,
    box: Box,
    data: bytes | bytearray,
    *,
    gzip_level: int | None = DEFAULT_GZIP_LEVEL,
) -> int:
    """Write a chunk of an unsharded scale as :func:`encode_chunks` gives it for a write at
    ``gzip_level``, atomically; return the bytes written."""
    if volume.sharded:
        raise ValueError(f"scale {volume.key} is sharded: its chunks are written a shard at a time")
    key = volume.chunk_key(box)
    if stored_gzip_level(volume.scale, gzip_level) is None:
        return volume.store.write(key, data)
    return volume.store.write_gzipped(key, data)
