"""Write one scale of a precomputed dataset from an array, one slab of chunks at a time.

:func:`write_scale` reads any array-like that supports slicing (NumPy arrays and memmaps, zarr,
h5py, dask, a lazily downsampled scale) one slab of chunks at a time, encodes chunks in a thread
pool, writes each chunk atomically and skips chunks already written, so that an interrupted job
resumes where it stopped. A sharded scale is written shard by shard (:func:`write_shard_from`):
the slabs of one shard's box are encoded, and the shard file is written whole, once, atomically;
shards already written are skipped. :func:`write_block` (:func:`encode_block` and
:func:`write_encoded_shard` for sharded scales) are the units of work of dask tasks.
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ngcodec.precomputed.format import Box, make_info, vec3
from ngcodec.precomputed.format.scales import add_scales, plan_factors, shard_scales
from ngcodec.precomputed.format.sharding import DEFAULT_SHARD_BYTES, ShardBox
from ngcodec.precomputed.parallel import job_count, wait_all
from ngcodec.precomputed.pipeline.arrays import (
    cast_block,
    check_castable,
    default_data_type,
)
from ngcodec.precomputed.pipeline.encode import encode_chunks, write_stored_chunk
from ngcodec.precomputed.store import Store
from ngcodec.precomputed.store.compression import DEFAULT_GZIP_LEVEL, GZIP_LEVELS
from ngcodec.precomputed.volume import PrecomputedVolume

__all__ = [
    "DEFAULT_MAX_SLAB_BYTES",
    "ProgressCallback",
    "WriteStats",
    "create_dataset_for",
    "dataset_info",
    "encode_block",
    "plan_slabs",
    "read_slab",
    "write_block",
    "write_encoded_shard",
    "write_scale",
    "write_shard_from",
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


def plan_slabs(
    volume: PrecomputedVolume, max_bytes: int = DEFAULT_MAX_SLAB_BYTES, region: Box | None = None
) -> list[Box]:
    """Chunk-aligned boxes that tile the volume (or a chunk-aligned region of it, such as a
    shard's), each at most ``max_bytes`` (or one chunk).

    A slab is one chunk thick in z, and as wide in x, then as tall in y, as the budget allows, so
    that C-order sources (NumPy files, TIFF pages) are read in long contiguous runs.
    """
    area = volume.bounds if region is None else region
    origin, step = volume.voxel_offset, volume.chunk_size
    first = [(a - o) // c for a, o, c in zip(area.start, origin, step, strict=True)]
    stop = [-(-(b - o) // c) for b, o, c in zip(area.stop, origin, step, strict=True)]
    gx, gy = stop[0] - first[0], stop[1] - first[1]
    chunk_bytes = volume.chunk_nbytes(Box((0, 0, 0), volume.chunk_size))
    per_row = chunk_bytes * gx
    if per_row <= max_bytes:
        nx, ny = gx, max(1, min(gy, max_bytes // per_row))
    else:
        nx, ny = max(1, max_bytes // chunk_bytes), 1
    slabs = []
    for k in range(first[2], stop[2]):
        for j in range(first[1], stop[1], ny):
            for i in range(first[0], stop[0], nx):
                start = volume.chunk_box((i, j, k)).start
                last = volume.chunk_box((min(i + nx, stop[0]) - 1, min(j + ny, stop[1]) - 1, k))
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
    box = _block_box(block, origin)
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


def _block_box(block: np.ndarray, origin: Sequence[int]) -> Box:
    """The box a (C, Z, Y, X) block covers from its first voxel (X, Y, Z)."""
    start = vec3(origin, "origin")
    size = block.shape[:0:-1]
    return Box(start, tuple(o + n for o, n in zip(start, size, strict=True)))  # type: ignore[arg-type]


def dataset_info(
    dtype: Any,
    shape: Sequence[int],
    *,
    encoding: str,
    chunk_size: Sequence[int] | int,
    block_size: Sequence[int] | int,
    resolution: Sequence[float] | float,
    voxel_offset: Sequence[int] | int,
    layer_type: str | None,
    key: str | None,
    data_type: Any,
    pyramid: bool = False,
    max_scales: int | None = None,
    factors: Sequence[Sequence[int]] | None = None,
    sharded: bool = False,
    sharded_above: int = 0,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    gzip: bool = True,
) -> dict[str, Any]:
    """The info of the dataset that an array of this dtype and (C, Z, Y, X) shape is written to,
    with every option checked; the options are those of
    :func:`~ngcodec.precomputed.pipeline.convert.write_volume`."""
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
    if factors is None and pyramid:
        base = info["scales"][0]
        factors = plan_factors(
            base["size"], base["resolution"], base["chunk_sizes"][0], max_scales=max_scales
        )
    info = add_scales(info, factors or ())
    if not sharded:
        return info
    return shard_scales(info, shard_bytes=shard_bytes, above=sharded_above, gzip=gzip)


def create_dataset_for(
    dtype: Any,
    shape: Sequence[int],
    path: str | os.PathLike[str] | Store,
    *,
    gzip_level: int,
    encoder_options: Mapping[str, Any] | None,
    overwrite: bool,
    **layout: Any,
) -> PrecomputedVolume:
    """The dataset that an array of this dtype and (C, Z, Y, X) shape is written to, created with
    every option checked; ``layout`` holds the options of :func:`dataset_info`."""
    info = dataset_info(dtype, shape, **layout)
    if gzip_level not in GZIP_LEVELS:
        raise ValueError(f"gzip_level must be between 1 and 12, got {gzip_level}")
    return PrecomputedVolume.create(
        path, info, overwrite=overwrite, encoder_options=encoder_options
    )


def write_scale(
    volume: PrecomputedVolume,
    source: Any,
    *,
    gzip_level: int | None = DEFAULT_GZIP_LEVEL,
    jobs: int | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    max_slab_bytes: int = DEFAULT_MAX_SLAB_BYTES,
) -> WriteStats:
    """Write every chunk of one scale from a (C, Z, Y, X) array-like of the scale's shape.

    Slab by slab, as :func:`write_volume` does; chunks already present are skipped unless
    ``overwrite``. A sharded scale is written a shard at a time (:func:`write_shard_from`) and
    shards already present are skipped.

    :param gzip_level: gzip raw and compressed_segmentation chunks at this level, or None (in a
        sharded scale, the sharding's ``data_encoding`` decides, and this is only the level)
    """
    started = time.perf_counter()
    jobs = job_count(jobs)
    if volume.sharded:
        stats = _write_shards(volume, source, gzip_level, jobs, overwrite, progress, max_slab_bytes)
        stats.seconds = time.perf_counter() - started
        return stats
    existing = set() if overwrite else volume.existing_chunk_names()
    stats = WriteStats()

    def write_files(todo: list[Box], stored: list[bytes | bytearray]) -> None:
        for box, chunk in zip(todo, stored, strict=True):
            stats.bytes_out += write_stored_chunk(volume, box, chunk, gzip_level=gzip_level)
            stats.bytes_in += volume.chunk_nbytes(box)
        stats.chunks_written += len(todo)
        if progress is not None:
            progress(len(todo))

    def encode_slab(slab: Box, data: np.ndarray, todo: list[Box]) -> None:
        stored = encode_chunks(volume, slab, data, todo, gzip_level=gzip_level, jobs=jobs)
        assert writer is not None
        writes.append(writer.submit(write_files, todo, stored))

    # A slab is encoded (on `jobs` native threads) while the next is read and the files of the
    # one before are written; each stage in one thread of its own.
    encoder, writer = (
        (concurrent.futures.ThreadPoolExecutor(1), concurrent.futures.ThreadPoolExecutor(1))
        if jobs > 1
        else (None, None)
    )
    encoding: list[concurrent.futures.Future[None]] = []
    writes: list[concurrent.futures.Future[None]] = []
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
                if encoder is None:
                    stored = encode_chunks(volume, slab, data, todo, gzip_level=gzip_level, jobs=1)
                    write_files(todo, stored)
                    continue
                wait_all(encoding)  # the slab before this one: at most two slabs in memory
                wait_all(writes[:-1])  # and the encoded files of at most two
                encoding = [encoder.submit(encode_slab, slab, data, todo)]
            wait_all(encoding)
            wait_all(writes)
        finally:
            for stage in (encoder, writer):
                if stage is not None:
                    stage.shutdown(wait=True, cancel_futures=True)
    stats.seconds = time.perf_counter() - started
    return stats


def _write_shards(
    volume: PrecomputedVolume,
    source: Any,
    gzip_level: int | None,
    jobs: int,
    overwrite: bool,
    progress: ProgressCallback | None,
    max_slab_bytes: int,
) -> WriteStats:
    """Every shard of a sharded scale in turn, each encoded by ``jobs`` threads while the next
    slab is read."""
    existing = set() if overwrite else volume.shards.shard_files()
    stats = WriteStats()
    pool = concurrent.futures.ThreadPoolExecutor(1) if jobs > 1 else None
    try:
        for shard in volume.shards.shard_boxes():
            if shard.shard in existing:
                count = math.prod(b - a for a, b in zip(shard.start, shard.stop, strict=True))
                stats += WriteStats(chunks_total=count, chunks_skipped=count)
                if progress is not None:
                    progress(count)
                continue
            stats += write_shard_from(
                volume,
                shard,
                source,
                gzip_level=gzip_level,
                pool=pool,
                progress=progress,
                max_slab_bytes=max_slab_bytes,
                jobs=jobs,
            )
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return stats


def write_shard_from(
    volume: PrecomputedVolume,
    shard: ShardBox,
    source: Any,
    *,
    gzip_level: int | None = DEFAULT_GZIP_LEVEL,
    pool: concurrent.futures.Executor | None = None,
    progress: ProgressCallback | None = None,
    max_slab_bytes: int = DEFAULT_MAX_SLAB_BYTES,
    jobs: int | None = 1,
) -> WriteStats:
    """Write one shard of a sharded scale from a (C, Z, Y, X) array-like of the scale's shape.

    The shard's box is read slab by slab and each slab's chunks encoded on ``jobs`` threads (in
    ``pool`` if given, while the next slab is read); the shard file is then built and written
    whole, atomically. Memory: the shard's encoded chunks and two slabs.
    """
    started = time.perf_counter()
    packed: dict[Box, bytes | bytearray] = {}

    def pack(slab: Box, data: np.ndarray) -> None:
        boxes = list(volume.chunk_boxes(slab))
        stored = encode_chunks(volume, slab, data, boxes, gzip_level=gzip_level, jobs=jobs)
        packed.update(zip(boxes, stored, strict=True))
        if progress is not None:
            progress(len(boxes))

    in_flight: list[concurrent.futures.Future[None]] = []
    for slab in plan_slabs(volume, max_slab_bytes, volume.shards.shard_region(shard)):
        data = read_slab(source, volume, slab)
        if pool is None:
            pack(slab, data)
            continue
        wait_all(in_flight)  # the slab before this one: at most two slabs in memory
        in_flight = [pool.submit(pack, slab, data)]
    wait_all(in_flight)
    return write_encoded_shard(volume, shard, packed, started=started)


def encode_block(
    volume: PrecomputedVolume,
    block: Any,
    origin: Sequence[int],
    *,
    gzip_level: int | None = DEFAULT_GZIP_LEVEL,
) -> dict[Box, bytes | bytearray]:
    """Encode every chunk of a chunk-aligned (C, Z, Y, X) block of a sharded scale as its shard
    stores it (:meth:`~PrecomputedVolume.encode_shard_chunk`), in one call on one thread; the
    first half of a dask task that writes a shard, whose second half is
    :func:`write_encoded_shard`.

    :param origin: the block's first voxel in global coordinates (X, Y, Z), on the chunk grid
    """
    block = np.asarray(block)
    box = _block_box(block, origin)
    block = cast_block(block, volume.dtype, f"block {box.name}")
    boxes = list(volume.chunk_boxes(box))
    if any(chunk.intersection(box) != chunk for chunk in boxes):
        raise ValueError(f"block {box.name} is not aligned to the chunk grid of {volume!r}")
    stored = encode_chunks(volume, box, block, boxes, gzip_level=gzip_level, jobs=1)
    return dict(zip(boxes, stored, strict=True))


def write_encoded_shard(
    volume: PrecomputedVolume,
    shard: ShardBox,
    *parts: Mapping[Box, bytes | bytearray],
    started: float | None = None,
) -> WriteStats:
    """Write a shard file from its chunks as :func:`encode_block` gives them, in any number of
    parts; return its stats."""
    started = time.perf_counter() if started is None else started
    chunks = {box: data for part in parts for box, data in part.items()}
    written = volume.write_shard(shard, chunks)
    return WriteStats(
        chunks_total=len(chunks),
        chunks_written=len(chunks),
        bytes_in=sum(volume.chunk_nbytes(box) for box in chunks),
        bytes_out=written,
        seconds=time.perf_counter() - started,
    )


def read_slab(source: Any, volume: PrecomputedVolume, slab: Box) -> np.ndarray:
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
