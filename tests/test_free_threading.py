"""Thread stress on the state that threads share, for free-threaded CPython (3.14t).

The extension declares that it needs no GIL (``gil_used = false``). What threads share is what
these tests hammer: the extension's lazily filled statics (the ``numpy.empty`` lookup and the
imported ``InvalidFormatError`` type), each first touched by many threads at once in a fresh
interpreter; the gzip compressors that each thread keeps per level; the dataset writer's and
verifier's counters, updated from their thread pools, which must add up exactly as in a serial
run; a dataset that two writers work on at once; and the shard reader's cache of parsed indexes,
shared by the threads that read one sharded scale. Under the GIL they pass as well; the release
workflow runs them on 3.14t with ``PYTHON_GIL=0``.
"""

import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import ngcodec.volume as nv
from ngcodec.precomputed.format import sharding as sh
from ngcodec.precomputed.store import compression

THREADS = 16

# Every thread makes its first native calls at the same moment, in an interpreter where nothing
# has called the extension yet: the first decode fills the numpy.empty cell, the first malformed
# chunk resolves the InvalidFormatError type.
FIRST_CALLS = textwrap.dedent(
    """
    import sys, threading
    import numpy as np
    import ngcodec.chunk_encoding as ce

    threads = int(sys.argv[1])
    encoder = ce.CompressedSegmentationEncoder("uint64", 2, [4, 4, 4])
    chunk = np.arange(2 * 5 * 6 * 7, dtype=np.uint64).reshape(2, 5, 6, 7) % 11
    raw = ce.RawChunkEncoder("uint16", 1)
    start = threading.Barrier(threads)
    results = [None] * threads

    def first_calls(i):
        start.wait()
        decoded = encoder.decode(bytes(encoder.encode(chunk)), (7, 6, 5))
        try:
            encoder.decode(b"\\x01\\x00\\x00\\x00\\xff\\xff\\xff\\xff", (7, 6, 5))
            error = None
        except ce.InvalidFormatError as exc:
            error = type(exc).__name__
        results[i] = (decoded.tobytes(), error, raw.encode(chunk[:1].astype(np.uint16)))

    workers = [threading.Thread(target=first_calls, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert results[0][0] == chunk.tobytes(), "decoded chunk differs"
    assert results[0][1] == "InvalidFormatError", results[0][1]
    assert all(result == results[0] for result in results), "threads saw different results"
    print("ok", threads)
    """
)


