"""Convert an input array to a precomputed dataset: its base scale and, if asked, its pyramid."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ngcodec.precomputed.format.sharding import DEFAULT_SHARD_BYTES
from ngcodec.precomputed.pipeline.arrays import AxisOrderView
from ngcodec.precomputed.pipeline.downsample import write_pyramid
from ngcodec.precomputed.pipeline.write import (
    DEFAULT_MAX_SLAB_BYTES,
    ProgressCallback,
    WriteStats,
    create_dataset_for,
    write_scale,
)
from ngcodec.precomputed.store import Store
from ngcodec.precomputed.store.compression import DEFAULT_GZIP_LEVEL

__all__ = ["write_volume"]


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
    pyramid: bool = False,
    max_scales: int | None = None,
    factors: Sequence[Sequence[int]] | None = None,
    downsample_method: str | None = None,
    ignore_zero: bool = False,
    sharded: bool = False,
    sharded_above: int = 0,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
) -> WriteStats:
    """Write an array to a precomputed dataset: one scale, or a pyramid of them.

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
    :param pyramid: also write coarser scales, halving each axis (anisotropic axes wait, see
        :func:`~ngcodec.precomputed.format.scales.plan_factors`) until one chunk holds the volume
    :param max_scales: with ``pyramid``, at most this many scales in all
    :param factors: the factors (X, Y, Z) of each coarser scale over the one before, instead of
        the planned ones
    :param downsample_method: ``mean``, ``mode``, ``stride``, ``min`` or ``max`` (default:
        ``mode`` for segmentation, ``mean`` for images)
    :param ignore_zero: with ``mode``, 0 wins a block only when the whole block is 0
    :param sharded: write the scales in the sharded format: a few ``.shard`` files each holding
        many chunks, instead of one file per chunk; each shard is written whole, and a rerun skips
        the shards already written
    :param sharded_above: with ``sharded``, shard only the scales of more than this many bytes of
        uncompressed data (the others keep a file per chunk)
    :param shard_bytes: the uncompressed bytes of chunks a shard holds, about (a power of two
        of chunks); the memory a shard takes while written is its compressed size
    :raises DatasetExistsError: if ``path`` holds a different dataset and ``overwrite`` is false
    :returns: :class:`WriteStats`, of all scales together
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
        pyramid=pyramid,
        max_scales=max_scales,
        factors=factors,
        sharded=sharded,
        sharded_above=sharded_above,
        shard_bytes=shard_bytes,
        gzip=gzip,
    )
    level = gzip_level if gzip else None
    written: list[WriteStats] = []

    def write_base() -> None:
        written.append(
            write_scale(
                volume,
                source,
                gzip_level=level,
                jobs=jobs,
                overwrite=overwrite,
                progress=progress,
                max_slab_bytes=max_slab_bytes,
            )
        )

    # An array in memory goes on as a (C, Z, Y, X) view of itself, for the pyramid to read in
    # place, its first scale computed while the base is written.
    base_values = source[:, :, :, :] if isinstance(array, np.ndarray) else source
    coarser = write_pyramid(
        volume,
        base_values,
        method=downsample_method,
        ignore_zero=ignore_zero,
        gzip_level=level,
        jobs=jobs,
        overwrite=overwrite,
        progress=progress,
        max_slab_bytes=max_slab_bytes,
        alongside=write_base,
    )
    stats = written[0]
    for scale_stats in coarser.values():
        stats = stats + scale_stats
    stats.seconds = time.perf_counter() - started
    return stats
