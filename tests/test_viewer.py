"""The link ``ngcodec serve`` prints, in a real browser: headless Chromium (the machine's, driven by
playwright) opens it, Neuroglancer's own client (hosted by the server) loads every layer with no
error, and the values it shows under the mouse are ngcodec's decode of the same voxels, for
images in jpeg, jxl and 16-bit png and segmentations in compressed_segmentation and compresso."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from serve_process import Served
from synthetic import voronoi

import ngcodec.volume as nv

playwright = pytest.importorskip("playwright.sync_api")
pytest.importorskip("neuroglancer")
pytest.importorskip("imagecodecs")  # writes jxl
pytest.importorskip("compresso")


def chromium() -> str:
    for candidate in (
        os.environ.get("NGCODEC_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        shutil.which("google-chrome"),
    ):
        if candidate:
            return candidate
    pytest.skip("no Chromium on this machine (apt-get install chromium, or set NGCODEC_CHROMIUM)")


LAYERS = ["em", "em_jxl", "em_png16", "seg", "seg_compresso"]
"""The datasets, named as the layers of the link (folders, sorted)."""
LOSSY_TOLERANCE = 8

# Software WebGL: a headless machine has no GPU.
CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]

VIEWER_STATE = """() => {
    const viewer = window.viewer;
    const layers = viewer.layerManager.managedLayers.map(managed => ({
        name: managed.name,
        errors: managed.layer === null ? ["the layer was not created"] :
            managed.layer.dataSources.map(source => source.loadState?.error?.message ?? null)
                .filter(message => message !== null),
    }));
    const values = viewer.layerSelectedValues.toJSON();
    return {
        names: viewer.coordinateSpace.value.names,
        position: Array.from(viewer.mouseState.position),
        active: viewer.mouseState.active,
        layers,
        values: JSON.parse(JSON.stringify(values, (k, v) => typeof v === "bigint" ? String(v) : v)),
        shown: Array.from(document.querySelectorAll(".neuroglancer-layer-item-value"),
                          element => element.textContent),
    };
}"""


def test_the_printed_link_shows_the_datasets_in_neuroglancer(tmp_path):
    executable = chromium()
    offset = (10, 20, 5)
    segmentation = voronoi((20, 90, 120), 40, "uint64")
    segmentation[segmentation == 0] = 7  # 0 is the background, which the viewer does not show
    image = ((segmentation * 37) % 200 + 30).astype(np.uint8)
    image += np.random.default_rng(0).integers(0, 20, image.shape, dtype=np.uint8)
    # 16 bits that all matter: the high byte from the image, the low byte from the labels.
    image16 = image.astype(np.uint16) * 256 + (segmentation % 251).astype(np.uint16)
    common = {"resolution": (8, 8, 40), "voxel_offset": offset, "chunk_size": (64, 64, 8)}
    for name, volume, encoding in [
        ("seg", segmentation, "compressed_segmentation"),
        ("seg_compresso", segmentation, "compresso"),
        ("em", image, "jpeg"),
        ("em_jxl", image, "jxl"),
        ("em_png16", image16, "png"),
    ]:
        nv.write_volume(volume, tmp_path / name, encoding=encoding, **common)
    # What ngcodec decodes is the reference: the viewer has its own JPEG and JPEG XL decoders.
    expected = {name: nv.read_volume(tmp_path / name)[0] for name in LAYERS}
    np.testing.assert_array_equal(expected["seg_compresso"], segmentation)
    np.testing.assert_array_equal(expected["em_png16"], image16)
    served = Served(tmp_path)
    problems: list[str] = []
    try:
        assert "/v/" in served.link  # the client is hosted here: no network needed
        with playwright.sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            page.on(
                "console",
                lambda message: message.type == "error" and problems.append(message.text),
            )
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(served.link)
            page.wait_for_function(
                "() => window.viewer !== undefined && window.viewer.isReady()", timeout=120_000
            )
            state = page.evaluate(VIEWER_STATE)
            assert [layer["name"] for layer in state["layers"]] == LAYERS
            assert all(layer["errors"] == [] for layer in state["layers"]), state["layers"]
            assert state["names"] == ["x", "y", "z"]
            panel = page.locator(".neuroglancer-rendered-data-panel").first.bounding_box()
            assert panel is not None
            checked = 0
            grid = [(0.3 + 0.1 * i, 0.3 + 0.1 * j) for i in range(5) for j in range(5)]
            for fx, fy in grid:
                page.mouse.move(panel["x"] + fx * panel["width"], panel["y"] + fy * panel["height"])
                page.wait_for_timeout(150)
                state = page.evaluate(VIEWER_STATE)
                if not state["active"] or len(state["position"]) != 3:
                    continue
                x, y, z = (
                    int(np.floor(p)) - o for p, o in zip(state["position"], offset, strict=True)
                )
                if not (0 <= x < 120 and 0 <= y < 90 and 0 <= z < 20):
                    continue
                shown = {name: int(state["values"][name]["value"]) for name in LAYERS}
                for name in LAYERS:
                    # Other lossy decoders (another inverse DCT): a few grey levels apart at most.
                    tolerance = LOSSY_TOLERANCE if name in ("em", "em_jxl") else 0
                    error = abs(shown[name] - int(expected[name][z, y, x]))
                    assert error <= tolerance, (name, x, y, z, shown[name])
                assert state["shown"] == [str(shown[name]) for name in LAYERS]
                checked += 1
            browser.close()
        assert checked >= 8
    finally:
        served.close()
    assert problems == []
