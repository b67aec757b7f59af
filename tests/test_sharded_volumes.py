"""Sharded scales in the dataset layers: PrecomputedVolume, write_volume, the dask writer and the
command line, against tensorstore and neuroglancer-scripts.

tensorstore reads what ngcodec writes (every encoding, edge chunks, 2 channels, pyramid scales)
voxel for voxel; ngcodec reads what tensorstore (both hashes, gzip and raw) and
neuroglancer-scripts write; a killed conversion leaves no partial shard and resumes; hostile shard
files raise ChunkError naming the chunk, the shard and the minishard.
"""

import json
import pickle
import struct

import numpy as np
import pytest

import ngcodec.volume as nv
from ngcodec.cli import main
from ngcodec.precomputed.format import sharding as sh
from ngcodec.precomputed.store import LocalStore
from ngcodec.precomputed.store.local import TEMP_SUFFIX

ts = pytest.importorskip("tensorstore")

from sharding_oracles import (  # noqa: E402
    volume_data,
    write_with_neuroglancer_scripts,
    write_with_tensorstore,
)


def tensorstore_read(root, scale_index=0):
    """A scale as tensorstore reads it, (C, Z, Y, X)."""
    store = ts.open(
        {
            "driver": "neuroglancer_precomputed",
            "kvstore": f"file://{root}",
            "scale_index": scale_index,
        }
    ).result()
    return store.read().result().transpose(3, 2, 1, 0)


