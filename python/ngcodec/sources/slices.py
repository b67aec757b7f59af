"""A directory of 2-D sections, one image file per z, as EM and light-sheet pipelines export them.

Files are taken in natural order (``z2`` before ``z10``): every ``.tif``/``.tiff``/``.png``/
``.jpg``/``.jpeg`` file, or those matching the ``glob`` option. Every file's header is read when
the directory is opened, so that a slice of another size or data type is named before any work;
RGB(A) slices give 3 (4) channels. A slice of the volume reads only the files in its z range, one
at a time, so memory stays at about the slab asked for. TIFF files are read with tifffile, the
others with Pillow.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ngcodec.sources import IMAGE_SUFFIXES, InputArray, InputOptionError, UnreadableInputError

TIFF_SUFFIXES = (".tif", ".tiff")

PIL_MODES = {
    "1": ("bool", 1),
    "L": ("uint8", 1),
    "P": ("uint8", 1),  # palette indices, as labels are often stored
    "LA": ("uint8", 2),
    "RGB": ("uint8", 3),
    "RGBA": ("uint8", 4),
    "I;16": ("uint16", 1),
    "I;16L": ("uint16", 1),
    "I;16B": ("uint16", 1),
    "I": ("int32", 1),
    "F": ("float32", 1),
}
"""Pillow image modes as NumPy arrays: data type and channels."""


def natural_key(name: str) -> tuple[list[Any], str]:
    """Sort key that orders the numbers in names by value: ``z2`` before ``z10``."""
    parts = re.split(r"(\d+)", name)
    return [int(p) if i % 2 else p.lower() for i, p in enumerate(parts)], name


class SliceShape(NamedTuple):
    """What one slice holds: (Y, X) or (Y, X, C), and the data type."""

    shape: tuple[int, ...]
    dtype: np.dtype[Any]

    def __str__(self) -> str:
        y, x, *channels = self.shape
        return f"{x}x{y} {self.dtype}" + (f" with {channels[0]} channels" if channels else "")


class SliceDirectory(InputArray):
    """Sections in a directory as a (Z, Y, X) or (Z, Y, X, C) volume."""

    format = "slices"
    option_names = ("glob",)

    def _open(self) -> Any:
        files = self._find_files()
        first = _probe(files[0])
        for z, path in enumerate(files):
            found = _probe(path) if z else first
            if found != first:
                raise UnreadableInputError(
                    f"{path}: slice {z} is {found}, but the first slice ({files[0].name}) is "
                    f"{first}; all slices must have the same size and data type"
                )
        self.files = files
        self.axes = "zyxc" if len(first.shape) == 3 else "zyx"
        return SliceStack(files, first)

    def _find_files(self) -> list[Path]:
        if not self.path.is_dir():
            raise UnreadableInputError(f"{self.path} is not a directory of slices")
        pattern = self.options.get("glob")
        if pattern is None:
            found = [p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
        else:
            found = list(self.path.glob(pattern))
        files = sorted((p for p in found if p.is_file()), key=lambda p: natural_key(p.name))
        if not files:
            if pattern is not None:
                raise InputOptionError(f"no file in {self.path} matches {pattern!r}")
            raise UnreadableInputError(
                f"{self.path} holds no {', '.join(IMAGE_SUFFIXES)} files to read as slices"
            )
        return files

    def _modification_token(self) -> Any:
        return [(p.name, p.stat().st_mtime_ns) for p in self.files]


class SliceStack:
    """The slices as a lazily read array: a slice reads the files of its z range only."""

    def __init__(self, files: list[Path], slice_shape: SliceShape) -> None:
        self.files = files
        self.slice_shape = slice_shape
        self.shape = (len(files), *slice_shape.shape)
        self.dtype = slice_shape.dtype

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, tuple):
            key = (key,)
        z, within = key[0], key[1:]
        if not isinstance(z, slice):
            return self._read(int(z))[within]
        indices = range(*z.indices(len(self.files)))
        out = np.empty(
            (len(indices), *np.empty(self.slice_shape.shape, np.uint8)[within].shape), self.dtype
        )
        for i, index in enumerate(indices):
            out[i] = self._read(index)[within]
        return out

    def _read(self, z: int) -> np.ndarray:
        path = self.files[z]
        image = _read_image(path)
        found = SliceShape(image.shape, image.dtype.newbyteorder("="))
        if found != self.slice_shape:
            raise UnreadableInputError(
                f"{path}: slice {z} decodes to {found}, but its header said {self.slice_shape}"
            )
        return image


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Any failure of the image libraries on a bad file, as an error naming the file."""
    try:
        yield
    except (UnreadableInputError, ImportError, MemoryError):
        raise
    except Exception as exc:
        raise UnreadableInputError(f"cannot read {path}: {exc}") from exc


def _probe(path: Path) -> SliceShape:
    """A slice's shape and data type, from its header only."""
    with _reading(path):
        if path.suffix.lower() in TIFF_SUFFIXES:
            import tifffile

            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                if series.axes not in ("YX", "YXS"):
                    raise UnreadableInputError(
                        f"{path} is not a 2-D image (its axes are {series.axes})"
                    )
                return SliceShape(tuple(series.shape), np.dtype(series.dtype))
        from PIL import Image

        with Image.open(path) as image:
            if image.mode not in PIL_MODES:
                raise UnreadableInputError(f"{path}: image mode {image.mode} is not supported")
            dtype, channels = PIL_MODES[image.mode]
            width, height = image.size
            shape = (height, width) if channels == 1 else (height, width, channels)
            return SliceShape(shape, np.dtype(dtype))


def _read_image(path: Path) -> np.ndarray:
    with _reading(path):
        if path.suffix.lower() in TIFF_SUFFIXES:
            import tifffile

            return np.asarray(tifffile.imread(path))
        from PIL import Image

        with Image.open(path) as image:
            return np.asarray(image)