def test_first_native_calls_from_many_threads_at_once():
    for _ in range(4):
        run = subprocess.run(
            [sys.executable, "-c", FIRST_CALLS, str(THREADS)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        assert run.stdout.split() == ["ok", str(THREADS)]


def test_gzip_from_many_threads_at_every_level_matches_a_serial_run():
    # Each thread makes and keeps its own compressor per level: threads and levels interleave.
    rng = np.random.default_rng(3)
    data = [
        rng.integers(0, 1 + 40 * i, 20_000 + 999 * i, dtype=np.uint8).tobytes() for i in range(6)
    ]
    cases = [(d, level) for d in data for level in range(1, 13)]
    serial = [compression.gzip_compress(d, level) for d, level in cases]
    start = threading.Barrier(THREADS)

    def compress_all(seed: int) -> list[int]:
        order = list(range(len(cases)))
        np.random.default_rng(seed).shuffle(order)
        start.wait()
        return [
            i
            for i in order
            if compression.gzip_compress(*cases[i]) != serial[i]
            or compression.gzip_decompress(serial[i], len(cases[i][0])) != cases[i][0]
        ]

    with ThreadPoolExecutor(THREADS) as pool:
        assert not [i for wrong in pool.map(compress_all, range(THREADS)) for i in wrong]


def labels(shape_zyx: tuple[int, int, int]) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 30, shape_zyx, dtype=np.uint32) * 1001


class Counter:
    """A progress callback that counts every chunk reported, from any thread."""

    def __init__(self) -> None:
        self.total = 0
        self.lock = threading.Lock()

    def __call__(self, count: int) -> None:
        with self.lock:
            self.total += count


def dataset_files(path: Path) -> dict[str, bytes]:
    return {
        str(file.relative_to(path)): file.read_bytes()
        for file in sorted(path.rglob("*"))
        if file.is_file()
    }


def test_write_stats_from_many_threads_add_up_as_in_a_serial_run(tmp_path):
    # 8^3 = 512 small chunks in slabs of 64, so the pool's workers and the slab loop overlap.
    data = labels((64, 64, 64))
    options = {"encoding": "compressed_segmentation", "chunk_size": 8, "max_slab_bytes": 64 * 2048}
    serial = nv.write_volume(data, tmp_path / "serial", jobs=1, **options)
    progress = Counter()
    threaded = nv.write_volume(
        data, tmp_path / "threads", jobs=THREADS, progress=progress, **options
    )
    assert serial.chunks_total == serial.chunks_written == 512
    for name in ("chunks_total", "chunks_written", "chunks_skipped", "bytes_in", "bytes_out"):
        assert getattr(threaded, name) == getattr(serial, name), name
    assert progress.total == 512
    assert dataset_files(tmp_path / "threads") == dataset_files(tmp_path / "serial")


def test_a_second_writer_leaves_the_first_ones_files_alone(tmp_path, monkeypatch):
    # A resume started while the first run still writes: the second run's create() must not
    # delete the temporary file the first is about to rename into place.
    data = labels((16, 16, 16))
    options = {"encoding": "raw", "chunk_size": 8, "jobs": 1, "gzip": False}
    rename = os.replace
    renaming, go_on = threading.Event(), threading.Event()
    first_writer = threading.current_thread()

    def paused_rename(source: str, target: str) -> None:
        is_chunk = Path(target).name != "info"
        if is_chunk and threading.current_thread() is first_writer and not renaming.is_set():
            renaming.set()
            go_on.wait(60)
        rename(source, target)

    def second_run() -> nv.WriteStats:
        renaming.wait(60)
        try:
            return nv.write_volume(data, tmp_path, **options)
        finally:
            go_on.set()

    monkeypatch.setattr(os, "replace", paused_rename)
    with ThreadPoolExecutor(1) as pool:
        second = pool.submit(second_run)
        first = nv.write_volume(data, tmp_path, **options)
        assert second.result().chunks_total == first.chunks_total == 8
    assert nv.verify_volume(tmp_path, data).ok


def test_verify_report_from_many_threads_matches_a_serial_run(tmp_path):
    data = labels((64, 64, 64))
    nv.write_volume(data, tmp_path, encoding="compressed_segmentation", chunk_size=8, gzip=False)
    volume = nv.PrecomputedVolume.open(tmp_path)
    names = sorted(volume.existing_chunk_names())
    scale = tmp_path / volume.key
    for name in names[::7]:
        (scale / name).unlink()  # missing
    for name in names[3::11]:
        (scale / name).write_bytes(b"\x01\x00\x00\x00")  # corrupt
    changed = data.copy()
    changed[::5, ::9, ::13] += 1  # mismatched wherever a chunk holds one of these voxels

    serial = nv.verify_volume(tmp_path, changed, jobs=1)
    progress = Counter()
    threaded = nv.verify_volume(
        tmp_path, changed, jobs=THREADS, progress=progress, max_slab_bytes=64 * 2048
    )
    assert serial.missing and serial.corrupt and serial.mismatched and serial.chunks_ok
    for name in ("chunks_total", "chunks_ok", "missing", "corrupt", "mismatched", "max_abs_error"):
        assert getattr(threaded, name) == getattr(serial, name), name
    assert progress.total == serial.chunks_total == 512


def test_threads_reading_one_volume_get_the_same_arrays(tmp_path):
    data = labels((40, 48, 56))
    nv.write_volume(data, tmp_path, encoding="compressed_segmentation", chunk_size=16, jobs=1)
    volume = nv.PrecomputedVolume.open(tmp_path)
    boxes = [nv.Box((x, 3, 5), (x + 21, 40, 37)) for x in range(0, 35, 5)]

    def read(box: nv.Box) -> np.ndarray:
        return volume.read(box, jobs=4)

    with ThreadPoolExecutor(THREADS) as pool:
        arrays = list(pool.map(read, boxes * 4))
    for box, array in zip(boxes * 4, arrays, strict=True):
        (x0, y0, z0), (x1, y1, z1) = box.start, box.stop
        np.testing.assert_array_equal(array[0], data[z0:z1, y0:y1, x0:x1])


# 8 shards of 2 minishards: chunk id -> minishard id & 1, shard (id >> 1) & 7.
SHARDING = sh.ShardingSpec(0, "identity", 1, 3, "gzip", "gzip")


def sharded_scale(chunks: int) -> dict[str, bytes]:
    """The shard files of chunks 0..chunks-1, chunk i holding i's bytes a few times over."""
    shard_of, _ = SHARDING.locate(np.arange(chunks, dtype=np.uint64))
    shards: dict[int, dict[int, bytes]] = {}
    for chunk_id, shard in enumerate(shard_of.tolist()):
        shards.setdefault(shard, {})[chunk_id] = chunk_bytes(chunk_id)
    return {
        sh.shard_key(SHARDING, shard): sh.encode_shard(SHARDING, chunks_of_shard)
        for shard, chunks_of_shard in shards.items()
    }


def chunk_bytes(chunk_id: int) -> bytes:
    return chunk_id.to_bytes(4, "little") * (1 + chunk_id % 7)


def reading(files: dict[str, bytes]) -> sh.ReadRange:
    def read_range(key: str, start: int, stop: int) -> bytes | None:
        return files[key][start:stop] if key in files else None

    return read_range


def test_threads_sharing_a_shard_reader_read_every_chunk_right():
    files = sharded_scale(256)
    reader = sh.ShardReader(SHARDING, reading(files))
    start = threading.Barrier(THREADS)

    def read_all(seed: int) -> list[int]:
        order = list(range(300))  # 44 ids past the last chunk: absent
        np.random.default_rng(seed).shuffle(order)
        start.wait()
        return [i for i in order if reader.read_chunk(i) != (chunk_bytes(i) if i < 256 else None)]

    with ThreadPoolExecutor(THREADS) as pool:
        wrong = [i for ids in pool.map(read_all, range(THREADS)) for i in ids]
    assert not wrong


class EvictedAfterLookup(sh.LruCache):
    """A cache whose entry goes the moment a membership test finds it: the interleaving in which
    another thread's insertion evicts it between a reader's ``key in cache`` and ``cache[key]``."""

    def __contains__(self, key: object) -> bool:
        found = super().__contains__(key)
        if found:
            del self[key]
        return found


def test_a_shard_evicted_between_lookup_and_read_is_read_again():
    reader = sh.ShardReader(SHARDING, reading(sharded_scale(16)), cache=EvictedAfterLookup())
    assert reader.read_chunk(0) == chunk_bytes(0)  # shard 0 and its minishard 0 cached
    assert reader.read_chunk(1) == chunk_bytes(1)  # shard 0 again, for its minishard 1
