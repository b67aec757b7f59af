"""The whole job at the speed of its codecs: 512³ pinky40 -> compressed_segmentation + gzip.

In one run (wall time, median of repeats; read the ratios): the conversion with the native batch
calls (a slab's chunks encoded and gzipped by one call on Rust threads) against the chunk-by-chunk
path in a Python thread pool (the code before the batch calls), against that path with Python's
zlib in the store (the previous release's), against ``--no-gzip``, with 1 and 2 jobs; then
``read_volume`` of the whole gzipped dataset the same ways; then the job's breakdown (read,
encode, compress, write) on one thread. Every dataset is read back equal to the input before
anything is timed.

    python benches/bench_job.py [--size 512] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
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

from ngcodec import chunk_batch
from ngcodec.precomputed.pipeline import encode
from ngcodec.precomputed.pipeline.convert import write_volume
from ngcodec.precomputed.pipeline.encode import encode_chunks, write_stored_chunk
from ngcodec.precomputed.pipeline.write import dataset_info, plan_slabs, read_slab
from ngcodec.precomputed.store import base as store_base
from ngcodec.precomputed.store import local
from ngcodec.precomputed.store.compression import gzip_compress
from ngcodec.precomputed.volume import PrecomputedVolume, read_volume


@contextlib.contextmanager
def chunk_by_chunk() -> Iterator[None]:
    """No batch calls: every chunk encoded, gzipped and decoded alone in a Python thread pool."""
    saved = chunk_batch.ChunkBatch.of
    chunk_batch.ChunkBatch.of = lambda *args: None  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        chunk_batch.ChunkBatch.of = saved  # type: ignore[method-assign]


@contextlib.contextmanager
def python_zlib() -> Iterator[None]:
    """The store gzips and gunzips with Python's zlib, as ngcodec 0.1 did (chunk by chunk)."""

    def compress(data: bytes, level: int = 6) -> bytes:
        # Level 6, ngcodec 0.1's default, whatever today's default is.
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
        return compressor.compress(data) + compressor.flush()

    def decompress(data: bytes, max_size: int | None = None) -> bytes:
        return zlib.decompress(data, 31)

    # Every module that gzips or gunzips chunks by name, patched where it looks the name up.
    patched = [(local, "gzip_compress", compress), (encode, "gzip_compress", compress)]
    patched.append((store_base, "gzip_decompress", decompress))
    saved = [(module, name, getattr(module, name)) for module, name, _ in patched]
    for module, name, function in patched:
        setattr(module, name, function)
    try:
        with chunk_by_chunk():
            yield
    finally:
        for module, name, function in saved:
            setattr(module, name, function)


LAYOUT = {
    "encoding": "compressed_segmentation",
    "chunk_size": 64,
    "block_size": 8,
    "resolution": 1,
    "voxel_offset": 0,
    "layer_type": "segmentation",
    "key": None,
    "data_type": None,
}


def convert(labels: np.ndarray, out: Path, *, jobs: int, gzip: bool = True) -> None:
    write_volume(
        labels, out, encoding="compressed_segmentation", chunk_size=64, jobs=jobs, gzip=gzip
    )


Job = tuple[Callable[[], contextlib.AbstractContextManager[object]], Callable[[], object]]
"""A job and the context it runs in: how chunks are gzipped and decoded."""


