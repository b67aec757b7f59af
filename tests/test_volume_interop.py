"""Whole volumes across implementations: tensorstore reads what ngcodec writes (plain files from
disk, gzipped files over HTTP as a static server sends them), neuroglancer-scripts reads ngcodec's
.gz files, and ngcodec reads every chunk file of volumes that tensorstore wrote."""

import functools
import http.server
import io
import os
import threading
from pathlib import Path

import numpy as np
import pytest

import ngcodec.volume as nv

ts = pytest.importorskip("tensorstore")


def label_field(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, np.iinfo(dtype).max, 30, dtype=dtype)
    coarse = rng.integers(0, 30, tuple(-(-n // 4) for n in shape))
    return np.ascontiguousarray(
        ids[coarse.repeat(4, 0).repeat(4, 1).repeat(4, 2)][: shape[0], : shape[1], : shape[2]]
    )


def smooth_image(shape, channels):
    z, y, x = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    planes = [40 + x + 2 * y + 3 * z + 20 * c for c in range(channels)]
    return np.clip(np.stack(planes), 0, 255).astype(np.uint8)


def tensorstore_read(spec):
    """The whole volume as (C, Z, Y, X), and the tensorstore domain's origin (X, Y, Z)."""
    store = ts.open(spec, read=True).result()
    origin = tuple(store.domain.inclusive_min[:3])
    return store.read().result().transpose(3, 2, 1, 0), origin


class GzipStaticHandler(http.server.SimpleHTTPRequestHandler):
    """Serves ``name.gz`` for ``name`` with ``Content-Encoding: gzip``, as nginx's gzip_static
    (or an Apache rewrite) does for neuroglancer-scripts datasets."""

    def send_head(self):
        path = self.translate_path(self.path)
        if not os.path.exists(path) and os.path.isfile(path + ".gz"):
            body = Path(path + ".gz").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return io.BytesIO(body)
        return super().send_head()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def http_root(tmp_path_factory):
    """A loopback static server with gzip_static behaviour, and the directory it serves."""
    root = tmp_path_factory.mktemp("served")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(GzipStaticHandler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


CASES = [
    # encoding, (C, Z, Y, X), dtype, chunk size, block size
    ("raw", (1, 23, 29, 37), "uint8", (16, 16, 16), None),
    ("raw", (2, 23, 29, 37), "uint16", (32, 8, 4), None),
    ("raw", (1, 20, 20, 20), "float32", (64, 64, 64), None),
    ("raw", (1, 21, 19, 17), "uint64", (8, 16, 32), None),
    ("compressed_segmentation", (1, 23, 29, 37), "uint32", (16, 16, 16), (8, 8, 8)),
    ("compressed_segmentation", (1, 23, 29, 37), "uint64", (32, 16, 8), (4, 4, 4)),
    ("compressed_segmentation", (2, 30, 20, 40), "uint32", (16, 16, 16), (8, 4, 2)),
    ("compressed_segmentation", (1, 50, 40, 70), "uint64", (64, 64, 64), (16, 16, 16)),
    ("jpeg", (1, 23, 29, 37), "uint8", (16, 16, 16), None),
    ("jpeg", (3, 20, 24, 40), "uint8", (32, 16, 8), None),
]


def make_data(shape, dtype):
    if dtype == "float32":
        return np.random.default_rng(2).normal(size=shape).astype(dtype)
    if dtype == "uint8":
        return smooth_image(shape[1:], shape[0])
    return np.stack([label_field(shape[1:], dtype, seed=c) for c in range(shape[0])])


def check_tensorstore_agrees(encoding, data, got):
    assert got.shape == data.shape and got.dtype == data.dtype
    if encoding == "jpeg":
        # Within the error of quality 95, as the chunk-level jpeg tests.
        assert np.mean((got.astype(float) - data) ** 2) < 1.5
    else:
        np.testing.assert_array_equal(got, data)


@pytest.mark.parametrize(("encoding", "shape", "dtype", "chunk", "block"), CASES)
def test_tensorstore_reads_plain_volumes_from_disk(tmp_path, encoding, shape, dtype, chunk, block):
    data = make_data(shape, dtype)
    offset = (5, 0, 11)
    nv.write_volume(
        data,
        tmp_path,
        encoding=encoding,
        chunk_size=chunk,
        block_size=block or 8,
        voxel_offset=offset,
        resolution=(4, 4, 40),
        gzip=False,
    )
    got, origin = tensorstore_read(
        {"driver": "neuroglancer_precomputed", "kvstore": {"driver": "file", "path": str(tmp_path)}}
    )
    assert origin == offset
    check_tensorstore_agrees(encoding, data, got)


@pytest.mark.parametrize(("encoding", "shape", "dtype", "chunk", "block"), CASES)
def test_tensorstore_reads_gzipped_volumes_over_http(
    http_root, monkeypatch, encoding, shape, dtype, chunk, block
):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    root, url = http_root
    name = f"case{CASES.index((encoding, shape, dtype, chunk, block))}"
    data = make_data(shape, dtype)
    nv.write_volume(
        data, root / name, encoding=encoding, chunk_size=chunk, block_size=block or 8, gzip=True
    )
    files = os.listdir(root / name / "1_1_1")
    assert all(f.endswith(".gz") for f in files) == (encoding != "jpeg")
    got, _ = tensorstore_read({"driver": "neuroglancer_precomputed", "kvstore": url + name + "/"})
    check_tensorstore_agrees(encoding, data, got)


def test_tensorstore_on_disk_does_not_see_gz_files(tmp_path):
    """Why gzip is a serving matter: tensorstore's file kvstore looks for the plain names only."""
    data = make_data((1, 16, 16, 16), "uint32")
    nv.write_volume(data, tmp_path, encoding="compressed_segmentation", chunk_size=16)
    spec = {
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "file", "path": str(tmp_path)},
    }
    got, _ = tensorstore_read(spec)
    assert not got.any()  # missing chunks read as the fill value


@pytest.mark.parametrize("encoding", ["raw", "compressed_segmentation"])
def test_neuroglancer_scripts_reads_gzipped_volumes(tmp_path, encoding):
    accessor_module = pytest.importorskip("neuroglancer_scripts.file_accessor")
    precomputed_io = pytest.importorskip("neuroglancer_scripts.precomputed_io")
    data = make_data((1, 23, 29, 37), "uint32")
    nv.write_volume(data, tmp_path, encoding=encoding, chunk_size=16, resolution=8)
    accessor = accessor_module.FileAccessor(str(tmp_path), flat=True)
    io_ = precomputed_io.get_IO_for_existing_dataset(accessor)
    volume = nv.PrecomputedVolume.open(tmp_path)
    for box in volume.chunk_boxes():
        coords = (box.start[0], box.stop[0], box.start[1], box.stop[1], box.start[2], box.stop[2])
        chunk = io_.read_chunk("8_8_8", coords)
        z, y, x = box.slices_within(volume.bounds)
        np.testing.assert_array_equal(chunk, data[:, z, y, x])


# --- the other way: ngcodec reads what tensorstore wrote ------------------------------------------


def test_every_chunk_of_the_shared_tensorstore_volume_decodes(testdata, tmp_path):
    path = testdata / "precomputed_pinky40_100cube_uint32_cseg"
    volume = nv.PrecomputedVolume.open(path)
    expected, _ = tensorstore_read(
        {"driver": "neuroglancer_precomputed", "kvstore": {"driver": "file", "path": str(path)}}
    )
    files = sorted(os.listdir(volume.scale_path))
    assert files == sorted(box.name for box in volume.chunk_boxes())
    for name in files:
        box = nv.Box.parse(name)
        z, y, x = box.slices_within(volume.bounds)
        np.testing.assert_array_equal(volume.read_chunk(box), expected[:, z, y, x])
    np.testing.assert_array_equal(nv.read_volume(path), expected)
    assert nv.verify_volume(path, expected).ok

    # Written again by ngcodec with the same layout, every chunk file is byte-identical.
    nv.write_volume(
        expected,
        tmp_path,
        encoding="compressed_segmentation",
        chunk_size=volume.chunk_size,
        resolution=volume.scale["resolution"],
        gzip=False,
    )
    for name in files:
        assert (tmp_path / volume.key / name).read_bytes() == (
            volume.scale_path / name
        ).read_bytes()


@pytest.mark.parametrize(("encoding", "shape", "dtype", "chunk", "block"), CASES)
def test_ngcodec_reads_volumes_tensorstore_wrote(tmp_path, encoding, shape, dtype, chunk, block):
    data = make_data(shape, dtype)
    offset = [3, 7, 0]
    scale = {
        "size": list(shape[:0:-1]),
        "voxel_offset": offset,
        "chunk_size": list(chunk),
        "encoding": encoding,
        "resolution": [8, 8, 8],
    }
    if block is not None:
        scale["compressed_segmentation_block_size"] = list(block)
    spec = {
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "file", "path": str(tmp_path)},
        "scale_metadata": scale,
        "multiscale_metadata": {"data_type": dtype, "num_channels": shape[0], "type": "image"},
        "create": True,
    }
    store = ts.open(spec).result()
    store.write(data.transpose(3, 2, 1, 0)).result()
    stored, _ = tensorstore_read(
        {"driver": "neuroglancer_precomputed", "kvstore": {"driver": "file", "path": str(tmp_path)}}
    )

    volume = nv.PrecomputedVolume.open(tmp_path)
    files = sorted(os.listdir(volume.scale_path))
    assert files == sorted(box.name for box in volume.chunk_boxes())
    for name in files:
        box = nv.Box.parse(name)
        z, y, x = box.slices_within(volume.bounds)
        chunk = volume.read_chunk(box)
        if encoding == "jpeg":
            # The same JPEG bytes, decoded by Pillow and by tensorstore's libjpeg-turbo.
            assert np.abs(chunk.astype(int) - stored[:, z, y, x]).max() <= 2
        else:
            np.testing.assert_array_equal(chunk, data[:, z, y, x])
    report = nv.verify_volume(tmp_path, stored, tolerance=2)
    assert report.ok and report.chunks_ok == volume.num_chunks
