"""Write arrays to precomputed datasets, one slab of chunks at a time.

:func:`write_volume` converts any array-like that supports slicing (NumPy arrays and memmaps, zarr,
h5py, dask) one slab of chunks at a time, encodes chunks in a thread pool, writes each chunk
atomically and skips chunks already written, so that an interrupted job resumes where it stopped.
:func:`write_block` is the unit of work of a task (see :mod:`~ngcodec.precomputed.pipeline.dask`).
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ngcodec.precomputed.format import Box, make_info, vec3
from ngcodec.precomputed.parallel import job_count, wait_all
from ngcodec.precomputed.pipeline.arrays import (
    AxisOrderView,
    cast_block,
    check_castable,
    default_data_type,
)
from ngcodec.precomputed.store import Store
from ngcodec.precomputed.store.compression import DEFAULT_GZIP_LEVEL, GZIP_LEVELS
from ngcodec.precomputed.volume import PrecomputedVolume

__all__ = [
    "DEFAULT_MAX_SLAB_BYTES",
    "ProgressCallback",
    "WriteStats",
    "create_dataset_for",
    "plan_slabs",
    "read_slab",
    "write_block",
    "write_volume",
]

DEFAULT_MAX_SLAB_BYTES = 256 * 2**20
"""Upper bound on the bytes of input one slab of chunks holds (at least one chunk is read)."""

ProgressCallback = Callable[[int], None]
"""Called with a number of chunks just finished (written, skipped or verified)."""


@dataclass
class WriteStats:
    """What a write did: chunks written and skipped, bytes in (decoded) and out (files)."""

    chunks_total: int = 0
    chunks_written: int = 0
    chunks_skipped: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0

    def __add__(self, other: WriteStats) -> WriteStats:
        return WriteStats(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(WriteStats))
        )

    @property
    def compression_ratio(self) -> float:
        """Bytes in over bytes out for the chunks written (``nan`` if none were)."""
        return self.bytes_in / self.bytes_out if self.bytes_out else math.nan

    @property
    def megabytes_per_second(self) -> float:
        """Decoded MB (10^6 bytes) written per second of wall time."""
        return self.bytes_in / 1e6 / self.seconds if self.seconds > 0 else math.nan

    def as_dict(self) -> dict[str, Any]:
        return {
            **{f.name: getattr(self, f.name) for f in fields(WriteStats)},
            "compression_ratio": self.compression_ratio,
            "megabytes_per_second": self.megabytes_per_second,
        }


def plan_slabs(volume: PrecomputedVolume, max_bytes: int = DEFAULT_MAX_SLAB_BYTES) -> list[Box]:
    """Chunk-aligned boxes that tile the volume, each at most ``max_bytes`` (or one chunk).

    A slab is one chunk thick in z, and as wide in x, then as tall in y, as the budget allows, so
    that C-order sources (NumPy files, TIFF pages) are read in long contiguous runs.
    """
    gx, gy, gz = volume.grid_shape
    chunk_bytes = volume.chunk_nbytes(Box((0, 0, 0), volume.chunk_size))
    per_row = chunk_bytes * gx
    if per_row <= max_bytes:
        nx, ny = gx, max(1, min(gy, max_bytes // per_row))
    else:
        nx, ny = max(1, max_bytes // chunk_bytes), 1
    slabs = []
    for k in range(gz):
        for j in range(0, gy, ny):
            for i in range(0, gx, nx):
                start = volume.chunk_box((i, j, k)).start
                last = volume.chunk_box((min(i + nx, gx) - 1, min(j + ny, gy) - 1, k))
                slabs.append(Box(start, last.stop))
    return slabs


def write_block(
    volume: PrecomputedVolume,
    block: Any,
    origin: Sequence[int],
    *,
    gzip_level: int | None = DEFAULT_GZIP_LEVEL,
    skip_existing: bool = True,
    existing: Collection[str] | None = None,
) -> WriteStats:
    """Encode and write every chunk of a chunk-aligned (C, Z, Y, X) block; the unit of a task.

    :param origin: the block's first voxel in global coordinates (X, Y, Z), on the chunk grid
    :param skip_existing: leave chunks whose files exist alone (resuming a job)
    :param existing: the names of the chunks known to exist (from one listing), to skip without
        asking the store about each; overrides ``skip_existing``
    """
    started = time.perf_counter()
    block = np.asarray(block)
    box = Box(
        vec3(origin, "origin"),
        tuple(o + n for o, n in zip(origin, block.shape[:0:-1], strict=True)),  # type: ignore[arg-type]
    )
    block = cast_block(block, volume.dtype, f"block {box.name}")
    stats = WriteStats()
    with volume.store.batched_writes():
        for chunk in volume.chunk_boxes(box):
            if not chunk.intersection(box) == chunk:
                raise ValueError(f"block {box.name} is not aligned to the chunk grid of {volume!r}")
            stats.chunks_total += 1
            if existing is not None:
                there = chunk.name in existing
            else:
                there = skip_existing and volume.has_chunk(chunk)
            if there:
                stats.chunks_skipped += 1
                continue
            data = block[(slice(None), *chunk.slices_within(box))]
            stats.bytes_out += volume.write_chunk(chunk, data, gzip_level=gzip_level)
            stats.bytes_in += volume.chunk_nbytes(chunk)
            stats.chunks_written += 1
    stats.seconds = time.perf_counter() - started
    return stats


def create_dataset_for(
    dtype: np.dtype,
    shape: Sequence[int],
    path: str | os.PathLike[str] | Store,
    *,
    encoding: str,
    chunk_size: Sequence[int] | int,
    block_size: Sequence[int] | int,
    resolution: Sequence[float] | float,
    voxel_offset: Sequence[int] | int,
    layer_type: str | None,
    key: str | None,
    data_type: Any,
    gzip_level: int,
    encoder_options: Mapping[str, Any] | None,
    overwrite: bool,
) -> PrecomputedVolume:
    """The dataset that an array of this dtype and (C, Z, Y, X) shape is written to, created with
    every option checked; the options are those of :func:`write_volume`."""
    if data_type is None:
        data_type = default_data_type(dtype)
    info = make_info(
        data_type=data_type,
        num_channels=shape[0],
        size=shape[:0:-1],
        encoding=encoding,
        chunk_size=chunk_size,
        resolution=resolution,
        voxel_offset=voxel_offset,
        block_size=block_size,
        layer_type=layer_type,
        key=key,
    )
    check_castable(dtype, info["data_type"])
    if gzip_level not in GZIP_LEVELS:
        raise ValueError(f"gzip_level must be between 1 and 12, got {gzip_level}")
    return PrecomputedVolume.create(
        path, info, overwrite=overwrite, encoder_options=encoder_options
    )


def write_volume(
    array: Any,
    path: str | os.PathLike[str] | Store,
    *,
    encoding: str = "raw",
    chunk_size: Sequence[int] | int = (64, 64, 64),
    block_size: Sequence[int] | int = (8, 8, 8),
    resolution: Sequence[float] | float = (1, 1, 1),
    voxel_offset: Sequence[int] | int = (0, 0, 0),
    layer_type: str | None = None,
    key: str | None = None,
    data_type: Any = None,
    axes: str | None = None,
    gzip: bool = True,
    gzip_level: int = DEFAULT_GZIP_LEVEL,
    encoder_options: Mapping[str, Any] | None = None,
    jobs: int | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    max_slab_bytes: int = DEFAULT_MAX_SLAB_BYTES,
) -> WriteStats:
    """Write an array to a single-scale precomputed dataset directory.

    The array is read one slab of chunks at a time (see ``max_slab_bytes``), never whole; while the
    thread pool encodes one slab the next is read. Each chunk is written atomically, and chunks
    already present are skipped, so running the same call again after an interruption finishes
    the job.

    :param array: a NumPy array or any array-like with ``shape``, ``dtype`` and slicing (memmap,
        zarr, h5py, dask), (Z, Y, X) or (C, Z, Y, X) unless ``axes`` says otherwise
    :param path: the dataset directory (created if needed)
    :param encoding: one of :data:`ENCODINGS`: ``raw``, ``compressed_segmentation``, ``jpeg``
        (and ``png`` where :mod:`ngcodec.chunk_encoding` has it)
    :param chunk_size: (X, Y, Z) or one number
    :param block_size: the compressed_segmentation block size (X, Y, Z) or one number
    :param resolution: voxel size (X, Y, Z) in nanometres
    :param voxel_offset: global coordinates (X, Y, Z) of the first voxel
    :param layer_type: ``image`` or ``segmentation`` (default: from the encoding)
    :param key: the scale's directory name (default: from the resolution, e.g. ``8_8_40``)
    :param data_type: the dataset's data type (default: the array's); values are cast, and a
        narrowing integer cast is checked to fit
    :param axes: the array's axis order, e.g. ``xyz`` or ``zyxc`` (default ``zyx`` / ``czyx``)
    :param gzip: gzip raw and compressed_segmentation chunks into ``.gz`` files
    :param gzip_level: the gzip level, 1 (fast) to 9 (small)
    :param encoder_options: extrinsic encoder options, as for :func:`get_encoder`:
        ``jpeg_quality`` and ``jpeg_plane`` for jpeg (``png_level`` for png)
    :param jobs: encoding threads (default: one per CPU); 1 runs everything in this thread
    :param overwrite: replace a different dataset at ``path`` and rewrite every chunk
    :param progress: called with the number of chunks finished, as they finish
    :param max_slab_bytes: the most input bytes read at once (two slabs are held: one read, one
        being encoded)
    :raises DatasetExistsError: if ``path`` holds a different dataset and ``overwrite`` is false
    :returns: :class:`WriteStats`
    """
    started = time.perf_counter()
    source = AxisOrderView(array, axes)
    volume = create_dataset_for(
        source.dtype,
        source.shape,
        path,
        encoding=encoding,
        chunk_size=chunk_size,
        block_size=block_size,
        resolution=resolution,
        voxel_offset=voxel_offset,
        layer_type=layer_type,
        key=key,
        data_type=data_type,
        gzip_level=gzip_level,
        encoder_options=encoder_options,
        overwrite=overwrite,
    )
    jobs = job_count(jobs)
    level = gzip_level if gzip else None
    existing = set() if overwrite else volume.existing_chunk_names()
    stats = WriteStats()
    lock = threading.Lock()

    def write_one(box: Box, chunk: np.ndarray) -> None:
        written = volume.write_chunk(box, chunk, gzip_level=level)
        with lock:
            stats.chunks_written += 1
            stats.bytes_out += written
            stats.bytes_in += volume.chunk_nbytes(box)
        if progress is not None:
            progress(1)

    pool = concurrent.futures.ThreadPoolExecutor(jobs) if jobs > 1 else None
    in_flight: list[concurrent.futures.Future[None]] = []
    with volume.store.batched_writes():  # many puts in flight on object stores
        try:
            for slab in plan_slabs(volume, max_slab_bytes):
                boxes = list(volume.chunk_boxes(slab))
                stats.chunks_total += len(boxes)
                todo = [box for box in boxes if box.name not in existing]
                if len(todo) < len(boxes):
                    stats.chunks_skipped += len(boxes) - len(todo)
                    if progress is not None:
                        progress(len(boxes) - len(todo))
                if not todo:
                    continue
                data = read_slab(source, volume, slab)
                if pool is None:
                    for box in todo:
                        write_one(box, data[(slice(None), *box.slices_within(slab))])
                    continue
                wait_all(in_flight)  # the slab before this one: at most two slabs in memory
                in_flight = [
                    pool.submit(write_one, box, data[(slice(None), *box.slices_within(slab))])
                    for box in todo
                ]
            wait_all(in_flight)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
    stats.seconds = time.perf_counter() - started
    return stats


def read_slab(source: AxisOrderView, volume: PrecomputedVolume, slab: Box) -> np.ndarray:
    """The slab of the source as a (C, Z, Y, X) array of the volume's dtype."""
    local = Box(
        tuple(a - o for a, o in zip(slab.start, volume.voxel_offset, strict=True)),  # type: ignore[arg-type]
        tuple(b - o for b, o in zip(slab.stop, volume.voxel_offset, strict=True)),  # type: ignore[arg-type]
    )
    z, y, x = local.slices_within(Box((0, 0, 0), volume.size))
    data = source[(slice(None), z, y, x)]
    expected = (volume.num_channels, *local.size[::-1])
    if data.shape != expected:
        raise ValueError(
            f"reading {slab.name} from the input gave shape {data.shape}, expected {expected}"
        )
    return cast_block(data, volume.dtype, f"input at {slab.name}")
