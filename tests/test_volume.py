"""ngcodec.volume: info, chunk layout, round trips, gzip, atomic and resumable writes, bounded
memory, verification."""

import gzip
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import ngcodec.volume as nv
from ngcodec.chunk_encoding import InvalidInfoError, get_encoder


def labels(shape, dtype="uint32", seed=0, count=40):
    """A blocky label field: few values per chunk, like a segmentation."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, np.iinfo(dtype).max, count, dtype=dtype)
    coarse = rng.integers(0, count, tuple(-(-n // 5) for n in shape[-3:]))
    field = ids[coarse.repeat(5, 0).repeat(5, 1).repeat(5, 2)]
    field = field[: shape[-3], : shape[-2], : shape[-1]]
    if len(shape) == 4:
        field = np.stack([np.roll(field, c, axis=2) for c in range(shape[0])])
    return np.ascontiguousarray(field)


def smooth_image(shape):
    z, y, x = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    return ((60 + 2 * x + 3 * y + 4 * z) % 256).astype(np.uint8)


def expected_names(size, chunk, offset=(0, 0, 0)):
    names = set()
    for z in range(0, size[2], chunk[2]):
        for y in range(0, size[1], chunk[1]):
            for x in range(0, size[0], chunk[0]):
                start = (x, y, z)
                stop = [min(s + c, n) for s, c, n in zip(start, chunk, size, strict=True)]
                names.add(
                    "_".join(
                        f"{o + a}-{o + b}" for o, a, b in zip(offset, start, stop, strict=True)
                    )
                )
    return names


def chunk_names(path):
    return {name.removesuffix(".gz") for name in os.listdir(path) if not name.startswith(".")}


# --- info ------------------------------------------------------------------------------------


def test_make_info_has_every_field_neuroglancer_reads():
    info = nv.make_info(
        data_type="uint64",
        num_channels=1,
        size=(100, 90, 80),
        encoding="compressed_segmentation",
        chunk_size=(64, 32, 16),
        resolution=(4, 4.5, 40),
        voxel_offset=(10, 20, 30),
        block_size=(8, 4, 2),
    )
    assert info == {
        "@type": "neuroglancer_multiscale_volume",
        "type": "segmentation",
        "data_type": "uint64",
        "num_channels": 1,
        "scales": [
            {
                "key": "4_4.5_40",
                "size": [100, 90, 80],
                "resolution": [4, 4.5, 40],
                "voxel_offset": [10, 20, 30],
                "chunk_sizes": [[64, 32, 16]],
                "encoding": "compressed_segmentation",
                "compressed_segmentation_block_size": [8, 4, 2],
            }
        ],
    }
    raw = nv.make_info(data_type="uint8", num_channels=3, size=(5, 5, 5), chunk_size=32, key="s0")
    assert raw["type"] == "image" and raw["scales"][0]["chunk_sizes"] == [[32, 32, 32]]
    assert "compressed_segmentation_block_size" not in raw["scales"][0]
    assert raw["scales"][0]["key"] == "s0"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"data_type": "int64"}, "not a Neuroglancer data type"),
        ({"encoding": "jpeg", "data_type": "uint32"}, "JPEG"),
        ({"encoding": "compressed_segmentation", "data_type": "uint8"}, "uint32 or uint64"),
        ({"encoding": "zstd"}, "encoding must be one of"),
        ({"chunk_size": (64, 0, 64)}, "chunk_size"),
        ({"chunk_size": (64, 64)}, "chunk_size"),
        ({"size": (0, 10, 10)}, "size"),
        ({"resolution": (1, -1, 1)}, "resolution"),
        ({"resolution": "abc"}, "resolution"),
        ({"layer_type": "mesh"}, "layer_type"),
        ({"key": "a/b"}, "key"),
        ({"num_channels": 0}, "num_channels"),
        ({"encoding": "compressed_segmentation", "block_size": (8, 8, 0)}, "block_size"),
    ],
)
def test_make_info_refuses_bad_parameters_by_name(options, message):
    arguments = {"data_type": "uint32", "num_channels": 1, "size": (10, 10, 10), **options}
    with pytest.raises(ValueError, match=message):
        nv.make_info(**arguments)


def test_box_names_parse_back():
    box = nv.Box((64, 0, 128), (100, 64, 150))
    assert box.name == "64-100_0-64_128-150"
    assert box.size == (36, 64, 22)
    assert nv.Box.parse(box.name) == box
    assert nv.Box.parse(box.name + ".gz") == box
    with pytest.raises(ValueError, match="not a chunk name"):
        nv.Box.parse("info")


# --- round trips -------------------------------------------------------------------------------

ROUND_TRIPS = [
    ("raw", (1, 23, 45, 67), (16, 16, 16), "uint16"),
    ("raw", (2, 20, 30, 40), (32, 8, 16), "float32"),
    ("compressed_segmentation", (1, 40, 50, 70), (32, 32, 32), "uint32"),
    ("compressed_segmentation", (1, 33, 30, 70), (64, 16, 8), "uint64"),
    ("compressed_segmentation", (3, 20, 20, 20), (16, 16, 16), "uint32"),
]


@pytest.mark.parametrize(("encoding", "shape", "chunk", "dtype"), ROUND_TRIPS)
@pytest.mark.parametrize("jobs", [1, 2])
def test_round_trip_with_truncated_edge_chunks(tmp_path, encoding, shape, chunk, dtype, jobs):
    if dtype.startswith("float"):
        data = np.random.default_rng(1).normal(size=shape).astype(dtype)
    else:
        data = labels(shape, dtype)
    offset = (3, 0, 17)
    stats = nv.write_volume(
        data,
        tmp_path,
        encoding=encoding,
        chunk_size=chunk,
        block_size=(8, 4, 2),
        voxel_offset=offset,
        resolution=(8, 8, 40),
        jobs=jobs,
    )
    size = shape[:0:-1]
    names = expected_names(size, chunk, offset)
    assert chunk_names(tmp_path / "8_8_40") == names
    assert stats.chunks_total == stats.chunks_written == len(names) and stats.chunks_skipped == 0
    assert stats.bytes_in == data.nbytes
    files = list((tmp_path / "8_8_40").iterdir())
    assert stats.bytes_out == sum(f.stat().st_size for f in files)
    back = nv.read_volume(tmp_path)
    assert back.dtype == np.dtype(dtype) and back.shape == shape
    np.testing.assert_array_equal(back, data)

    info = json.loads((tmp_path / "info").read_text())
    assert info["scales"][0]["size"] == list(size)
    assert info["scales"][0]["voxel_offset"] == list(offset)


@pytest.mark.parametrize("plane", ["xy", "xz"])
def test_jpeg_round_trip_within_quality_95_error(tmp_path, plane):
    data = smooth_image((40, 30, 50))
    nv.write_volume(
        data,
        tmp_path,
        encoding="jpeg",
        chunk_size=(32, 16, 16),
        encoder_options={"jpeg_plane": plane},
    )
    assert not any(name.endswith(".gz") for name in os.listdir(tmp_path / "1_1_1"))
    back = nv.read_volume(tmp_path)[0]
    assert np.mean((back.astype(float) - data) ** 2) < 1.5


def test_png_round_trip_if_the_encoder_has_it(tmp_path):
    if "png" not in nv.ENCODINGS:
        pytest.skip("this ngcodec has no png encoder")
    data = smooth_image((20, 30, 40)).astype(np.uint16) * 200
    nv.write_volume(data, tmp_path, encoding="png", chunk_size=16)
    assert not any(name.endswith(".gz") for name in os.listdir(tmp_path / "1_1_1"))
    np.testing.assert_array_equal(nv.read_volume(tmp_path)[0], data)


def test_bounding_box_reads(tmp_path):
    data = labels((2, 37, 41, 43))
    offset = (100, 200, 300)
    nv.write_volume(
        data,
        tmp_path,
        encoding="compressed_segmentation",
        chunk_size=(16, 8, 12),
        voxel_offset=offset,
    )
    rng = np.random.default_rng(5)
    for _ in range(20):
        start = [int(rng.integers(0, n)) for n in (43, 41, 37)]
        stop = [int(rng.integers(s + 1, n + 1)) for s, n in zip(start, (43, 41, 37), strict=True)]
        box = (
            [a + o for a, o in zip(start, offset, strict=True)],
            [b + o for b, o in zip(stop, offset, strict=True)],
        )
        got = nv.read_volume(tmp_path, box, jobs=2)
        expected = data[:, start[2] : stop[2], start[1] : stop[1], start[0] : stop[0]]
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="outside the volume"):
        nv.read_volume(tmp_path, ((0, 0, 0), (10, 10, 10)))


def test_axis_orders(tmp_path):
    data = labels((1, 20, 30, 40))
    zyx = data[0]
    for axes, array in [
        ("xyz", zyx.T),
        ("zyx", zyx),
        ("yxz", zyx.transpose(1, 2, 0)),
        ("zyxc", data.transpose(1, 2, 3, 0)),
        ("czyx", data),
    ]:
        out = tmp_path / axes
        nv.write_volume(array, out, chunk_size=16, axes=axes, gzip=False)
        np.testing.assert_array_equal(nv.read_volume(out), data)
    with pytest.raises(ValueError, match="permutation"):
        nv.write_volume(zyx, tmp_path / "bad", axes="zyy")
    with pytest.raises(ValueError, match="3 axes"):
        nv.write_volume(zyx[0], tmp_path / "bad")


def test_array_likes_are_read_by_slices(tmp_path):
    data = labels((30, 40, 50))
    np.save(tmp_path / "a.npy", data)
    memmap = np.load(tmp_path / "a.npy", mmap_mode="r")
    nv.write_volume(memmap, tmp_path / "memmap", encoding="compressed_segmentation", chunk_size=16)
    np.testing.assert_array_equal(nv.read_volume(tmp_path / "memmap")[0], data)

    zarr = pytest.importorskip("zarr")
    stored = zarr.open(
        str(tmp_path / "a.zarr"), mode="w", shape=data.shape, chunks=(7, 9, 11), dtype=data.dtype
    )
    stored[...] = data
    nv.write_volume(stored, tmp_path / "zarr", encoding="compressed_segmentation", chunk_size=16)
    np.testing.assert_array_equal(nv.read_volume(tmp_path / "zarr")[0], data)

    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f.create_dataset("labels", data=data, chunks=(8, 8, 8), compression="gzip")
    with h5py.File(tmp_path / "a.h5", "r") as f:
        nv.write_volume(
            f["labels"], tmp_path / "h5", encoding="compressed_segmentation", chunk_size=16
        )
    np.testing.assert_array_equal(nv.read_volume(tmp_path / "h5")[0], data)

    da = pytest.importorskip("dask.array")
    lazy = da.from_array(data, chunks=(10, 13, 17))
    nv.write_volume(
        lazy, tmp_path / "dask", encoding="compressed_segmentation", chunk_size=16, jobs=1
    )
    np.testing.assert_array_equal(nv.read_volume(tmp_path / "dask")[0], data)


class RecordingArray:
    """An array-like that records every region read from it, and how often each voxel is read."""

    def __init__(self, data):
        self.data = data
        self.shape = data.shape
        self.dtype = data.dtype
        self.reads = []
        self.counts = np.zeros(data.shape, np.int32)

    def __getitem__(self, key):
        region = self.data[key]
        self.reads.append(region.nbytes)
        self.counts[key] += 1
        return region.copy()


def test_memory_stays_bounded_by_the_slab_size(tmp_path):
    data = labels((64, 96, 128), "uint32")  # 3 MiB
    source = RecordingArray(data)
    chunk_bytes = 32 * 32 * 32 * 4
    stats = nv.write_volume(
        source,
        tmp_path,
        encoding="compressed_segmentation",
        chunk_size=32,
        max_slab_bytes=3 * chunk_bytes,
        jobs=2,
    )
    assert max(source.reads) <= 3 * chunk_bytes
    assert sum(source.reads) == data.nbytes  # every voxel read once, none twice
    assert (source.counts == 1).all()
    assert stats.chunks_written == 2 * 3 * 4
    np.testing.assert_array_equal(nv.read_volume(tmp_path)[0], data)


def test_plan_slabs_tiles_the_volume_with_whole_chunks():
    info = nv.make_info(
        data_type="uint8",
        num_channels=1,
        size=(100, 70, 50),
        chunk_size=(16, 32, 8),
        voxel_offset=(1, 2, 3),
    )
    volume = nv.PrecomputedVolume("unused", info)
    for budget in (1, 16 * 32 * 8 * 3, 10**9):
        slabs = nv.plan_slabs(volume, budget)
        covered = [box.name for slab in slabs for box in volume.chunk_boxes(slab)]
        assert sorted(covered) == sorted(box.name for box in volume.chunk_boxes())
        for slab in slabs:
            chunks = list(volume.chunk_boxes(slab))
            assert sum(c.num_voxels for c in chunks) == slab.num_voxels  # aligned: no partial chunk
            assert slab.num_voxels <= max(budget, 16 * 32 * 8)


# --- gzip --------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["raw", "compressed_segmentation"])
def test_gzip_files_hold_the_encoded_chunk(tmp_path, encoding):
    data = labels((20, 20, 20), "uint64")
    nv.write_volume(data, tmp_path / "gz", encoding=encoding, chunk_size=16, gzip_level=9)
    nv.write_volume(data, tmp_path / "plain", encoding=encoding, chunk_size=16, gzip=False)
    gz_files = sorted(os.listdir(tmp_path / "gz/1_1_1"))
    plain_files = sorted(os.listdir(tmp_path / "plain/1_1_1"))
    assert all(name.endswith(".gz") for name in gz_files)
    assert [name.removesuffix(".gz") for name in gz_files] == plain_files
    info = json.loads((tmp_path / "gz/info").read_text())
    encoder = get_encoder(info, info["scales"][0])
    for name in plain_files:
        box = nv.Box.parse(name)
        plain = (tmp_path / "plain/1_1_1" / name).read_bytes()
        assert gzip.decompress((tmp_path / "gz/1_1_1" / (name + ".gz")).read_bytes()) == plain
        z, y, x = box.slices_within(nv.Box((0, 0, 0), (20, 20, 20)))
        assert plain == bytes(encoder.encode(data[None, z, y, x]))
    np.testing.assert_array_equal(nv.read_volume(tmp_path / "gz")[0], data)


def test_writes_are_deterministic(tmp_path):
    data = labels((20, 30, 40))
    for name in ("a", "b"):
        nv.write_volume(
            data, tmp_path / name, encoding="compressed_segmentation", chunk_size=16, jobs=2
        )
    for f in (tmp_path / "a/1_1_1").iterdir():
        assert f.read_bytes() == (tmp_path / "b/1_1_1" / f.name).read_bytes()


def test_a_chunk_rewritten_with_the_other_gzip_setting_replaces_the_old_file(tmp_path):
    data = labels((16, 16, 16))
    nv.write_volume(data, tmp_path, chunk_size=16)
    volume = nv.PrecomputedVolume.open(tmp_path)
    box = next(volume.chunk_boxes())
    volume.write_chunk(box, data[None] + 1, gzip_level=None)
    assert os.listdir(tmp_path / "1_1_1") == [box.name]
    np.testing.assert_array_equal(volume.read_chunk(box)[0], data + 1)


# --- existing datasets, resuming, atomic writes ----------------------------------------------


def test_resume_writes_only_missing_chunks(tmp_path):
    data = labels((40, 40, 40))
    options = {"encoding": "compressed_segmentation", "chunk_size": 16}
    nv.write_volume(data, tmp_path, **options)
    scale = tmp_path / "1_1_1"
    files = sorted(scale.iterdir())
    removed = files[::3]
    for f in removed:
        f.unlink()
    kept = {f.name: f.stat().st_mtime_ns for f in files if f not in removed}
    stats = nv.write_volume(data, tmp_path, **options)
    assert stats.chunks_written == len(removed)
    assert stats.chunks_skipped == len(files) - len(removed)
    assert {f.name: f.stat().st_mtime_ns for f in scale.iterdir() if f.name in kept} == kept
    np.testing.assert_array_equal(nv.read_volume(tmp_path)[0], data)


def test_a_different_dataset_is_not_overwritten_unless_asked(tmp_path):
    data = labels((40, 40, 40))
    nv.write_volume(data, tmp_path, chunk_size=16)
    with pytest.raises(nv.DatasetExistsError, match="different dataset"):
        nv.write_volume(data, tmp_path, chunk_size=32)
    assert chunk_names(tmp_path / "1_1_1") == expected_names((40, 40, 40), (16, 16, 16))
    (tmp_path / "1_1_1" / "unrelated.txt").write_text("kept")
    nv.write_volume(data, tmp_path, chunk_size=32, overwrite=True)
    assert chunk_names(tmp_path / "1_1_1") == expected_names((40, 40, 40), (32, 32, 32)) | {
        "unrelated.txt"
    }
    np.testing.assert_array_equal(nv.read_volume(tmp_path)[0], data)
    nv.write_volume(data, tmp_path, chunk_size=32, resolution=8, overwrite=True)  # a new key
    assert chunk_names(tmp_path / "1_1_1") == {"unrelated.txt"}
    assert chunk_names(tmp_path / "8_8_8") == expected_names((40, 40, 40), (32, 32, 32))


def test_a_failed_write_leaves_no_partial_chunk(tmp_path, monkeypatch):
    data = labels((32, 32, 64))
    calls = []
    real_replace = os.replace

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space"):
        nv.write_volume(data, tmp_path, encoding="compressed_segmentation", chunk_size=16, jobs=1)
    monkeypatch.undo()
    assert not [n for n in os.listdir(tmp_path / "1_1_1") if n.startswith(".")]
    volume = nv.PrecomputedVolume.open(tmp_path)
    for name in os.listdir(tmp_path / "1_1_1"):
        volume.read_chunk(nv.Box.parse(name))  # every chunk there is whole
    stats = nv.write_volume(data, tmp_path, encoding="compressed_segmentation", chunk_size=16)
    assert (
        stats.chunks_skipped == len(calls) - 2
    )  # the info and 1 chunk went through; then 1 failed
    np.testing.assert_array_equal(nv.read_volume(tmp_path)[0], data)


KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    import ngcodec.volume as nv
    data = np.load(sys.argv[1], mmap_mode="r")
    done = []
    def progress(n):
        done.append(n)
        if sum(done) >= 40:
            os.kill(os.getpid(), signal.SIGKILL)
    nv.write_volume(data, sys.argv[2], encoding="raw", chunk_size=8, jobs=2, gzip=False,
                    progress=progress)
    """
)


