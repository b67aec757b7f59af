"""Volumes written as every input format ngcodec reads, each with the format's own library.

Shared by the input tests and ``benches/bench_inputs.py``. Each writer takes a (C, Z, Y, X) array
and a voxel size (X, Y, Z) in nanometres, writes them into a directory the way that format's users
do (the voxel size in the format's own unit, where it has a place for one), and returns the path
and the options to give :func:`ngcodec.sources.open_input`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

CHUNK = 64
"""Chunk (block) edge of the chunked formats: zarr, HDF5, N5."""

Writer = Callable[[Path, np.ndarray, tuple[float, float, float]], tuple[Path, dict[str, Any]]]


def _zyx_or_czyx(data: np.ndarray) -> np.ndarray:
    return data[0] if data.shape[0] == 1 else data


def write_npy(directory, data, voxel_size):
    path = directory / "volume.npy"
    np.save(path, _zyx_or_czyx(data))
    return path, {}


def write_ome_tiff(directory, data, voxel_size):
    import tifffile

    path = directory / "volume.ome.tif"
    x, y, z = voxel_size
    tifffile.imwrite(
        path,
        _zyx_or_czyx(data),
        ome=True,
        compression="zlib",
        metadata={
            "axes": "ZYX" if data.shape[0] == 1 else "CZYX",
            "PhysicalSizeX": x / 1000,  # micrometres, OME's default unit
            "PhysicalSizeY": y / 1000,
            "PhysicalSizeZ": z,
            "PhysicalSizeZUnit": "nm",
        },
    )
    return path, {}


def _zarr_array(path, data, zarr_format, **kwargs):
    import zarr

    array = zarr.create_array(
        store=str(path),
        shape=data.shape,
        chunks=tuple(min(n, CHUNK) for n in data.shape),
        dtype=data.dtype,
        zarr_format=zarr_format,
        **kwargs,
    )
    array[...] = data
    return array


def write_zarr2(directory, data, voxel_size):
    path = directory / "volume.zarr"
    _zarr_array(path, data, 2)
    return path, {}


def write_zarr3(directory, data, voxel_size):
    path = directory / "volume.zarr"
    _zarr_array(path, data, 3, dimension_names=["c", "z", "y", "x"])
    return path, {}


def ome_multiscale(voxel_size, levels=1, unit="micrometer", per_nm=1e-3, translation=None):
    """OME-NGFF ``multiscales`` metadata of a (C, Z, Y, X) image, levels halving x and y."""
    x, y, z = (v * per_nm for v in voxel_size)
    datasets = []
    for level in range(levels):
        transforms: list[dict[str, Any]] = [
            {"type": "scale", "scale": [1.0, z, y * 2**level, x * 2**level]}
        ]
        if translation is not None:
            transforms.append({"type": "translation", "translation": [0, *translation]})
        datasets.append({"path": str(level), "coordinateTransformations": transforms})
    return {
        "axes": [
            {"name": "c", "type": "channel"},
            *({"name": a, "type": "space", "unit": unit} for a in "zyx"),
        ],
        "datasets": datasets,
    }


def write_ome_zarr(directory, data, voxel_size, *, zarr_format, levels=1, **metadata):
    """An OME-Zarr image: 0.4 on zarr v2, 0.5 on zarr v3; level i halves x and y i times."""
    import zarr

    path = directory / "image.ome.zarr"
    group = zarr.open_group(str(path), mode="w", zarr_format=zarr_format)
    for level in range(levels):
        _zarr_array(path / str(level), data[:, :, :: 2**level, :: 2**level], zarr_format)
    multiscale = ome_multiscale(voxel_size, levels, **metadata)
    if zarr_format == 2:
        group.attrs["multiscales"] = [{"version": "0.4", **multiscale}]
    else:
        group.attrs["ome"] = {"version": "0.5", "multiscales": [multiscale]}
    return path, {}


def write_ome_zarr2(directory, data, voxel_size):
    return write_ome_zarr(directory, data, voxel_size, zarr_format=2)


def write_ome_zarr3(directory, data, voxel_size):
    return write_ome_zarr(directory, data, voxel_size, zarr_format=3)


def write_tiff_slices(directory, data, voxel_size):
    """One TIFF per z, named so that only a natural sort orders them; channels as samples."""
    import tifffile

    path = directory / "slices"
    path.mkdir()
    for z in range(data.shape[1]):
        if data.shape[0] == 1:
            tifffile.imwrite(path / f"section_{z}.tif", data[0, z])
        else:  # interleaved samples: (Y, X, C)
            section = np.moveaxis(data[:, z], 0, -1)
            tifffile.imwrite(
                path / f"section_{z}.tif", section, photometric="minisblack", planarconfig="contig"
            )
    return path, {}


def write_png_slices(directory, data, voxel_size):
    """One PNG per z (uint8 with 1 to 4 channels, or uint16 with 1), plus a file to skip."""
    from PIL import Image

    path = directory / "slices"
    path.mkdir()
    for z in range(data.shape[1]):
        section = data[0, z] if data.shape[0] == 1 else np.moveaxis(data[:, z], 0, -1)
        Image.fromarray(np.ascontiguousarray(section)).save(path / f"z{z}.png")
    (path / "notes.txt").write_text("not a slice")
    return path, {}


def write_hdf5(directory, data, voxel_size):
    """A CREMI-style dataset: ``resolution`` in nanometres, listed (z, y, x)."""
    import h5py

    path = directory / "volume.h5"
    with h5py.File(path, "w") as file:
        dataset = file.create_dataset(
            "volumes/labels/neuron_ids",
            data=_zyx_or_czyx(data),
            chunks=tuple(min(n, CHUNK) for n in _zyx_or_czyx(data).shape),
            compression="gzip",
        )
        dataset.attrs["resolution"] = list(voxel_size[::-1])
        file.create_dataset("volumes/raw", data=np.zeros((2, 2, 2), np.uint8))
    return Path(f"{path}:/volumes/labels/neuron_ids"), {}


def write_nifti(directory, data, voxel_size, name="volume.nii.gz"):
    """(x, y, z[, c]) voxels, the voxel size in micrometres (``xyzt_units``)."""
    import nibabel

    path = directory / name
    xyzc = np.transpose(data, (3, 2, 1, 0))
    image = nibabel.Nifti1Image(
        xyzc[..., 0] if data.shape[0] == 1 else xyzc,
        np.diag([*(v / 1000 for v in voxel_size), 1.0]),
    )
    image.header.set_xyzt_units("micron")
    nibabel.save(image, path)
    return path, {}


def write_n5(directory, data, voxel_size):
    """An N5 dataset written by tensorstore, with Neuroglancer's resolution, units and axes."""
    import tensorstore as ts

    path = directory / "volume.n5" / "labels"
    xyzc = np.transpose(data, (3, 2, 1, 0))
    axes = ["x", "y", "z", "c"]
    if data.shape[0] == 1:
        xyzc, axes = xyzc[..., 0], axes[:3]
    store = ts.open(
        {
            "driver": "n5",
            "kvstore": {"driver": "file", "path": str(path)},
            "metadata": {
                "dimensions": list(xyzc.shape),
                "blockSize": [min(n, CHUNK) for n in xyzc.shape],
                "dataType": str(data.dtype),
                "compression": {"type": "gzip"},
                "axes": axes,
                "resolution": list(voxel_size) + [1] * (len(axes) - 3),
                "units": ["nm", "nm", "nm", ""][: len(axes)],
            },
        },
        create=True,
    ).result()
    store[...] = xyzc
    (path.parent / "attributes.json").write_text(json.dumps({"n5": "2.0.0"}))
    return path, {}


WRITERS: dict[str, Writer] = {
    "npy": write_npy,
    "tiff": write_ome_tiff,
    "zarr2": write_zarr2,
    "zarr3": write_zarr3,
    "ome-zarr2": write_ome_zarr2,
    "ome-zarr3": write_ome_zarr3,
    "slices": write_tiff_slices,
    "hdf5": write_hdf5,
    "nifti": write_nifti,
    "n5": write_n5,
}
"""One writer per way in; each format at least once."""

DECLARES_VOXEL_SIZE = {"tiff", "ome-zarr2", "ome-zarr3", "hdf5", "nifti", "n5"}

LIBRARY = {
    "tiff": "tifffile",
    "zarr2": "zarr",
    "zarr3": "zarr",
    "ome-zarr2": "zarr",
    "ome-zarr3": "zarr",
    "slices": "tifffile",
    "hdf5": "h5py",
    "nifti": "nibabel",
    "n5": "tensorstore",
}
"""The library a writer needs (tests skip without it)."""
