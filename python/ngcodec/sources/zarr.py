"""Zarr v2 and v3 arrays, and OME-Zarr multiscale images (OME-NGFF 0.4 on zarr v2, 0.5 on v3).

An OME-Zarr group opens at level 0, or at the ``level`` option; its axes come from the metadata
(a single time point is dropped), and its ``coordinateTransformations`` (scale, then translation,
per level and for the whole image) give the voxel size in the axes' units and the voxel offset. An
array that is one level of an OME-Zarr image (``image.zarr/1``) is described the same way. Plain
arrays take their axis names from zarr v3 ``dimension_names`` or xarray's ``_ARRAY_DIMENSIONS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ngcodec.sources import (
    InputArray,
    InputOptionError,
    Level,
    UnreadableInputError,
    nanometres,
    spatial_size,
    whole_voxels,
    xyz,
)

AXIS_LETTERS = "tczyx"
OME_DEFAULT_AXES = "tczyx"
"""Before OME-NGFF 0.3, images were always five-dimensional."""


class ZarrInput(InputArray):
    """A zarr array or an OME-Zarr multiscale group."""

    format = "zarr"
    option_names = ("level",)

    def _open(self) -> Any:
        import zarr

        opened: Any = zarr.open(str(self.path), mode="r")
        if hasattr(opened, "shape"):
            if "level" in self.options:
                raise InputOptionError(
                    f"{self.path} is a zarr array; level applies to OME-Zarr multiscale groups"
                )
            image = self._parent_image(zarr)
            if image is not None:
                multiscale, index = image
                return self._with_axes(opened, self._describe(multiscale, index))
            return self._with_axes(opened, _array_axes(opened))
        multiscales = _multiscales(opened.attrs)
        if not multiscales:
            raise UnreadableInputError(
                f"{self.path} is a zarr group, not an array or an OME-Zarr image; give the path "
                "of one of: " + ", ".join(_listing(self.path, opened))
            )
        multiscale = multiscales[0]
        datasets = multiscale.get("datasets") or []
        index = self._pick_level(len(datasets))
        self.levels = tuple(
            Level(
                index=i,
                name=str(d["path"]),
                size=spatial_size(opened[d["path"]].shape, _axes(multiscale)[0]),
                voxel_size=_voxel_size(multiscale, i),
            )
            for i, d in enumerate(datasets)
        )
        return self._with_axes(opened[datasets[index]["path"]], self._describe(multiscale, index))

    def _parent_image(self, zarr: Any) -> tuple[dict[str, Any], int] | None:
        """The OME-Zarr image this array is a level of, if any, and the level's index."""
        try:
            parent = zarr.open_group(str(self.path.parent), mode="r")
        except (OSError, ValueError, KeyError, TypeError):
            return None
        for multiscale in _multiscales(parent.attrs)[:1]:
            for i, dataset in enumerate(multiscale.get("datasets") or []):
                if str(dataset.get("path")).strip("/") == self.path.name:
                    return multiscale, i
        return None

    def _describe(self, multiscale: dict[str, Any], index: int) -> str | None:
        """Take the voxel size and offset of one level; return its axis letters."""
        names, sizes, units, offset = _geometry(multiscale, index)
        if sizes is not None and self._set_voxel_size(sizes, units, "the OME-Zarr metadata"):
            self.voxel_offset = offset
        return names


def _multiscales(attrs: Any) -> list[dict[str, Any]]:
    """The OME ``multiscales`` list: top-level in 0.4 and before, under ``ome`` from 0.5."""
    attrs = dict(attrs)
    ome = attrs.get("ome")
    found = ome.get("multiscales") if isinstance(ome, dict) else attrs.get("multiscales")
    return found if isinstance(found, list) else []


def _axis_letter(name: str, kind: str | None) -> str:
    letter = name.lower()
    if letter in AXIS_LETTERS:
        return letter
    return {"channel": "c", "time": "t"}.get(kind or "", "?")


