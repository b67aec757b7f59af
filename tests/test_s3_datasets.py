"""Datasets in an S3 bucket, on a real S3 server (moto's, in its own process, on 127.0.0.1):
conversions from the command line and from Python, info and verify on URLs, resuming, the server
going away mid-conversion, dask workers writing straight to the bucket, and tensorstore reading
the result from the same endpoint."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import pytest
from synthetic import voronoi

import ngcodec.volume as nv
from ngcodec.cli import main
from ngcodec.precomputed.store import open_store
from ngcodec.precomputed.store.object_store import ObjectStore

pytest.importorskip("obstore")


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def npy(tmp_path):
    data = voronoi((30, 40, 50), 40, "uint32")
    path = tmp_path / "in.npy"
    np.save(path, data)
    return path, data


def test_convert_info_verify_on_s3_urls(npy, s3_server, s3_bucket, capsys, tmp_path, monkeypatch):
    path, data = npy
    url = f"s3://{s3_bucket}/datasets/labels"
    endpoint = ["--endpoint-url", s3_server.endpoint]
    monkeypatch.chdir(tmp_path)
    code, out, err = run(
        [
            "convert",
            path,
            url,
            "--encoding",
            "compressed_segmentation",
            "--chunk-size",
            "16",
            "--single-scale",
            *endpoint,
        ],
        capsys,
    )
    assert code == 0, err
    assert out.startswith(f"{url}: 24 chunks written, 0 already there")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy"]  # no local folder "s3:"
    code, out, _ = run(["info", url, "--json", *endpoint], capsys)
    report = __import__("json").loads(out)["scales"][0]
    assert code == 0 and report["chunks_present"] == 24 and report["chunks_missing"] == 0
    assert report["chunks_gzipped"] is None  # Content-Encoding is not in a listing
    code, out, _ = run(["info", url, *endpoint], capsys)
    assert code == 0 and "24 present, 0 missing" in out
    # The endpoint from the standard variable, as for any AWS tool.
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    code, out, _ = run(["verify", url, path], capsys)
    assert code == 0 and "ok: 24 of 24 chunks decoded; identical to the input" in out
    np.testing.assert_array_equal(nv.read_volume(url)[0], data)


def test_the_sample_goes_to_a_bucket(s3_server, s3_bucket, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    code, out, _ = run(["convert", "--sample", f"s3://{s3_bucket}/sample/"], capsys)
    # 32 chunks, then 4 and 1 in the coarser scales
    assert code == 0 and f"s3://{s3_bucket}/sample/segmentation: 37 chunks written" in out
    image = nv.PrecomputedVolume.open(f"s3://{s3_bucket}/sample/image")
    assert image.scale["encoding"] == "jpeg" and image.num_chunks == 32


def test_url_errors_exit_with_clear_messages(npy, s3_server, capsys, tmp_path, monkeypatch):
    path, _ = npy
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["convert", path, "ftp://host/out"], capsys)
    assert code == 2 and "does not open ftp:// locations" in err
    code, _, err = run(["info", "s3:/bucket/x"], capsys)
    assert code == 2 and "names no bucket" in err
    code, _, err = run(["convert", path, "out", "--endpoint-url", s3_server.endpoint], capsys)
    assert code == 2 and "applies to s3://" in err
    code, _, err = run(
        ["convert", path, "s3://no-such-bucket/out", "--endpoint-url", s3_server.endpoint],
        capsys,
    )
    assert code == 4 and "cannot write s3://no-such-bucket/out/" in err and "NoSuchBucket" in err
    code, _, err = run(
        ["info", "s3://no-such-bucket/x", "--endpoint-url", s3_server.endpoint], capsys
    )
    assert code == 3 and "not a precomputed dataset" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy"]


def test_resume_writes_only_what_is_missing(s3_server, s3_bucket):
    data = voronoi((40, 48, 56), 40, "uint32")
    store = open_store(f"s3://{s3_bucket}/resumed", endpoint_url=s3_server.endpoint)
    options = {"encoding": "compressed_segmentation", "chunk_size": 16}
    total = nv.write_volume(data, store, **options).chunks_written
    volume = nv.PrecomputedVolume.open(store)
    gone = sorted(volume.existing_chunk_names())[::3]
    for name in gone:
        store.delete(f"{volume.key}/{name}")
    stats = nv.write_volume(data, store, **options)
    assert stats.chunks_written == len(gone) and stats.chunks_skipped == total - len(gone)
    assert nv.verify_volume(store, data).ok


def test_the_server_going_away_mid_conversion(s3_server, s3_bucket):
    """A clear error; only whole chunks in the bucket; a rerun completes the dataset."""
    data = voronoi((48, 64, 80), 40, "uint32")
    url = f"s3://{s3_bucket}/interrupted"
    store = ObjectStore(url, endpoint_url=s3_server.endpoint, retry_timeout=1.0)
    options = {"encoding": "compressed_segmentation", "chunk_size": 16, "jobs": 2}
    total = nv.PrecomputedVolume(
        store,
        nv.make_info(
            data_type="uint32",
            num_channels=1,
            size=(80, 64, 48),
            encoding="compressed_segmentation",
            chunk_size=16,
        ),
    ).num_chunks
    finished = 0
    lock = threading.Lock()

    def stop_the_server_midway(count):
        nonlocal finished
        with lock:
            finished += count
            if finished >= total // 3 and s3_server.process.poll() is None and not stopped:
                stopped.append(True)
                s3_server.stop()

    stopped: list[bool] = []
    started = time.perf_counter()
    try:
        with pytest.raises(OSError) as raised:
            nv.write_volume(data, store, progress=stop_the_server_midway, **options)
        assert time.perf_counter() - started < 60
        assert raised.value.filename.startswith(f"{url}/")
        assert "error sending request" in str(raised.value)
    finally:
        if stopped:
            s3_server.start()
    volume = nv.PrecomputedVolume.open(store)
    present = volume.existing_chunk_names()
    assert 0 < len(present) < total
    for box in volume.chunk_boxes():
        if box.name in present:  # every chunk there is whole, and right
            expected = data[
                None,
                box.start[2] : box.stop[2],
                box.start[1] : box.stop[1],
                box.start[0] : box.stop[0],
            ]
            np.testing.assert_array_equal(volume.read_chunk(box), expected)
    stats = nv.write_volume(data, store, **options)
    assert stats.chunks_skipped == len(present) and stats.chunks_written == total - len(present)
    report = nv.verify_volume(store, data)
    assert report.ok and report.chunks_ok == total


def test_tensorstore_reads_the_bucket_voxel_for_voxel(s3_server, s3_bucket):
    ts = pytest.importorskip("tensorstore")
    data = voronoi((30, 45, 70), 40, "uint32")
    for encoding, array in (
        ("compressed_segmentation", data),
        ("raw", data.astype(np.uint16)),
    ):
        url = f"s3://{s3_bucket}/{encoding}"
        nv.write_volume(
            array,
            open_store(url, endpoint_url=s3_server.endpoint),
            encoding=encoding,
            chunk_size=(32, 16, 8),
            voxel_offset=(3, 5, 7),
        )
        spec = {
            "driver": "neuroglancer_precomputed",
            "kvstore": {
                "driver": "s3",
                "bucket": s3_bucket,
                "path": f"{encoding}/",
                "endpoint": s3_server.endpoint,
                "aws_region": "us-east-1",
            },
        }
        got = ts.open(spec, read=True).result().read().result()
        np.testing.assert_array_equal(got[..., 0].transpose(2, 1, 0), array)


# dask workers in their own processes, writing straight to the bucket.


@pytest.fixture(scope="module")
def cluster_client(s3_server):
    distributed = pytest.importorskip("distributed")
    # Started after s3_server: the worker processes inherit its credentials.
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.ERROR,
    )
    with cluster, distributed.Client(cluster) as client:
        yield client


def test_dask_workers_write_to_the_bucket(cluster_client, s3_server, s3_bucket):
    da = pytest.importorskip("dask.array")
    from ngcodec.distributed import to_precomputed

    data = voronoi((48, 64, 80), 40, "uint32")
    url = f"s3://{s3_bucket}/from-dask"
    store = open_store(url, endpoint_url=s3_server.endpoint)
    lazy = da.from_array(data, chunks=(16, 64, 80))
    stats = to_precomputed(lazy, store, encoding="compressed_segmentation", chunk_size=16)
    assert stats.chunks_written == stats.chunks_total == 3 * 4 * 5
    workers = cluster_client.run(lambda: __import__("os").getpid())
    assert len(set(workers.values())) == 2
    assert nv.verify_volume(store, data).ok
    # A rerun finds every chunk in one listing and sends no task.
    again = to_precomputed(
        lazy, store, encoding="compressed_segmentation", chunk_size=16, compute=False
    )
    assert again == []