def in_turns(
    jobs: dict[str, Job],
    repeats: int,
    reset: Callable[[], None],
) -> dict[str, float]:
    """Median seconds of each job (run in its context), the jobs taken in turn each round, so
    that the drift of a shared machine hits them alike."""
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(repeats):
        for name, (context, job) in jobs.items():
            with context():
                reset()
                started = time.perf_counter()
                job()
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(samples) for name, samples in times.items()}


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
        ways = {"batch calls": contextlib.nullcontext, "chunk by chunk": chunk_by_chunk}
        ways["Python zlib"] = python_zlib
        conversions = {}
        for jobs in (1, 2):
            for way, context in ways.items():
                job = functools.partial(convert, labels, out, jobs=jobs)
                conversions[f"{way}, {jobs} job(s)"] = (context, job)
            job = functools.partial(convert, labels, out, jobs=jobs, gzip=False)
            conversions[f"no gzip, {jobs} job(s)"] = (contextlib.nullcontext, job)
        rows = in_turns(conversions, args.repeats, fresh)
        fresh()
        convert(labels, out, jobs=2)
        reading = {
            f"{way}, {jobs} job(s)": (context, functools.partial(read_volume, out, jobs=jobs))
            for jobs in (1, 2)
            for way, context in ways.items()
        }
        reads = in_turns(reading, args.repeats, lambda: None)  # reads leave the dataset alone
        decoding = batch_decode_seconds(out, args.repeats)
        breakdown = {}
        for way in ("batch calls", "chunk by chunk"):
            with ways[way]():
                breakdown[way] = job_breakdown(labels[np.newaxis], work / way)
    finally:
        shutil.rmtree(work)

    mb = labels.nbytes / 1e6
    print(f"{args.size}³ pinky40 uint32 ({mb:.0f} MB) -> compressed_segmentation, 64³ chunks\n")
    print("| job | seconds | MB/s |")
    print("|---|---|---|")
    for label, seconds in rows.items():
        print(f"| convert, {label} | {seconds:.2f} | {mb / seconds:.0f} |")
    for label, seconds in reads.items():
        print(f"| read_volume, {label} | {seconds:.2f} | {mb / seconds:.0f} |")
    print()
    print("One thread, seconds per step of the job (the sum of the slabs'):\n")
    steps = list(breakdown["batch calls"])
    print("| path | " + " | ".join(steps) + " |")
    print("|---|" + "---|" * len(steps))
    for way, times in breakdown.items():
        print(f"| {way} | " + " | ".join(f"{times[step]:.2f}" for step in steps) + " |")
    print()
    print("| target | measured | needed |")
    print("|---|---|---|")
    batch1, batch2 = rows["batch calls, 1 job(s)"], rows["batch calls, 2 job(s)"]
    zlib1, chunkwise1 = rows["Python zlib, 1 job(s)"], rows["chunk by chunk, 1 job(s)"]
    print(f"| jobs 1: batch over Python zlib | {zlib1 / batch1:.2f}x | >= 2x |")
    print(f"| jobs 1: batch over chunk by chunk | {chunkwise1 / batch1:.2f}x | |")
    print(f"| jobs 1: gzip over no gzip | {batch1 / rows['no gzip, 1 job(s)']:.2f}x | <= 1.6x |")
    print(f"| convert, jobs 2 over jobs 1 | {batch1 / batch2:.2f}x | >= 1.8x |")
    read1, read2 = reads["batch calls, 1 job(s)"], reads["batch calls, 2 job(s)"]
    print(f"| read_volume, jobs 2 over jobs 1 | {read1 / read2:.2f}x | >= 1.8x |")
    print(
        f"| chunk decode (one batch call, into an array already touched), 2 threads over 1 | "
        f"{decoding[1] / decoding[2]:.2f}x ({decoding[1]:.3f} s, {decoding[2]:.3f} s) | >= 1.8x |"
    )
    for jobs in (1, 2):
        for way in ("chunk by chunk", "Python zlib"):
            gain = reads[f"{way}, {jobs} job(s)"] / reads[f"batch calls, {jobs} job(s)"]
            print(f"| read_volume, jobs {jobs}: batch over {way} | {gain:.2f}x | >= 2x |")


def batch_decode_seconds(dataset: Path, repeats: int) -> dict[int, float]:
    """Median seconds of decoding every stored chunk of the dataset in one batch call on 1 and 2
    threads, into an array used before (its first touch, the kernel's work, is not timed)."""
    volume = PrecomputedVolume.open(dataset)
    assert volume.batch is not None
    boxes = list(volume.chunk_boxes(volume.bounds))
    stored = [volume.store.read_stored(volume.chunk_key(box)) for box in boxes]
    out = np.zeros(volume.shape, volume.dtype)
    decode = volume.batch.decode_into
    limit = 4 * out.nbytes
    runs = {
        str(threads): (
            contextlib.nullcontext,
            functools.partial(decode, out, (0, 0, 0), stored, max_inflated=limit, threads=threads),
        )
        for threads in (1, 2)
    }
    in_turns(runs, 1, lambda: None)  # the first touch
    seconds = in_turns(runs, repeats, lambda: None)
    return {int(threads): median for threads, median in seconds.items()}


def job_breakdown(labels: np.ndarray, out: Path) -> dict[str, float]:
    """Seconds of each step of the gzipped job on one thread, summed over its slabs: the source's
    slab read, encoding, gzip, file writes. Chunk by chunk, each chunk is encoded, then gzipped,
    by a call of its own; with the batch calls, a slab's chunks per call, and the gzip's time is
    that of encoding and gzipping a slab less that of encoding it."""
    info = dataset_info(labels.dtype, labels.shape, **LAYOUT)
    volume = PrecomputedVolume.create(out, info, overwrite=True)
    times = dict.fromkeys(("read", "encode", "compress", "write"), 0.0)
    for slab in plan_slabs(volume):
        started = time.perf_counter()
        data = read_slab(labels, volume, slab)
        read = time.perf_counter()
        boxes = list(volume.chunk_boxes(slab))
        encoded = encode_chunks(volume, slab, data, boxes, gzip_level=None, jobs=1)
        encode = time.perf_counter()
        if volume.batch is None:
            stored = [gzip_compress(chunk) for chunk in encoded]
            compress = time.perf_counter() - encode
        else:
            stored = encode_chunks(volume, slab, data, boxes, jobs=1)
            compress = (time.perf_counter() - encode) - (encode - read)
        written = time.perf_counter()
        for box, chunk in zip(boxes, stored, strict=True):
            write_stored_chunk(volume, box, chunk)
        times["read"] += read - started
        times["encode"] += encode - read
        times["compress"] += compress
        times["write"] += time.perf_counter() - written
    return times


if __name__ == "__main__":
    main()
