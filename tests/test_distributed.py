"""ngcodec.distributed: dask arrays to precomputed datasets, on local threads and on a
dask.distributed LocalCluster of worker processes; resuming a half-done job."""

import logging
import os
import pickle

import numpy as np
import pytest

import ngcodec.volume as nv

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
from ngcodec.distributed import aligned_block_shape, to_precomputed  # noqa: E402


def label_field(shape, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 2**32 - 1, 50, dtype=np.uint32)
    coarse = rng.integers(0, 50, tuple(-(-n // 6) for n in shape))
    field = ids[coarse.repeat(6, 0).repeat(6, 1).repeat(6, 2)]
    return np.ascontiguousarray(field[: shape[0], : shape[1], : shape[2]])


# Local threads: no distributed client exists yet (the cluster fixture below comes later).


def test_unaligned_dask_arrays_are_rechunked_onto_the_chunk_grid(tmp_path):
    with pytest.raises(ValueError):
        distributed.default_client()
    data = label_field((40, 50, 60))
    lazy = da.from_array(data, chunks=(7, 11, 13))
    stats = to_precomputed(lazy, tmp_path, encoding="compressed_segmentation", chunk_size=16)
    assert stats.chunks_written == stats.chunks_total == 3 * 4 * 4
    np.testing.assert_array_equal(nv.read_volume(tmp_path)[0], data)


def test_aligned_blocks_are_kept_and_tasks_are_per_block(tmp_path):
    data = label_field((32, 48, 64))
    lazy = da.from_array(np.stack([data, data + 1]), chunks=(1, 16, 48, 32))  # C split in two
    tasks = to_precomputed(lazy, tmp_path, chunk_size=16, compute=False)
    assert len(tasks) == 2 * 1 * 2  # channels joined; one task per aligned block
    results = dask.compute(*tasks)
    assert sum(r.chunks_written for r in results) == 2 * 3 * 4
    np.testing.assert_array_equal(nv.read_volume(tmp_path), np.stack([data, data + 1]))


def test_axes_and_options_as_for_write_volume(tmp_path):
    data = label_field((20, 30, 40))
    lazy = da.from_array(np.ascontiguousarray(data.T), chunks=16)
    to_precomputed(
        lazy,
        tmp_path,
        axes="xyz",
        chunk_size=(16, 8, 4),
        voxel_offset=(1, 2, 3),
        gzip=False,
        resolution=(4, 4, 40),
        encoding="compressed_segmentation",
        block_size=(4, 4, 2),
    )
    volume = nv.PrecomputedVolume.open(tmp_path)
    assert volume.voxel_offset == (1, 2, 3) and volume.key == "4_4_40"
    assert not any(name.endswith(".gz") for name in os.listdir(volume.scale_path))
    np.testing.assert_array_equal(volume.read()[0], data)
    with pytest.raises(nv.DatasetExistsError):
        to_precomputed(lazy, tmp_path, axes="xyz", chunk_size=16)


def test_task_errors_reach_the_caller(tmp_path):
    data = label_field((16, 16, 32)).astype(np.int64)
    data[10, 10, 20] = -1
    lazy = da.from_array(data, chunks=16)
    with pytest.raises(nv.UnrepresentableValuesError, match="-1"):
        to_precomputed(lazy, tmp_path, chunk_size=16, data_type="uint32")
    with pytest.raises(TypeError, match="float64 input to uint32"):
        to_precomputed(lazy.astype(float), tmp_path / "f", data_type="uint32")


def test_aligned_block_shape():
    info = nv.make_info(data_type="uint32", num_channels=1, size=(512, 512, 512), chunk_size=64)
    volume = nv.PrecomputedVolume("unused", info)
    assert aligned_block_shape(volume, 64 * 2**20) == (1, 64, 512, 512)
    assert aligned_block_shape(volume, 2**20) == (1, 64, 64, 64)
    assert aligned_block_shape(volume, 4 * 2**20) == (1, 64, 64, 256)
    assert aligned_block_shape(volume, 1) == (1, 64, 64, 64)


def test_tasks_pickle_without_global_state(tmp_path):
    cloudpickle = pytest.importorskip("cloudpickle")
    data = label_field((16, 16, 32))
    tasks = to_precomputed(da.from_array(data, chunks=16), tmp_path, chunk_size=16, compute=False)
    clones = [pickle.loads(cloudpickle.dumps(task)) for task in tasks]
    results = dask.compute(*clones, scheduler="sync")
    assert sum(r.chunks_written for r in results) == 2
    np.testing.assert_array_equal(nv.read_volume(tmp_path)[0], data)


# On a LocalCluster of worker processes.


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.ERROR,
    )
    with cluster, distributed.Client(cluster) as client:
        yield client


def test_local_cluster_writes_a_volume_larger_than_one_task(client, tmp_path):
    ts = pytest.importorskip("tensorstore")
    data = label_field((48, 64, 80))
    lazy = da.from_array(data, chunks=(48, 64, 80))  # one block: rechunked onto the grid below
    progress = []
    stats = to_precomputed(
        lazy,
        tmp_path,
        encoding="compressed_segmentation",
        chunk_size=16,
        gzip=False,
        max_task_bytes=2 * 16**3 * 4,  # two chunks per task: many tasks, several per worker
        progress=progress.append,
    )
    chunks = 3 * 4 * 5
    assert stats.chunks_written == chunks and sum(progress) == chunks and len(progress) > 10
    assert stats.bytes_in == data.nbytes
    workers = client.run(os.getpid)
    assert len(set(workers.values())) == 2 and os.getpid() not in workers.values()
    store = ts.open(
        {"driver": "neuroglancer_precomputed", "kvstore": {"driver": "file", "path": str(tmp_path)}}
    ).result()
    np.testing.assert_array_equal(store.read().result()[..., 0].T, data)


def test_local_cluster_resumes_a_half_done_job(client, tmp_path):
    data = label_field((64, 64, 64))
    options = {"encoding": "compressed_segmentation", "chunk_size": 16, "max_task_bytes": 16**3 * 4}
    lazy = da.from_array(data, chunks=64)
    tasks = to_precomputed(lazy, tmp_path, compute=False, **options)
    assert len(tasks) == 64
    half = dask.compute(*tasks[:32])  # a job stopped half-way
    assert sum(r.chunks_written for r in half) == 32
    scale = tmp_path / "1_1_1"
    before = {f.name: f.stat().st_mtime_ns for f in scale.iterdir()}
    assert len(before) == 32

    assert len(to_precomputed(lazy, tmp_path, compute=False, **options)) == 32  # only what's left
    stats = to_precomputed(lazy, tmp_path, **options)
    assert stats.chunks_skipped == 32 and stats.chunks_written == 32
    after = {f.name: f.stat().st_mtime_ns for f in scale.iterdir()}
    assert {name: after[name] for name in before} == before  # the finished half was not touched
    np.testing.assert_array_equal(nv.read_volume(tmp_path)[0], data)
    again = to_precomputed(lazy, tmp_path, **options)
    assert again.chunks_written == 0 and again.chunks_skipped == 64


def test_cli_sends_the_work_to_a_running_scheduler(client, tmp_path, capsys):
    from ngcodec.cli import main

    data = label_field((40, 40, 40))
    np.save(tmp_path / "in.npy", data)
    address = client.scheduler.address
    out = tmp_path / "out"
    code = main(
        [
            "convert",
            str(tmp_path / "in.npy"),
            str(out),
            "--encoding",
            "compressed_segmentation",
            "--chunk-size",
            "16",
            "--scheduler",
            address,
            "--no-progress",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "36 chunks written" in capsys.readouterr().out  # 27 + 8 + 1 in the pyramid
    np.testing.assert_array_equal(nv.read_volume(out)[0], data)
    assert main(["verify", str(out), str(tmp_path / "in.npy")]) == 0


def test_cli_writes_sharded_scales_on_the_cluster(client, tmp_path, capsys):
    from ngcodec.cli import main

    data = label_field((40, 40, 40))
    np.save(tmp_path / "in.npy", data)
    out = tmp_path / "out"
    argv = ["convert", str(tmp_path / "in.npy"), str(out), "--encoding", "compressed_segmentation",
            "--chunk-size", "8", "--sharded", "--shard-bytes", "16K", "--no-progress",
            "--scheduler", client.scheduler.address]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    volume = nv.PrecomputedVolume.open(out)
    assert volume.sharded and len(volume.shards.shard_files()) == 3 * 3 * 3  # 2x2x2 chunks each
    assert {f.suffix for f in volume.scale_path.iterdir()} == {".shard"}
    assert main(["verify", str(out), str(tmp_path / "in.npy"), "--no-progress"]) == 0
    assert main(argv) == 0
    assert "0 chunks written, 161 already there" in capsys.readouterr().out  # 125 + 27 + 8 + 1
