"""``ngcodec convert`` and ``verify`` on every input format: real data round trips, the voxel size
taken from the input, ``--level`` and ``--glob``, and the exit codes of broken inputs."""

import itertools
import json

import input_files
import numpy as np
import pytest

import ngcodec.volume as nv
from ngcodec.cli import EXIT_INPUT, EXIT_USAGE, main

PINKY40_VOXEL_SIZE = (32.0, 32.0, 40.0)
SOURCE_NAMES = {
    "tiff": "the OME-TIFF metadata",
    "ome-zarr2": "the OME-Zarr metadata",
    "ome-zarr3": "the OME-Zarr metadata",
    "hdf5": "the HDF5 attribute resolution",
    "nifti": "the NIfTI header",
    "n5": "the N5 attributes",
}


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def write(kind, directory, data, voxel_size=PINKY40_VOXEL_SIZE):
    if kind in input_files.LIBRARY:
        pytest.importorskip(input_files.LIBRARY[kind])
    if kind.startswith(("zarr", "ome-zarr")):
        pytest.importorskip("zarr", minversion="3")
    return input_files.WRITERS[kind](directory, data, voxel_size)[0]


@pytest.fixture(scope="module")
def pinky40_crop(pinky40_512):
    """A (100, 120, 128) crop of the pinky40 segmentation: 150-odd labels, partial edge chunks."""
    return np.ascontiguousarray(pinky40_512[192:292, 192:312, 192:320])


@pytest.mark.parametrize("kind", sorted(input_files.WRITERS))
def test_real_data_round_trip(tmp_path, capsys, pinky40_crop, kind):
    path = write(kind, tmp_path, pinky40_crop[np.newaxis])
    out = tmp_path / "out"
    code, stdout, stderr = run(
        ["convert", path, out, "--encoding", "compressed_segmentation", "--no-progress"], capsys
    )
    assert code == 0, stderr
    volume = nv.PrecomputedVolume.open(out)
    assert volume.size == (128, 120, 100)
    if kind in input_files.DECLARES_VOXEL_SIZE:
        assert f"{path}: resolution 32,32,40 nm" in stdout
        assert stdout.splitlines()[0].endswith(f"from {SOURCE_NAMES[kind]}")
        assert volume.scale["resolution"] == list(PINKY40_VOXEL_SIZE) and volume.key == "32_32_40"
    else:
        assert "resolution" not in stdout and volume.key == "1_1_1"
    np.testing.assert_array_equal(nv.read_volume(out)[0], pinky40_crop)
    code, stdout, _ = run(["verify", out, path], capsys)
    assert code == 0 and "identical to the input" in stdout


def test_real_data_as_png_slices(tmp_path, capsys, pinky40_crop):
    # PNG holds at most 16 bits: the same segmentation, its labels renumbered.
    _, renumbered = np.unique(pinky40_crop, return_inverse=True)
    labels = renumbered.reshape(pinky40_crop.shape).astype(np.uint16)
    path, _ = input_files.write_png_slices(tmp_path, labels[np.newaxis], PINKY40_VOXEL_SIZE)
    out = tmp_path / "out"
    code, _, stderr = run(["convert", path, out, "--resolution", "32,32,40"], capsys)
    assert code == 0, stderr
    np.testing.assert_array_equal(nv.read_volume(out)[0], labels)
    assert run(["verify", out, path], capsys)[0] == 0


