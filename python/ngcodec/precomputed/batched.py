"""Chunks of one scale many at a time, through :class:`~ngcodec.chunk_batch.ChunkBatch`: a region
decoded a layer of chunks per native call while the next layer's files are read. Errors name the
chunk."""

from __future__ import annotations

import concurrent.futures
import contextlib
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ngcodec.chunk_batch import ChunkBatch, StoredChunk
from ngcodec.precomputed.format import Box, ChunkGrid
from ngcodec.precomputed.parallel import map_all

__all__ = ["ChunkError", "MissingChunkError", "local_start", "naming_chunks", "read_region"]


class ChunkError(ValueError):
    """Raised when a chunk file cannot be read or decoded; names the chunk."""


class MissingChunkError(ChunkError):
    """Raised when a chunk file that the volume needs is absent."""


def read_region(
    batch: ChunkBatch,
    grid: ChunkGrid,
    region: Box,
    out: np.ndarray,
    read: Callable[[Box], StoredChunk | None],
    *,
    max_inflated: int,
    jobs: int,
) -> None:
    """Decode the chunks of ``region`` into ``out`` (its (C, Z, Y, X) array) one layer of chunks
    (one chunk thick in z) at a time: ``read`` gives each chunk as stored (None: leave it as it
    is in ``out``), in ``jobs`` threads, while the layer before is decoded on ``jobs`` native
    threads. Memory: the stored bytes of two layers.

    :raises ChunkError: for a chunk that cannot be decoded
    """
    layers: dict[int, list[Box]] = {}
    for box in grid.chunk_boxes(region):
        layers.setdefault(box.start[2], []).append(box)

    def decode(layer: Box, boxes: list[Box], stored: list[StoredChunk | None]) -> None:
        target = out[(slice(None), *layer.slices_within(region))]
        with naming_chunks(boxes, ChunkError):
            batch.decode_into(
                target, local_start(grid, layer), stored, max_inflated=max_inflated, threads=jobs
            )

    decoding: concurrent.futures.Future[None] | None = None
    with concurrent.futures.ThreadPoolExecutor(1) as decoder:
        for boxes in layers.values():
            stored = map_all(read, boxes, jobs)
            layer = region.intersection(Box(boxes[0].start, boxes[-1].stop))
            if jobs == 1:
                decode(layer, boxes, stored)
                continue
            if decoding is not None:
                decoding.result()
            decoding = decoder.submit(decode, layer, boxes, stored)
        if decoding is not None:
            decoding.result()


def local_start(grid: ChunkGrid, box: Box) -> tuple[int, int, int]:
    """The box's first voxel counted from the volume's first voxel."""
    x, y, z = (a - o for a, o in zip(box.start, grid.voxel_offset, strict=True))
    return (x, y, z)


@contextlib.contextmanager
def naming_chunks(boxes: Sequence[Box], error: type[ValueError] | None) -> Iterator[None]:
    """Re-raises a batch's chunk error with the chunk's name, as ``error`` (by default the same
    type)."""
    try:
        yield
    except ValueError as exc:
        chunk = getattr(exc, "chunk_index", None)
        if chunk is None:
            raise
        raise (error or type(exc))(f"chunk {boxes[chunk].name}: {exc}") from exc
