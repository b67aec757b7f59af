"""Pyramids: each coarser scale made from the exact values of the scale before it.

:class:`DownsampledArray` is a lazy array: slicing it reads only the part of its source that the
slice needs and downsamples it with the Rust kernels (:func:`ngcodec.downsampling.downsample`).
A pyramid is written scale by scale through the same slab writer as the base
(:func:`~ngcodec.precomputed.pipeline.write.write_scale`), so memory stays at a few slabs whatever
the volume's size. A scale is built from exact values: from the input while converting, from a
stored lossless scale, or, after a lossy (jpeg) scale, from the exact values that scale was
encoded from, never from its decoded pixels.
"""

from __future__ import annotations

import concurrent.futures
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ngcodec.downsampling import downsample, output_geometry
from ngcodec.precomputed.format import Vec3, select_scale, vec3
from ngcodec.precomputed.format.scales import (
    DOWNSAMPLING_METHODS,
    add_scales,
    default_method,
    plan_factors,
)
from ngcodec.precomputed.parallel import job_count
from ngcodec.precomputed.pipeline.arrays import cast_block
from ngcodec.precomputed.pipeline.write import (
    DEFAULT_MAX_SLAB_BYTES,
    ProgressCallback,
    WriteStats,
    write_scale,
)
from ngcodec.precomputed.store.compression import DEFAULT_GZIP_LEVEL
from ngcodec.precomputed.volume import PrecomputedVolume

__all__ = [
    "DownsampledArray",
    "ScaleStep",
    "ScaleWriter",
    "extend_pyramid",
    "pyramid_steps",
    "write_pyramid",
]


class DownsampledArray:
    """A (C, Z, Y, X) array-like: ``source`` downsampled by ``factors``, computed on slicing.

    :param source: a (C, Z, Y, X) array-like (NumPy, an input file, a volume, another
        :class:`DownsampledArray`), its values cast to ``dtype`` before downsampling
    :param source_offset: the global coordinates (X, Y, Z) of the source's first voxel
    :param factors: (X, Y, Z)
    :param method: one of ``mean``, ``mode``, ``stride``, ``min``, ``max``
    :param dtype: the type of the values (default: the source's)
    :param threads: how many threads share the downsampling of one slice
    """

    ndim = 4

    def __init__(
        self,
        source: Any,
        source_offset: Sequence[int],
        factors: Sequence[int] | int,
        method: str,
        *,
        dtype: Any = None,
        ignore_zero: bool = False,
        threads: int = 1,
    ) -> None:
        self.source = source
        self.threads = threads
        self.source_offset = vec3(source_offset, "source_offset")
        self.factors = vec3(factors, "factors", minimum=1)
        if method not in DOWNSAMPLING_METHODS:
            raise ValueError(
                f"method must be one of {', '.join(DOWNSAMPLING_METHODS)}, got {method!r}"
            )
        self.method = method
        self.ignore_zero = ignore_zero
        self.dtype = np.dtype(source.dtype if dtype is None else dtype)
        channels, z, y, x = (int(n) for n in source.shape)
        self.source_size = (x, y, z)
        self.voxel_offset, size = output_geometry(
            self.source_offset, self.source_size, self.factors
        )
        self.shape = (channels, size[2], size[1], size[0])

    def __repr__(self) -> str:
        return f"DownsampledArray({self.source!r}, factors={list(self.factors)}, {self.method!r})"

    def __getitem__(self, key: tuple[slice, slice, slice, slice]) -> np.ndarray:
        ranges = [k.indices(n) for k, n in zip(key, self.shape, strict=True)]
        if any(step != 1 for _, _, step in ranges):
            raise ValueError(f"downsampled arrays are sliced with step 1, got {key!r}")
        (c0, c1, _), *zyx = ranges
        starts = [a for a, _, _ in zyx][::-1]
        stops = [max(a, b) for a, b, _ in zyx][::-1]
        sizes = [b - a for a, b in zip(starts, stops, strict=True)]
        if min(sizes) <= 0 or c1 <= c0:
            return np.zeros((max(0, c1 - c0), *sizes[::-1]), self.dtype)
        # The source voxels of the requested blocks, clipped to the source (partial edge blocks).
        lo, hi = [], []
        for axis in range(3):
            f, offset, size = self.factors[axis], self.source_offset[axis], self.source_size[axis]
            first = (self.voxel_offset[axis] + starts[axis]) * f
            last = (self.voxel_offset[axis] + stops[axis]) * f
            lo.append(min(max(first, offset), offset + size))
            hi.append(max(min(last, offset + size), lo[-1]))
        block = self.source[
            (
                slice(None),
                slice(lo[2] - self.source_offset[2], hi[2] - self.source_offset[2]),
                slice(lo[1] - self.source_offset[1], hi[1] - self.source_offset[1]),
                slice(lo[0] - self.source_offset[0], hi[0] - self.source_offset[0]),
            )
        ]
        if hasattr(block, "compute"):  # a dask array: computed here, inside the task reading it
            block = block.compute(scheduler="synchronous")
        block = cast_block(np.asarray(block), self.dtype, f"{self!r}")[c0:c1]
        if self.method == "stride":
            z, y, x = (
                _first_voxels(
                    self.voxel_offset[axis] + starts[axis],
                    self.voxel_offset[axis] + stops[axis],
                    self.factors[axis],
                    lo[axis],
                )
                for axis in (2, 1, 0)
            )
            return block[:, z[:, None, None], y[None, :, None], x[None, None, :]]
        return downsample(
            block,
            self.factors,
            self.method,
            origin=lo,
            ignore_zero=self.ignore_zero,
            threads=self.threads,
        )

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _first_voxels(start: int, stop: int, factor: int, low: int) -> np.ndarray:
    """Where the first voxel of each block ``start..stop`` lies in source voxels from ``low``: in a
    block cut by the volume's lower edge, its first voxel there (tensorstore's stride leaves such a
    block out, but a scale must cover the volume)."""
    return np.maximum(np.arange(start, stop) * factor, low) - low


