"""Micro-benchmark of the sharded format's core against its peers, in one run.

Run from the repository root (not part of the test suite):

    python benches/bench_sharding.py            # about a minute on 2 cores
    python benches/bench_sharding.py --quick    # smaller samples

Rows: chunk ids (compressed Morton codes) for a whole grid, against a NumPy restatement and
neuroglancer-scripts' per-chunk function; murmurhash3_x86_128 against mmh3; building a shard
against tensorstore's ``neuroglancer_uint64_sharded`` kvstore writing the same chunks (to memory,
in one transaction); reading every chunk of a shard, cold and with the indexes cached, against
tensorstore's kvstore (with a cache pool); and one chunk read from a sharded dataset on disk with
the index cached against the same chunk read from its own file. Implementations alternate within
each round; each figure is the median over rounds.
"""

# ruff: noqa: B023

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ngcodec import _native
from ngcodec.precomputed.format import sharding as sh


def median_seconds(functions: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds per call of each function, alternating them within each round."""
    for function in functions.values():
        function()
    samples: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in samples.items()}


def table(title: str, unit: str, count: int, seconds: dict[str, float]) -> None:
    """Rows of throughput (count / s) with each row's ratio to the first."""
    print(f"\n{title}")
    print(f"| implementation | {unit}/s | time | vs first |")
    print("|---|---|---|---|")
    first = next(iter(seconds.values()))
    for name, value in seconds.items():
        print(f"| {name} | {count / value:,.0f} | {value * 1e3:.2f} ms | {first / value:.2f}x |")


def numpy_morton(positions: np.ndarray, grid: tuple[int, int, int]) -> np.ndarray:
    """volume.md's loop over bits, vectorised over chunks with NumPy."""
    bits = [(n - 1).bit_length() for n in grid]
    codes = np.zeros(len(positions), np.uint64)
    out_bit = 0
    for bit in range(max(bits)):
        for axis in range(3):
            if bit < bits[axis]:
                value = (positions[:, axis] >> np.uint64(bit)) & np.uint64(1)
                codes |= value << np.uint64(out_bit)
                out_bit += 1
    return codes


def bench_morton(quick: bool, rounds: int) -> None:
    grid = (313, 313, 16) if not quick else (128, 128, 16)
    positions = np.array(list(itertools.product(*map(range, grid))), np.uint64)
    expected = sh.chunk_ids(positions, grid)
    assert (numpy_morton(positions, grid) == expected).all()
    functions: dict[str, Callable[[], object]] = {
        "ngcodec chunk_ids": lambda: sh.chunk_ids(positions, grid),
        "NumPy restatement": lambda: numpy_morton(positions, grid),
    }
    seconds = median_seconds(functions, rounds)
    try:
        from neuroglancer_scripts.sharded_base import ShardVolumeSpec
    except ImportError:
        pass
    else:
        volume = ShardVolumeSpec([64] * 3, [n * 64 for n in grid])
        few = [tuple(int(v) for v in p) for p in positions[:: max(1, len(positions) // 5000)]]
        assert [int(volume.compressed_morton_code(list(p))) for p in few[:50]] == [
            int(c) for c in sh.chunk_ids(few[:50], grid)
        ]
        per_id = median_seconds(
            {"ns": lambda: [volume.compressed_morton_code(list(p)) for p in few]}, 3
        )["ns"] / len(few)
        seconds["neuroglancer-scripts (per chunk, Python)"] = per_id * len(positions)
    table(f"Chunk ids of a {grid} grid ({len(positions):,} chunks)", "ids", len(positions), seconds)


def bench_murmur(quick: bool, rounds: int) -> None:
    values = np.random.default_rng(0).integers(0, 2**63, 10**5 if quick else 10**6, np.uint64)
    functions: dict[str, Callable[[], object]] = {
        "ngcodec murmurhash3_x86_128": lambda: _native.murmurhash3_x86_128(values)
    }
    try:
        import mmh3
    except ImportError:
        mmh3 = None
    if mmh3 is not None:
        keys = [int(v).to_bytes(8, "little") for v in values]
        hashes = [mmh3.hash64(k, 0, False, False)[0] for k in keys[:1000]]
        assert hashes == _native.murmurhash3_x86_128(values[:1000]).tolist()
        functions["mmh3 (per value, from bytes)"] = lambda: [
            mmh3.hash64(k, 0, False, False) for k in keys
        ]
    seconds = median_seconds(functions, rounds)
    table(f"murmurhash3_x86_128 of {len(values):,} ids", "ids", len(values), seconds)


def sample_chunks(count: int, size: int) -> dict[int, bytes]:
    """Chunks of ``size`` bytes like raw uint32 labels: runs of 64 equal values."""
    rng = np.random.default_rng(1)
    return {
        i: np.repeat(rng.integers(1, 1000, size // 256, dtype="<u4"), 64).tobytes()
        for i in range(count)
    }


def tensorstore_kvstore(spec: sh.ShardingSpec, cache_bytes: int = 0):
    import tensorstore as ts

    context = {"cache_pool": {"total_bytes_limit": cache_bytes}}
    return ts.KvStore.open(
        {"driver": "neuroglancer_uint64_sharded", "base": "memory://", "metadata": spec.to_json(),
         "context": context}
    ).result()  # fmt: skip


def tensorstore_write(spec: sh.ShardingSpec, chunks: dict[int, bytes]):
    import tensorstore as ts

    kvstore = tensorstore_kvstore(spec, 1 << 30)
    transaction = ts.Transaction()
    writer = kvstore.with_transaction(transaction)
    for chunk_id, data in chunks.items():
        writer[chunk_id.to_bytes(8, "big")] = data
    transaction.commit_sync()
    return kvstore


def bench_shards(quick: bool, rounds: int) -> None:
    count, size = (128, 64 * 1024) if quick else (512, 64 * 1024)
    chunks = sample_chunks(count, size)
    total = count * size / 1e6
    for encoding in ("raw", "gzip"):
        spec = sh.ShardingSpec(6, "identity", 3, 0, encoding, encoding)
        shard = sh.encode_shard(spec, chunks)
        functions: dict[str, Callable[[], object]] = {
            "ngcodec encode_shard": lambda: sh.encode_shard(spec, chunks),
        }
        try:
            import tensorstore  # noqa: F401
        except ImportError:
            tensorstore_ok = False
        else:
            tensorstore_ok = True
            functions["tensorstore kvstore, one transaction"] = lambda: tensorstore_write(
                spec, chunks
            )
        level = " (ngcodec gzip level 6, tensorstore level 9)" if encoding == "gzip" else ""
        table(
            f"Building one shard of {count} chunks of {size // 1024} KiB, {encoding} encodings"
            + level,
            "MB",
            total,
            median_seconds(functions, rounds),
        )

        files = {"0.shard": shard}

        def read_range(key: str, start: int, stop: int) -> bytes | None:
            return files[key][start:stop] if key in files else None

        warm = sh.ShardReader(spec, read_range)
        functions = {
            "ngcodec ShardReader, indexes cached": lambda: [warm.read_chunk(i) for i in chunks],
            "ngcodec ShardReader, cold": lambda: [
                sh.ShardReader(spec, read_range).read_chunk(i) for i in chunks
            ],
            "ngcodec read_shard (whole file, every check)": lambda: list(warm.read_shard(0)),
        }
        if tensorstore_ok:
            kvstore = tensorstore_write(spec, chunks)
            keys = [i.to_bytes(8, "big") for i in chunks]
            assert kvstore.read(keys[3]).result().value == chunks[3]
            functions["tensorstore kvstore read, cache pool"] = lambda: [
                kvstore.read(k).result() for k in keys
            ]
        table(
            f"Reading each of the {count} chunks of that shard, {encoding} encodings",
            "MB",
            total,
            median_seconds(functions, rounds),
        )


def local_read_range(root: Path):
    def read_range(key: str, start: int, stop: int) -> bytes | None:
        try:
            file = open(root / key, "rb")
        except FileNotFoundError:
            return None
        with file:
            size = os.fstat(file.fileno()).st_size
            file.seek(start)
            return file.read(max(0, min(stop, size) - start))

    return read_range


def bench_one_chunk(quick: bool, rounds: int) -> None:
    """One chunk from disk: its own file, or a sharded dataset with the indexes cached."""
    count = 64 if quick else 512
    chunks = sample_chunks(count, 64 * 1024)
    spec = sh.ShardingSpec(9, "identity", 0, 0, "gzip", "raw")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "0.shard").write_bytes(sh.encode_shard(spec, chunks))
        for chunk_id, data in chunks.items():
            (root / f"chunk_{chunk_id}").write_bytes(data)
        reader = sh.ShardReader(spec, local_read_range(root))
        ids = list(chunks)
        assert all(reader.read_chunk(i) == chunks[i] for i in ids)

        def unsharded() -> None:
            for chunk_id in ids:
                with open(root / f"chunk_{chunk_id}", "rb") as file:
                    file.read()

        seconds = median_seconds(
            {
                "unsharded chunk file": unsharded,
                "sharded, indexes cached": lambda: [reader.read_chunk(i) for i in ids],
            },
            rounds,
        )
    table(f"One 64 KiB chunk from disk ({count} chunks per round)", "chunks", count, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller samples")
    args = parser.parse_args()
    rounds = 5 if args.quick else 9
    started = time.perf_counter()
    bench_morton(args.quick, rounds)
    bench_murmur(args.quick, rounds)
    bench_shards(args.quick, rounds)
    bench_one_chunk(args.quick, rounds)
    print(f"\nTotal time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