def labels(shape, dtype="uint32", seed=0):
    """(C, Z, Y, X) labels in 3-voxel cells, no zero."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(1, 2**31, tuple(-(-n // 3) for n in shape), dtype=np.int64)
    for axis in range(1, len(shape)):
        cells = cells.repeat(3, axis)
    return cells[tuple(slice(0, n) for n in shape)].astype(dtype)


def image(shape, seed=0):
    z, y, x = np.meshgrid(*(np.arange(n) for n in shape[1:]), indexing="ij")
    planes = [40 + x + 2 * y + 3 * z + 20 * c for c in range(shape[0])]
    return np.clip(np.stack(planes), 0, 255).astype(np.uint8)


def shard_names(scale_dir):
    return sorted(p.name for p in scale_dir.iterdir())


# ---------------------------------------------------------------------------------------------
# tensorstore reads what ngcodec writes

CASES = [
    # encoding, data (C, Z, Y, X), chunk size, uncompressed chunks per shard, gzip
    ("raw", labels((2, 23, 29, 37), "uint16"), (16, 8, 4), 8, True),
    ("raw", labels((1, 21, 19, 17), "uint64"), (8, 16, 32), 2, False),
    ("compressed_segmentation", labels((1, 23, 29, 37)), (16, 16, 16), 4, True),
    ("compressed_segmentation", labels((2, 30, 20, 40), "uint64"), (16, 8, 8), 16, True),
    ("jpeg", image((1, 23, 29, 37)), (16, 16, 16), 2, True),
    ("jpeg", image((3, 20, 24, 40)), (32, 16, 8), 4, True),
    ("png", image((2, 20, 24, 40)), (16, 16, 8), 8, True),
]


@pytest.mark.parametrize(("encoding", "data", "chunk", "per_shard", "gzip"), CASES)
def test_tensorstore_reads_sharded_volumes(tmp_path, encoding, data, chunk, per_shard, gzip):
    chunk_bytes = data.shape[0] * int(np.prod(chunk)) * data.itemsize
    stats = nv.write_volume(
        data,
        tmp_path,
        encoding=encoding,
        chunk_size=chunk,
        voxel_offset=(5, 0, 11),
        resolution=(4, 4, 40),
        gzip=gzip,
        sharded=True,
        shard_bytes=per_shard * chunk_bytes,
        jobs=2,
    )
    volume = nv.PrecomputedVolume.open(tmp_path)
    assert volume.sharded and stats.chunks_written == volume.num_chunks
    spec = volume.scale["sharding"]
    gzipped = gzip and encoding in ("raw", "compressed_segmentation")
    assert spec["data_encoding"] == ("gzip" if gzipped else "raw")
    assert spec["hash"] == "identity" and spec["minishard_index_encoding"] == "gzip"
    files = shard_names(volume.scale_path)
    assert files == sorted(
        sh.shard_key(volume.sharding, b.shard) for b in volume.shards.shard_boxes()
    )
    assert 1 < len(files) < volume.num_chunks
    ours = nv.read_volume(tmp_path)
    np.testing.assert_array_equal(tensorstore_read(tmp_path), ours)
    if encoding == "jpeg":
        assert np.mean((ours.astype(float) - data) ** 2) < 1.5
    else:
        np.testing.assert_array_equal(ours, data)


def test_tensorstore_reads_a_sharded_pyramid(tmp_path):
    data = labels((1, 20, 36, 40))
    options = {"encoding": "compressed_segmentation", "chunk_size": 8, "pyramid": True}
    nv.write_volume(data, tmp_path / "plain", **options)
    nv.write_volume(data, tmp_path / "sharded", sharded=True, shard_bytes=8 * 8**3 * 4, **options)
    info = json.loads((tmp_path / "sharded" / "info").read_text())
    assert len(info["scales"]) == 4 and all("sharding" in s for s in info["scales"])
    for index, scale in enumerate(info["scales"]):
        expected = nv.read_volume(tmp_path / "plain", key=scale["key"])
        np.testing.assert_array_equal(tensorstore_read(tmp_path / "sharded", index), expected)
        np.testing.assert_array_equal(
            nv.read_volume(tmp_path / "sharded", key=scale["key"]), expected
        )
    assert main(["verify", str(tmp_path / "sharded")]) == 0


def test_only_scales_above_a_size_are_sharded(tmp_path):
    data = labels((1, 20, 36, 40))
    nv.write_volume(
        data,
        tmp_path,
        encoding="compressed_segmentation",
        chunk_size=8,
        pyramid=True,
        sharded=True,
        sharded_above=20 * 36 * 40 * 4 // 8,  # the base and the next scale (1/8 is not above)
        shard_bytes=8 * 8**3 * 4,
        gzip=False,  # tensorstore reads no .gz chunk files from disk
    )
    scales = json.loads((tmp_path / "info").read_text())["scales"]
    assert ["sharding" in s for s in scales] == [True, False, False, False]
    for index, scale in enumerate(scales):
        volume = nv.PrecomputedVolume.open(tmp_path, scale["key"])
        assert volume.sharded == (index == 0)
        np.testing.assert_array_equal(tensorstore_read(tmp_path, index), volume.read())


# ---------------------------------------------------------------------------------------------
# ngcodec reads what tensorstore and neuroglancer-scripts write

TENSORSTORE_SPECS = [
    sh.ShardingSpec(1, "murmurhash3_x86_128", 2, 2, "gzip", "gzip"),
    sh.ShardingSpec(2, "identity", 1, 3, "raw", "raw"),
    sh.ShardingSpec(0, "murmurhash3_x86_128", 3, 1, "raw", "gzip"),
    sh.ShardingSpec(3, "identity", 0, 4, "gzip", "raw"),
]


@pytest.mark.parametrize("spec", TENSORSTORE_SPECS, ids=str)
@pytest.mark.parametrize("encoding", ["raw", "compressed_segmentation"])
def test_ngcodec_reads_tensorstore_sharded_volumes(tmp_path, capsys, spec, encoding):
    data = volume_data((50, 33, 17), 2, "uint32")
    write_with_tensorstore(tmp_path, data, (8, 8, 4), encoding, spec.to_json())
    np.testing.assert_array_equal(nv.read_volume(tmp_path), data)
    box = ((10, 5, 3), (41, 30, 16))
    np.testing.assert_array_equal(nv.read_volume(tmp_path, box), data[:, 3:16, 5:30, 10:41])
    volume = nv.PrecomputedVolume.open(tmp_path)
    assert volume.existing_chunk_names() == {b.name for b in volume.chunk_boxes()}
    assert all(volume.has_chunk(b) for b in volume.chunk_boxes())

    np.save(tmp_path / "in.npy", data)
    assert main(["verify", str(tmp_path), str(tmp_path / "in.npy"), "--no-progress"]) == 0
    n = volume.num_chunks
    assert f"ok: {n} of {n} chunks decoded; identical to the input" in capsys.readouterr().out
    assert main(["info", str(tmp_path), "--json"]) == 0
    (scale,) = json.loads(capsys.readouterr().out)["scales"]
    files = shard_names(tmp_path / "s0")
    assert scale["sharding"] == spec.to_json()
    assert scale["shards_present"] == scale["shards_expected"] == len(files)
    assert scale["chunks_present"] == scale["chunks_expected"] == n
    assert scale["chunks_missing"] == 0 and scale["unexpected_files"] == []
    assert scale["bytes_stored"] == sum((tmp_path / "s0" / f).stat().st_size for f in files)
    assert main(["info", str(tmp_path)]) == 0
    assert f"sharded: {len(files)} of {len(files)} shard files; {spec.hash} hash" in (
        capsys.readouterr().out
    )


def test_chunks_tensorstore_left_out_are_missing(tmp_path, capsys):
    data = volume_data((64, 64, 32), 1, "uint32")
    data[:, :16, :16, :16] = 0  # tensorstore does not store a chunk of fill values
    write_with_tensorstore(
        tmp_path,
        data,
        (16, 16, 16),
        "raw",
        sh.ShardingSpec(2, "identity", 2, 2, "gzip", "gzip").to_json(),
    )
    volume = nv.PrecomputedVolume.open(tmp_path)
    first = next(volume.chunk_boxes())
    assert first.name not in volume.existing_chunk_names() and not volume.has_chunk(first)
    with pytest.raises(nv.MissingChunkError, match=first.name):
        volume.read_chunk(first)
    np.testing.assert_array_equal(volume.read(fill_missing=True), data)
    assert main(["verify", str(tmp_path), "--no-progress"]) == 1
    assert f"1 chunks missing:\n  {first.name}" in capsys.readouterr().out


def test_neuroglancer_scripts_sharded_output_is_read_and_its_zlib_reported(tmp_path, capsys):
    size, chunk = (64, 64, 64), (16, 16, 16)
    spec = sh.ShardingSpec(2, "identity", 2, 2, "gzip", "gzip")
    data = volume_data(size, 1, "uint16")
    write_with_neuroglancer_scripts(tmp_path, data, chunk, spec.to_json())
    np.testing.assert_array_equal(nv.read_volume(tmp_path), data)
    report = nv.verify_volume(tmp_path, data)
    assert report.ok and report.chunks_ok == 64
    assert report.nonstandard_streams >= 64  # every chunk's, and the minishard indexes'
    assert main(["verify", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "zlib streams where the sharded format says gzip" in out and "ok: 64 of 64" in out


# ---------------------------------------------------------------------------------------------
# Writing: resuming, dask, the volume API


class KilledStore(LocalStore):
    """A store whose process is killed while it writes its ``fatal``-th shard: the temporary
    file is left half-written, and nothing is renamed into place."""

    def __init__(self, root, fatal, writer):
        super().__init__(root)
        self.shards = 0
        self.fatal = fatal
        self.writer = writer

    def write(self, key, data, *, gzip_level=None):
        if key.endswith(".shard"):
            self.shards += 1
            if self.shards == self.fatal:
                path = self._path(key)
                (path.parent / f".{path.name}.{self.writer}.0123{TEMP_SUFFIX}").write_bytes(
                    data[: len(data) // 2]
                )
                raise KeyboardInterrupt
        return super().write(key, data, gzip_level=gzip_level)


def test_a_killed_sharded_conversion_leaves_no_partial_shard_and_resumes(tmp_path, ended_writer):
    data = labels((1, 40, 40, 40))
    options = {"encoding": "compressed_segmentation", "chunk_size": 8, "sharded": True,
               "shard_bytes": 8 * 8**3 * 4, "jobs": 2}  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        nv.write_volume(data, KilledStore(tmp_path, fatal=6, writer=ended_writer), **options)
    scale = tmp_path / "1_1_1"
    shards = sorted(p.name for p in scale.glob("*.shard"))
    assert len(shards) == 5 and len(list(scale.glob(f"*{TEMP_SUFFIX}"))) == 1
    volume = nv.PrecomputedVolume.open(tmp_path)
    assert not volume.shards.check()  # every shard there is whole
    before = {name: (scale / name).stat().st_mtime_ns for name in shards}

    stats = nv.write_volume(data, tmp_path, **options)
    assert stats.chunks_skipped == 5 * 8 and stats.chunks_written == 125 - 5 * 8
    assert not list(scale.glob(f"*{TEMP_SUFFIX}"))
    assert {name: (scale / name).stat().st_mtime_ns for name in shards} == before
    np.testing.assert_array_equal(tensorstore_read(tmp_path), data)
    again = nv.write_volume(data, tmp_path, **options)
    assert again.chunks_written == 0 and again.chunks_skipped == 125


def test_memory_while_writing_is_a_shard_not_the_volume(tmp_path):
    import tracemalloc

    data = np.random.default_rng(0).integers(0, 2**32, (1, 128, 128, 256), dtype=np.uint32)
    chunk_bytes = 32**3 * 4
    tracemalloc.start()
    try:
        nv.write_volume(data, tmp_path, chunk_size=32, gzip=False, jobs=1, sharded=True,
                        shard_bytes=2 * chunk_bytes, max_slab_bytes=chunk_bytes)  # fmt: skip
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(list((tmp_path / "1_1_1").iterdir())) == 64
    # A shard's chunks and its file (2 chunks each), two slabs (1 chunk each): about 6 chunks of
    # the volume's 128.
    assert peak < 8 * chunk_bytes
    np.testing.assert_array_equal(nv.read_volume(tmp_path), data)


def test_dask_writes_a_shard_per_task_and_resumes(tmp_path):
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    from ngcodec.distributed import aligned_block_shape, to_precomputed

    data = labels((1, 40, 48, 64))
    options = {"encoding": "compressed_segmentation", "chunk_size": 8, "sharded": True,
               "shard_bytes": 16 * 8**3 * 4, "max_task_bytes": 2 * 8**3 * 4}  # fmt: skip
    lazy = da.from_array(data, chunks=(1, 13, 17, 19))  # not on the grid: rechunked into shards
    tasks = to_precomputed(lazy, tmp_path, compute=False, **options)
    volume = nv.PrecomputedVolume.open(tmp_path)
    boxes = volume.shards.shard_boxes()
    assert len(tasks) == len(boxes) == 2 * 3 * 3  # boxes of 4x2x2 chunks over 8x6x5
    assert aligned_block_shape(volume, 3 * 8**3 * 4) == (1, 8, 8, 16)  # a power of two of chunks
    done = dask.compute(*tasks[:10])
    assert sum(r.chunks_written for r in done) == sum(
        np.prod(np.subtract(b.stop, b.start)) for b in boxes[:10]
    )
    stats = to_precomputed(lazy, tmp_path, **options)
    assert stats.chunks_written + stats.chunks_skipped == volume.num_chunks
    assert stats.chunks_skipped == sum(r.chunks_written for r in done)
    np.testing.assert_array_equal(tensorstore_read(tmp_path), data)
    pyramid = to_precomputed(lazy, tmp_path / "p", pyramid=True, **options)
    assert pyramid.chunks_written > volume.num_chunks
    assert main(["verify", str(tmp_path / "p"), "--no-progress"]) == 0


def test_the_volume_api_of_sharded_scales(tmp_path):
    data = labels((1, 24, 24, 40))
    nv.write_volume(data, tmp_path, chunk_size=8, sharded=True, shard_bytes=8 * 8**3 * 4)
    volume = nv.PrecomputedVolume.open(tmp_path)
    assert volume.shards._reader is None  # built when first needed, and never pickled
    np.testing.assert_array_equal(volume.read(), data)
    assert volume.shards._reader is not None
    copy = pickle.loads(pickle.dumps(volume))
    assert copy.shards._reader is None
    np.testing.assert_array_equal(copy.read(), data)

    box = next(volume.chunk_boxes())
    with pytest.raises(ValueError, match="is sharded: its chunks are written a whole shard"):
        volume.write_chunk(box, data[:, :8, :8, :8])
    first, second = volume.shards.shard_boxes()[:2]
    elsewhere = next(volume.chunk_boxes(volume.shards.shard_region(second)))
    with pytest.raises(ValueError, match=f"is not a chunk of shard {first.shard}"):
        volume.write_shard(first, {elsewhere: b"x"})
    # A shard rewritten with fewer chunks: the others read as missing.
    region = volume.shards.shard_region(first)
    kept = next(volume.chunk_boxes(region))
    chunk = data[(slice(None), *kept.slices_within(volume.bounds))]
    volume.write_shard(first, {kept: volume.encode_shard_chunk(kept, chunk)})
    assert volume.has_chunk(kept) and sum(1 for _ in volume.chunk_boxes(region)) > 1
    fresh = nv.PrecomputedVolume.open(tmp_path)
    assert [b for b in fresh.chunk_boxes(region) if not fresh.has_chunk(b)] == list(
        fresh.chunk_boxes(region)
    )[1:]
    plain = {key: value for key, value in fresh.scale.items() if key != "sharding"}
    unsharded = nv.PrecomputedVolume(tmp_path, {**fresh.info, "scales": [plain]})
    with pytest.raises(ValueError, match="scale 1_1_1 is not sharded: it has no shard files"):
        unsharded.shards.shard_boxes()


def test_the_legacy_index_and_data_pair_through_the_volume(tmp_path, capsys):
    data = labels((1, 24, 24, 40))
    nv.write_volume(data, tmp_path, chunk_size=8, sharded=True, shard_bytes=8 * 8**3 * 4)
    volume = nv.PrecomputedVolume.open(tmp_path)
    shard = volume.scale_path / "0.shard"
    split = volume.sharding.shard_index_bytes
    (volume.scale_path / "0.index").write_bytes(shard.read_bytes()[:split])
    (volume.scale_path / "0.data").write_bytes(shard.read_bytes()[split:])
    size = shard.stat().st_size
    shard.unlink()
    volume = nv.PrecomputedVolume.open(tmp_path)
    assert volume.shards.stored_shards()["0.index/.data"].size == size
    np.testing.assert_array_equal(volume.read(), data)
    assert main(["verify", str(tmp_path), "--no-progress"]) == 0
    assert main(["info", str(tmp_path), "--json"]) == 0
    (scale,) = json.loads(capsys.readouterr().out.splitlines()[-1])["scales"]
    assert scale["shards_present"] == scale["shards_expected"] and scale["chunks_missing"] == 0


def test_a_chunk_costs_the_indexes_once_and_its_own_bytes(tmp_path):
    data = labels((1, 32, 32, 32))
    nv.write_volume(data, tmp_path, chunk_size=8, sharded=True, shard_bytes=64 * 8**3 * 4)

    reads = []

    class LoggingStore(LocalStore):
        def read_range(self, key, start, stop):
            data = super().read_range(key, start, stop)
            reads.append(len(data or b""))
            return data

    volume = nv.PrecomputedVolume.open(LoggingStore(tmp_path))
    boxes = list(volume.chunk_boxes())
    volume.read_chunk(boxes[0])
    assert len(reads) == 3  # the shard index, a minishard index, the chunk
    reads.clear()
    volume.read_chunk(boxes[1])
    assert len(reads) == 1
    shard_size = max(p.stat().st_size for p in (tmp_path / "1_1_1").iterdir())
    assert reads[0] < shard_size / 20


def test_local_store_ranges_are_clamped_to_the_file(tmp_path):
    store = LocalStore(tmp_path)
    store.write("a/b", b"0123456789")
    assert store.read_range("a/b", 4, 1 << 62) == b"456789"
    assert store.read_range("a/b", 20, 1 << 62) == b""
    assert store.read_range("a/c", 0, 1) is None


def test_sharded_volumes_in_a_bucket(s3_server, s3_bucket, capsys):
    """On a real S3 server: written shard by shard, read with range requests, verified, and read
    by tensorstore's s3 driver."""
    from ngcodec.precomputed.store import open_store

    data = labels((2, 30, 45, 70))
    url = f"s3://{s3_bucket}/sharded"
    store = open_store(url, endpoint_url=s3_server.endpoint)
    options = {"encoding": "compressed_segmentation", "chunk_size": (32, 16, 8), "sharded": True,
               "shard_bytes": 4 * 2 * 32 * 16 * 8 * 4}  # fmt: skip
    stats = nv.write_volume(data, store, **options)
    volume = nv.PrecomputedVolume.open(store)
    assert len(volume.shards.shard_files()) == len(volume.shards.shard_boxes()) > 1
    assert stats.chunks_written == volume.num_chunks
    again = nv.write_volume(data, store, **options)
    assert again.chunks_skipped == volume.num_chunks and again.chunks_written == 0
    np.testing.assert_array_equal(volume.read(), data)
    assert nv.verify_volume(store, data).ok
    spec = {
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "s3", "bucket": s3_bucket, "path": "sharded/",
                    "endpoint": s3_server.endpoint, "aws_region": "us-east-1"},
    }  # fmt: skip
    got = ts.open(spec, read=True).result().read().result()
    np.testing.assert_array_equal(got.transpose(3, 2, 1, 0), data)
    assert main(["info", url, "--endpoint-url", s3_server.endpoint]) == 0
    assert "sharded: " in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# Hostile shard files through the volume API


