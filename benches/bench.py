"""Throughput and memory benchmark of ngcodec against its peers.

Run from the repository root (not part of the test suite):

    python benches/bench.py            # full run, a few minutes on 2 cores
    python benches/bench.py --quick    # smaller samples, under a minute
    python benches/bench.py --data DIR # test data elsewhere than tests/data

Everything runs in one process and the implementations are interleaved within each round, so that
drift of the machine (frequency, other load) hits them alike; each figure is the median of the
rounds after a warm-up. Throughput is in MB/s (10^6 bytes) of uncompressed chunk data, encode and
decode alike. Each implementation's round trip is checked before it is timed. Peak memory is
measured in child processes, see `measure_memory`.
"""

# The timed closures run within the loop iteration that makes them, so late binding is harmless.
# ruff: noqa: B023

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# NumPy's OpenBLAS threads would otherwise spin beside the codecs and skew the thread scaling.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import PIL.Image
from harness import DEFAULT_DATA, Row, interleaved, machine, ratio, table

from ngcodec import chunk_encoding as ngcodec

BLOCK = (8, 8, 8)


# --------------------------------------------------------------------------------------------
# Timing


@dataclass
class Config:
    rounds: int
    min_sample_seconds: float
    slow_rounds: int
    chunks: int


# --------------------------------------------------------------------------------------------
# Data


def voronoi_labels(shape_zyx: Sequence[int], num_seeds: int, seed: int) -> np.ndarray:
    """Dense labels of nearest random seed points: a stand-in for real segmentation."""
    rng = np.random.default_rng(seed)
    seeds = rng.uniform(0, 1, size=(num_seeds, 3)) * np.array(shape_zyx)
    labels = rng.choice(2**31, size=num_seeds, replace=False).astype(np.uint32) + 1
    grid = np.stack(np.meshgrid(*(np.arange(n) + 0.5 for n in shape_zyx), indexing="ij"), -1)
    nearest = np.empty(tuple(shape_zyx), np.int64)
    best = np.full(tuple(shape_zyx), np.inf)
    for index, point in enumerate(seeds):
        distance = ((grid - point) ** 2).sum(-1)
        closer = distance < best
        best[closer] = distance[closer]
        nearest[closer] = index
    return labels[nearest]


@dataclass
class Segmentation:
    """The label chunks to time: name, (Z, Y, X) C-order chunks, and where they came from."""

    name: str
    chunks: list[np.ndarray]
    source: str