def test_options_win_over_the_input_and_offsets_come_from_it(tmp_path, capsys):
    h5py = pytest.importorskip("h5py")
    data = np.arange(4 * 5 * 6, dtype=np.uint8).reshape(4, 5, 6)
    with h5py.File(tmp_path / "f.h5", "w") as file:
        dataset = file.create_dataset("raw", data=data)
        dataset.attrs["resolution"] = [40.0, 4.0, 4.0]
        dataset.attrs["offset"] = [400.0, 40.0, 8.0]
    code, stdout, _ = run(["convert", f"{tmp_path / 'f.h5'}:/raw", tmp_path / "a"], capsys)
    assert code == 0
    assert stdout.startswith(
        f"{tmp_path / 'f.h5'}:/raw: resolution 4,4,40 nm and voxel offset 2,10,10 from the HDF5 "
        "attribute resolution\n"
    )
    info = json.loads((tmp_path / "a" / "info").read_text())["scales"][0]
    assert info["resolution"] == [4, 4, 40] and info["voxel_offset"] == [2, 10, 10]
    code, stdout, _ = run(
        [
            "convert",
            f"{tmp_path / 'f.h5'}:/raw",
            tmp_path / "b",
            "--resolution",
            "8",
            "--voxel-offset",
            "0,0,0",
        ],
        capsys,
    )
    assert code == 0 and "from the HDF5" not in stdout
    info = json.loads((tmp_path / "b" / "info").read_text())["scales"][0]
    assert info["resolution"] == [8, 8, 8] and info["voxel_offset"] == [0, 0, 0]
    code, stdout, _ = run(
        ["convert", f"{tmp_path / 'f.h5'}:/raw", tmp_path / "c", "--json"], capsys
    )
    assert code == 0 and json.loads(stdout)[0]["chunks_written"] == 1  # only JSON on stdout


def test_level_of_a_pyramid(tmp_path, capsys):
    pytest.importorskip("zarr", minversion="3")
    data = np.random.default_rng(0).integers(0, 255, (1, 6, 20, 24), dtype=np.uint8)
    path, _ = input_files.write_ome_zarr(tmp_path, data, (4, 4, 40), zarr_format=3, levels=2)
    code, stdout, stderr = run(["convert", path, tmp_path / "l1", "--level", "1"], capsys)
    assert code == 0, stderr
    assert "resolution 8,8,40 nm (given in micrometer) from the OME-Zarr metadata" in stdout
    np.testing.assert_array_equal(nv.read_volume(tmp_path / "l1")[0], data[0, :, ::2, ::2])
    assert run(["verify", tmp_path / "l1", path, "--level", "1"], capsys)[0] == 0
    code, _, stderr = run(["verify", tmp_path / "l1", path], capsys)  # level 0 is larger
    assert code == 1 and "shape" in stderr
    code, _, stderr = run(["convert", path, tmp_path / "l5", "--level", "5"], capsys)
    assert code == EXIT_USAGE and "has levels 0 to 1; there is no level 5" in stderr
    np.save(tmp_path / "a.npy", data[0])
    code, _, stderr = run(["convert", tmp_path / "a.npy", tmp_path / "x", "--level", "1"], capsys)
    assert code == EXIT_USAGE and "level does not apply to npy input" in stderr