def test_a_killed_job_leaves_whole_chunks_and_resumes(tmp_path):
    data = labels((64, 64, 64))
    np.save(tmp_path / "in.npy", data)
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(tmp_path / "in.npy"), str(out)], check=False
    )
    assert run.returncode == -signal.SIGKILL
    volume = nv.PrecomputedVolume.open(out)
    written = [n for n in os.listdir(out / "1_1_1") if not n.startswith(".")]
    assert 40 <= len(written) < volume.num_chunks
    for name in written:
        volume.read_chunk(nv.Box.parse(name))  # raw chunks of the wrong length would not decode
    stats = nv.write_volume(data, out, encoding="raw", chunk_size=8, gzip=False)
    assert stats.chunks_skipped == len(written)
    assert stats.chunks_written == volume.num_chunks - len(written)
    assert not [n for n in os.listdir(out / "1_1_1") if n.startswith(".")]  # temp files cleared
    np.testing.assert_array_equal(nv.read_volume(out)[0], data)


def test_a_resume_discards_only_abandoned_temporary_files(tmp_path, ended_writer):
    # Temporary files are named after their writer: "<pid>@<host digest>".
    from ngcodec.precomputed.store.local import _writer_tag

    data = labels((16, 16, 16))
    nv.write_volume(data, tmp_path, encoding="raw", chunk_size=8, gzip=False)
    scale = tmp_path / "1_1_1"
    temps = {
        "ended": ended_writer,
        "running": _writer_tag(),
        "other host, fresh": "1@00000000",
        "other host, untouched for hours": "2@00000000",
    }
    for i, tag in enumerate(temps.values()):
        (scale / f".0-8_0-8_0-8.{tag}.{i}.tmp").write_bytes(b"partial")
    os.utime(scale / ".0-8_0-8_0-8.2@00000000.3.tmp", (0, 0))

    def temporary_files() -> list[str]:
        return sorted(n.split(".")[2] for n in os.listdir(scale) if n.startswith("."))

    nv.write_volume(data, tmp_path, encoding="raw", chunk_size=8, gzip=False)  # a resume
    assert temporary_files() == sorted([_writer_tag(), "1@00000000"])
    assert nv.PrecomputedVolume.open(tmp_path).remove_temporary_files() == 2
    assert temporary_files() == []


