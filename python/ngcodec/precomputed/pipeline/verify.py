"""Check a dataset: decode every chunk and compare it with the input it was made from."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ngcodec.precomputed.format import Box
from ngcodec.precomputed.format.scales import default_method
from ngcodec.precomputed.parallel import job_count, wait_all
from ngcodec.precomputed.pipeline.arrays import AxisOrderView
from ngcodec.precomputed.pipeline.downsample import DownsampledArray, pyramid_steps
from ngcodec.precomputed.pipeline.write import (
    DEFAULT_MAX_SLAB_BYTES,
    ProgressCallback,
    plan_slabs,
    read_slab,
)
from ngcodec.precomputed.store import Store
from ngcodec.precomputed.volume import ChunkError, MissingChunkError, PrecomputedVolume

__all__ = ["VerifyReport", "verify_pyramid", "verify_volume"]


@dataclass
class VerifyReport:
    """The outcome of :func:`verify_volume`."""

    chunks_total: int = 0
    chunks_ok: int = 0
    missing: list[str] = field(default_factory=list)
    corrupt: list[tuple[str, str]] = field(default_factory=list)
    mismatched: list[tuple[str, float]] = field(default_factory=list)
    max_abs_error: float = 0.0
    compared: bool = False
    seconds: float = 0.0
    nonstandard_streams: int = 0
    """Zlib streams where the sharded format says gzip (neuroglancer-scripts 1.2.0 writes them):
    ngcodec reads them, tensorstore and Neuroglancer do not. Reported, not counted as failures."""

    @property
    def ok(self) -> bool:
        """True when every chunk is present, decodes, and matches the reference if one was given."""
        return not (self.missing or self.corrupt or self.mismatched)

    def as_dict(self) -> dict[str, Any]:
        return {
            **{f.name: getattr(self, f.name) for f in fields(VerifyReport)},
            "ok": self.ok,
        }


def verify_volume(
    path: str | os.PathLike[str] | Store,
    reference: Any = None,
    *,
    key: str | None = None,
    axes: str | None = None,
    tolerance: float | None = None,
    jobs: int | None = None,
    progress: ProgressCallback | None = None,
    max_slab_bytes: int = DEFAULT_MAX_SLAB_BYTES,
) -> VerifyReport:
    """Decode every chunk of a dataset and, given a reference array, compare them with it.

    :param reference: an array-like of the volume's shape ((Z, Y, X) or (C, Z, Y, X), or ``axes``)
    :param tolerance: the largest absolute difference accepted; by default 0 for lossless
        encodings and none (differences are only measured) for jpeg
    :returns: :class:`VerifyReport`, whose ``ok`` says whether all is well
    :raises ValueError: if the reference's shape differs from the volume's
    """
    started = time.perf_counter()
    volume = PrecomputedVolume.open(path, key)
    source = None
    if reference is not None:
        source = AxisOrderView(reference, axes)
        if source.shape != volume.shape:
            raise ValueError(
                f"the reference has shape {source.shape} (C, Z, Y, X) but the volume has "
                f"{volume.shape}"
            )
    if tolerance is None and not volume.encoder.lossy:
        tolerance = 0
    report = VerifyReport(compared=source is not None)
    lock = threading.Lock()
    if volume.sharded and volume.store.listable:
        # Each shard's indexes checked whole (ranges, overlaps), then its chunks read.
        report.corrupt.extend(volume.shards.check())

    def check(box: Box, expected: np.ndarray | None) -> None:
        problem: tuple[str, str] | None = None
        error = 0.0
        try:
            decoded = volume.read_chunk(box)
        except MissingChunkError:
            with lock:
                report.missing.append(box.name)
            if progress is not None:
                progress(1)
            return
        except ChunkError as exc:
            problem = (box.name, str(exc))
        else:
            if expected is not None:
                if np.array_equal(decoded, expected):
                    error = 0.0
                else:
                    error = float(
                        np.max(np.abs(decoded.astype(np.float64) - expected.astype(np.float64)))
                    )
        with lock:
            if problem is not None:
                report.corrupt.append(problem)
            else:
                report.max_abs_error = max(report.max_abs_error, error)
                if tolerance is not None and error > tolerance:
                    report.mismatched.append((box.name, error))
                else:
                    report.chunks_ok += 1
        if progress is not None:
            progress(1)

    jobs = job_count(jobs)
    with ThreadPoolExecutor(jobs) as pool:
        for slab in plan_slabs(volume, max_slab_bytes):
            boxes = list(volume.chunk_boxes(slab))
            report.chunks_total += len(boxes)
            data = None if source is None else read_slab(source, volume, slab)
            futures = [
                pool.submit(
                    check,
                    box,
                    None if data is None else data[(slice(None), *box.slices_within(slab))],
                )
                for box in boxes
            ]
            wait_all(futures)
    if volume.sharded:
        report.nonstandard_streams = volume.shards.nonstandard_streams
    for items in (report.missing, report.corrupt, report.mismatched):
        items.sort()
    report.seconds = time.perf_counter() - started
    return report


def verify_pyramid(
    path: str | os.PathLike[str] | Store,
    reference: Any = None,
    *,
    keys: Sequence[str] | None = None,
    axes: str | None = None,
    method: str | None = None,
    tolerance: float | None = None,
    jobs: int | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, VerifyReport]:
    """Verify every scale of a dataset (or those in ``keys``), each against exact values.

    The first scale is compared with ``reference`` if given. Each coarser scale is compared with
    the exact values of the scale before it, downsampled by ``method`` (by default ``mode`` for
    segmentation, ``mean`` for images): the reference's, or the stored ones where that scale is
    lossless. A scale with nothing exact to compare with (after a lossy scale, without a
    reference) is only decoded.

    :returns: the :class:`VerifyReport` of each scale, by key
    """
    base = PrecomputedVolume.open(path)
    method = method or default_method(base.info.get("type", "image"))
    exact: Any = None if reference is None else AxisOrderView(reference, axes)
    report: VerifyReport | None
    try:
        factors = {step.key: step.factors for step in pyramid_steps(base.info, base.key)}
    except ValueError:  # scales that are no integer downsampling of each other: decode only
        factors = {}
    previous = base
    reports: dict[str, VerifyReport] = {}
    for scale in base.info["scales"]:
        volume = PrecomputedVolume(base.store, base.info, scale["key"])
        if volume.key == base.key:
            expected = exact
        elif volume.key in factors and exact is not None:
            expected = DownsampledArray(
                exact,
                previous.voxel_offset,
                factors[volume.key],
                method,
                dtype=volume.dtype,
            )
        else:
            expected = None
        if keys is None or volume.key in keys:
            report = reports[volume.key] = verify_volume(
                base.store,
                expected,
                key=volume.key,
                tolerance=tolerance,
                jobs=jobs,
                progress=progress,
            )
        else:
            report = None
        if not volume.encoder.lossy and (report is None or report.ok):
            exact = volume  # checked and lossless: the cheapest exact source of the next scale
        else:
            exact = expected  # None if there is nothing exact to compare the next scale with
        previous = volume
    return reports
