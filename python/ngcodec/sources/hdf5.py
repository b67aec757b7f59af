"""A dataset in an HDF5 file, named as ``file.h5:/path/to/dataset``, read through h5py.

Without a dataset the error lists the file's datasets. The axis order is (Z, Y, X) or
(C, Z, Y, X), unless the dataset's dimension scales are labelled (``x``, ``y``, ``z``, ``c``). Two
common attribute conventions give the voxel size, listed per spatial axis in the dataset's axis
order: ``resolution`` in nanometres (with ``offset``, also in nanometres, as CREMI writes them),
and ``element_size_um`` in micrometres (vigra, ilastik, Fiji).
"""

from __future__ import annotations

from typing import Any

from ngcodec.sources import InputArray, UnreadableInputError, whole_voxels, xyz

MAX_LISTED = 20

VOXEL_SIZE_ATTRIBUTES = (("resolution", "nm"), ("element_size_um", "um"))
"""Attribute name and the unit it is in."""


class Hdf5Input(InputArray):
    """One dataset of an HDF5 file."""

    format = "hdf5"
    option_names = ("dataset",)

    def _open(self) -> Any:
        import h5py

        self._closer = file = h5py.File(self.path, "r")
        name = self.options.get("dataset")
        if name is None:
            raise UnreadableInputError(
                f"{self.path}: name the dataset to convert, as {self.path}:/path/to/dataset; "
                f"the file holds {_listing(file)}"
            )
        item = file.get(name)
        if not isinstance(item, h5py.Dataset):
            what = (
                f"{name} is a group" if isinstance(item, h5py.Group) else f"has no dataset {name}"
            )
            raise UnreadableInputError(f"{self.path} {what}; the file holds {_listing(file)}")
        self._read_attributes(item)
        return item

    def _read_attributes(self, dataset: Any) -> None:
        labels = "".join(str(d.label).lower() for d in dataset.dims)
        if len(labels) == dataset.ndim and sorted(labels) in (sorted("zyx"), sorted("czyx")):
            self.axes = labels
        axes = self.axes or {3: "zyx", 4: "czyx"}.get(dataset.ndim)
        if axes is None:
            return
        space = axes.replace("c", "")
        for attribute, unit in VOXEL_SIZE_ATTRIBUTES:
            sizes = dataset.attrs.get(attribute)
            if sizes is None or len(sizes) != len(space):
                continue
            if self._set_voxel_size(xyz(sizes, space), unit, f"the HDF5 attribute {attribute}"):
                offset = dataset.attrs.get("offset")
                if attribute == "resolution" and offset is not None and len(offset) == 3:
                    self.voxel_offset = whole_voxels(xyz(offset, space), xyz(sizes, space))
                return


def _listing(file: Any) -> str:
    import h5py

    datasets: list[str] = []

    def visit(name: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            shape = "x".join(map(str, item.shape)) or "scalar"
            datasets.append(f"/{name} ({shape} {item.dtype})")

    file.visititems(visit)
    if not datasets:
        return "no datasets"
    more = f", and {len(datasets) - MAX_LISTED} more" if len(datasets) > MAX_LISTED else ""
    return "the datasets " + ", ".join(datasets[:MAX_LISTED]) + more