# --- data types ----------------------------------------------------------------------------------


def test_data_type_conversion(tmp_path):
    small = labels((10, 10, 10)).astype(np.int64) % 1000
    with pytest.raises(ValueError, match="uint64 or int32"):
        nv.write_volume(small, tmp_path / "a")
    nv.write_volume(small, tmp_path / "a", data_type="uint32", encoding="compressed_segmentation")
    back = nv.read_volume(tmp_path / "a")
    assert back.dtype == np.uint32
    np.testing.assert_array_equal(back[0], small)

    negative = small.copy()
    negative[0, 0, :2] = (-10, 5000)
    with pytest.raises(nv.UnrepresentableValuesError, match=r"-10\.\.5000 do not fit in uint32"):
        nv.write_volume(negative, tmp_path / "b", data_type="uint32")
    with pytest.raises(TypeError, match="float64 input to uint8"):
        nv.write_volume(np.zeros((4, 4, 4)), tmp_path / "c", data_type="uint8")
    nv.write_volume(np.ones((4, 4, 4), bool), tmp_path / "d")
    assert nv.read_volume(tmp_path / "d").dtype == np.uint8
    nv.write_volume(np.full((4, 4, 4), 0.5), tmp_path / "e", data_type="float32")
    assert (nv.read_volume(tmp_path / "e") == 0.5).all()


