"""The ngcodec command: convert (inputs, options, sample), info, verify, errors and exit codes."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest

import ngcodec.volume as nv
from ngcodec import cli
from ngcodec.cli import convert as cli_convert
from ngcodec.cli import main


def labels(shape, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 2**32 - 1, 40, dtype=np.uint32)
    coarse = rng.integers(0, 40, tuple(-(-n // 5) for n in shape))
    field = ids[coarse.repeat(5, 0).repeat(5, 1).repeat(5, 2)]
    return np.ascontiguousarray(field[: shape[0], : shape[1], : shape[2]])


@pytest.fixture
def npy(tmp_path):
    data = labels((30, 40, 50))
    path = tmp_path / "in.npy"
    np.save(path, data)
    return path, data


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_sample_is_the_first_command_and_is_fast(tmp_path):
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "ngcodec", "convert", "--sample", str(tmp_path / "sample")],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < 15  # a few seconds on a laptop; generous for a loaded CI machine
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    # 32 chunks of the volume, then 4 and 1 in its coarser scales
    assert "segmentation: 37 chunks written" in lines[0] and "image: 37 chunks written" in lines[1]
    segmentation = nv.PrecomputedVolume.open(tmp_path / "sample/segmentation")
    image = nv.PrecomputedVolume.open(tmp_path / "sample/image")
    assert segmentation.scale["encoding"] == "compressed_segmentation"
    assert segmentation.info["type"] == "segmentation" and image.info["type"] == "image"
    assert image.scale["encoding"] == "jpeg" and image.size == segmentation.size
    from ngcodec.sample import make_sample

    seg, img = make_sample()
    np.testing.assert_array_equal(segmentation.read()[0], seg)
    assert nv.verify_volume(image.path, img).max_abs_error < 40
    # Objects and image match: boundaries (label 0) are dark, objects are bright.
    assert img[seg == 0].mean() < 70 < 130 < img[seg != 0].mean()


def test_convert_npy_with_options_then_info_and_verify(npy, tmp_path, capsys):
    path, data = npy
    out = tmp_path / "out"
    convert = [
        "convert",
        path,
        out,
        "--encoding",
        "compressed_segmentation",
        "--chunk-size",
        "16,16,8",
        "--block-size",
        "4",
        "--resolution",
        "4,4,40",
        "--voxel-offset",
        "1,2,3",
    ]
    code, stdout, _ = run([*convert, "--jobs", "2", "--no-progress", "--single-scale"], capsys)
    assert code == 0
    assert f"{out}: 48 chunks written, 0 already there; 0.2 MB in" in stdout
    assert "ratio" in stdout and "MB/s" in stdout
    info = json.loads((out / "info").read_text())
    scale = info["scales"][0]
    assert scale["chunk_sizes"] == [[16, 16, 8]] and scale["key"] == "4_4_40"
    assert scale["compressed_segmentation_block_size"] == [4, 4, 4]
    assert scale["resolution"] == [4.0, 4.0, 40.0] and scale["voxel_offset"] == [1, 2, 3]
    np.testing.assert_array_equal(nv.read_volume(out)[0], data)

    code, stdout, _ = run([*convert, "--single-scale"], capsys)
    assert code == 0 and "0 chunks written, 48 already there" in stdout

    code, stdout, _ = run(["info", out], capsys)
    assert code == 0
    assert '"chunk_sizes": [[16, 16, 8]]' in stdout
    assert "50x40x30 voxels in 48 chunks of 16x16x8, compressed_segmentation" in stdout
    assert "48 present (48 gzipped), 0 missing" in stdout

    code, stdout, _ = run(["verify", out, path], capsys)
    assert code == 0 and "ok: 48 of 48 chunks decoded; identical to the input" in stdout


def test_json_output(npy, tmp_path, capsys):
    path, data = npy
    out = tmp_path / "out"
    code, stdout, _ = run(["convert", path, out, "--json", "--no-gzip"], capsys)
    assert code == 0
    [summary] = json.loads(stdout)
    assert summary["chunks_written"] == 1 and summary["bytes_in"] == data.nbytes
    assert summary["output"] == str(out)
    code, stdout, _ = run(["info", out, "--json"], capsys)
    report = json.loads(stdout)
    assert report["info"]["scales"][0]["encoding"] == "raw"
    assert report["scales"][0]["chunks_present"] == 1
    assert report["scales"][0]["bytes_stored"] == data.nbytes
    code, stdout, _ = run(["verify", out, path, "--json"], capsys)
    assert code == 0 and json.loads(stdout)["ok"] is True


def test_verify_reports_bad_chunks_with_exit_code_1(npy, tmp_path, capsys):
    path, data = npy
    out = tmp_path / "out"
    assert run(["convert", path, out, "--chunk-size", "16", "--single-scale"], capsys)[0] == 0
    scale = out / "1_1_1"
    (scale / "0-16_0-16_0-16.gz").unlink()
    (scale / "16-32_0-16_0-16.gz").write_bytes(b"junk")
    code, stdout, _ = run(["verify", out], capsys)
    assert code == 1
    assert "1 chunks missing:\n  0-16_0-16_0-16" in stdout
    assert "1 chunks cannot be decoded:\n  16-32_0-16_0-16: chunk 16-32_0-16_0-16" in stdout
    assert "FAILED: 22 of 24 chunks decoded" in stdout

    assert (
        run(["convert", path, out, "--chunk-size", "16", "--single-scale"], capsys)[0] == 0
    )  # rewrites missing
    (scale / "16-32_0-16_0-16.gz").unlink()
    assert run(["convert", path, out, "--chunk-size", "16", "--single-scale"], capsys)[0] == 0
    assert run(["verify", out, path], capsys)[0] == 0
    changed = data.copy()
    changed[0, 0, 0] += 1
    np.save(tmp_path / "changed.npy", changed)
    code, stdout, _ = run(["verify", out, tmp_path / "changed.npy"], capsys)
    assert code == 1 and "1 chunks differ from the input:\n  0-16_0-16_0-16" in stdout
    np.save(tmp_path / "small.npy", data[:10])
    code, _, stderr = run(["verify", out, tmp_path / "small.npy"], capsys)
    assert code == 1 and "shape" in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["convert"], "the following arguments are required"),
        (["convert", "{npy}"], "give INPUT and OUTPUT_DIR"),
        (["convert", "--sample", "{npy}", "{out}"], "with --sample, give only OUTPUT_DIR"),
        (["convert", "--sample", "{out}", "--encoding", "raw"], "--sample chooses its own"),
        (["convert", "{npy}", "{out}", "--encoding", "jpeg"], "JPEG encoding can only handle"),
        (["convert", "{npy}", "{out}", "--encoding", "zfp"], "invalid choice"),
        (["convert", "{npy}", "{out}", "--chunk-size", "0"], "chunk_size must be at least 1"),
        (["convert", "{npy}", "{out}", "--chunk-size", "a,b"], "chunk size must be N or X,Y,Z"),
        (["convert", "{npy}", "{out}", "--jobs", "0"], "must be a positive integer"),
        (["convert", "{npy}", "{out}", "--jpeg-quality", "101"], "between 1 and 100"),
        (["convert", "{npy}", "{out}", "--data-type", "uint8"], None),  # values do not fit: 3
        (["convert", "{npy}", "{out}", "--data-type", "float16"], "not a Neuroglancer data type"),
        (["convert", "{npy}", "{out}", "--axes", "zyxc"], "axes 'zyxc' name 4 axes"),
        (["convert", "{npy}", "{out}", "--jobs", "2", "--scheduler", "tcp://x:1"], "remote"),
        (["verify"], "the following arguments are required"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_with_code_2(npy, tmp_path, capsys, args, message):
    path, _ = npy
    args = [a.format(npy=path, out=tmp_path / "out") for a in args]
    if message is None:
        code, _, stderr = run(args, capsys)
        assert code == 3 and "do not fit in uint8" in stderr
        return
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_unreadable_input_exits_with_code_3(tmp_path, capsys):
    code, _, stderr = run(["convert", tmp_path / "missing.npy", tmp_path / "out"], capsys)
    assert code == 3 and "missing.npy does not exist" in stderr
    (tmp_path / "data.bin").write_bytes(b"123")
    code, _, stderr = run(["convert", tmp_path / "data.bin", tmp_path / "out"], capsys)
    assert code == 3 and "cannot tell the format" in stderr
    (tmp_path / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    code, _, stderr = run(["convert", tmp_path / "broken.npy", tmp_path / "out"], capsys)
    assert code == 3 and "cannot read" in stderr
    np.save(tmp_path / "flat.npy", np.zeros((4, 4), np.uint8))
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", str(tmp_path / "flat.npy"), str(tmp_path / "out")])
    assert exit_info.value.code == 2
    code, _, stderr = run(["info", tmp_path], capsys)
    assert code == 3 and "not a precomputed dataset" in stderr
    code, _, stderr = run(["verify", tmp_path], capsys)
    assert code == 3
    assert not (tmp_path / "out").exists()


def test_output_problems_exit_with_code_4(npy, tmp_path, capsys):
    path, _ = npy
    out = tmp_path / "out"
    assert run(["convert", path, out], capsys)[0] == 0
    code, _, stderr = run(["convert", path, out, "--chunk-size", "32"], capsys)
    assert code == 4 and "already holds a different dataset" in stderr and "--overwrite" in stderr
    assert run(["convert", path, out, "--chunk-size", "32", "--overwrite"], capsys)[0] == 0
    assert nv.PrecomputedVolume.open(out).chunk_size == (32, 32, 32)
    (tmp_path / "a-file").write_text("")
    code, _, stderr = run(["convert", path, tmp_path / "a-file" / "out"], capsys)
    assert code == 4 and "cannot write" in stderr and "Not a directory" in stderr


def test_interrupted_conversion_exits_with_130(npy, tmp_path, capsys, monkeypatch):
    path, _ = npy

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_convert, "write_volume", interrupt)
    code, _, stderr = run(["convert", path, tmp_path / "out"], capsys)
    assert code == 130 and "run the same command again to resume" in stderr


def test_progress_bar_on_request(npy, tmp_path, capsys):
    path, _ = npy
    code, _, stderr = run(
        ["convert", path, tmp_path / "out", "--chunk-size", "16", "--progress", "--single-scale"],
        capsys,
    )
    assert code == 0 and "0/24" in stderr and "chunk/s" in stderr
    code, _, stderr = run(["verify", tmp_path / "out", "--progress"], capsys)
    assert code == 0 and "0/24" in stderr
    code, _, stderr = run(["convert", path, tmp_path / "b", "--no-progress"], capsys)
    assert stderr == ""


def test_tiff_input(tmp_path, capsys):
    tifffile = pytest.importorskip("tifffile")
    pytest.importorskip("zarr")
    data = labels((12, 20, 30)).astype(np.uint16)
    for compression in (None, "zlib"):
        name = f"stack-{compression}.tif"
        tifffile.imwrite(tmp_path / name, data, compression=compression)
        out = tmp_path / f"out-{compression}"
        code, _, stderr = run(["convert", tmp_path / name, out, "--chunk-size", "8"], capsys)
        assert code == 0, stderr
        np.testing.assert_array_equal(nv.read_volume(out)[0], data)
        assert run(["verify", out, tmp_path / name], capsys)[0] == 0
    rgb = np.stack(
        [data.astype(np.uint8), data.astype(np.uint8) // 2, data.astype(np.uint8) // 3], axis=-1
    )  # Z, Y, X, S
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    code, _, stderr = run(
        ["convert", tmp_path / "rgb.tif", tmp_path / "rgb", "--encoding", "jpeg"], capsys
    )
    assert code == 0, stderr
    volume = nv.PrecomputedVolume.open(tmp_path / "rgb")
    assert volume.num_channels == 3 and volume.size == (30, 20, 12)


def test_zarr_input(tmp_path, capsys):
    zarr = pytest.importorskip("zarr")
    data = labels((20, 30, 40))
    stored = zarr.open(
        str(tmp_path / "v.zarr"), mode="w", shape=data.shape, chunks=(8, 8, 8), dtype=data.dtype
    )
    stored[...] = data
    out = tmp_path / "out"
    code, _, stderr = run(
        [
            "convert",
            tmp_path / "v.zarr",
            out,
            "--encoding",
            "compressed_segmentation",
            "--chunk-size",
            "16",
        ],
        capsys,
    )
    assert code == 0, stderr
    np.testing.assert_array_equal(nv.read_volume(out)[0], data)

    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    group.create_array("labels", shape=(4, 4, 4), dtype="uint8") if hasattr(
        group, "create_array"
    ) else group.create_dataset("labels", shape=(4, 4, 4), dtype="uint8")
    code, _, stderr = run(["convert", tmp_path / "g.zarr", tmp_path / "g"], capsys)
    assert code == 3 and "is a zarr group" in stderr and "g.zarr/labels" in stderr
    code, _, stderr = run(["convert", tmp_path / "g.zarr" / "labels", tmp_path / "g"], capsys)
    assert code == 0, stderr


def test_scheduler_local(npy, tmp_path, capsys):
    pytest.importorskip("distributed")
    path, data = npy
    out = tmp_path / "out"
    command = ["convert", path, out, "--chunk-size", "16", "--single-scale"]
    code, stdout, stderr = run([*command, "--scheduler", "local", "--jobs", "1"], capsys)
    assert code == 0, stderr
    assert "24 chunks written" in stdout
    np.testing.assert_array_equal(nv.read_volume(out)[0], data)


def test_module_entry_point_and_version():
    result = subprocess.run(
        [sys.executable, "-m", "ngcodec", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and result.stdout.startswith("ngcodec ")
    result = subprocess.run(
        [sys.executable, "-m", "ngcodec", "info"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2 and "DATASET" in result.stderr


def test_exit_codes_are_documented():
    doc = cli.__doc__
    for code in (
        cli.EXIT_OK,
        cli.EXIT_VERIFY_FAILED,
        cli.EXIT_USAGE,
        cli.EXIT_INPUT,
        cli.EXIT_OUTPUT,
        cli.EXIT_INTERRUPTED,
    ):
        assert f"\n{code} " in doc
