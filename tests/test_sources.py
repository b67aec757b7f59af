"""ngcodec.sources: every input format on small files written with the format's own library.

Each format reads back what was written, in (C, Z, Y, X) order through its declared axes, whole and
in slabs; declares the voxel size it carries, in nanometres, from the unit it was written in;
pickles as its path and reopens in a dask worker process; and turns broken files into
UnreadableInputError naming the file.
"""

import gzip
import json
import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import input_files
import numpy as np
import pytest

from ngcodec.precomputed.pipeline.arrays import AxisOrderView
from ngcodec.sources import (
    INPUT_FORMATS,
    InputArray,
    InputOptionError,
    UnreadableInputError,
    detect_format,
    open_input,
)
from ngcodec.sources.slices import natural_key

VOXEL_SIZE = (4.0, 6.0, 40.0)


def volume(shape, dtype="uint16", seed=0):
    """Random values over the dtype's range: any misplaced voxel or byte shows."""
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def write(kind, directory, data, voxel_size=VOXEL_SIZE):
    if kind in input_files.LIBRARY:
        pytest.importorskip(input_files.LIBRARY[kind])
    if kind.startswith(("zarr", "ome-zarr")):
        pytest.importorskip("zarr", minversion="3")
    return input_files.WRITERS[kind](directory, data, voxel_size)


def read_all(source):
    """The whole input as (C, Z, Y, X), through the axes it declares."""
    return AxisOrderView(source, source.axes)[:, :, :, :]


@pytest.mark.parametrize("kind", sorted(input_files.WRITERS))
@pytest.mark.parametrize("channels", [1, 2])
def test_each_format_reads_back_what_its_library_wrote(tmp_path, kind, channels):
    data = volume((channels, 7, 11, 13))  # odd sizes on every axis
    path, options = write(kind, tmp_path, data)
    with open_input(path, **options) as source:
        assert isinstance(source, InputArray) and source.format in INPUT_FORMATS
        assert source.dtype == np.uint16 and source.nbytes == data.nbytes
        np.testing.assert_array_equal(read_all(source), data)
        view = AxisOrderView(source, source.axes)
        np.testing.assert_array_equal(view[:, 2:5, 3:11, 4:5], data[:, 2:5, 3:11, 4:5])
        if kind in input_files.DECLARES_VOXEL_SIZE:
            assert source.voxel_size == VOXEL_SIZE
            assert source.metadata_source.startswith("the ")
        else:
            assert source.voxel_size is None and source.metadata_source is None


@pytest.mark.parametrize("kind", sorted(input_files.WRITERS))
def test_each_format_pickles_as_its_path_and_reopens_in_a_worker_process(tmp_path, kind, pool):
    da = pytest.importorskip("dask.array")
    from dask.base import tokenize

    data = volume((2, 9, 10, 12), seed=1)
    path, options = write(kind, tmp_path, data)
    source = open_input(path, **options)
    state = pickle.dumps(source)
    assert len(state) < 1000  # the path and options, not the data
    assert str(source.path).encode() in state
    clone = pickle.loads(state)
    assert type(clone) is type(source) and clone.shape == source.shape
    assert clone.options == source.options and clone.axes == source.axes
    assert tokenize(clone) == tokenize(source)

    lazy = da.from_array(source, chunks=(2, 4, 5, 6)[: source.ndim], asarray=True, lock=False)
    computed = lazy.compute(scheduler="processes", pool=pool)
    np.testing.assert_array_equal(computed, source[(slice(None),) * source.ndim])
    source.close()


