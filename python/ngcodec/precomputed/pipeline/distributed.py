"""Write dask arrays to precomputed datasets, one task per group of chunks, on any dask scheduler.

:func:`to_precomputed` is to a precomputed dataset what ``dask.array.to_zarr`` is to zarr: the
client writes the ``info`` file, then each block of the (rechunked if need be) array becomes one
task that encodes and writes the chunks it covers. It runs on whichever scheduler dask is set up
to use: the local threads by default, or a ``dask.distributed`` cluster when a ``Client`` exists
(``LocalCluster``, dask-jobqueue, dask-kubernetes, a cloud deployment: nothing here is specific
to any). The workers write to the dataset's store: a bucket (``s3://``, ``gs://``) or a
directory that every worker sees at the same path (a shared file system).

Tasks hold only a :class:`~ngcodec.precomputed.volume.PrecomputedVolume` (store, info, encoder
options), the block and the names of its chunks already written (from one listing by the
client); there is no global state, and every chunk is written atomically, so a job that was
stopped resumes by running it again: blocks whose chunks all exist are not even read. A sharded
scale is written by one task per shard, the only writer of its file, which gathers the chunks
that the tasks of its blocks encoded (in parallel, on any workers) and writes the shard whole;
shards already written are skipped.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ngcodec.precomputed.format import Box
from ngcodec.precomputed.format.sharding import DEFAULT_SHARD_BYTES
from ngcodec.precomputed.pipeline.arrays import AXES_3D, AXES_4D
from ngcodec.precomputed.pipeline.downsample import DownsampledArray, write_pyramid
from ngcodec.precomputed.pipeline.write import (
    ProgressCallback,
    WriteStats,
    create_dataset_for,
    encode_block,
    write_block,
    write_encoded_shard,
)
from ngcodec.precomputed.store import Store
from ngcodec.precomputed.store.compression import DEFAULT_GZIP_LEVEL
from ngcodec.precomputed.volume import PrecomputedVolume

__all__ = [
    "DEFAULT_TASK_BYTES",
    "aligned_block_shape",
    "pyramid_tasks",
    "scale_tasks",
    "to_precomputed",
]

DEFAULT_TASK_BYTES = 64 * 2**20
"""The input bytes one task reads, when the array must be rechunked (at least one chunk)."""


def aligned_block_shape(
    volume: PrecomputedVolume, max_bytes: int = DEFAULT_TASK_BYTES
) -> tuple[int, int, int, int]:
    """A (C, Z, Y, X) dask chunk shape on the chunk grid: one chunk deep, rows of whole chunks;
    in a sharded scale, blocks within one shard each.

    :param max_bytes: the most bytes a block holds (at least one chunk)
    """
    cx, cy, cz = volume.chunk_size
    gx, gy, _ = volume.grid_shape
    chunk_bytes = volume.num_channels * cx * cy * cz * volume.dtype.itemsize
    if volume.sharded:
        # Shards are boxes of 2^n chunks a side from 0: a power of two no larger tiles them.
        side = _shard_side(volume)
        gx, gy = side[0], side[1]
        nx = _power_of_two_at_most(min(gx, max(1, max_bytes // chunk_bytes)))
        ny = _power_of_two_at_most(min(gy, max(1, max_bytes // (chunk_bytes * nx))))
        ny = ny if nx == gx else 1
    else:
        nx = max(1, min(gx, max_bytes // chunk_bytes))
        ny = max(1, min(gy, max_bytes // (chunk_bytes * nx))) if nx == gx else 1
    return (volume.num_channels, cz, ny * cy, nx * cx)


def _shard_side(volume: PrecomputedVolume) -> tuple[int, int, int]:
    """The chunks along (X, Y, Z) of a whole shard of a sharded scale."""
    first = volume.shards.shard_boxes()[0]
    return tuple(b - a for a, b in zip(first.start, first.stop, strict=True))  # type: ignore[return-value]


def _power_of_two_at_most(n: int) -> int:
    return 1 << (n.bit_length() - 1)


def _is_aligned(chunks: Sequence[int], step: int, shard_step: int | None = None) -> bool:
    """Whether every block boundary along an axis falls on the chunk grid, and no block crosses
    the boundary of a shard (every ``shard_step`` voxels from the start), if given."""
    ends = np.cumsum(chunks)
    if any(end % step for end in ends[:-1]):
        return False
    if shard_step is None:
        return True
    return not any(
        start // shard_step != (end - 1) // shard_step
        for start, end in zip(ends - chunks, ends, strict=True)
        if end > start
    )


def _czyx(array: Any, axes: str | None) -> Any:
    """The dask array with axes (C, Z, Y, X), transposed lazily."""
    if axes is None:
        axes = {3: AXES_3D, 4: AXES_4D}.get(array.ndim)
        if axes is None:
            raise ValueError(
                f"the array must have 3 axes (Z, Y, X) or 4 (C, Z, Y, X), got shape {array.shape}"
            )
    axes = axes.lower()
    if sorted(axes) not in (sorted(AXES_3D), sorted(AXES_4D)) or len(axes) != array.ndim:
        raise ValueError(
            f"axes must be a permutation of 'zyx' or 'czyx' matching the array's {array.ndim} "
            f"axes, got {axes!r}"
        )
    if "c" not in axes:
        array = array[None]
        axes = "c" + axes
    return array.transpose([axes.index(a) for a in AXES_4D])


def to_precomputed(
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
    overwrite: bool = False,
    compute: bool = True,
    progress: ProgressCallback | None = None,
    max_task_bytes: int = DEFAULT_TASK_BYTES,
    pyramid: bool = False,
    max_scales: int | None = None,
    factors: Sequence[Sequence[int]] | None = None,
    downsample_method: str | None = None,
    ignore_zero: bool = False,
    sharded: bool = False,
    sharded_above: int = 0,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
) -> Any:
    """Write a dask array (or anything :func:`dask.array.asarray` takes) to a precomputed dataset.

    The options are those of :func:`~ngcodec.precomputed.pipeline.convert.write_volume`. Blocks
    already on the chunk grid and of at most ``max_task_bytes`` are used as they are; otherwise the
    array is rechunked to blocks of whole chunks of at most ``max_task_bytes``. One task writes one
    block. Each coarser scale of a pyramid is written by its own tasks once the scale before it is
    done, each task reading only the part of that scale it needs. In a sharded scale, blocks lie
    within shards, and one task per shard gathers its blocks' encoded chunks and writes the shard.

    :param compute: run the tasks now and return
        :class:`~ngcodec.precomputed.pipeline.write.WriteStats`; if false, return the list of
        ``dask.delayed`` tasks of the base scale (each computes to a ``WriteStats``) without
        running them (not with a pyramid, whose scales wait for each other)
    :param progress: called with the number of chunks finished as tasks finish
    :raises DatasetExistsError: if ``path`` holds a different dataset and ``overwrite`` is false
    """
    import dask.array as da

    started = time.perf_counter()
    darr = _czyx(da.asarray(array), axes)
    volume = create_dataset_for(
        darr.dtype,
        darr.shape,
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
        pyramid=pyramid,
        max_scales=max_scales,
        factors=factors,
        sharded=sharded,
        sharded_above=sharded_above,
        shard_bytes=shard_bytes,
        gzip=gzip,
    )
    level = gzip_level if gzip else None
    tasks, skipped = scale_tasks(volume, darr, level, overwrite, max_task_bytes)
    if not compute:
        if len(volume.info["scales"]) > 1:
            raise ValueError(
                "compute=False writes one scale; a pyramid's scales wait for each other"
            )
        return tasks
    stats = _run_counted(tasks, skipped, progress)
    for scale_stats in pyramid_tasks(
        volume,
        # Lossless chunks are read back; the graph is recomputed only for the exact values of
        # lossy ones.
        darr if volume.encoder.lossy else None,
        method=downsample_method,
        ignore_zero=ignore_zero,
        gzip_level=level,
        overwrite=overwrite,
        progress=progress,
        max_task_bytes=max_task_bytes,
    ).values():
        stats = stats + scale_stats
    stats.seconds = time.perf_counter() - started
    return stats


def pyramid_tasks(
    base: PrecomputedVolume,
    base_values: Any = None,
    *,
    method: str | None = None,
    ignore_zero: bool = False,
    keys: Sequence[str] | None = None,
    gzip_level: int | None = DEFAULT_GZIP_LEVEL,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    max_task_bytes: int = DEFAULT_TASK_BYTES,
) -> dict[str, WriteStats]:
    """:func:`~ngcodec.precomputed.pipeline.downsample.write_pyramid` with one task per block of
    each scale, each task reading only the part of the scale before that it needs."""
    import dask.array as da

    def write_by_tasks(target: PrecomputedVolume, view: DownsampledArray, reads: int) -> WriteStats:
        source = da.from_array(
            view,
            chunks=aligned_block_shape(target, max(1, max_task_bytes // reads)),
            name=False,
            asarray=True,
            lock=False,
            meta=np.empty((0,) * 4, target.dtype),
        )
        return _run_counted(
            *scale_tasks(target, source, gzip_level, overwrite, max_task_bytes), progress
        )

    return write_pyramid(
        base,
        base_values,
        method=method,
        ignore_zero=ignore_zero,
        keys=keys,
        scale_writer=write_by_tasks,
    )


def scale_tasks(
    volume: PrecomputedVolume,
    darr: Any,
    gzip_level: int | None,
    overwrite: bool,
    max_task_bytes: int = DEFAULT_TASK_BYTES,
) -> tuple[list[Any], WriteStats]:
    """The ``dask.delayed`` tasks that write one scale from a (C, Z, Y, X) dask array of its
    shape, and the stats of the blocks skipped because all their chunks exist.

    In a sharded scale, a task per shard writes the shard from the chunks that a task per block
    encoded, and shards already written are skipped.
    """
    import dask

    cx, cy, cz = volume.chunk_size
    shard_steps: tuple[int | None, ...] = (None, None, None)
    if volume.sharded:
        side = _shard_side(volume)
        shard_steps = (side[2] * cz, side[1] * cy, side[0] * cx)
    largest_block = darr.shape[0] * darr.dtype.itemsize * math.prod(max(c) for c in darr.chunks[1:])
    aligned = all(
        _is_aligned(c, s, t)
        for c, s, t in zip(darr.chunks[1:], (cz, cy, cx), shard_steps, strict=True)
    )
    if not aligned or largest_block > max(
        max_task_bytes, volume.chunk_nbytes(Box((0, 0, 0), volume.chunk_size))
    ):
        darr = darr.rechunk(aligned_block_shape(volume, max_task_bytes))
    elif len(darr.chunks[0]) > 1:
        darr = darr.rechunk({0: -1})

    blocks = darr.to_delayed(optimize_graph=True)
    starts = [np.cumsum((0, *c[:-1])) for c in darr.chunks]
    placed = []  # each block's index, first voxel and box
    for index in np.ndindex(*darr.numblocks):
        _, k, j, i = index
        origin = tuple(
            int(o + s[n])
            for o, s, n in zip(volume.voxel_offset, starts[:0:-1], (i, j, k), strict=True)
        )
        size = tuple(int(c[n]) for c, n in zip(darr.chunks[:0:-1], (i, j, k), strict=True))
        box = Box(origin, tuple(o + n for o, n in zip(origin, size, strict=True)))  # type: ignore[arg-type]
        placed.append((index, origin, box))
    if volume.sharded:
        return _shard_tasks(volume, blocks, placed, gzip_level, overwrite)

    existing = set() if overwrite else volume.existing_chunk_names()
    skipped = WriteStats()
    tasks = []
    for index, origin, box in placed:
        names = [chunk.name for chunk in volume.chunk_boxes(box)]
        if all(name in existing for name in names):
            skipped.chunks_total += len(names)
            skipped.chunks_skipped += len(names)
            continue
        tasks.append(
            dask.delayed(write_block, pure=False)(
                volume,
                blocks[index],
                origin,
                gzip_level=gzip_level,
                existing=[name for name in names if name in existing],
            )
        )
    return tasks, skipped


def _shard_tasks(
    volume: PrecomputedVolume,
    blocks: Any,
    placed: list[tuple[tuple[int, ...], tuple[int, ...], Box]],
    gzip_level: int | None,
    overwrite: bool,
) -> tuple[list[Any], WriteStats]:
    """A task per shard, writing the chunks that the tasks of its blocks encode."""
    import dask

    existing = set() if overwrite else volume.shards.shard_files()
    by_number = {shard.shard: shard for shard in volume.shards.shard_boxes()}
    firsts = [next(volume.chunk_boxes(box)) for _, _, box in placed]
    numbers = volume.shards.spec.locate(volume.shards.chunk_ids(firsts))[0].tolist()
    skipped = WriteStats()
    parts: dict[int, list[Any]] = {}
    for (index, origin, box), number in zip(placed, numbers, strict=True):
        if number in existing:
            count = sum(1 for _ in volume.chunk_boxes(box))
            skipped.chunks_total += count
            skipped.chunks_skipped += count
            continue
        parts.setdefault(number, []).append(
            dask.delayed(encode_block, pure=False)(
                volume, blocks[index], origin, gzip_level=gzip_level
            )
        )
    tasks = [
        dask.delayed(write_encoded_shard, pure=False)(volume, by_number[number], *encoded)
        for number, encoded in sorted(parts.items())
    ]
    return tasks, skipped


def _run_counted(
    tasks: list[Any], skipped: WriteStats, progress: ProgressCallback | None
) -> WriteStats:
    """Run a scale's tasks, reporting progress as they finish; the stats of all its chunks."""
    if progress is not None and skipped.chunks_total:
        progress(skipped.chunks_total)
    stats = skipped
    for result in _run(tasks):
        stats = stats + result
        if progress is not None:
            progress(result.chunks_total)
    return stats


def _run(tasks: list[Any]) -> Any:
    """Compute tasks, yielding results as they finish on a distributed client, else all at once."""
    import dask

    if not tasks:
        return
    client = None
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        client = None
    if client is None:
        yield from dask.compute(*tasks)
        return
    from distributed import as_completed

    futures = client.compute(tasks)
    try:
        for future in as_completed(futures):
            yield future.result()
    finally:
        for future in futures:
            future.cancel()
