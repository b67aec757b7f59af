"""The whole job at the speed of its codecs: 512³ pinky40 -> compressed_segmentation + gzip.

In one run (wall time, median of repeats; read the ratios): the conversion with the native gzip
(libdeflate) against the same job with Python's zlib in the store (the previous release's path),
against ``--no-gzip``, and with 1 and 2 jobs; then ``read_volume`` of the whole gzipped dataset
with each gunzip. Every dataset is read back equal to the input before anything is timed.

    python benches/bench_job.py [--size 512] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from bench_pyramid import pinky40
from harness import DEFAULT_DATA, machine

from ngcodec.precomputed.pipeline.convert import write_volume
from ngcodec.precomputed.store import local
from ngcodec.precomputed.volume import read_volume


@contextlib.contextmanager
def python_zlib() -> Iterator[None]:
    """The store gzips and gunzips with Python's zlib, as ngcodec 0.1 did."""

    def compress(data: bytes, level: int = 6) -> bytes:
        compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
        return compressor.compress(data) + compressor.flush()

    def decompress(data: bytes, max_size: int | None = None) -> bytes:
        return zlib.decompress(data, 31)

    saved = local.gzip_compress, local.gzip_decompress
    local.gzip_compress, local.gzip_decompress = compress, decompress  # type: ignore[assignment]
    try:
        yield
    finally:
        local.gzip_compress, local.gzip_decompress = saved


def convert(labels: np.ndarray, out: Path, *, jobs: int, gzip: bool = True) -> None:
    write_volume(
        labels, out, encoding="compressed_segmentation", chunk_size=64, jobs=jobs, gzip=gzip
    )


def median_seconds(job: Callable[[], object], repeats: int, reset: Callable[[], None]) -> float:
    times = []
    for _ in range(repeats):
        reset()
        started = time.perf_counter()
        job()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"Machine: {machine()}\n", flush=True)
    labels = pinky40(args.data, args.size)
    work = Path(tempfile.mkdtemp(prefix="bench-job-"))
    out = work / "out"

    def fresh() -> None:
        shutil.rmtree(out, ignore_errors=True)

    try:
        for gzip_path in (contextlib.nullcontext(), python_zlib()):
            fresh()
            with gzip_path:
                convert(labels, out, jobs=2)
                assert np.array_equal(read_volume(out)[0], labels)
        rows = {}
        for jobs in (1, 2):
            rows[f"native gzip, {jobs} job(s)"] = median_seconds(
                lambda jobs=jobs: convert(labels, out, jobs=jobs), args.repeats, fresh
            )
            with python_zlib():
                rows[f"Python zlib, {jobs} job(s)"] = median_seconds(
                    lambda jobs=jobs: convert(labels, out, jobs=jobs), args.repeats, fresh
                )
            rows[f"no gzip, {jobs} job(s)"] = median_seconds(
                lambda jobs=jobs: convert(labels, out, jobs=jobs, gzip=False), args.repeats, fresh
            )
        fresh()
        convert(labels, out, jobs=2)
        nothing = lambda: None  # noqa: E731 (reading leaves the dataset as it is)
        read_native = median_seconds(lambda: read_volume(out, jobs=2), args.repeats, nothing)
        with python_zlib():
            read_zlib = median_seconds(lambda: read_volume(out, jobs=2), args.repeats, nothing)
    finally:
        shutil.rmtree(work)

    mb = labels.nbytes / 1e6
    print(f"{args.size}³ pinky40 uint32 ({mb:.0f} MB) -> compressed_segmentation, 64³ chunks\n")
    print("| job | seconds | MB/s |")
    print("|---|---|---|")
    for label, seconds in rows.items():
        print(f"| convert, {label} | {seconds:.2f} | {mb / seconds:.0f} |")
    print(f"| read_volume, native gunzip, 2 jobs | {read_native:.2f} | {mb / read_native:.0f} |")
    print(f"| read_volume, Python zlib, 2 jobs | {read_zlib:.2f} | {mb / read_zlib:.0f} |")
    print()
    print("| target | measured | needed |")
    print("|---|---|---|")
    native1, zlib1 = rows["native gzip, 1 job(s)"], rows["Python zlib, 1 job(s)"]
    print(f"| jobs 1: native gzip over Python zlib | {zlib1 / native1:.2f}x | >= 2x |")
    print(f"| jobs 1: gzip over no gzip | {native1 / rows['no gzip, 1 job(s)']:.2f}x | <= 1.6x |")
    print(f"| jobs 2 over jobs 1 | {native1 / rows['native gzip, 2 job(s)']:.2f}x | >= 1.8x |")
    print(f"| read_volume: native over Python zlib | {read_zlib / read_native:.2f}x | >= 2x |")


if __name__ == "__main__":
    main()