@pytest.fixture(scope="module")
def pool():
    """One worker process, started fresh (no forked file handles), shared by the module."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as executor:
        yield executor


def test_tokens_change_when_the_input_changes(tmp_path):
    pytest.importorskip("dask")
    from dask.base import tokenize

    np.save(tmp_path / "a.npy", volume((3, 4, 5)))
    path, _ = input_files.write_tiff_slices(tmp_path, volume((1, 3, 4, 5)), VOXEL_SIZE)
    npy, slices = open_input(tmp_path / "a.npy"), open_input(path)
    before = tokenize(npy), tokenize(slices)
    for file in (tmp_path / "a.npy", path / "section_1.tif"):
        stat = file.stat()
        os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert tokenize(npy) != before[0] and tokenize(slices) != before[1]
    assert tokenize(open_input(path, glob="section_[01].tif")) != tokenize(slices)


def test_format_detection(tmp_path):
    data = volume((1, 3, 4, 5))
    expected = {
        "npy": "npy",
        "tiff": "tiff",
        "zarr2": "zarr",
        "zarr3": "zarr",
        "ome-zarr3": "zarr",
        "slices": "slices",
        "hdf5": "hdf5",
        "nifti": "nifti",
        "n5": "n5",
    }
    for kind, format in expected.items():
        directory = tmp_path / kind
        directory.mkdir()
        path, _ = write(kind, directory, data)
        assert open_input(path).format == format, kind
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnreadableInputError, match=r"cannot tell the format of .*empty"):
        detect_format(tmp_path / "empty")


# ---------------------------------------------------------------------------------------------
# Voxel sizes and units


@pytest.mark.parametrize(
    ("unit", "size", "nm"),
    [
        ("meter", 4e-9, 4.0),
        ("mm", 4e-6, 4.0),
        ("micron", 0.004, 4.0),
        ("unknown", 0.5, 500_000.0),  # unset: millimetres, as neuroglancer-scripts reads it
    ],
)
def test_nifti_units(tmp_path, unit, size, nm):
    nibabel = pytest.importorskip("nibabel")
    data = volume((5, 6, 7))  # (x, y, z)
    image = nibabel.Nifti1Image(data, np.diag([size, size * 2, size * 10, 1.0]))
    image.header.set_xyzt_units(unit)
    nibabel.save(image, tmp_path / "v.nii")
    source = open_input(tmp_path / "v.nii")
    assert source.voxel_size == (nm, nm * 2, nm * 10)
    assert source.voxel_unit == ("mm" if unit == "unknown" else unit)
    assert source.axes == "xyz" and source.shape == (5, 6, 7)
    np.testing.assert_array_equal(read_all(source)[0], data.T)


def test_nifti_voxel_size_is_what_neuroglancer_scripts_takes_when_units_are_unset(tmp_path):
    """An oblique affine: the voxel size is the length of its columns, in millimetres."""
    nibabel = pytest.importorskip("nibabel")
    volume_reader = pytest.importorskip("neuroglancer_scripts.volume_reader")
    rotation = np.array([[0.6, -0.8, 0], [0.8, 0.6, 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([0.25, 0.5, 1.5])
    affine[:3, 3] = [10, -20, 30]
    nibabel.save(nibabel.Nifti1Image(volume((4, 5, 6)), affine), tmp_path / "v.nii.gz")
    info, *_ = volume_reader.nibabel_image_to_info(nibabel.load(tmp_path / "v.nii.gz"))
    expected = json.loads(info)["scales"][0]["resolution"]
    assert open_input(tmp_path / "v.nii.gz").voxel_size == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx([250_000, 500_000, 1_500_000])


def test_nifti_channels_scaling_and_time(tmp_path):
    nibabel = pytest.importorskip("nibabel")
    data = volume((2, 3, 4, 5))  # (C, Z, Y, X)
    xyzc = np.transpose(data, (3, 2, 1, 0))
    nibabel.save(nibabel.Nifti1Image(xyzc, np.eye(4)), tmp_path / "c.nii")
    source = open_input(tmp_path / "c.nii")
    assert source.axes == "xyzc"
    np.testing.assert_array_equal(read_all(source), data)
    # A fifth dimension after one time point, as NIfTI vector images have them.
    nibabel.save(nibabel.Nifti1Image(xyzc[:, :, :, np.newaxis], np.eye(4)), tmp_path / "t.nii")
    source = open_input(tmp_path / "t.nii")
    assert source.axes == "xyzc" and source.shape == xyzc.shape
    np.testing.assert_array_equal(read_all(source), data)
    nibabel.save(nibabel.Nifti1Image(np.stack([xyzc] * 2, 3), np.eye(4)), tmp_path / "t2.nii")
    with pytest.raises(UnreadableInputError, match=r"t2.nii has a 't' axis of length 2"):
        open_input(tmp_path / "t2.nii")
    # Scaled integers read as nibabel scales them: floating point.
    nibabel.save(nibabel.Nifti1Image(xyzc[..., 0].astype(np.int16), np.eye(4)), tmp_path / "s.nii")
    header = nibabel.load(tmp_path / "s.nii").header.copy()
    header["scl_slope"], header["scl_inter"] = 0.5, 10
    with open(tmp_path / "s.nii", "r+b") as file:
        header.write_to(file)
    source = open_input(tmp_path / "s.nii")
    assert source.dtype == np.float64
    np.testing.assert_array_equal(read_all(source)[0], data[0].astype(np.int16) * 0.5 + 10)


@pytest.mark.parametrize(
    ("unit", "per_nm", "expected"),
    [
        ("micrometer", 1e-3, VOXEL_SIZE),
        ("nanometer", 1.0, VOXEL_SIZE),
        ("millimeter", 1e-6, VOXEL_SIZE),
        ("angstrom", 10.0, VOXEL_SIZE),
        ("second", 1.0, None),  # not a length
        (None, 1.0, None),  # no unit: Neuroglancer shows it unitless
    ],
)
@pytest.mark.parametrize("zarr_format", [2, 3])
def test_ome_zarr_units(tmp_path, zarr_format, unit, per_nm, expected):
    pytest.importorskip("zarr", minversion="3")
    data = volume((1, 4, 6, 8))
    path, _ = input_files.write_ome_zarr(
        tmp_path, data, VOXEL_SIZE, zarr_format=zarr_format, unit=unit, per_nm=per_nm
    )
    if unit is None:  # strip the units from the written metadata
        import zarr

        group = zarr.open_group(str(path), mode="r+")
        attrs = dict(group.attrs)
        multiscale = (attrs["ome"] if zarr_format == 3 else attrs)["multiscales"][0]
        for axis in multiscale["axes"]:
            axis.pop("unit", None)
        group.attrs.update(attrs)
    source = open_input(path)
    assert source.voxel_size == expected
    assert source.axes == "czyx"
    if expected is not None:
        assert source.voxel_unit == unit and source.metadata_source == "the OME-Zarr metadata"


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_ome_zarr_levels_offsets_and_time_axis(tmp_path, zarr_format):
    zarr = pytest.importorskip("zarr", minversion="3")
    data = volume((2, 5, 12, 16))
    path, _ = input_files.write_ome_zarr(
        tmp_path, data, VOXEL_SIZE, zarr_format=zarr_format, levels=3, translation=[0.4, 0.06, 0.1]
    )
    source = open_input(path)
    assert [level.name for level in source.levels] == ["0", "1", "2"]
    assert [level.size for level in source.levels] == [(16, 12, 5), (8, 6, 5), (4, 3, 5)]
    assert [level.voxel_size for level in source.levels] == [
        (4.0, 6.0, 40.0),
        (8.0, 12.0, 40.0),
        (16.0, 24.0, 40.0),
    ]
    assert source.voxel_offset == (25, 10, 10)  # the translation (0.1, 0.06, 0.4) µm in voxels
    for index in (1, 2):
        level = source.open_level(index)
        assert level.voxel_size == source.levels[index].voxel_size
        np.testing.assert_array_equal(
            read_all(level), data[:, :, :: 2**index, :: 2**index], strict=False
        )
        # The level's own array, opened by its path, knows it is that level.
        direct = open_input(path / str(index))
        assert direct.voxel_size == level.voxel_size and direct.axes == "czyx"
        assert pickle.loads(pickle.dumps(level)).options == {"level": index}
    assert source.open_level(1).voxel_offset is None  # 25/2 voxels: not whole
    with pytest.raises(InputOptionError, match=r"has levels 0 to 2; there is no level 3"):
        open_input(path, level=3)
    with pytest.raises(InputOptionError, match=r"level applies to OME-Zarr multiscale groups"):
        open_input(path / "0", level=0)

    # (T, C, Z, Y, X) with one time point, as bioformats2raw writes images: the time axis goes.
    group = zarr.open_group(str(tmp_path / "t.zarr"), mode="w", zarr_format=zarr_format)
    array = group.create_array(
        "0", shape=(1, *data.shape), dtype=data.dtype, chunks=(1, 1, 5, 8, 8)
    )
    array[...] = data[np.newaxis]
    multiscale = input_files.ome_multiscale(VOXEL_SIZE)
    multiscale["axes"].insert(0, {"name": "t", "type": "time", "unit": "second"})
    multiscale["datasets"][0]["coordinateTransformations"][0]["scale"].insert(0, 1.0)
    group.attrs.update(
        {"multiscales": [{"version": "0.4", **multiscale}]}
        if zarr_format == 2
        else {"ome": {"version": "0.5", "multiscales": [multiscale]}}
    )
    source = open_input(tmp_path / "t.zarr")
    assert source.axes == "czyx" and source.shape == data.shape
    assert source.voxel_size == VOXEL_SIZE
    np.testing.assert_array_equal(read_all(source), data)
    np.testing.assert_array_equal(source[1, 2:4, 5, 3:9], data[1, 2:4, 5, 3:9])


def test_zarr_group_without_an_image_lists_what_it_holds(tmp_path):
    zarr = pytest.importorskip("zarr", minversion="3")
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    group.create_array("labels", shape=(4, 4, 4), dtype="uint8")
    input_files.write_ome_zarr(tmp_path / "g.zarr", volume((1, 2, 4, 4)), VOXEL_SIZE, zarr_format=3)
    with pytest.raises(UnreadableInputError) as error:
        open_input(tmp_path / "g.zarr")
    message = str(error.value)
    assert "is a zarr group, not an array or an OME-Zarr image" in message
    assert "g.zarr/labels" in message and "g.zarr/image.ome.zarr (OME-Zarr image)" in message


def test_zarr_v2_xarray_dimension_names(tmp_path):
    pytest.importorskip("zarr", minversion="3")
    data = volume((1, 4, 5, 6))
    array = input_files._zarr_array(tmp_path / "x.zarr", np.ascontiguousarray(data[0].T), 2)
    array.attrs["_ARRAY_DIMENSIONS"] = ["x", "y", "z"]
    source = open_input(tmp_path / "x.zarr")
    assert source.axes == "xyz"
    np.testing.assert_array_equal(read_all(source), data)


def test_n5_resolution_units_and_pyramids(tmp_path):
    ts = pytest.importorskip("tensorstore")
    data = volume((1, 6, 8, 10))[0].T  # (x, y, z)
    group = tmp_path / "c.n5" / "em"
    for level in range(3):
        part = data[:: 2**level, :: 2**level, :]
        store = ts.open(
            {
                "driver": "n5",
                "kvstore": {"driver": "file", "path": str(group / f"s{level}")},
                "metadata": {
                    "dimensions": list(part.shape),
                    "blockSize": [4, 4, 4],
                    "dataType": "uint16",
                    "compression": {"type": "raw"},
                },
            },
            create=True,
        ).result()
        store[...] = part
    (tmp_path / "c.n5" / "attributes.json").write_text(json.dumps({"n5": "2.0.0"}))
    attributes = {
        "downsamplingFactors": [[1, 1, 1], [2, 2, 1], [4, 4, 1]],
        "pixelResolution": {"unit": "um", "dimensions": [0.004, 0.006, 0.04]},
    }
    (group / "attributes.json").write_text(json.dumps(attributes))
    source = open_input(group)
    assert source.format == "n5" and source.axes == "xyz" and source.shape == data.shape
    assert source.voxel_size == VOXEL_SIZE and source.voxel_unit == "um"
    assert [level.voxel_size for level in source.levels] == [
        (4.0, 6.0, 40.0),
        (8.0, 12.0, 40.0),
        (16.0, 24.0, 40.0),
    ]
    assert [level.size for level in source.levels] == [(10, 8, 6), (5, 4, 6), (3, 2, 6)]
    level = open_input(group, level=2)
    np.testing.assert_array_equal(level[:, :, :], data[::4, ::4, :])
    # A level opened as a dataset inherits the group's attributes and knows its factors.
    assert open_input(group / "s1").voxel_size == (8.0, 12.0, 40.0)
    # Neuroglancer's attributes: resolution in units, nanometres when units are not given.
    attributes = {"scales": attributes["downsamplingFactors"], "resolution": [4, 6, 40]}
    (group / "attributes.json").write_text(json.dumps(attributes))
    assert open_input(group).voxel_size == VOXEL_SIZE
    (group / "attributes.json").write_text(json.dumps({**attributes, "units": ["um"] * 3}))
    assert open_input(group).voxel_size == (4000.0, 6000.0, 40000.0)
    with pytest.raises(UnreadableInputError, match=r"c.n5 is an N5 group.*c.n5/em \(pyramid\)"):
        open_input(tmp_path / "c.n5")
    with pytest.raises(InputOptionError, match=r"there is no level 3"):
        open_input(group, level=3)
    with pytest.raises(InputOptionError, match=r"is an N5 dataset; level applies"):
        open_input(group / "s0", level=0)


def test_tiff_voxel_sizes(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    data = volume((4, 5, 6))
    tifffile.imwrite(
        tmp_path / "ij.tif",
        data,
        imagej=True,
        resolution=(1 / 0.004, 1 / 0.006),
        metadata={"spacing": 0.04, "unit": "micron", "axes": "ZYX"},
    )
    source = open_input(tmp_path / "ij.tif")
    assert source.voxel_size == VOXEL_SIZE and source.metadata_source == "the ImageJ metadata"
    # Resolution tags without ImageJ's z spacing: no voxel size.
    tifffile.imwrite(tmp_path / "plain.tif", data, photometric="minisblack", resolution=(250, 250))
    assert open_input(tmp_path / "plain.tif").voxel_size is None


def test_hdf5_attributes_and_dimension_labels(tmp_path):
    h5py = pytest.importorskip("h5py")
    data = volume((4, 5, 6))
    with h5py.File(tmp_path / "f.h5", "w") as file:
        cremi = file.create_dataset("cremi", data=data)
        cremi.attrs["resolution"] = [40.0, 6.0, 4.0]
        cremi.attrs["offset"] = [400.0, 60.0, 8.0]
        ilastik = file.create_dataset("ilastik", data=data)
        ilastik.attrs["element_size_um"] = [0.04, 0.006, 0.004]
        labelled = file.create_dataset("labelled", data=np.ascontiguousarray(data.T))
        for dim, name in zip(labelled.dims, "xyz", strict=True):
            dim.label = name
    source = open_input(f"{tmp_path / 'f.h5'}:/cremi")
    assert source.voxel_size == VOXEL_SIZE and source.voxel_offset == (2, 10, 10)
    assert source.metadata_source == "the HDF5 attribute resolution"
    assert open_input(f"{tmp_path / 'f.h5'}:ilastik").voxel_size == VOXEL_SIZE
    labelled = open_input(f"{tmp_path / 'f.h5'}:/labelled")
    assert labelled.axes == "xyz"
    np.testing.assert_array_equal(read_all(labelled)[0], data)


# ---------------------------------------------------------------------------------------------
# Slices


def test_natural_sort():
    names = ["z10.png", "z2.png", "Z1.png", "z1.png", "z100.png", "a.png", "z02.png"]
    assert sorted(names, key=natural_key) == [
        "a.png",
        "Z1.png",
        "z1.png",
        "z02.png",  # the same number: the names decide
        "z2.png",
        "z10.png",
        "z100.png",
    ]


@pytest.mark.parametrize(
    ("channels", "dtype", "axes"),
    [(1, "uint8", "zyx"), (1, "uint16", "zyx"), (2, "uint8", "zyxc"), (3, "uint8", "zyxc")],
)
def test_png_slices_in_natural_order(tmp_path, channels, dtype, axes):
    data = volume((channels, 12, 5, 7), dtype=dtype)  # z0 ... z11: z10 sorts before z2 in ASCII
    path, _ = input_files.write_png_slices(tmp_path, data, VOXEL_SIZE)
    source = open_input(path)
    assert source.format == "slices" and source.axes == axes and source.dtype == dtype
    assert [f.name for f in source.files][:3] == ["z0.png", "z1.png", "z2.png"]
    np.testing.assert_array_equal(read_all(source), data)
    np.testing.assert_array_equal(source[9], np.moveaxis(data[:, 9], 0, -1).squeeze())


def test_jpeg_slices_and_glob(tmp_path):
    from PIL import Image

    data = volume((1, 4, 16, 16), dtype="uint8")
    for z in range(4):
        Image.fromarray(data[0, z]).save(tmp_path / f"em_{z}.jpg", quality=95)
        Image.fromarray(data[0, z]).save(tmp_path / f"mask_{z}.png")
    assert open_input(tmp_path).shape == (8, 16, 16)  # em_0.jpg ... em_3.jpg, mask_0.png ...
    source = open_input(tmp_path, glob="em_*.jpg")
    assert source.shape == (4, 16, 16)
    expected = np.stack([np.asarray(Image.open(tmp_path / f"em_{z}.jpg")) for z in range(4)])
    np.testing.assert_array_equal(read_all(source)[0], expected)
    np.testing.assert_array_equal(read_all(open_input(tmp_path, glob="mask_*"))[0], data[0])
    with pytest.raises(InputOptionError, match=r"no file in .* matches 'cells_\*.png'"):
        open_input(tmp_path, glob="cells_*.png")


def test_slices_reads_only_the_files_of_the_slab(tmp_path):
    data = volume((1, 6, 8, 8), dtype="uint8")
    path, _ = input_files.write_png_slices(tmp_path, data, VOXEL_SIZE)
    source = open_input(path)
    (path / "z5.png").write_bytes((path / "z5.png").read_bytes()[:60])  # broken after opening
    np.testing.assert_array_equal(source[0:5, 2:4, :], data[0, 0:5, 2:4, :])
    with pytest.raises(UnreadableInputError, match=r"cannot read .*z5.png"):
        source[3:6]


def test_slices_of_another_size_or_type_are_named(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    path, _ = input_files.write_tiff_slices(tmp_path, volume((1, 12, 8, 9)), VOXEL_SIZE)
    tifffile.imwrite(path / "section_10.tif", volume((8, 10)))
    with pytest.raises(UnreadableInputError) as error:
        open_input(path)
    assert str(error.value).startswith(f"{path / 'section_10.tif'}: slice 10 is 10x8 uint16")
    assert "the first slice (section_0.tif) is 9x8 uint16" in str(error.value)
    tifffile.imwrite(path / "section_10.tif", volume((8, 9), dtype="uint8"))
    with pytest.raises(UnreadableInputError, match=r"section_10.tif: slice 10 is 9x8 uint8"):
        open_input(path)
    tifffile.imwrite(path / "section_10.tif", volume((3, 8, 9)), photometric="minisblack")
    with pytest.raises(UnreadableInputError, match=r"section_10.tif is not a 2-D image"):
        open_input(path)


# ---------------------------------------------------------------------------------------------
# Errors


def test_options_that_do_not_apply(tmp_path):
    np.save(tmp_path / "a.npy", volume((2, 3, 4)))
    with pytest.raises(InputOptionError, match=r"level does not apply to npy input"):
        open_input(tmp_path / "a.npy", level=1)
    with pytest.raises(InputOptionError, match=r"dataset does not apply to npy input"):
        open_input(f"{tmp_path / 'a.npy'}:/x")
    with pytest.raises(TypeError, match=r"use open_input\(path\)"):
        InputArray(tmp_path / "a.npy")
    with pytest.raises(UnreadableInputError, match=r"unknown input format 'bmp'"):
        open_input(tmp_path / "a.npy", format="bmp")
    with pytest.raises(UnreadableInputError, match=r"missing.h5:/x does not exist"):
        open_input(f"{tmp_path / 'missing.h5'}:/x")


def test_hdf5_missing_datasets_are_listed(tmp_path):
    pytest.importorskip("h5py")
    input_files.write_hdf5(tmp_path, volume((1, 2, 3, 4)), VOXEL_SIZE)
    file = tmp_path / "volume.h5"
    holds = "/volumes/labels/neuron_ids (2x3x4 uint16), /volumes/raw (2x2x2 uint8)"
    for given, problem in [
        ("", "name the dataset to convert, as"),
        (":/volumes/labels/clefts", "has no dataset /volumes/labels/clefts"),
        (":/volumes", "/volumes is a group"),
    ]:
        with pytest.raises(UnreadableInputError) as error:
            open_input(f"{file}{given}")
        assert problem in str(error.value) and holds in str(error.value)


@pytest.mark.parametrize("kind", ["npy", "tiff", "hdf5", "nifti", "n5", "zarr3"])
def test_truncated_and_corrupt_files_name_the_file(tmp_path, kind):
    data = volume((1, 8, 40, 40))
    path, options = write(kind, tmp_path, data)
    file = {
        "hdf5": tmp_path / "volume.h5",
        "n5": path / "0" / "0" / "0",  # the first chunk
        "zarr3": path / "c" / "0" / "0" / "0" / "0",
    }.get(kind, path)
    content = file.read_bytes()
    file.write_bytes(content[: len(content) // 2])
    with pytest.raises(UnreadableInputError, match=f"cannot read {tmp_path}"):
        source = open_input(path, **options)
        source[(slice(None),) * source.ndim]


def test_truncated_gzipped_nifti(tmp_path):
    pytest.importorskip("nibabel")
    path, _ = input_files.write_nifti(tmp_path, volume((1, 8, 30, 30)), VOXEL_SIZE)
    content = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(content[: len(content) - 500]))  # a whole gzip, short data
    source = open_input(path)
    np.testing.assert_array_equal(source[:, :, 0:1].shape, (30, 30, 1))
    with pytest.raises(UnreadableInputError, match=r"cannot read .*volume.nii.gz"):
        source[:, :, :]


def test_unsupported_data_types(tmp_path):
    nibabel = pytest.importorskip("nibabel")
    rgb = np.zeros((2, 3, 4), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    nibabel.save(nibabel.Nifti1Image(rgb, np.eye(4)), tmp_path / "rgb.nii")
    with pytest.raises(UnreadableInputError, match=r"rgb.nii: data type .* is not supported"):
        open_input(tmp_path / "rgb.nii")
    np.save(tmp_path / "c.npy", np.zeros((2, 3, 4), np.complex64))
    with pytest.raises(UnreadableInputError, match=r"c.npy: data type complex64 is not supported"):
        open_input(tmp_path / "c.npy")