# --- reading and verifying ---------------------------------------------------------------------


def test_missing_and_corrupt_chunks(tmp_path):
    data = labels((32, 32, 32))
    nv.write_volume(data, tmp_path, encoding="compressed_segmentation", chunk_size=16)
    scale = tmp_path / "1_1_1"
    (scale / "0-16_0-16_0-16.gz").unlink()
    (scale / "16-32_0-16_0-16.gz").write_bytes(b"not gzip")
    raw = gzip.compress(b"\x01\x00\x00\x00\xff\xff\xff\xff")
    (scale / "0-16_16-32_0-16.gz").write_bytes(raw)

    with pytest.raises(nv.MissingChunkError, match="0-16_0-16_0-16"):
        nv.read_volume(tmp_path, ((0, 0, 0), (16, 10, 10)))
    with pytest.raises(nv.ChunkError):
        nv.read_volume(tmp_path)
    volume = nv.PrecomputedVolume.open(tmp_path)
    with pytest.raises(nv.ChunkError, match="16-32_0-16_0-16"):
        volume.read_chunk(nv.Box.parse("16-32_0-16_0-16"))
    filled = volume.read(nv.Box((0, 0, 0), (16, 16, 16)), fill_missing=True)
    assert not filled.any()

    report = nv.verify_volume(tmp_path, data)
    assert not report.ok
    assert report.missing == ["0-16_0-16_0-16"]
    assert [name for name, _ in report.corrupt] == ["0-16_16-32_0-16", "16-32_0-16_0-16"]
    assert report.chunks_ok == 5 and report.chunks_total == 8


