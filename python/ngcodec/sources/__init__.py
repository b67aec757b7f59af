"""Open input files as lazily read array-likes, one module per format.

:func:`open_input` returns an :class:`InputArray`: it has ``shape``, ``dtype``, ``ndim`` and basic
slicing, reads only what a slice asks for, and pickles as its path (and options), so dask workers
can read the same file (on a shared file system) without the data passing through the client. It
also says what the file declares about its geometry: the axis order (``axes``), the voxel size in
nanometres (``voxel_size``) and the unit it was given in, the voxel offset, and, for an input that
is already a pyramid, its levels.

==========  ==================================================================================
format      input
==========  ==================================================================================
``npy``     a NumPy ``.npy`` file (memory-mapped)
``tiff``    a TIFF file, one series; ImageJ and OME metadata give the voxel size
``zarr``    a zarr v2 or v3 array, or an OME-Zarr multiscale group (``level``)
``slices``  a directory of 2-D TIFF, PNG or JPEG sections, one per z (``glob``)
``hdf5``    a dataset in an HDF5 file, ``file.h5:/path/to/dataset``
``nifti``   a NIfTI-1 or -2 file, ``.nii`` or ``.nii.gz``, indexed (x, y, z)
``n5``      an N5 dataset or multiscale group (``level``), read through tensorstore
==========  ==================================================================================

A new format is a module here with an :class:`InputArray` subclass, a line in ``_READERS`` and
one in :func:`detect_format`.
"""

from __future__ import annotations

import importlib
import math
import os
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "INPUT_FORMATS",
    "InputArray",
    "InputOptionError",
    "Level",
    "UnreadableInputError",
    "detect_format",
    "open_input",
]

_READERS = {
    "npy": "NpyInput",
    "tiff": "TiffInput",
    "zarr": "ZarrInput",
    "slices": "SliceDirectory",
    "hdf5": "Hdf5Input",
    "nifti": "NiftiInput",
    "n5": "N5Input",
}
"""Each format's reader class, in the module of the same name."""

INPUT_FORMATS = tuple(_READERS)

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
"""Files that a directory of slices holds (case-insensitive)."""

HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5")


class UnreadableInputError(ValueError):
    """Raised when an input file is missing, of an unknown format, or cannot be parsed."""


class InputOptionError(ValueError):
    """Raised for an option the input does not take, or a level it does not have: a bad argument,
    not an unreadable file."""


@dataclass(frozen=True)
class Level:
    """One level of an input that is already a pyramid; ``open_level(index)`` opens it."""

    index: int
    name: str
    """Where the level is within the input: its zarr array path (``1``) or N5 dataset (``s1``)."""
    size: tuple[int, int, int] | None
    """(X, Y, Z) in voxels, if the axes are known."""
    voxel_size: tuple[float, float, float] | None
    """(X, Y, Z) in nanometres."""


def detect_format(path: Path) -> str:
    """The format of an existing path, from its name, or for a directory, from what it holds."""
    suffix = path.suffix.lower()
    name = path.name.lower()
    if suffix == ".npy":
        return "npy"
    if suffix in (".tif", ".tiff"):
        return "tiff"
    if suffix in HDF5_SUFFIXES:
        return "hdf5"
    if name.endswith((".nii", ".nii.gz")):
        return "nifti"
    if path.is_dir():
        if any((path / marker).exists() for marker in (".zarray", "zarr.json", ".zgroup")):
            return "zarr"
        if (path / "attributes.json").exists() or path.suffix.lower() == ".n5":
            return "n5"
        if any(part.lower().endswith(".zarr") for part in path.parts):
            return "zarr"
        if any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir() if p.is_file()):
            return "slices"
    raise UnreadableInputError(
        f"cannot tell the format of {path}: expected a .npy, .tif/.tiff, .h5/.hdf5, .nii/.nii.gz "
        "file, a zarr or N5 directory, or a directory of .tif/.png/.jpg slices"
    )


