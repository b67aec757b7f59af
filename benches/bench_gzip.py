"""gzip compressors side by side on chunk files: libdeflate (ngcodec's gzip) and zlib-rs, against
Python's zlib at level 6 (what ngcodec wrote before).

Run from the repository root (not part of the test suite; needs cargo for the Rust side):

    python benches/bench_gzip.py            # a few minutes on 2 shared cores
    python benches/bench_gzip.py --quick    # fewer chunks and rounds
    python benches/bench_gzip.py --data DIR # test data elsewhere than ../shared/testdata

The data are chunk files as a store holds them before gzip: compressed_segmentation of real
pinky40 64³ chunks (Voronoi labels stand in without the test data or crackle-codec), raw uint8
EM-like image chunks (`ngcodec.sample`: cells, membranes and noise) and raw uint64 labels (the
pinky40 chunks again). The Rust side, `benches/gzip_peers` (built with cargo on first use), times
libdeflate through `ngcodec::gzip` and zlib-rs through flate2 with one call a round, inflating
into one reused buffer (the inflaters' speed, not the allocator's); this process times Python's
zlib and ngcodec's Python binding (a new bytes object a chunk, as a reader gets) in the same
rounds, so that drift of the machine hits them alike. Speeds are MB/s (10^6 bytes) of
uncompressed bytes, compression and decompression alike, one thread, the median of the rounds;
sizes are the totals of each kind's files.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import load_segmentation
from harness import DEFAULT_DATA, MB, machine

from ngcodec.chunk_encoding import CompressedSegmentationEncoder
from ngcodec.precomputed.store import compression
from ngcodec.sample import make_sample

PEERS = Path(__file__).resolve().parent / "gzip_peers"
BASELINE = ("zlib (Python)", 6)
LIBDEFLATE_LEVELS = [1, 3, 5, 6, 7, 9, 10, 11, 12]
ZLIB_LEVELS = [1, 3, 6, 9]
SLOW_LEVEL = 9
"""Levels from this one up take a few rounds only: they run at a few MB/s."""


@dataclass
class Timing:
    compress: list[float]
    decompress: list[float]
    size: int


def chunk_files(data: Path, chunks: int) -> dict[str, list[bytes]]:
    """The chunk files of each kind, named for the tables."""
    segmentation = load_segmentation(data, chunks)[0]
    encoder = CompressedSegmentationEncoder("uint32", 1, [8, 8, 8])
    _, image = make_sample((256, 256, 64 * max(1, chunks // 16)), seed=1)
    image_chunks = [
        image[z : z + 64, y : y + 64, x : x + 64].tobytes()
        for z in range(0, image.shape[0], 64)
        for y in range(0, 256, 64)
        for x in range(0, 256, 64)
    ]
    labels = segmentation.chunks[: max(1, chunks // 8)]
    source = segmentation.source
    return {
        f"cseg {source} 64³ u32 x{len(segmentation.chunks)}": [
            bytes(encoder.encode(chunk[None])) for chunk in segmentation.chunks
        ],
        f"raw EM-like 64³ u8 x{len(image_chunks)}": image_chunks,
        f"raw {source} 64³ u64 x{len(labels)}": [chunk.astype("<u8").tobytes() for chunk in labels],
    }


def python_zlib_compress(chunk: bytes, level: int) -> bytes:
    """A gzip member as ngcodec wrote them before: zlib's deflate with a gzip wrapper."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(chunk) + compressor.flush()


def python_zlib_decompress(packed: bytes, size: int) -> bytes:
    return zlib.decompress(packed, 16 + zlib.MAX_WBITS)


PYTHON_CODECS: dict[str, tuple[Callable[[bytes, int], bytes], Callable[[bytes, int], bytes]]] = {
    "zlib (Python)": (python_zlib_compress, python_zlib_decompress),
    "libdeflate (ngcodec, Python)": (compression.gzip_compress, compression.gzip_decompress),
}


def time_python(
    name: str, level: int, chunks: list[bytes], timings: dict[tuple[str, int], Timing]
) -> None:
    compress, decompress = PYTHON_CODECS[name]
    start = time.perf_counter()
    packed = [compress(chunk, level) for chunk in chunks]
    compress_seconds = time.perf_counter() - start
    start = time.perf_counter()
    unpacked = [decompress(p, len(chunk)) for p, chunk in zip(packed, chunks, strict=True)]
    decompress_seconds = time.perf_counter() - start
    assert unpacked == chunks, f"{name} {level} did not round-trip"
    timing = timings.setdefault((name, level), Timing([], [], sum(map(len, packed))))
    timing.compress.append(compress_seconds)
    timing.decompress.append(decompress_seconds)


