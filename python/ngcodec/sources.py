"""Open input files as lazily read array-likes: NumPy ``.npy``, TIFF stacks and zarr arrays.

:func:`open_input` returns an :class:`InputArray`: it has ``shape``, ``dtype``, ``ndim`` and basic
slicing, reads only what a slice asks for, and pickles as its path, so dask workers can read the
same file (on a shared file system) without the data passing through the client.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["INPUT_FORMATS", "InputArray", "UnreadableInputError", "open_input"]

INPUT_FORMATS = ("npy", "tiff", "zarr")


class UnreadableInputError(ValueError):
    """Raised when an input file is missing, of an unknown format, or cannot be parsed."""


def detect_format(path: Path) -> str:
    """``npy``, ``tiff`` or ``zarr`` from the path (a zarr array is a directory)."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return "npy"
    if suffix in (".tif", ".tiff"):
        return "tiff"
    if path.is_dir() and any(
        (path / marker).exists() for marker in (".zarray", "zarr.json", ".zgroup")
    ):
        return "zarr"
    if suffix == ".zarr" or any(part.endswith(".zarr") for part in path.parts):
        return "zarr"
    raise UnreadableInputError(
        f"cannot tell the format of {path}: expected a .npy file, a .tif/.tiff file or a zarr array"
    )


class InputArray:
    """A lazily opened input file with array-like slicing.

    :param path: the file (or zarr directory)
    :param format: ``npy``, ``tiff`` or ``zarr`` (default: from the path)
    """

    def __init__(self, path: str | os.PathLike[str], format: str | None = None) -> None:
        self._array: Any = None
        self._closer: Any = None
        self.path = Path(path)
        if not self.path.exists():
            raise UnreadableInputError(f"{self.path} does not exist")
        self.format = format or detect_format(self.path)
        if self.format not in INPUT_FORMATS:
            raise UnreadableInputError(f"unknown input format {self.format!r}")
        self.axes: str | None = None
        """The axis order the file declares (TIFF only), as :class:`~ngcodec.volume.AxisOrderView`
        takes it."""
        array = self._open()
        self.shape = tuple(int(n) for n in array.shape)
        self.dtype = np.dtype(array.dtype)
        self.ndim = len(self.shape)

    def __repr__(self) -> str:
        return f"InputArray({str(self.path)!r}, format={self.format!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path), "format": self.format}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["format"])  # type: ignore[misc]

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        """The same file, unchanged, gives the same dask key."""
        stat = self.path.stat()
        return (type(self).__name__, str(self.path.resolve()), self.format, stat.st_mtime_ns)

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.asarray(self._open()[key])

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

    def _open(self) -> Any:
        if self._array is None:
            try:
                self._array = getattr(self, f"_open_{self.format}")()
            except UnreadableInputError:
                raise
            except ImportError as exc:
                raise UnreadableInputError(
                    f"reading {self.format} input needs {exc.name}: pip install 'ngcodec[convert]'"
                ) from exc
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise UnreadableInputError(f"cannot read {self.path}: {exc}") from exc
        return self._array

    def _open_npy(self) -> Any:
        return np.load(self.path, mmap_mode="r", allow_pickle=False)

    def _open_tiff(self) -> Any:
        import tifffile

        with tifffile.TiffFile(self.path) as tif:
            series = tif.series[0]
            # TIFF axis letters: Z (or I, Q: an unnamed stack) is depth; C and S (samples) are
            # channels. Other layouts (time series, ...) fall back to the default order.
            axes = "".join({"Q": "z", "I": "z", "S": "c"}.get(a, a.lower()) for a in series.axes)
            if sorted(axes) in (sorted("zyx"), sorted("czyx")):
                self.axes = axes
            offset = series.dataoffset  # None unless the data is one contiguous, plain run
            if offset is not None:
                return np.memmap(
                    self.path,
                    dtype=series.dtype.newbyteorder(tif.byteorder),
                    mode="r",
                    offset=int(offset),
                    shape=tuple(series.shape),
                )
        # Compressed or tiled: tifffile's zarr store decodes only the pages a slice touches.
        import zarr

        store = tifffile.imread(self.path, aszarr=True)
        self._closer = store
        return zarr.open(store, mode="r")

    def _open_zarr(self) -> Any:
        import zarr

        opened = zarr.open(str(self.path), mode="r")
        if not hasattr(opened, "shape"):
            arrays = sorted(name for name, _ in opened.arrays())
            raise UnreadableInputError(
                f"{self.path} is a zarr group, not an array; give the array's path, one of: "
                + ", ".join(str(self.path / name) for name in arrays)
            )
        return opened


def open_input(path: str | os.PathLike[str], format: str | None = None) -> InputArray:
    """Open an input file lazily; see :class:`InputArray`.

    :raises UnreadableInputError: if the file is missing, of an unknown format or unreadable
    """
    return InputArray(path, format)