def _split_inner_path(path: str | os.PathLike[str]) -> tuple[Path, str | None]:
    """``file.h5:/volumes/labels`` -> (``file.h5``, ``/volumes/labels``); other paths unchanged."""
    text = os.fspath(path)
    if Path(text).exists():
        return Path(text), None
    start = 0
    while (colon := text.find(":", start)) > 0:
        if Path(text[:colon]).is_file():
            return Path(text[:colon]), text[colon + 1 :]
        start = colon + 1
    return Path(text), None


def open_input(
    path: str | os.PathLike[str], format: str | None = None, **options: Any
) -> InputArray:
    """Open an input lazily; see :class:`InputArray`.

    :param path: the file or directory; ``file.h5:/path/to/dataset`` names a dataset in an HDF5
        file
    :param format: one of :data:`INPUT_FORMATS` (default: from the path)
    :param options: the format's options: ``level`` (zarr, n5: the pyramid level, default 0),
        ``glob`` (slices: which files, e.g. ``"*.png"``), ``dataset`` (hdf5)
    :raises UnreadableInputError: if the path is missing, of an unknown format or unreadable
    :raises InputOptionError: if an option does not apply to the format, or a level does not
        exist
    """
    path, inner = _split_inner_path(path)
    if inner is not None:
        options = {**options, "dataset": inner}
    if not path.exists():
        raise UnreadableInputError(f"{path} does not exist")
    format = format or detect_format(path)
    if format not in _READERS:
        raise UnreadableInputError(
            f"unknown input format {format!r}; one of: {', '.join(INPUT_FORMATS)}"
        )
    module = importlib.import_module(f"{__name__}.{format}")
    reader: type[InputArray] = getattr(module, _READERS[format])
    return reader(path, **options)


READ_ERRORS = (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError, zlib.error)
"""What the format libraries raise for a file they cannot read."""
_OUR_ERRORS = (UnreadableInputError, InputOptionError)


def _reopen(path: str, format: str, options: dict[str, Any]) -> InputArray:
    return open_input(path, format, **options)