def test_verify_compares_with_the_reference(tmp_path):
    data = labels((32, 32, 32))
    nv.write_volume(data, tmp_path, encoding="compressed_segmentation", chunk_size=16)
    report = nv.verify_volume(tmp_path, data, jobs=2)
    assert report.ok and report.compared and report.chunks_ok == 8 and report.max_abs_error == 0
    changed = data.copy()
    changed[20, 3, 30] += 7
    report = nv.verify_volume(tmp_path, changed)
    assert not report.ok and report.mismatched == [("16-32_0-16_16-32", 7.0)]
    with pytest.raises(ValueError, match="shape"):
        nv.verify_volume(tmp_path, data[:, :, :20])


def test_verify_measures_jpeg_error(tmp_path):
    data = smooth_image((20, 20, 20))
    nv.write_volume(data, tmp_path, encoding="jpeg", chunk_size=16)
    report = nv.verify_volume(tmp_path, data)
    assert report.ok and 0 < report.max_abs_error < 20
    assert not nv.verify_volume(tmp_path, data, tolerance=0).ok


def test_volumes_pickle_small(tmp_path):
    data = labels((20, 20, 20))
    nv.write_volume(data, tmp_path, encoding="compressed_segmentation")
    volume = nv.PrecomputedVolume.open(tmp_path)
    payload = pickle.dumps(volume)
    assert len(payload) < 2000
    clone = pickle.loads(payload)
    assert clone.info == volume.info and clone.path == volume.path
    np.testing.assert_array_equal(clone.read()[0], data)