def time_rust(
    folder: Path, kinds: dict[str, str], configs: list[str], timings: dict[str, dict]
) -> None:
    """One round of the Rust side over every kind (`kinds` maps a folder name to its title)."""
    peers = PEERS / "target" / "release" / "ngcodec-gzip-peers"
    done = subprocess.run(
        [peers, folder, *kinds, "--", *configs], capture_output=True, text=True, check=True
    )
    for line in done.stdout.splitlines():
        result = json.loads(line)
        name = f"{result['library']} (Rust)"
        kind_timings = timings[kinds[result["kind"]]]
        timing = kind_timings.setdefault((name, result["level"]), Timing([], [], result["size"]))
        timing.compress.append(result["compress"])
        timing.decompress.append(result["decompress"])


def table(kind: str, nbytes: int, timings: dict[tuple[str, int], Timing]) -> str:
    base = timings[BASELINE]
    base_compress = statistics.median(base.compress)
    base_decompress = statistics.median(base.decompress)
    header = (
        f"| {kind}, {nbytes / MB:.2f} MB | level | compress MB/s | x zlib 6 | decompress MB/s "
        "| x zlib 6 | bytes | / zlib 6 |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for (name, level), timing in sorted(timings.items()):
        compress_seconds = statistics.median(timing.compress)
        decompress_seconds = statistics.median(timing.decompress)
        lines.append(
            f"| {name} | {level} | {nbytes / compress_seconds / MB:,.1f} "
            f"| {base_compress / compress_seconds:.2f} "
            f"| {nbytes / decompress_seconds / MB:,.0f} "
            f"| {base_decompress / decompress_seconds:.2f} "
            f"| {timing.size:,} | {timing.size / base.size:.3f} |"
        )
    return "\n".join(lines)


def default_level_check(results: dict[str, dict[tuple[str, int], Timing]]) -> str:
    """Which libdeflate levels write no more bytes than zlib 6 at twice its speed, on each kind."""
    lines = [
        "| libdeflate level | "
        + " | ".join(f"{kind.split(' x')[0]}: / zlib 6 bytes, x speed" for kind in results)
        + " | no larger, >= 2x on all |",
        "|---|" + "---|" * (len(results) + 1),
    ]
    for level in LIBDEFLATE_LEVELS:
        cells, passes = [], True
        for timings in results.values():
            base, ours = timings[BASELINE], timings[("libdeflate (Rust)", level)]
            size = ours.size / base.size
            speed = statistics.median(base.compress) / statistics.median(ours.compress)
            passes &= size <= 1 and speed >= 2
            cells.append(f"{size:.3f}, {speed:.2f}")
        lines.append(f"| {level} | " + " | ".join(cells) + f" | {'yes' if passes else 'no'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer chunks and rounds")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="test data folder")
    args = parser.parse_args()
    rounds, slow_rounds, chunks = (3, 1, 8) if args.quick else (9, 3, 32)
    print(f"Machine: {machine()}\n", flush=True)
    subprocess.run(
        ["cargo", "build", "--quiet", "--release", "--manifest-path", PEERS / "Cargo.toml"],
        check=True,
    )

    files = chunk_files(args.data, chunks)
    results: dict[str, dict[tuple[str, int], Timing]] = defaultdict(dict)
    with tempfile.TemporaryDirectory() as folder:
        kinds = {}
        for index, (kind, chunk_list) in enumerate(files.items()):
            (Path(folder) / str(index)).mkdir()
            for number, chunk in enumerate(chunk_list):
                (Path(folder) / str(index) / f"{number:04d}").write_bytes(chunk)
            kinds[str(index)] = kind
        started = time.perf_counter()
        for round_index in range(rounds):
            slow = round_index < slow_rounds
            configs = [f"libdeflate:{level}" for level in LIBDEFLATE_LEVELS] + [
                f"zlib-rs:{level}" for level in ZLIB_LEVELS
            ]
            configs = [c for c in configs if slow or int(c.split(":")[1]) < SLOW_LEVEL]
            for kind, chunk_list in files.items():
                for level in ZLIB_LEVELS:
                    if slow or level < SLOW_LEVEL:
                        time_python("zlib (Python)", level, chunk_list, results[kind])
                time_python(
                    "libdeflate (ngcodec, Python)",
                    compression.DEFAULT_GZIP_LEVEL,
                    chunk_list,
                    results[kind],
                )
            time_rust(Path(folder), kinds, configs, results)
            print(
                f"round {round_index + 1}/{rounds} done, {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    for kind, chunk_list in files.items():
        print(table(kind, sum(map(len, chunk_list)), results[kind]), "\n")
    print(default_level_check(results), "\n")
    print(f"ngcodec's DEFAULT_GZIP_LEVEL: {compression.DEFAULT_GZIP_LEVEL}")


if __name__ == "__main__":
    main()