@dataclass(frozen=True)
class ScaleStep:
    """One coarser scale of a dataset and how it is made from the scale before it."""

    key: str
    factors: Vec3


def pyramid_steps(info: Mapping[str, Any], base_key: str | None = None) -> list[ScaleStep]:
    """The scales after the base (by default the first) and the factor of each over the one before,
    from their resolutions.

    :raises ValueError: if a scale's resolution is not an integer multiple of the one before
    """
    scales = list(info["scales"])
    keys = [s["key"] for s in scales]
    start = 0 if base_key is None else keys.index(base_key)
    steps = []
    for finer, coarser in zip(scales[start:-1], scales[start + 1 :], strict=True):
        ratios = [c / f for c, f in zip(coarser["resolution"], finer["resolution"], strict=True)]
        factors = tuple(round(r) for r in ratios)
        if any(
            f < 1 or not math.isclose(r, f, rel_tol=1e-6)
            for r, f in zip(ratios, factors, strict=True)
        ):
            raise ValueError(
                f"scale {coarser['key']} is not an integer downsampling of scale {finer['key']} "
                f"(resolution {coarser['resolution']} over {finer['resolution']})"
            )
        steps.append(ScaleStep(coarser["key"], factors))  # type: ignore[arg-type]
    return steps


ScaleWriter = Callable[[PrecomputedVolume, "DownsampledArray", int], WriteStats]
"""Writes one scale from its lazily downsampled values; also given how many source bytes each of
its bytes reads (to size slabs or tasks)."""