def load_segmentation(data: Path, num_chunks: int) -> list[Segmentation]:
    pinky_file = data / "cc3d_connectomics_512cube.npy.ckl.gz"
    fib_file = data / "ng_fib25_64x64x64_uint64_F.dat"
    volume: np.ndarray | None = None
    if pinky_file.is_file():
        try:
            import crackle

            volume = np.asarray(crackle.decompress(gzip.decompress(pinky_file.read_bytes()))).T
            pinky_source = "pinky40"
        except ImportError:
            print("crackle-codec is not installed: synthetic Voronoi labels replace pinky40")
    if volume is None:
        volume = voronoi_labels((128, 256, 256), 600, seed=1)
        pinky_source = "Voronoi"
    # Chunks spread over the whole volume, each a C-contiguous 64³ copy as a reader would hold.
    grid = [range(0, n - 63, 64) for n in volume.shape]
    origins = [(z, y, x) for z in grid[0] for y in grid[1] for x in grid[2]]
    step = max(1, len(origins) // num_chunks)
    chunks_64 = [
        np.ascontiguousarray(volume[z : z + 64, y : y + 64, x : x + 64])
        for z, y, x in origins[::step][:num_chunks]
    ]
    # The middle of the volume: the corner is nearly one label.
    middle = [max(0, n // 2 - 64) for n in volume.shape]
    crop_128 = np.ascontiguousarray(
        volume[tuple(slice(m, m + 128) for m in middle)], dtype=np.uint64
    )
    if fib_file.is_file():
        fib = np.fromfile(fib_file, "<u8").reshape((64, 64, 64), order="F").T.copy()
        fib_source = "FIB-25"
    else:
        fib = voronoi_labels((64, 64, 64), 60, seed=2).astype(np.uint64)
        fib_source = "Voronoi"
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 2**20, size=(64, 64, 64), dtype=np.uint32)
    constant = np.full((64, 64, 64), 123456789, np.uint32)
    return [
        Segmentation(f"{pinky_source} 64³ u32 x{len(chunks_64)}", chunks_64, pinky_source),
        Segmentation(f"{pinky_source} 128³ u64", [crop_128], pinky_source),
        Segmentation(f"{fib_source} 64³ u64", [fib], fib_source),
        Segmentation("noise 2^20 64³ u32", [noise], "noise"),
        Segmentation("constant 64³ u32", [constant], "constant"),
    ]


# --------------------------------------------------------------------------------------------
# compressed_segmentation


@dataclass
class CsegCodec:
    """One compressed_segmentation implementation over (Z, Y, X) C-order chunks."""

    name: str
    encode: Callable[[np.ndarray], bytes | bytearray]
    decode: Callable[[bytes, np.ndarray], np.ndarray]


def cseg_codecs() -> list[CsegCodec]:
    codecs: list[CsegCodec] = []

    # One encoder per data type, made once, as a converter makes one per scale.
    @functools.cache
    def ngcodec_encoder_for(dtype: np.dtype) -> ngcodec.CompressedSegmentationEncoder:
        return ngcodec.CompressedSegmentationEncoder(dtype.name, 1, BLOCK)

    def ngcodec_encoder(chunk: np.ndarray) -> ngcodec.CompressedSegmentationEncoder:
        return ngcodec_encoder_for(chunk.dtype)

    def ng_encode(chunk: np.ndarray) -> bytes | bytearray:
        return ngcodec_encoder(chunk).encode(chunk[None])

    def ng_decode(buf: bytes, like: np.ndarray) -> np.ndarray:
        return ngcodec_encoder(like).decode(buf, like.shape[::-1])[0]

    codecs.append(CsegCodec("ngcodec", ng_encode, ng_decode))
    try:
        import compressed_segmentation as cseg

        # The (X, Y, Z) Fortran view of a (Z, Y, X) C array: no copy on either side.
        codecs.append(
            CsegCodec(
                "compressed-segmentation",
                lambda chunk: cseg.compress(chunk.T, BLOCK, order="F"),
                lambda buf, like: (
                    cseg.decompress(buf, like.shape[::-1], like.dtype, BLOCK, order="F").T
                ),
            )
        )
    except ImportError:
        print("compressed-segmentation is not installed: its column is left out")
    try:
        from neuroglancer_scripts import chunk_encoding as scripts

        @functools.cache
        def scripts_encoder_for(dtype: np.dtype) -> Any:
            return scripts.CompressedSegmentationEncoder(dtype.name, 1, list(BLOCK))

        def scripts_encoder(chunk: np.ndarray) -> Any:
            return scripts_encoder_for(chunk.dtype)

        codecs.append(
            CsegCodec(
                "neuroglancer-scripts",
                lambda chunk: scripts_encoder(chunk).encode(chunk[None]),
                lambda buf, like: scripts_encoder(like).decode(buf, like.shape[::-1])[0],
            )
        )
    except ImportError:
        print("neuroglancer-scripts is not installed: its column is left out")
    return codecs


def check_cseg(codec: CsegCodec, segmentation: Segmentation) -> list[bytes]:
    """Encodes each chunk, checks it decodes back, and returns the encodings."""
    encoded = []
    for chunk in segmentation.chunks:
        buf = bytes(codec.encode(chunk))
        decoded = codec.decode(buf, chunk)
        if not np.array_equal(decoded, chunk):
            raise SystemExit(f"{codec.name} does not round-trip {segmentation.name}")
        encoded.append(buf)
    return encoded


def bench_cseg(
    segmentations: list[Segmentation], codecs: list[CsegCodec], config: Config
) -> tuple[list[Row], list[Row], dict[str, float]]:
    encode_rows, decode_rows, ratios = [], [], {}
    for segmentation in segmentations:
        chunks = segmentation.chunks
        nbytes = sum(chunk.nbytes for chunk in chunks)
        ours = check_cseg(codecs[0], segmentation)
        for codec in codecs[1:]:
            theirs = check_cseg(codec, segmentation)
            if codec.name == "compressed-segmentation" and theirs != ours:
                raise SystemExit(f"{codec.name} and ngcodec encode {segmentation.name} differently")
        slow = {c.name: config.slow_rounds for c in codecs if c.name == "neuroglancer-scripts"}
        ratios[f"{segmentation.name} compressed/raw"] = sum(map(len, ours)) / nbytes

        # Each result is dropped before the next call, so that the allocator reuses its memory:
        # keeping them all would time the kernel's page faults more than the codecs.
        def encoder(codec: CsegCodec) -> Callable[[], object]:
            return lambda: all(codec.encode(chunk) is not None for chunk in chunks)

        def decoder(codec: CsegCodec) -> Callable[[], object]:
            pairs = list(zip(ours, chunks, strict=True))
            return lambda: all(codec.decode(buf, chunk) is not None for buf, chunk in pairs)

        for rows, make in ((encode_rows, encoder), (decode_rows, decoder)):
            mbps = interleaved(
                {codec.name: make(codec) for codec in codecs},
                nbytes,
                config.rounds,
                config.min_sample_seconds,
                rounds_for=slow,
            )
            rows.append(Row(segmentation.name, mbps))
    return encode_rows, decode_rows, ratios


# --------------------------------------------------------------------------------------------
# raw


def raw_cases() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(4)
    u16 = rng.integers(0, 2**16, size=(1, 128, 128, 128), dtype=np.uint16)
    f32 = rng.standard_normal(size=(2, 64, 64, 64), dtype=np.float32)
    return [
        ("u16 128³ C", u16),
        ("u16 128³ F", np.asfortranarray(u16)),
        ("f32 2x64³ C", f32),
        ("f32 2x64³ F", np.asfortranarray(f32)),
    ]


def bench_raw(config: Config) -> tuple[list[Row], list[Row]]:
    encode_rows, decode_rows = [], []
    for label, chunk in raw_cases():
        encoder = ngcodec.RawChunkEncoder(chunk.dtype.name, chunk.shape[0])
        size = chunk.shape[:0:-1]
        expected = np.ascontiguousarray(chunk).astype(chunk.dtype.newbyteorder("<")).tobytes()
        # The same bytes as they lie in memory: what a plain copy moves.
        memory = chunk.ravel(order="K").view(np.uint8)
        encoded = encoder.encode(chunk)
        if encoded != expected or not np.array_equal(encoder.decode(encoded, size), chunk):
            raise SystemExit(f"ngcodec raw does not round-trip {label}")
        if chunk.tobytes() != expected:
            raise SystemExit("numpy tobytes is not the raw encoding on this machine")
        if not np.array_equal(np.frombuffer(expected, chunk.dtype).reshape(chunk.shape), chunk):
            raise SystemExit("numpy frombuffer does not round-trip")
        encode_rows.append(
            Row(
                label,
                interleaved(
                    {
                        "ngcodec": lambda: encoder.encode(chunk),
                        "numpy": lambda: chunk.tobytes(),
                        "memcpy": lambda: bytes(memory),
                    },
                    chunk.nbytes,
                    config.rounds,
                    config.min_sample_seconds,
                ),
            )
        )
        if label.endswith("C"):
            encoded_view = memoryview(encoded)
            decode_rows.append(
                Row(
                    label.removesuffix(" C"),
                    interleaved(
                        {
                            "ngcodec": lambda: encoder.decode(encoded, size),
                            "numpy": lambda: (
                                np.frombuffer(encoded, chunk.dtype).reshape(chunk.shape).copy()
                            ),
                            "memcpy": lambda: bytes(encoded_view),
                        },
                        chunk.nbytes,
                        config.rounds,
                        config.min_sample_seconds,
                    ),
                )
            )
    return encode_rows, decode_rows


# --------------------------------------------------------------------------------------------
# jpeg


def image_like(shape: Sequence[int], seed: int) -> np.ndarray:
    """Smooth uint8 content with some texture, closer to microscopy than white noise is."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=[max(2, n // 8) for n in shape])
    smooth = coarse
    for axis, n in enumerate(shape):
        smooth = np.repeat(smooth, -(-n // smooth.shape[axis]), axis=axis)
    smooth = smooth[tuple(slice(0, n) for n in shape)]
    return np.clip(smooth + rng.normal(0, 8, size=shape), 0, 255).astype(np.uint8)


def bench_images(
    config: Config, image_format: str, cases: list[tuple[ngcodec.ChunkEncoder, np.ndarray, dict]]
) -> tuple[list[Row], list[Row]]:
    """ngcodec's image encoders against a bare Pillow save and open of the same image, settings."""
    encode_rows, decode_rows = [], []
    for encoder, chunk, settings in cases:
        channels, z, y, x = chunk.shape
        size = (x, y, z)
        # Pillow alone, given the image already laid out as it wants it.
        pixels = chunk.reshape(channels, z * y, x)
        pixels = pixels[0] if channels == 1 else np.ascontiguousarray(np.moveaxis(pixels, 0, -1))

        def pillow_encode(pixels: np.ndarray = pixels, settings: dict = settings) -> bytes:
            out = io.BytesIO()
            PIL.Image.fromarray(pixels).save(out, format=image_format, **settings)
            return out.getvalue()

        def pillow_decode(buf: bytes) -> np.ndarray:
            with PIL.Image.open(io.BytesIO(buf)) as image:
                return np.asarray(image)

        ours = encoder.encode(chunk)
        theirs = pillow_encode()
        decoded = encoder.decode(ours, size)
        label = f"{chunk.dtype.name} {channels}x{x}³"
        # jpeg keeps the reference's (Pillow's) bytes; png, through the Rust png crate, its pixels.
        if (image_format == "jpeg" and ours != theirs) or decoded.shape != chunk.shape:
            raise SystemExit(f"ngcodec {image_format} differs from Pillow for {label}")
        if image_format == "png":
            from_ours = pillow_decode(ours)
            from_ours = np.moveaxis(from_ours, -1, 0) if channels > 1 else from_ours
            if not np.array_equal(from_ours.reshape(chunk.shape), chunk):
                raise SystemExit(f"Pillow reads ngcodec's png of {label} differently")
        error = np.abs(decoded.astype(int) - chunk).mean()
        if error > (4 if encoder.lossy else 0):
            raise SystemExit(
                f"{image_format} round trip of {label} is off by {error:.1f} on average"
            )
        pillow_decoded = pillow_decode(theirs)
        if channels > 1:
            pillow_decoded = np.moveaxis(pillow_decoded, -1, 0)
        if not np.array_equal(pillow_decoded.reshape(chunk.shape), decoded):
            raise SystemExit(f"ngcodec and Pillow decode {image_format} {label} differently")
        encode_rows.append(
            Row(
                label,
                interleaved(
                    {"ngcodec": lambda: encoder.encode(chunk), "Pillow": pillow_encode},
                    chunk.nbytes,
                    config.rounds,
                    config.min_sample_seconds,
                ),
            )
        )
        decode_rows.append(
            Row(
                label,
                interleaved(
                    {
                        "ngcodec": lambda: encoder.decode(ours, size),
                        "Pillow": lambda: pillow_decode(theirs),
                    },
                    chunk.nbytes,
                    config.rounds,
                    config.min_sample_seconds,
                ),
            )
        )
    return encode_rows, decode_rows


def bench_jpeg(config: Config) -> tuple[list[Row], list[Row]]:
    settings = {"quality": 95, "optimize": True, "progressive": True, "subsampling": 0}
    cases = [
        (ngcodec.JpegChunkEncoder("uint8", c), image_like((c, 64, 64, 64), seed=5 + c), settings)
        for c in (1, 3)
    ]
    return bench_images(config, "jpeg", cases)


def bench_png(config: Config) -> tuple[list[Row], list[Row]]:
    grey, rgb = (image_like((c, 64, 64, 64), seed=11 + c) for c in (1, 3))
    cases = [
        (ngcodec.PngChunkEncoder("uint8", 1), grey, {"compress_level": 6}),
        (ngcodec.PngChunkEncoder("uint8", 3), rgb, {"compress_level": 6}),
        (ngcodec.PngChunkEncoder("uint16", 1), grey.astype(np.uint16) * 257, {"compress_level": 6}),
    ]
    return bench_images(config, "png", cases)


# --------------------------------------------------------------------------------------------
# threads


def dropping_result(run: Callable[[Any], object]) -> Callable[[Any], None]:
    """`run`, with its result dropped in the thread that made it."""

    def call(item: Any) -> None:
        run(item)

    return call


def gil_free_stand_in(seconds: float) -> Callable[[Any], None]:
    """A call that computes for about `seconds` with the GIL released, as a codec call does:
    hashing a buffer that stays in cache (CPython releases the GIL to hash more than 2 KiB)."""
    sample = os.urandom(1 << 16)
    start = time.perf_counter()
    for _ in range(100):
        hashlib.sha256(sample)
    seconds_per_byte = (time.perf_counter() - start) / 100 / len(sample)
    data = os.urandom(max(4096, int(seconds / seconds_per_byte)))

    def call(item: Any) -> None:
        hashlib.sha256(data)

    return call


def seconds_per_call(work: Callable[[Any], None], inputs: list[Any]) -> float:
    """Median time of one call of `work` over `inputs`, in one thread."""
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for item in inputs:
            work(item)
        samples.append((time.perf_counter() - start) / len(inputs))
    return statistics.median(samples)


def bench_threads(segmentation: Segmentation, codecs: list[CsegCodec], config: Config) -> list[Row]:
    """Throughput encoding and decoding the chunk list through pools of 1 and 2 threads.

    Beside the codecs, a GIL-free stand-in as long as each ngcodec call goes through the same
    pools: the scaling the machine and the executor allow a perfectly parallel call of that length.
    """
    chunks = segmentation.chunks * max(1, 32 // len(segmentation.chunks))
    nbytes = sum(chunk.nbytes for chunk in chunks)
    pools = {workers: ThreadPoolExecutor(workers) for workers in (1, 2)}

    def scaling(label: str, work: Callable[[Any], None], inputs: list[Any]) -> Row:
        mbps = interleaved(
            {
                f"{workers} thread{'s' * (workers > 1)}": (
                    lambda pool=pool: all(result is None for result in pool.map(work, inputs))
                )
                for workers, pool in pools.items()
            },
            nbytes,
            config.rounds,
            config.min_sample_seconds,
        )
        return Row(label, mbps)

    rows, stand_ins = [], []
    try:
        for codec in codecs:
            if codec.name == "neuroglancer-scripts":
                continue
            encoded = [bytes(codec.encode(chunk)) for chunk in chunks]
            # Each worker drops its result, as an ETL worker that writes a chunk out does: results
            # freed by another thread make glibc return memory to the kernel and fault it back in,
            # which would time the allocator rather than the codecs.
            for operation, work, inputs in (
                ("encode", dropping_result(codec.encode), chunks),
                (
                    "decode",
                    dropping_result(lambda item, decode=codec.decode: decode(*item)),
                    list(zip(encoded, chunks, strict=True)),
                ),
            ):
                rows.append(scaling(f"{codec.name} {operation}", work, inputs))
                if codec.name == "ngcodec":
                    stand_in = gil_free_stand_in(seconds_per_call(work, inputs))
                    label = f"GIL-free stand-in, as long as one ngcodec {operation}"
                    stand_ins.append(scaling(label, stand_in, inputs))
    finally:
        for pool in pools.values():
            pool.shutdown()
    return rows + stand_ins


# --------------------------------------------------------------------------------------------
# memory

MEMORY_CHILD = r"""
import json, resource, sys, tracemalloc
import numpy as np
from ngcodec import chunk_encoding

def peak_rss():
    # VmHWM (peak resident set), reset below through clear_refs where the kernel allows it.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

def current_rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()

def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False

chunk = np.load(sys.argv[1])
operation, calls = sys.argv[2], int(sys.argv[3])
encoder = chunk_encoding.CompressedSegmentationEncoder(chunk.dtype.name, 1, (8, 8, 8))
encoded = bytes(encoder.encode(chunk))
size = chunk.shape[:0:-1]
run = (lambda: encoder.encode(chunk)) if operation == "encode" else (
    lambda: encoder.decode(encoded, size))
output_bytes = len(encoded) if operation == "encode" else chunk.nbytes
tracemalloc.start()
traced_peaks, rss_peaks, rss_after = [], [], []
for _ in range(calls):
    tracemalloc.reset_peak()
    base_traced = tracemalloc.get_traced_memory()[0]
    resettable = reset_peak()
    base_rss = current_rss()
    result = run()
    traced_peaks.append(tracemalloc.get_traced_memory()[1] - base_traced)
    rss_peaks.append(peak_rss() - base_rss)
    del result
    rss_after.append(current_rss())
print(json.dumps({
    "output": output_bytes, "traced": traced_peaks, "rss": rss_peaks,
    "resettable": resettable, "rss_after": rss_after,
}))
"""


# glibc otherwise keeps freed memory resident and raises its mmap threshold as it goes, which
# hides new allocations from the resident set: a fixed 64 KiB threshold maps every larger block
# afresh and unmaps it when freed.
MALLOC_RETURNS_MEMORY = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "131072"}


def measure_memory(segmentation: Segmentation, calls: int) -> list[dict[str, Any]]:
    """Peak memory of encode and decode of one chunk, each in a fresh child process.

    Two measures, both taken around each call: tracemalloc's peak of Python allocations (NumPy
    arrays and the returned bytes object included), and the growth of the peak resident set
    (VmHWM, reset before each call through /proc/self/clear_refs), which also sees the Rust
    side's allocations. Scratch is the larger peak less the call's output; growth is the
    resident set after the last call less after the second (the first call loads code).
    """
    chunk = segmentation.chunks[0][None]
    results = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "chunk.npy"
        np.save(path, chunk)
        for operation in ("encode", "decode"):
            child = subprocess.run(
                [sys.executable, "-c", MEMORY_CHILD, str(path), operation, str(calls)],
                env=MALLOC_RETURNS_MEMORY | os.environ,
                capture_output=True,
                text=True,
                check=True,
            )
            report = json.loads(child.stdout)
            report["operation"] = operation
            report["input"] = chunk.nbytes if operation == "encode" else report["output"]
            results.append(report)
    return results


# --------------------------------------------------------------------------------------------
# Report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small samples, under a minute")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="test data folder")
    args = parser.parse_args()
    config = (
        Config(rounds=5, min_sample_seconds=0.01, slow_rounds=1, chunks=4)
        if args.quick
        else Config(rounds=15, min_sample_seconds=0.05, slow_rounds=3, chunks=16)
    )
    started = time.perf_counter()
    print(f"Machine: {machine()}\n", flush=True)

    segmentations = load_segmentation(args.data, config.chunks)
    codecs = cseg_codecs()
    cseg_encode, cseg_decode, sizes = bench_cseg(segmentations, codecs, config)
    print(table("compressed_segmentation encode", cseg_encode), "\n", flush=True)
    print(table("compressed_segmentation decode", cseg_decode), "\n", flush=True)
    print(
        "Compressed size / raw size: "
        + ", ".join(f"{name} {value:.3f}" for name, value in sizes.items()),
        "\n",
    )

    raw_encode, raw_decode = bench_raw(config)
    print(table("raw encode", raw_encode), "\n", flush=True)
    print(table("raw decode", raw_decode), "\n", flush=True)

    jpeg_encode, jpeg_decode = bench_jpeg(config)
    print(table("jpeg encode", jpeg_encode), "\n", flush=True)
    print(table("jpeg decode", jpeg_decode), "\n", flush=True)

    png_encode, png_decode = bench_png(config)
    print(table("png encode", png_encode), "\n", flush=True)
    print(table("png decode", png_decode), "\n", flush=True)

    threads = bench_threads(segmentations[0], codecs, config)
    print(table(f"threads, {segmentations[0].name}", threads, reference="2 threads"), "\n")

    memory = measure_memory(segmentations[1], calls=3 if args.quick else 10)
    lines = [
        f"| peak memory, {segmentations[1].name} | input MiB | output MiB | "
        "tracemalloc peak MiB | RSS peak MiB | scratch MiB | RSS growth KiB |",
        "|---|---|---|---|---|---|---|",
    ]
    scratch, worst_growth = {}, 0
    for report in memory:
        traced, rss = max(report["traced"]), max(report["rss"])
        scratch[report["operation"]] = max(traced, rss) - report["output"]
        growth = report["rss_after"][-1] - report["rss_after"][1]
        worst_growth = max(worst_growth, growth)
        lines.append(
            f"| {report['operation']} | {report['input'] / 2**20:.2f} | "
            f"{report['output'] / 2**20:.2f} | {traced / 2**20:.2f} | {rss / 2**20:.2f} | "
            f"{scratch[report['operation']] / 2**20:.2f} | {growth / 2**10:.0f} |"
        )
    print("\n".join(lines), "\n")

    peer = "compressed-segmentation"
    real = [row for row in cseg_encode if "noise" not in row.label and "constant" not in row.label]
    targets = []
    if peer in cseg_encode[0].mbps:
        targets.append(
            (
                f"cseg encode >= 3x {peer} on real chunks and noise",
                min(ratio(r, "ngcodec", peer) for r in cseg_encode if "constant" not in r.label),
                3.0,
            )
        )
        targets.append(
            (
                f"cseg decode >= 1.5x {peer} on real chunks",
                min(
                    ratio(r, "ngcodec", peer)
                    for r in cseg_decode
                    if r.label in {x.label for x in real}
                ),
                1.5,
            )
        )
    c_rows = [r for r in raw_encode if r.label.endswith(" C")]
    targets.append(
        (
            "raw encode (C order) >= 0.8x memcpy",
            min(ratio(r, "ngcodec", "memcpy") for r in c_rows),
            0.8,
        )
    )
    targets.append(
        ("raw decode >= 0.8x memcpy", min(ratio(r, "ngcodec", "memcpy") for r in raw_decode), 0.8)
    )
    targets.append(
        (
            "raw encode (Fortran order) >= 1x numpy",
            min(ratio(r, "ngcodec", "numpy") for r in raw_encode if r.label.endswith(" F")),
            1.0,
        )
    )
    targets.append(
        (
            "jpeg within 5% of Pillow (ngcodec/Pillow >= 0.95)",
            min(ratio(r, "ngcodec", "Pillow") for r in jpeg_encode + jpeg_decode),
            0.95,
        )
    )
    targets.append(
        (
            "png encode within 5% of Pillow (ngcodec/Pillow >= 0.95)",
            min(ratio(r, "ngcodec", "Pillow") for r in png_encode),
            0.95,
        )
    )
    targets.append(
        (
            "2 threads >= 1.8x 1 thread (ngcodec cseg)",
            min(ratio(r, "2 threads", "1 thread") for r in threads if r.label.startswith("ngc")),
            1.8,
        )
    )
    print("| target | worst measured | needed | met |\n|---|---|---|---|")
    for name, value, needed in targets:
        print(f"| {name} | {value:.2f}x | {needed:.2f}x | {'yes' if value >= needed else 'NO'} |")
    worst_scratch = max(scratch.values()) / 2**20
    print(
        f"| scratch per call, 128³ u64 | {worst_scratch:.2f} MiB | < 1 MiB | "
        f"{'yes' if worst_scratch < 1 else 'NO'} |"
    )
    print(
        f"| growth over repeated calls | {worst_growth / 2**10:.0f} KiB | none (< 64 KiB) | "
        f"{'yes' if worst_growth < 64 * 2**10 else 'NO'} |"
    )
    print(
        "\nThe thread table's GIL-free stand-ins give the scaling that this machine and "
        "ThreadPoolExecutor allow a perfectly parallel call as long as ngcodec's, in this run."
    )
    print(f"\nTotal time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