def test_glob_of_slices(tmp_path, capsys):
    from PIL import Image

    data = np.random.default_rng(1).integers(0, 255, (5, 8, 9), dtype=np.uint8)
    for z in range(5):
        Image.fromarray(data[z]).save(tmp_path / f"em{z}.png")
        Image.fromarray(data[z] // 2).save(tmp_path / f"mask{z}.png")
    code, _, stderr = run(["convert", tmp_path, tmp_path / "out", "--glob", "em*.png"], capsys)
    assert code == 0, stderr
    np.testing.assert_array_equal(nv.read_volume(tmp_path / "out")[0], data)
    assert run(["verify", tmp_path / "out", tmp_path, "--glob", "em*"], capsys)[0] == 0
    assert run(["verify", tmp_path / "out", tmp_path, "--glob", "mask*"], capsys)[0] == 1
    code, _, stderr = run(["convert", tmp_path, tmp_path / "o", "--glob", "*.tif"], capsys)
    assert code == EXIT_USAGE and "matches '*.tif'" in stderr


def test_broken_inputs_exit_with_code_3_naming_the_file(tmp_path, capsys):
    h5py = pytest.importorskip("h5py")
    tifffile = pytest.importorskip("tifffile")
    nibabel = pytest.importorskip("nibabel")
    data = np.random.default_rng(2).integers(0, 255, (1, 8, 64, 64), dtype=np.uint16)

    outputs = (tmp_path / f"out{i}" for i in itertools.count())

    def convert_fails(path, *messages):
        code, _, stderr = run(["convert", path, next(outputs), "--no-progress"], capsys)
        assert code == EXIT_INPUT, stderr
        assert all(m in stderr for m in messages), stderr
        return stderr

    # Unreadable from the start, or only when the data is read.
    (tmp_path / "bad.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    convert_fails(tmp_path / "bad.h5", f"cannot read {tmp_path / 'bad.h5'}")
    tiff, _ = input_files.write_ome_tiff(tmp_path, data, (1, 1, 1))
    tiff.write_bytes(tiff.read_bytes()[: tiff.stat().st_size - 2000])
    convert_fails(tiff, f"cannot read {tiff}")
    # A dataset the file does not have.
    with h5py.File(tmp_path / "f.h5", "w") as file:
        file.create_dataset("volumes/raw", data=data[0])
    convert_fails(f"{tmp_path / 'f.h5'}:/volumes/labels", "has no dataset", "/volumes/raw (8x64x64")
    convert_fails(tmp_path / "f.h5", "name the dataset to convert")
    # Slices: one of another size; one broken after the first slab was written.
    slices, _ = input_files.write_png_slices(tmp_path, data.astype(np.uint8), (1, 1, 1))
    good = (slices / "z7.png").read_bytes()
    from PIL import Image

    Image.fromarray(np.zeros((64, 60), np.uint8)).save(slices / "z7.png")
    convert_fails(slices, f"{slices / 'z7.png'}: slice 7 is 60x64 uint8")
    (slices / "z7.png").write_bytes(good[: len(good) // 2])
    stderr = convert_fails(slices, f"cannot read {slices / 'z7.png'}")
    assert "image file is truncated" in stderr
    # A data type no volume holds.
    rgb = np.zeros((2, 3, 4), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    nibabel.save(nibabel.Nifti1Image(rgb, np.eye(4)), tmp_path / "rgb.nii")
    convert_fails(tmp_path / "rgb.nii", f"{tmp_path / 'rgb.nii'}: data type", "is not supported")
    tifffile.imwrite(
        tmp_path / "complex.tif", np.zeros((2, 3, 4), np.complex64), photometric="minisblack"
    )
    convert_fails(tmp_path / "complex.tif", "data type complex64 is not supported")

    # verify: an input that breaks while being compared is unreadable (3), not a mismatch (1).
    (slices / "z7.png").write_bytes(good)
    assert run(["convert", slices, tmp_path / "ok"], capsys)[0] == 0
    (slices / "z7.png").write_bytes(good[:100])
    code, _, stderr = run(["verify", tmp_path / "ok", slices], capsys)
    assert code == EXIT_INPUT and f"cannot read {slices / 'z7.png'}" in stderr


def test_float64_input_needs_a_data_type(tmp_path, capsys):
    """A float64 volume (a scaled NIfTI, ...) is converted once a data type is chosen: a usage
    error (2) that names the file and says which type to choose."""
    nibabel = pytest.importorskip("nibabel")
    data = np.linspace(0, 1, 4 * 5 * 6).reshape(4, 5, 6)
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), tmp_path / "f.nii")
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", str(tmp_path / "f.nii"), str(tmp_path / "out")])
    assert exit_info.value.code == EXIT_USAGE
    stderr = capsys.readouterr().err
    assert f"{tmp_path / 'f.nii'}: input dtype float64" in stderr and "float32" in stderr
    code, stdout, _ = run(
        ["convert", tmp_path / "f.nii", tmp_path / "out", "--data-type", "float32"], capsys
    )
    assert code == 0 and "resolution 1e+06,1e+06,1e+06 nm (given in mm)" in stdout
    np.testing.assert_allclose(nv.read_volume(tmp_path / "out")[0], data.T.astype(np.float32))