def _axes(multiscale: dict[str, Any]) -> tuple[str | None, list[str | None]]:
    """The axis letters (``tczyx``, ``zyx``, ...) and each axis's unit."""
    axes = multiscale.get("axes")
    if axes is None:
        return OME_DEFAULT_AXES, [None] * len(OME_DEFAULT_AXES)
    letters: list[str] = []
    units: list[str | None] = []
    for axis in axes:
        if isinstance(axis, str):  # OME-NGFF 0.3: names only
            letters.append(_axis_letter(axis, None))
            units.append(None)
        else:
            letters.append(_axis_letter(str(axis.get("name", "")), axis.get("type")))
            units.append(axis.get("unit"))
    names = "".join(letters)
    return (names if len(set(names)) == len(names) and "?" not in names else None), units


def _transform(multiscale: dict[str, Any], index: int) -> tuple[list[float], list[float]] | None:
    """The level's scale and translation per axis: its own transformations, then the image's.

    None for transformations other than scale, translation and identity (rotations, affine).
    """
    dataset = (multiscale.get("datasets") or [])[index]
    transforms = [
        *(dataset.get("coordinateTransformations") or []),
        *(multiscale.get("coordinateTransformations") or []),
    ]
    rank = len(multiscale.get("axes") or OME_DEFAULT_AXES)
    scale, translation = [1.0] * rank, [0.0] * rank
    for transform in transforms:
        kind = transform.get("type")
        if kind == "scale" and _numbers(transform.get("scale"), rank):
            scale = [a * b for a, b in zip(scale, transform["scale"], strict=True)]
            translation = [a * b for a, b in zip(translation, transform["scale"], strict=True)]
        elif kind == "translation" and _numbers(transform.get("translation"), rank):
            translation = [
                a + b for a, b in zip(translation, transform["translation"], strict=True)
            ]
        elif kind != "identity":
            return None
    return scale, translation


def _numbers(values: Any, rank: int) -> bool:
    return (
        isinstance(values, Sequence)
        and len(values) == rank
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    )


def _geometry(multiscale: dict[str, Any], index: int) -> tuple[Any, Any, Any, Any]:
    """A level's axis letters, and if it has x, y and z: its voxel size (X, Y, Z) in the axes'
    units, those units, and its offset in whole voxels (or None)."""
    names, units = _axes(multiscale)
    transform = _transform(multiscale, index)
    if names is None or transform is None or not set("xyz") <= set(names):
        return names, None, None, None
    scale, translation = transform
    spatial = [i for i, a in enumerate(names) if a in "zyx"]
    space = "".join(names[i] for i in spatial)
    sizes = xyz([scale[i] for i in spatial], space)
    offsets = xyz([translation[i] for i in spatial], space)
    return names, sizes, xyz([units[i] for i in spatial], space), whole_voxels(offsets, sizes)


def _voxel_size(multiscale: dict[str, Any], index: int) -> tuple[float, float, float] | None:
    _, sizes, units, _ = _geometry(multiscale, index)
    return None if sizes is None else nanometres(sizes, units)  # type: ignore[return-value]


def _array_axes(array: Any) -> str | None:
    """Axis letters from zarr v3 ``dimension_names`` or xarray's ``_ARRAY_DIMENSIONS``."""
    names = getattr(getattr(array, "metadata", None), "dimension_names", None)
    if names is None:
        names = dict(array.attrs).get("_ARRAY_DIMENSIONS")
    if not names or not all(isinstance(n, str) for n in names):
        return None
    letters = "".join(_axis_letter(n, None) for n in names)
    return letters if len(set(letters)) == len(letters) and "?" not in letters else None


def _listing(path: Any, group: Any) -> list[str]:
    arrays = [f"{path / name}" for name in sorted(group.array_keys())]
    images = [
        f"{path / name} (OME-Zarr image)"
        for name in sorted(group.group_keys())
        if _multiscales(group[name].attrs)
    ]
    return arrays + images or ["(nothing: the group holds no arrays)"]
