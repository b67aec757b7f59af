"""N5 datasets and multiscale groups, read through tensorstore's ``n5`` driver.

N5 lists ``dimensions`` x first, so :attr:`axes` is ``xyz`` unless the ``axes`` attribute names
the dimensions (``["x", "y", "z", "c"]``). Attributes are inherited from the directories above, as
Neuroglancer reads them. The voxel size is ``resolution`` in ``units`` (nanometres when not given)
or n5-viewer's ``pixelResolution`` (``{"unit": "um", "dimensions": [...]}``), times the level's
downsampling factors. A group whose datasets are ``s0``, ``s1``, ... (with ``downsamplingFactors``
or ``scales``, as n5-viewer, BigDataViewer and Neuroglancer write them) is a pyramid: it opens at
``s0``, or at the ``level`` option.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ngcodec.sources import (
    InputArray,
    InputOptionError,
    Level,
    UnreadableInputError,
    nanometres,
    spatial_size,
    xyz,
)

DEFAULT_AXES = "xyztc"
"""Neuroglancer's names for unnamed N5 dimensions."""
DEFAULT_UNIT = "nm"
MAX_LISTED = 20


class N5Input(InputArray):
    """An N5 dataset, or one level of an N5 pyramid."""

    format = "n5"
    option_names = ("level",)
    extra = "n5"

    def _open(self) -> Any:
        import tensorstore as ts

        own = _read_attributes(self.path)
        if "dimensions" in own:
            if "level" in self.options:
                raise InputOptionError(
                    f"{self.path} is an N5 dataset; level applies to multiscale groups (s0, s1, …)"
                )
            dataset, factors = self.path, _own_factors(self.path, own)
        else:
            levels = _pyramid(self.path, own)
            if not levels:
                raise UnreadableInputError(
                    f"{self.path} is an N5 group, not a dataset or a pyramid (s0, s1, ...); give "
                    "the path of one of: " + ", ".join(_listing(self.path))
                )
            self.levels = tuple(
                _level(i, path, level_factors) for i, (path, level_factors) in enumerate(levels)
            )
            dataset, factors = levels[self._pick_level(len(levels))]
        attributes = _inherited_attributes(dataset)
        geometry = _geometry(attributes, factors)
        if geometry is not None:
            self._set_voxel_size(*geometry, "the N5 attributes")
        store = ts.open(
            {"driver": "n5", "kvstore": {"driver": "file", "path": str(dataset)}}, read=True
        ).result()
        array = TensorStoreArray(store)
        return self._with_axes(array, _axis_letters(attributes, len(array.shape)))


class TensorStoreArray:
    """A tensorstore as an array-like: NumPy's slicing rules, each read waited for."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.shape = tuple(int(n) for n in store.shape)
        self.dtype = np.dtype(store.dtype.numpy_dtype)

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, tuple):
            key = (key,)
        # tensorstore refuses bounds outside the domain, where NumPy clips them.
        clipped = tuple(
            slice(*k.indices(n)) if isinstance(k, slice) else k
            for k, n in zip(key, self.shape, strict=False)
        )
        return np.asarray(self.store[clipped].read().result())


def _read_attributes(directory: Path) -> dict[str, Any]:
    path = directory / "attributes.json"
    if not path.exists():
        return {}
    attributes = json.loads(path.read_text())
    if not isinstance(attributes, dict):
        raise UnreadableInputError(f"{path} does not hold a JSON object")
    return attributes


def _inherited_attributes(dataset: Path) -> dict[str, Any]:
    """The dataset's attributes over those of its groups, up to the N5 root."""
    chain = []
    directory = dataset
    while (directory / "attributes.json").exists():
        attributes = _read_attributes(directory)
        chain.append(attributes)
        if "n5" in attributes or directory.parent == directory:
            break
        directory = directory.parent
    merged: dict[str, Any] = {}
    for attributes in reversed(chain):
        merged.update(attributes)
    return merged


def _pyramid(group: Path, attributes: dict[str, Any]) -> list[tuple[Path, Any]]:
    """The datasets ``s0``, ``s1``, ... of a multiscale group, with each one's factors."""
    factors = attributes.get("downsamplingFactors") or attributes.get("scales")
    levels: list[tuple[Path, Any]] = []
    while "dimensions" in (own := _read_attributes(group / f"s{len(levels)}")):
        i = len(levels)
        if isinstance(factors, list) and i < len(factors):
            levels.append((group / f"s{i}", factors[i]))
        else:
            levels.append((group / f"s{i}", own.get("downsamplingFactors")))
    return levels


def _own_factors(dataset: Path, attributes: dict[str, Any]) -> Any:
    """A dataset's downsampling factors: its own, or its pyramid's if it is one of its levels."""
    for path, factors in _pyramid(dataset.parent, _read_attributes(dataset.parent)):
        if path.name == dataset.name:
            return factors
    return attributes.get("downsamplingFactors")


def _level(index: int, dataset: Path, factors: Any) -> Level:
    attributes = _inherited_attributes(dataset)
    return Level(
        index=index,
        name=dataset.name,
        size=spatial_size(
            attributes["dimensions"], _axis_letters(attributes, len(attributes["dimensions"]))
        ),
        voxel_size=_voxel_size(attributes, factors),
    )


def _geometry(attributes: dict[str, Any], factors: Any) -> tuple[Any, Any] | None:
    """The voxel size (X, Y, Z) in the declared units, and those units, if declared."""
    rank = len(attributes.get("dimensions", ()))
    if isinstance(attributes.get("pixelResolution"), dict):
        resolution = attributes["pixelResolution"].get("dimensions")
        units: Any = [attributes["pixelResolution"].get("unit")] * rank
    else:
        resolution = attributes.get("resolution")
        units = attributes.get("units") or [DEFAULT_UNIT] * rank
    names = _axis_letters(attributes, rank)
    if (
        names is None
        or not set("xyz") <= set(names)
        or not isinstance(resolution, list)
        or not isinstance(units, list)
        or not len(resolution) == len(units) == rank
    ):
        return None
    if not (isinstance(factors, list) and len(factors) == rank):
        factors = [1] * rank
    try:
        sizes = [float(r) * float(f) for r, f in zip(resolution, factors, strict=True)]
    except (TypeError, ValueError):
        return None
    return xyz(sizes, names), xyz(units, names)


def _voxel_size(attributes: dict[str, Any], factors: Any) -> tuple[float, float, float] | None:
    geometry = _geometry(attributes, factors)
    return None if geometry is None else nanometres(*geometry)  # type: ignore[return-value]


def _axis_letters(attributes: dict[str, Any], rank: int) -> str | None:
    names = attributes.get("axes")
    if names is None:
        return DEFAULT_AXES[:rank] if rank <= len(DEFAULT_AXES) else None
    if not isinstance(names, list) or len(names) != rank:
        return None
    letters = "".join(str(n).lower() for n in names)
    if len(letters) != rank or len(set(letters)) != rank or not set(letters) <= set(DEFAULT_AXES):
        return None
    return letters


def _listing(group: Path) -> list[str]:
    """The pyramids and the datasets outside them under a group."""
    found = []
    for path in sorted(p.parent for p in group.rglob("attributes.json")):
        if _pyramid(path, _read_attributes(path)):
            found.append(f"{path} (pyramid)")
        elif "dimensions" in _read_attributes(path) and not _pyramid(path.parent, {}):
            found.append(str(path))
    return found[:MAX_LISTED] or ["(nothing: the group holds no datasets)"]