def write_pyramid(
    base: PrecomputedVolume,
    base_values: Any = None,
    *,
    method: str | None = None,
    ignore_zero: bool = False,
    keys: Sequence[str] | None = None,
    gzip_level: int | None = DEFAULT_GZIP_LEVEL,
    jobs: int | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    max_slab_bytes: int = DEFAULT_MAX_SLAB_BYTES,
    scale_writer: ScaleWriter | None = None,
    alongside: Callable[[], object] | None = None,
) -> dict[str, WriteStats]:
    """Write the scales that follow ``base`` in its info, each from the one before it.

    :param base_values: the exact values of the base scale, as a (C, Z, Y, X) array-like of its
        shape (the input it was written from); by default the stored base is read
    :param method: ``mean``, ``mode``, ``stride``, ``min`` or ``max`` (default: ``mode`` for
        segmentation, ``mean`` for images)
    :param ignore_zero: with ``mode``, 0 wins a block only when the block is all 0
    :param keys: the scales to write, a chain that follows the base (default: every later scale)
    :param scale_writer: how to write one scale (default: slab by slab in this process, with
        ``jobs`` threads; :mod:`~ngcodec.precomputed.pipeline.distributed` sends tasks instead)
    :param alongside: other work (convert's writing of the base scale): when ``base_values`` is
        an array in memory, the coarser scales never read the stored base, so they are computed
        and written while it runs, keeping every core busy (and stop at their next slab if it
        fails); otherwise it runs first
    :returns: the :class:`WriteStats` of each scale written, by key

    Written here, a scale no larger than ``max_slab_bytes`` is computed whole, once, with
    ``jobs`` threads, when that reads no more than ``max_slab_bytes`` of lazily computed values
    (or the values are an array in memory); the next scale is then made from it, not from its
    stored chunks.
    """
    method = method or default_method(base.info.get("type", "image"))
    if method not in DOWNSAMPLING_METHODS:
        raise ValueError(
            f"downsample method must be one of {', '.join(DOWNSAMPLING_METHODS)}, got {method!r}"
        )
    if method == "mode" and base.dtype.kind == "f":
        raise ValueError("downsample method 'mode' is for labels, not float32 images")

    # Set when the alongside work fails: the scales written meanwhile stop at their next slab.
    stopping = threading.Event()

    def progressed(count: int) -> None:
        if stopping.is_set():
            raise _Stopped
        if progress is not None:
            progress(count)

    def write_locally(target: PrecomputedVolume, view: DownsampledArray, reads: int) -> WriteStats:
        return write_scale(
            target,
            view,
            gzip_level=gzip_level,
            jobs=jobs,
            overwrite=overwrite,
            progress=progressed,
            max_slab_bytes=max(1, max_slab_bytes // reads),
        )

    write = scale_writer or write_locally
    threads = job_count(jobs)
    steps = pyramid_steps(base.info, base.key)
    if keys is not None:
        steps = steps[: len(keys)]
        if [step.key for step in steps] != list(keys):
            raise ValueError(f"scales {list(keys)} do not follow scale {base.key} in the info")
    results: dict[str, WriteStats] = {}

    def write_scales() -> None:
        values: Any = base if base_values is None else base_values
        previous = base
        reads = 1  # source bytes read per output byte, through chains of lazy arrays
        for step in steps:
            if stopping.is_set():
                raise _Stopped
            started = time.perf_counter()
            target = PrecomputedVolume(base.store, base.info, step.key, base.encoder_options)
            view = DownsampledArray(
                values,
                previous.voxel_offset,
                step.factors,
                method,
                dtype=target.dtype,
                ignore_zero=ignore_zero,
                threads=threads,
            )
            if view.shape != target.shape or view.voxel_offset != target.voxel_offset:
                raise ValueError(
                    f"scale {step.key} has size {list(target.size)} at "
                    f"{list(target.voxel_offset)}, but downsampling scale {previous.key} by "
                    f"{list(step.factors)} gives {list(view.shape[:0:-1])} at "
                    f"{list(view.voxel_offset)}"
                )
            reads *= math.prod(step.factors)
            # An array in memory of the scale's type is read in place, not copied.
            in_place = isinstance(values, np.ndarray) and values.dtype == view.dtype
            in_memory = in_place or view.nbytes * reads <= max_slab_bytes
            if scale_writer is None and in_memory and view.nbytes <= max_slab_bytes:
                values, reads = view[:, :, :, :], 1  # computed whole, once, for the next scale too
                stats = write(target, values, reads)
            else:
                stats = write(target, view, reads)
                if target.encoder.lossy:
                    values = view  # the exact values it was encoded from, not its decoded pixels
                else:
                    values, reads = target, 1  # stored exactly: read it back
            stats.seconds = time.perf_counter() - started
            results[step.key] = stats
            previous = target

    if alongside is None:
        write_scales()
    elif isinstance(base_values, np.ndarray):
        with concurrent.futures.ThreadPoolExecutor(1) as side:
            scales = side.submit(write_scales)
            try:
                alongside()
            except BaseException:
                stopping.set()
                concurrent.futures.wait([scales])
                raise  # the alongside work's error, not the scales' stopping
            scales.result()
    else:
        alongside()
        write_scales()
    return results


class _Stopped(Exception):
    """Stops the scales written alongside other work when that work has failed."""


def extend_pyramid(
    info: Mapping[str, Any],
    *,
    base_key: str | None = None,
    max_scales: int | None = None,
    factors: Sequence[Sequence[int]] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The info with the coarser scales of a pyramid over its base scale, and their keys.

    Scales already in the info with a planned resolution are kept, whatever their key (their size
    and offset must be the planned ones); the others are added.

    :raises ValueError: if an existing scale has a planned resolution but another geometry
    """
    base = select_scale(info, base_key, "the dataset")
    if factors is None:
        factors = plan_factors(
            base["size"], base["resolution"], base["chunk_sizes"][0], max_scales=max_scales
        )
    planned = add_scales({**info, "scales": [base]}, factors)["scales"][1:]
    scales = [dict(s) for s in info["scales"]]
    position = next(i for i, s in enumerate(scales) if s.get("key") == base["key"]) + 1
    keys = []
    for scale in planned:
        existing = [s for s in scales if _same_resolution(s, scale)]
        if existing:
            found = existing[0]
            if [found.get("size"), found.get("voxel_offset", [0, 0, 0])] != [
                scale["size"],
                scale["voxel_offset"],
            ]:
                raise ValueError(
                    f"the dataset's scale {found.get('key')} has size {found.get('size')} at "
                    f"{found.get('voxel_offset')}, not {scale['size']} at {scale['voxel_offset']} "
                    "as downsampling the scale before it gives"
                )
            scales.remove(found)
            scale = found
        scales.insert(position, scale)
        position += 1
        keys.append(scale["key"])
    return {**info, "scales": scales}, keys


def _same_resolution(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(
        math.isclose(x, y, rel_tol=1e-6)
        for x, y in zip(a["resolution"], b["resolution"], strict=True)
    )