def corrupt_dataset(tmp_path, damage):
    data = labels((1, 16, 16, 32))
    nv.write_volume(data, tmp_path, chunk_size=8, sharded=True, shard_bytes=4 * 8**3 * 4, gzip=True)
    volume = nv.PrecomputedVolume.open(tmp_path)
    path = volume.scale_path / "0.shard"
    path.write_bytes(damage(path.read_bytes(), volume.sharding))
    return nv.PrecomputedVolume.open(tmp_path)


def gzip_bomb(shard: bytes, spec) -> bytes:
    from ngcodec.precomputed.store.compression import gzip_compress

    reader = sh.ShardReader(spec, lambda key, a, b: shard[a:b] if key == "0.shard" else None)
    ids = reader.shard_chunks(0)[0].tolist()
    chunks = {i: reader.read_chunk(i) for i in ids}
    chunks[ids[0]] = bytes(10**7)
    packed = {i: gzip_compress(c) for i, c in chunks.items()}
    return sh.encode_shard(spec, packed, data_encoded=True)


DAMAGE = {
    "truncated": (lambda shard, spec: shard[: len(shard) // 2], r"lies past the end of the file"),
    "minishard index garbage": (
        lambda shard, spec: (
            shard[:8] + struct.pack("<Q", len(shard) - 16 - spec.shard_index_bytes - 5) + shard[16:]
        ),
        r"minishard 0: index",
    ),
    "gzip bomb": (gzip_bomb, r"minishard 0: chunk 0: the gzip .* more than"),
}


@pytest.mark.parametrize("case", DAMAGE, ids=str)
def test_hostile_shards_through_the_volume_api(tmp_path, capsys, case):
    damage, message = DAMAGE[case]
    volume = corrupt_dataset(tmp_path, damage)
    box = next(volume.chunk_boxes())
    with pytest.raises(nv.ChunkError, match=rf"^chunk {box.name}: 0\.shard: .*{message}"):
        volume.read_chunk(box)
    with pytest.raises(nv.ChunkError, match=r"0\.shard: "):
        volume.read()
    report = nv.verify_volume(tmp_path)
    assert not report.ok and any(name == box.name for name, _ in report.corrupt)
    assert main(["verify", str(tmp_path), "--no-progress"]) == 1
    assert "0.shard: " in capsys.readouterr().out
    if case != "gzip bomb":  # the indexes themselves are damaged
        assert any(name == "0.shard" for name, _ in report.corrupt)
        assert main(["info", str(tmp_path)]) == 3
        assert "0.shard: " in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# The command line


def test_convert_options(tmp_path, capsys):
    data = labels((1, 20, 36, 40))
    np.save(tmp_path / "in.npy", data)
    out = tmp_path / "out"
    argv = ["convert", str(tmp_path / "in.npy"), str(out), "--encoding", "compressed_segmentation",
            "--chunk-size", "8", "--no-progress", "--max-scales", "2"]  # fmt: skip
    for options, message in (
        (["--shard-bytes", "1M"], "--shard-bytes goes with --sharded or --sharded-above"),
        (["--sharded", "--shard-bytes", "lots"], "must be a size like 1000000, 512M or 2G"),
        (["--sharded", "--shard-bytes", "0"], "shard_bytes must be an integer of at least 1"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main([*argv, *options])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert main([*argv, "--sharded-above", "30K", "--shard-bytes", "16k"]) == 0
    scales = json.loads((out / "info").read_text())["scales"]
    assert "sharding" in scales[0] and "sharding" not in scales[1]  # 20x18x10x4 is 14 kB
    assert len(list((out / scales[0]["key"]).iterdir())) == 3 * 3 * 2  # 2x2x2 chunks, 5x5x3
    assert main(["verify", str(out), str(tmp_path / "in.npy"), "--no-progress"]) == 0

    assert main(["downsample", str(out), "--max-scales", "3", "--no-progress"]) == 0
    scales = json.loads((out / "info").read_text())["scales"]
    assert len(scales) == 3 and "sharding" in scales[2]  # the base is sharded: so is the new scale
    np.testing.assert_array_equal(
        tensorstore_read(out, 2), nv.read_volume(out, key=scales[2]["key"])
    )


def test_transcode_refuses_sharded_scales(tmp_path):
    from ngcodec.precomputed.pipeline.transcode import transcode_to_jxl

    nv.write_volume(
        image((1, 16, 16, 32)), tmp_path / "a", encoding="jpeg", chunk_size=8, sharded=True
    )
    with pytest.raises(ValueError, match=r"sharded scales cannot be transcoded yet: \['1_1_1'\]"):
        transcode_to_jxl(tmp_path / "a", tmp_path / "b")
