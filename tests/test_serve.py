"""``ngcodec serve`` over real HTTP (the command in its own process): what tensorstore's http
kvstore reads through it, byte ranges, gzip, CORS, many requests at once, the link; and ngcodec
reading datasets from http(s) URLs, through it and through a plain static server."""

from __future__ import annotations

import gzip
import http.server
import json
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.error import HTTPError
from urllib.parse import unquote

import numpy as np
import pytest
from serve_process import Served
from synthetic import voronoi

import ngcodec.volume as nv
from ngcodec.cli import main


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    """A folder of datasets: gzipped compressed_segmentation and raw, jpeg, one nested deeper."""
    root = tmp_path_factory.mktemp("served")
    data = voronoi((24, 40, 56), 40, "uint32")
    nv.write_volume(data, root / "seg", encoding="compressed_segmentation", chunk_size=16)
    nv.write_volume(data.astype(np.uint16), root / "deeper/raw", chunk_size=(32, 16, 8))
    grey = (data % 251).astype(np.uint8)
    nv.write_volume(grey, root / "em", encoding="jpeg", chunk_size=32, layer_type="image")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "secret").write_text("no")
    (root / "notes.txt").write_text("not a dataset")
    return root, data


@pytest.fixture(scope="module")
def served(datasets):
    server = Served(datasets[0])
    yield server
    server.close()


def get(url, headers=None, method="GET"):
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_the_link_opens_every_dataset_as_a_layer(served):
    assert served.link.startswith(f"{served.url}/v/") or "neuroglancer" in served.link
    state = json.loads(unquote(served.link.split("#!", 1)[1]))
    layers = {layer["name"]: layer for layer in state["layers"]}
    assert sorted(layers) == ["deeper/raw", "em", "seg"]
    assert layers["seg"]["type"] == "segmentation" and layers["em"]["type"] == "image"
    assert layers["deeper/raw"]["source"] == f"precomputed://{served.url}/deeper/raw"
    assert "3 datasets" in served.lines[1]
    status, _headers, _ = get(f"{served.url}/favicon.ico")
    assert status in (204, 404)


def test_tensorstore_reads_gzipped_datasets_through_the_server(served, datasets):
    ts = pytest.importorskip("tensorstore")
    _, data = datasets
    for name, expected in (("seg", data), ("deeper/raw", data.astype(np.uint16))):
        spec = {
            "driver": "neuroglancer_precomputed",
            "kvstore": {"driver": "http", "base_url": f"{served.url}/{name}/"},
        }
        got = ts.open(spec, read=True).result().read().result()
        np.testing.assert_array_equal(got[..., 0].transpose(2, 1, 0), expected)


def test_gz_files_are_sent_for_plain_names(served, datasets):
    root, _ = datasets
    chunk = next((root / "seg").glob("*/*.gz"))
    name = chunk.relative_to(root).as_posix().removesuffix(".gz")
    status, headers, body = get(f"{served.url}/{name}", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert body == chunk.read_bytes()
    # A client that does not take gzip gets the plain bytes.
    status, headers, body = get(f"{served.url}/{name}", {"Accept-Encoding": "identity"})
    assert status == 200 and "Content-Encoding" not in headers
    assert body == gzip.decompress(chunk.read_bytes())


def test_byte_ranges(served, datasets):
    root, _ = datasets
    jpeg_chunk = next(p for p in (root / "em").glob("*/*") if p.stat().st_size > 300)
    data = jpeg_chunk.read_bytes()
    url = f"{served.url}/{jpeg_chunk.relative_to(root).as_posix()}"
    status, headers, body = get(url, {"Range": "bytes=100-299"})
    assert status == 206 and body == data[100:300]
    assert headers["Content-Range"] == f"bytes 100-299/{len(data)}"
    status, _, body = get(url, {"Range": "bytes=-50"})
    assert status == 206 and body == data[-50:]
    status, _, body = get(url, {"Range": f"bytes={len(data) - 10}-{len(data) + 100}"})
    assert status == 206 and body == data[-10:]
    status, headers, _ = get(url, {"Range": f"bytes={len(data) + 5}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(data)}"


def test_many_range_requests_at_once(served, datasets):
    root, _ = datasets
    files = sorted(p for p in (root / "em").glob("*/*"))
    jobs = [(f, start) for f in files for start in (0, 7, 64)] * 4

    def fetch(job):
        path, start = job
        url = f"{served.url}/{path.relative_to(root).as_posix()}"
        status, _, body = get(url, {"Range": f"bytes={start}-{start + 99}"})
        return status == 206 and body == path.read_bytes()[start : start + 100]

    with ThreadPoolExecutor(32) as pool:
        assert all(pool.map(fetch, jobs))


def test_cors_headers_and_preflight(served):
    status, headers, _ = get(f"{served.url}/seg/info", {"Origin": "https://example.org"})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    assert "Content-Range" in headers["Access-Control-Expose-Headers"]
    status, headers, _ = get(
        f"{served.url}/seg/info",
        {"Origin": "https://example.org", "Access-Control-Request-Headers": "range"},
        method="OPTIONS",
    )
    assert status == 204 and headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Access-Control-Allow-Headers"] == "range"
    assert "GET" in headers["Access-Control-Allow-Methods"]


def test_only_the_files_under_the_folder_are_served(served):
    assert get(f"{served.url}/.hidden/secret")[0] == 404
    assert get(f"{served.url}/seg/../../etc/passwd")[0] == 404
    assert get(f"{served.url}/%2e%2e/%2e%2e/etc/passwd")[0] == 404
    assert get(f"{served.url}/seg")[0] == 404  # no folder listings
    assert get(f"{served.url}/notes.txt")[2] == b"not a dataset"


def test_ngcodec_reads_and_verifies_http_urls(served, datasets, tmp_path, capsys):
    pytest.importorskip("obstore")
    _, data = datasets
    np.testing.assert_array_equal(nv.read_volume(f"{served.url}/seg")[0], data)
    np.save(tmp_path / "in.npy", data)
    assert main(["verify", f"{served.url}/seg", str(tmp_path / "in.npy")]) == 0
    assert "ok: 24 of 24 chunks decoded; identical to the input" in capsys.readouterr().out
    assert main(["info", f"{served.url}/seg"]) == 0
    assert "chunks not counted: " in capsys.readouterr().out
    assert main(["convert", str(tmp_path / "in.npy"), f"{served.url}/new"]) == 4
    assert "read-only" in capsys.readouterr().err


def test_a_plain_static_server_works_through_gz_files(datasets):
    """No Content-Encoding from python's http.server: ngcodec finds name.gz itself."""
    pytest.importorskip("obstore")
    root, data = datasets

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/seg"
        assert nv.verify_volume(url, data).ok
    finally:
        server.shutdown()
        server.server_close()


def test_serve_refuses_what_it_cannot_serve(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "absent")]) == 3
    assert "is not a directory" in capsys.readouterr().err
