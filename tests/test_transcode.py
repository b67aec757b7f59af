"""`ngcodec transcode`: jpeg datasets to jxl, every scale, the same pixels in fewer bytes."""

import json

import numpy as np
import pytest

import ngcodec.volume as nv
from ngcodec.cli import main

pytest.importorskip("imagecodecs")


def grey_volume(shape_zyx):
    z, y, x = np.meshgrid(*(np.arange(n) for n in shape_zyx), indexing="ij")
    rng = np.random.default_rng(0)
    smooth = 120 + 60 * np.sin(x / 7) * np.cos(y / 5) + 20 * np.sin(z / 3)
    return np.clip(smooth + rng.normal(0, 6, shape_zyx), 0, 255).astype(np.uint8)


def test_a_jpeg_pyramid_becomes_jxl_with_the_same_pixels(tmp_path, capsys):
    data = grey_volume((40, 70, 90))
    nv.write_volume(data, tmp_path / "jpeg", encoding="jpeg", chunk_size=32, pyramid=True)
    code = main(["transcode", str(tmp_path / "jpeg"), str(tmp_path / "jxl"), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    info = json.loads((tmp_path / "jxl" / "info").read_text())
    assert [s["encoding"] for s in info["scales"]] == ["jxl"] * len(info["scales"]) == ["jxl"] * 3
    for scale in info["scales"]:
        jpeg = nv.read_volume(tmp_path / "jpeg", key=scale["key"]).astype(int)
        jxl = nv.read_volume(tmp_path / "jxl", key=scale["key"]).astype(int)
        assert np.abs(jpeg - jxl).max() <= 2
    # Fewer bytes than the jpeg files (but for the tiny chunks of the coarsest scales).
    assert report[0]["bytes_out"] < 0.97 * report[0]["bytes_in"]
    # Running it again finds every chunk done.
    assert main(["transcode", str(tmp_path / "jpeg"), str(tmp_path / "jxl"), "--json"]) == 0
    assert all(s["chunks_written"] == 0 for s in json.loads(capsys.readouterr().out))


def test_only_xy_plane_jpeg_datasets_are_transcoded(tmp_path, capsys):
    data = grey_volume((16, 16, 16))
    nv.write_volume(data, tmp_path / "raw", encoding="raw", chunk_size=16)
    assert main(["transcode", str(tmp_path / "raw"), str(tmp_path / "a")]) == 3
    assert "only jpeg scales" in capsys.readouterr().err
    nv.write_volume(
        data, tmp_path / "xz", encoding="jpeg", chunk_size=16, encoder_options={"jpeg_plane": "xz"}
    )
    assert main(["transcode", str(tmp_path / "xz"), str(tmp_path / "b")]) == 3
    assert "xz plane" in capsys.readouterr().err