def test_open_reports_bad_datasets(tmp_path):
    with pytest.raises(FileNotFoundError):
        nv.PrecomputedVolume.open(tmp_path)
    (tmp_path / "info").write_text("{not json")
    with pytest.raises(InvalidInfoError, match="not valid JSON"):
        nv.PrecomputedVolume.open(tmp_path)
    (tmp_path / "info").write_text(json.dumps({"data_type": "uint8", "num_channels": 1}))
    with pytest.raises(InvalidInfoError, match="no scales"):
        nv.PrecomputedVolume.open(tmp_path)
    info = nv.make_info(data_type="uint8", num_channels=1, size=(4, 4, 4))
    (tmp_path / "info").write_text(json.dumps(info))
    with pytest.raises(InvalidInfoError, match="no scale 'x'"):
        nv.PrecomputedVolume.open(tmp_path, key="x")


def test_write_chunk_checks_the_box_and_shape(tmp_path):
    info = nv.make_info(data_type="uint8", num_channels=1, size=(20, 20, 20), chunk_size=16)
    volume = nv.PrecomputedVolume.create(tmp_path, info)
    with pytest.raises(ValueError, match="not a chunk"):
        volume.write_chunk(nv.Box((0, 0, 0), (8, 16, 16)), np.zeros((1, 16, 16, 8), np.uint8))
    with pytest.raises(ValueError, match="must have shape"):
        volume.write_chunk(nv.Box((16, 0, 0), (20, 16, 16)), np.zeros((1, 16, 16, 16), np.uint8))
    assert volume.write_chunk(nv.Box((16, 0, 0), (20, 16, 16)), np.zeros((1, 16, 16, 4), np.uint8))


def test_write_stats_summary():
    stats = nv.WriteStats(chunks_written=2, bytes_in=2_000_000, bytes_out=500_000, seconds=0.5)
    assert stats.compression_ratio == 4 and stats.megabytes_per_second == 4
    total = stats + nv.WriteStats(chunks_written=1, chunks_skipped=3)
    assert total.chunks_written == 3 and total.chunks_skipped == 3
    assert set(stats.as_dict()) >= {"chunks_written", "compression_ratio", "megabytes_per_second"}


def test_a_file_is_not_a_dataset_directory(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(nv.DatasetExistsError, match="not a directory"):
        nv.write_volume(labels((4, 4, 4)), tmp_path / "file")


def test_paths_may_be_strings(tmp_path):
    nv.write_volume(labels((4, 4, 4)), str(tmp_path))
    assert Path(tmp_path, "info").exists()