class InputArray:
    """A lazily opened input with array-like slicing: the base of every format's reader.

    A subclass sets :attr:`format` and implements :meth:`_open`, which returns an object with
    ``shape``, ``dtype`` and basic slicing, and sets the geometry attributes the file declares.

    :param path: the file or directory
    :param options: the format's options (see :func:`open_input`)
    """

    format: ClassVar[str]
    option_names: ClassVar[tuple[str, ...]] = ()
    """The options the format takes."""
    extra: ClassVar[str] = "convert"
    """The ngcodec extra that installs the format's library."""

    def __init__(self, path: str | os.PathLike[str], **options: Any) -> None:
        self._array: Any = None
        self._closer: Any = None
        if type(self) is InputArray:
            raise TypeError("InputArray is the base of the format readers; use open_input(path)")
        self.path = Path(path)
        for name in options:
            if name not in self.option_names:
                raise InputOptionError(
                    f"{name} does not apply to {self.format} input {self.path}"
                    + (
                        f" (its options: {', '.join(self.option_names)})"
                        if self.option_names
                        else ""
                    )
                )
        self.options = {name: value for name, value in options.items() if value is not None}
        self.axes: str | None = None
        """The axis order the file declares, as :class:`~ngcodec.volume.AxisOrderView` takes it
        (``zyx``, ``xyz``, ``czyx``, ``zyxc``, ...), or None for the default (Z, Y, X) order."""
        self.voxel_size: tuple[float, float, float] | None = None
        """The voxel size (X, Y, Z) in nanometres, if the file declares it."""
        self.voxel_unit: str | None = None
        """The unit the file gives the voxel size in, as written there (``mm``, ``micrometer``)."""
        self.voxel_offset: tuple[int, int, int] | None = None
        """Global coordinates (X, Y, Z) of the first voxel, if the file declares them."""
        self.metadata_source: str | None = None
        """Where the voxel size and offset come from, e.g. ``the NIfTI header``."""
        self.levels: tuple[Level, ...] = ()
        """The levels of an input that is already a pyramid, finest first; empty otherwise."""
        array = self._open_once()
        self.shape = tuple(int(n) for n in array.shape)
        self.dtype = np.dtype(array.dtype)
        self.ndim = len(self.shape)
        if self.dtype.kind not in "biuf":
            self.close()
            raise UnreadableInputError(
                f"{self.path}: data type {self.dtype} is not supported; volumes hold integers "
                "or floating-point numbers"
            )

    def _open(self) -> Any:
        """The array-like to slice; called again after :meth:`close`."""
        raise NotImplementedError

    def __repr__(self) -> str:
        options = "".join(f", {name}={value!r}" for name, value in self.options.items())
        return f"{type(self).__name__}({str(self.path)!r}{options})"

    def __reduce__(self) -> tuple[Any, ...]:
        return _reopen, (str(self.path), self.format, self.options)

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        """The same input, unchanged, gives the same dask key."""
        return (
            type(self).__name__,
            str(self.path.resolve()),
            sorted(self.options.items()),
            self._modification_token(),
        )

    def _modification_token(self) -> Any:
        return self.path.stat().st_mtime_ns

    def __getitem__(self, key: Any) -> np.ndarray:
        array = self._open_once()
        try:
            return np.asarray(array[key])
        except _OUR_ERRORS:
            raise
        except READ_ERRORS as exc:
            raise UnreadableInputError(f"cannot read {self.path}: {exc}") from exc

    def __enter__(self) -> InputArray:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release open files; the array reopens them if sliced again."""
        closer, self._closer, self._array = self._closer, None, None
        if closer is not None:
            closer.close()

    def __del__(self) -> None:
        # Copies on dask workers are never closed explicitly.
        self.close()

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def open_level(self, index: int) -> InputArray:
        """Another level of a pyramid input (see :attr:`levels`), with the same options."""
        return open_input(self.path, self.format, **{**self.options, "level": index})

    def _open_once(self) -> Any:
        if self._array is None:
            try:
                self._array = self._open()
            except BaseException as exc:
                self.close()  # whatever _open had opened before it failed
                if isinstance(exc, ImportError):
                    raise UnreadableInputError(
                        f"reading {self.format} input needs {exc.name}: "
                        f"pip install 'ngcodec[{self.extra}]'"
                    ) from exc
                if isinstance(exc, READ_ERRORS) and not isinstance(exc, _OUR_ERRORS):
                    raise UnreadableInputError(f"cannot read {self.path}: {exc}") from exc
                raise
        return self._array

    def _set_voxel_size(
        self, sizes: Sequence[Any], units: str | Sequence[str | None] | None, source: str
    ) -> bool:
        """Take a voxel size (X, Y, Z) in the given unit(s), if they are lengths; say if taken."""
        voxel_size = nanometres(sizes, units)
        if voxel_size is None:
            return False
        x, y, z = voxel_size
        self.voxel_size = (x, y, z)
        if units is None or isinstance(units, str):
            self.voxel_unit = units
        else:
            self.voxel_unit = units[0] if len(set(units)) == 1 else ",".join(map(str, units))
        self.metadata_source = source
        return True

    def _with_axes(self, array: Any, names: str | None) -> Any:
        """The array without its non-spatial axes of length 1, and :attr:`axes` set, when
        ``names`` (a letter per axis: ``tczyx``, ``xyz``, ...) gives an order the writer takes."""
        if names is None or len(names) != len(array.shape):
            return array
        view = DropSingletonAxes(array, names, self.path)
        if sorted(view.axes) not in (sorted("zyx"), sorted("czyx")):
            return array
        self.axes = view.axes
        return view if view.axes != names else array

    def _pick_level(self, count: int) -> int:
        """The ``level`` option checked against a pyramid of ``count`` levels (default 0)."""
        level = self.options.get("level", 0)
        if isinstance(level, bool) or not isinstance(level, (int, np.integer)):
            raise InputOptionError(f"level must be an integer, got {level!r}")
        if not 0 <= level < count:
            raise InputOptionError(
                f"{self.path} has levels 0 to {count - 1}; there is no level {level}"
            )
        return int(level)


# ---------------------------------------------------------------------------------------------
# Helpers the format modules share

NANOMETRES_PER_UNIT = {
    unit: factor
    for names, factor in (
        (("pm", "picometer", "picometre"), 1e-3),
        (("angstrom", "å", "a"), 0.1),
        (("nm", "nanometer", "nanometre"), 1.0),
        (("um", "µm", "μm", "\\u00b5m", "micron", "micrometer", "micrometre"), 1e3),
        (("mm", "millimeter", "millimetre"), 1e6),
        (("cm", "centimeter", "centimetre"), 1e7),
        (("m", "meter", "metre"), 1e9),
    )
    for unit in names
}
"""Length units as NIfTI, OME (UDUNITS-2 names), N5, ImageJ and OME-TIFF write them."""


def nanometres(
    values: Iterable[float], units: str | Sequence[str | None] | None
) -> tuple[float, ...] | None:
    """Lengths as nanometres, from one unit for all or one per value; None if a unit is not a known
    length or a value is not positive.

    Rounded to 6 significant digits: NIfTI stores sizes as float32 (0.004 mm is 4000.00019 nm
    there), and decimal micrometres are rarely exact in binary.
    """
    values = list(values)
    if units is None or isinstance(units, str):
        units = [units] * len(values)
    result = []
    for value, unit in zip(values, units, strict=True):
        factor = NANOMETRES_PER_UNIT.get((unit or "").strip().lower())
        try:
            nm = float(value) * factor if factor is not None else math.nan
        except (TypeError, ValueError):
            return None
        if not (math.isfinite(nm) and nm > 0):
            return None
        result.append(float(f"{nm:.6g}"))
    return tuple(result)


def xyz(values: Sequence[Any], axes: str) -> tuple[Any, Any, Any]:
    """The x, y and z entries of per-axis values listed in ``axes`` order."""
    by_axis = dict(zip(axes, values, strict=True))
    return by_axis["x"], by_axis["y"], by_axis["z"]


def spatial_size(shape: Sequence[int], names: str | None) -> tuple[int, int, int] | None:
    """(X, Y, Z) of a shape whose axes are ``names``, or None if those are not known."""
    if names is None or len(names) != len(shape) or not set("xyz") <= set(names):
        return None
    return xyz([int(n) for n in shape], names)


def whole_voxels(
    translation: Sequence[float], voxel_size: Sequence[float]
) -> tuple[int, int, int] | None:
    """A translation (X, Y, Z) in whole voxels, or None unless it is one (within a thousandth)."""
    if not all(s > 0 for s in voxel_size):
        return None
    voxels = [t / s for t, s in zip(translation, voxel_size, strict=True)]
    x, y, z = (round(v) for v in voxels)
    if all(abs(v - r) < 1e-3 for v, r in zip(voxels, (x, y, z), strict=True)):
        return x, y, z
    return None


SPATIAL_AXES = "czyx"


class DropSingletonAxes:
    """A view of an array without its non-spatial axes (time, ...), each of which must be 1 long.

    OME-Zarr images are often (T, C, Z, Y, X) with a single time point; the writer wants only
    channels and space.
    """

    def __init__(self, array: Any, axes: str, where: Path) -> None:
        self.array = array
        self.kept = [i for i, a in enumerate(axes) if a in SPATIAL_AXES]
        for i, a in enumerate(axes):
            if a not in SPATIAL_AXES and array.shape[i] != 1:
                raise UnreadableInputError(
                    f"{where} has a {a!r} axis of length {array.shape[i]}; only one point along "
                    f"axes other than {', '.join(SPATIAL_AXES)} can be converted"
                )
        self.axes = "".join(axes[i] for i in self.kept)
        self.shape = tuple(array.shape[i] for i in self.kept)
        self.dtype = array.dtype
        self.ndim = len(self.shape)

    def __getitem__(self, key: Any) -> Any:
        if not isinstance(key, tuple):
            key = (key,)
        key = key + (slice(None),) * (self.ndim - len(key))
        full: list[Any] = [0] * len(self.array.shape)
        for i, k in zip(self.kept, key, strict=True):
            full[i] = k
        return self.array[tuple(full)]
