"""Write arrays to Neuroglancer precomputed datasets on a file system, and read them back.

A dataset is a directory holding an ``info`` JSON file and, for each scale, a directory named after
the scale's ``key`` whose files are chunks named ``x0-x1_y0-y1_z0-z1`` (global voxel coordinates,
ends exclusive; chunks at the upper edges are truncated to the volume). A chunk may also be stored
gzip-compressed under the same name plus ``.gz``, the convention of neuroglancer-scripts and
CloudVolume: a web server sends such a file for the plain name with ``Content-Encoding: gzip``.

Arrays are (C, Z, Y, X) or (Z, Y, X), as for :mod:`ngcodec.chunk_encoding`; sizes, offsets,
resolutions and bounding boxes are (X, Y, Z), as in the ``info`` file and chunk names.

:func:`write_volume` converts any array-like that supports slicing (NumPy arrays and memmaps, zarr,
h5py, dask) one slab of chunks at a time, encodes chunks in a thread pool, writes each chunk
atomically and skips chunks already written, so that an interrupted job resumes where it stopped.
:func:`read_volume` reads any bounding box back into an array and :func:`verify_volume` decodes
every chunk. :mod:`ngcodec.distributed` writes dask arrays with one task per group of chunks.
"""

from __future__ import annotations

import concurrent.futures
import json
import math
import os
import re
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ngcodec import chunk_encoding
from ngcodec.chunk_encoding import (
    NEUROGLANCER_DATA_TYPES,
    ChunkEncoder,
    InvalidFormatError,
    InvalidInfoError,
    get_encoder,
)

__all__ = [
    "DEFAULT_MAX_SLAB_BYTES",
    "ENCODINGS",
    "Box",
    "ChunkError",
    "DatasetExistsError",
    "MissingChunkError",
    "PrecomputedVolume",
    "UnrepresentableValuesError",
    "VerifyReport",
    "WriteStats",
    "make_info",
    "read_volume",
    "verify_volume",
    "write_block",
    "write_volume",
]

ENCODINGS: tuple[str, ...] = ("raw", "compressed_segmentation", "jpeg") + (
    ("png",) if hasattr(chunk_encoding, "PngChunkEncoder") else ()
)
"""The encodings :func:`write_volume` writes: every one :func:`get_encoder` knows."""

GZIP_ENCODINGS = ("raw", "compressed_segmentation")
"""Encodings whose chunks are gzipped when asked; JPEG data does not shrink further."""

DEFAULT_GZIP_LEVEL = 6
"""zlib's own default: within a few percent of level 9 on chunk data, several times faster."""

DEFAULT_MAX_SLAB_BYTES = 256 * 2**20
"""Upper bound on the bytes of input one slab of chunks holds (at least one chunk is read)."""

GZIP_SUFFIX = ".gz"
TEMP_SUFFIX = ".tmp"
_CHUNK_NAME = re.compile(r"^(\d+)-(\d+)_(\d+)-(\d+)_(\d+)-(\d+)$")

Vec3 = tuple[int, int, int]
ProgressCallback = Callable[[int], None]
"""Called with a number of chunks just finished (written, skipped or verified)."""


class DatasetExistsError(ValueError):
    """Raised when the output holds a dataset whose info differs from the one to write."""


class UnrepresentableValuesError(ValueError):
    """Raised when input values do not fit the dataset's data type."""


class ChunkError(ValueError):
    """Raised when a chunk file cannot be read or decoded; names the chunk."""


class MissingChunkError(ChunkError):
    """Raised when a chunk file that the volume needs is absent."""


def _vec3(value: Any, name: str, *, minimum: int | None = None) -> Vec3:
    """Three integers (X, Y, Z) from a sequence of three or a single number, checked."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        items: list[Any] = [value] * 3
    else:
        try:
            items = list(value)
        except TypeError:
            items = []
    if len(items) != 3 or any(
        isinstance(n, bool) or not isinstance(n, (int, np.integer)) for n in items
    ):
        raise ValueError(f"{name} must be three integers (X, Y, Z), got {value!r}")
    vec = (int(items[0]), int(items[1]), int(items[2]))
    if minimum is not None and min(vec) < minimum:
        raise ValueError(f"{name} must be at least {minimum} on every axis, got {list(vec)}")
    return vec


def _resolution(value: Any) -> list[float | int]:
    """Three positive numbers (X, Y, Z), kept as given (integers stay integers in the info)."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        value = [value] * 3
    try:
        items = list(value)
    except TypeError:
        items = []
    if len(items) != 3 or not all(
        isinstance(r, (int, float, np.integer, np.floating)) and not isinstance(r, bool)
        for r in items
    ):
        raise ValueError(f"resolution must be three numbers (X, Y, Z), got {value!r}")
    numbers = [int(r) if isinstance(r, (int, np.integer)) else float(r) for r in items]
    if not all(math.isfinite(r) and r > 0 for r in numbers):
        raise ValueError(f"resolution must be positive and finite, got {numbers}")
    return numbers


def _format_resolution(resolution: Sequence[float | int]) -> str:
    return "_".join(format(r, "g") for r in resolution)


@dataclass(frozen=True)
class Box:
    """A box of voxels, ``start`` inclusive and ``stop`` exclusive, in (X, Y, Z) coordinates."""

    start: Vec3
    stop: Vec3

    @property
    def size(self) -> Vec3:
        """The extent (X, Y, Z)."""
        return (
            self.stop[0] - self.start[0],
            self.stop[1] - self.start[1],
            self.stop[2] - self.start[2],
        )

    @property
    def name(self) -> str:
        """The chunk file name ``x0-x1_y0-y1_z0-z1``."""
        return "_".join(f"{a}-{b}" for a, b in zip(self.start, self.stop, strict=True))

    @property
    def num_voxels(self) -> int:
        x, y, z = self.size
        return x * y * z

    def is_empty(self) -> bool:
        return min(self.size) <= 0

    def intersection(self, other: Box) -> Box:
        start = tuple(max(a, b) for a, b in zip(self.start, other.start, strict=True))
        stop = tuple(min(a, b) for a, b in zip(self.stop, other.stop, strict=True))
        return Box(start, stop)  # type: ignore[arg-type]

    def slices_within(self, outer: Box) -> tuple[slice, slice, slice]:
        """Slices (Z, Y, X) that cut this box out of an array covering ``outer``."""
        x, y, z = (
            slice(a - o, b - o) for a, b, o in zip(self.start, self.stop, outer.start, strict=True)
        )
        return (z, y, x)

    @classmethod
    def parse(cls, name: str) -> Box:
        """The box of a chunk file name ``x0-x1_y0-y1_z0-z1`` (``.gz`` allowed)."""
        match = _CHUNK_NAME.match(name.removesuffix(GZIP_SUFFIX))
        if match is None:
            raise ValueError(f"{name!r} is not a chunk name of the form x0-x1_y0-y1_z0-z1")
        v = [int(g) for g in match.groups()]
        return cls((v[0], v[2], v[4]), (v[1], v[3], v[5]))


def make_info(
    *,
    data_type: Any,
    num_channels: int,
    size: Sequence[int],
    encoding: str = "raw",
    chunk_size: Sequence[int] | int = (64, 64, 64),
    resolution: Sequence[float] | float = (1, 1, 1),
    voxel_offset: Sequence[int] | int = (0, 0, 0),
    block_size: Sequence[int] | int = (8, 8, 8),
    layer_type: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """An ``info`` dict for a single-scale precomputed volume, checked with :func:`get_encoder`.

    :param data_type: a Neuroglancer data type (``uint8`` ... ``uint64``, ``float32``)
    :param size: the volume's extent (X, Y, Z)
    :param encoding: one of :data:`ENCODINGS`
    :param chunk_size: the chunk extent (X, Y, Z), or one number for cubic chunks
    :param resolution: voxel size (X, Y, Z) in nanometres
    :param voxel_offset: the global coordinates of the volume's first voxel
    :param block_size: the ``compressed_segmentation_block_size`` (ignored by other encodings)
    :param layer_type: ``image`` or ``segmentation``; by default ``segmentation`` for the
        ``compressed_segmentation`` encoding, ``image`` otherwise
    :param key: the scale's directory name; by default the resolution, e.g. ``8_8_40``
    :raises ValueError: (:class:`InvalidInfoError` for encoder problems) naming the bad parameter
    """
    dtype_name = np.dtype(data_type).name
    if dtype_name not in NEUROGLANCER_DATA_TYPES:
        raise InvalidInfoError(
            f"data_type {dtype_name} is not a Neuroglancer data type "
            f"({', '.join(NEUROGLANCER_DATA_TYPES)})"
        )
    if encoding not in ENCODINGS:
        raise InvalidInfoError(f"encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
    if layer_type is None:
        layer_type = "segmentation" if encoding == "compressed_segmentation" else "image"
    if layer_type not in ("image", "segmentation"):
        raise ValueError(f"layer_type must be 'image' or 'segmentation', got {layer_type!r}")
    resolution_list = _resolution(resolution)
    scale: dict[str, Any] = {
        "key": key if key is not None else _format_resolution(resolution_list),
        "size": list(_vec3(size, "size", minimum=1)),
        "resolution": resolution_list,
        "voxel_offset": list(_vec3(voxel_offset, "voxel_offset")),
        "chunk_sizes": [list(_vec3(chunk_size, "chunk_size", minimum=1))],
        "encoding": encoding,
    }
    if encoding == "compressed_segmentation":
        scale["compressed_segmentation_block_size"] = list(
            _vec3(block_size, "block_size", minimum=1)
        )
    if not scale["key"] or "/" in scale["key"] or scale["key"] in (".", ".."):
        raise ValueError(f"key must be a plain directory name, got {scale['key']!r}")
    info = {
        "@type": "neuroglancer_multiscale_volume",
        "type": layer_type,
        "data_type": dtype_name,
        "num_channels": int(num_channels),
        "scales": [scale],
    }
    get_encoder(info, scale)  # the same checks as any reader: channels, data type, block size
    return info


def _write_atomically(path: Path, data: bytes | bytearray | memoryview) -> None:
    """Write a file under a temporary name in the same directory, then rename it into place.

    A killed writer leaves at most a ``.tmp`` file beside the chunks, never a half-written chunk.
    """
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}")
    try:
        with open(temp, "wb") as f:
            f.write(data)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _gzip(data: bytes | bytearray, level: int) -> bytes:
    """A gzip member with a zero timestamp, so that the same chunk always gives the same file."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def _gunzip(data: bytes) -> bytes:
    return zlib.decompress(data, 16 + zlib.MAX_WBITS)


@dataclass
class WriteStats:
    """What a write did: chunks written and skipped, bytes in (decoded) and out (files)."""

    chunks_total: int = 0
    chunks_written: int = 0
    chunks_skipped: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0

    def __add__(self, other: WriteStats) -> WriteStats:
        return WriteStats(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(WriteStats))
        )

    @property
    def compression_ratio(self) -> float:
        """Bytes in over bytes out for the chunks written (``nan`` if none were)."""
        return self.bytes_in / self.bytes_out if self.bytes_out else math.nan

    @property
    def megabytes_per_second(self) -> float:
        """Decoded MB (10^6 bytes) written per second of wall time."""
        return self.bytes_in / 1e6 / self.seconds if self.seconds > 0 else math.nan

    def as_dict(self) -> dict[str, Any]:
        return {
            **{f.name: getattr(self, f.name) for f in fields(WriteStats)},
            "compression_ratio": self.compression_ratio,
            "megabytes_per_second": self.megabytes_per_second,
        }


class PrecomputedVolume:
    """One scale of a precomputed dataset on a file system.

    Holds only the path, the info and the encoder options, so it pickles small and can be sent to
    worker processes. Use :meth:`open` for an existing dataset and :meth:`create` for a new one.

    :param path: the dataset directory (the one holding ``info``)
    :param info: the dataset's info dict
    :param key: the scale to use; by default the first one
    :param encoder_options: extrinsic encoder options (``jpeg_quality``, ``jpeg_plane``)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        info: Mapping[str, Any],
        key: str | None = None,
        encoder_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.info = dict(info)
        scales = self.info.get("scales")
        if not isinstance(scales, list) or not scales:
            raise InvalidInfoError(f"the info of {self.path} has no scales")
        if key is None:
            self.scale = dict(scales[0])
        else:
            matching = [s for s in scales if isinstance(s, dict) and s.get("key") == key]
            if not matching:
                keys = [s.get("key") for s in scales if isinstance(s, dict)]
                raise InvalidInfoError(f"{self.path} has no scale {key!r} (it has {keys})")
            self.scale = dict(matching[0])
        self.encoder_options = dict(encoder_options or {})
        self.encoder: ChunkEncoder = get_encoder(self.info, self.scale, self.encoder_options)
        try:
            self.key = str(self.scale["key"])
            self.size = _vec3(self.scale["size"], "size", minimum=0)
            self.voxel_offset = _vec3(self.scale.get("voxel_offset", (0, 0, 0)), "voxel_offset")
            self.chunk_size = _vec3(self.scale["chunk_sizes"][0], "chunk_sizes", minimum=1)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise InvalidInfoError(f"invalid scale in the info of {self.path}: {exc}") from exc
        if "sharding" in self.scale:
            raise InvalidInfoError(f"{self.path}: sharded scales are not supported")
        self.dtype = np.dtype(self.info["data_type"])
        self.num_channels = int(self.info["num_channels"])

    def __repr__(self) -> str:
        return f"PrecomputedVolume({str(self.path)!r}, key={self.key!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "info": self.info,
            "key": self.key,
            "encoder_options": self.encoder_options,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        key: str | None = None,
        encoder_options: Mapping[str, Any] | None = None,
    ) -> PrecomputedVolume:
        """Open an existing dataset.

        :raises FileNotFoundError: if there is no ``info`` file
        :raises InvalidInfoError: if the info is not valid JSON or not a volume ngcodec reads
        """
        info_path = Path(path) / "info"
        text = info_path.read_text(encoding="utf-8")
        try:
            info = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInfoError(f"{info_path} is not valid JSON: {exc}") from exc
        if not isinstance(info, dict):
            raise InvalidInfoError(f"{info_path} does not hold a JSON object")
        return cls(path, info, key, encoder_options)

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        info: Mapping[str, Any],
        *,
        overwrite: bool = False,
        encoder_options: Mapping[str, Any] | None = None,
    ) -> PrecomputedVolume:
        """Create a dataset with this info, or reopen the same one to resume writing it.

        An existing ``info`` identical to ``info`` is kept, and so are the chunks already written.
        With ``overwrite``, a different info is replaced and the scale's chunk files are deleted.

        :raises DatasetExistsError: if a different dataset is there and ``overwrite`` is false
        """
        info = json.loads(json.dumps(info))  # the form it takes in the file: lists, plain numbers
        volume = cls(path, info, encoder_options=encoder_options)
        info_path = volume.path / "info"
        existing: Any = None
        if info_path.exists():
            try:
                existing = json.loads(info_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError, UnicodeDecodeError):
                existing = None
            if existing != info:
                if not overwrite:
                    raise DatasetExistsError(
                        f"{volume.path} already holds a different dataset; choose another output "
                        "or overwrite it"
                    )
        elif volume.path.exists() and not volume.path.is_dir():
            raise DatasetExistsError(f"{volume.path} exists and is not a directory")
        volume.scale_path.mkdir(parents=True, exist_ok=True)
        if overwrite:
            volume.delete_chunks()
            old_scales = existing.get("scales") if isinstance(existing, dict) else None
            for scale in old_scales if isinstance(old_scales, list) else []:
                old_key = scale.get("key") if isinstance(scale, dict) else None
                if isinstance(old_key, str) and old_key != volume.key and "/" not in old_key:
                    _delete_chunk_files(volume.path / old_key)
        volume.remove_temporary_files()
        _write_atomically(info_path, (json.dumps(info) + "\n").encode())
        return volume

    @property
    def scale_path(self) -> Path:
        """The directory holding this scale's chunks."""
        return self.path / self.key

    @property
    def bounds(self) -> Box:
        """The whole volume, in global voxel coordinates."""
        start = self.voxel_offset
        stop = (start[0] + self.size[0], start[1] + self.size[1], start[2] + self.size[2])
        return Box(start, stop)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """The volume as an array: (C, Z, Y, X)."""
        return (self.num_channels, self.size[2], self.size[1], self.size[0])

    @property
    def grid_shape(self) -> Vec3:
        """The number of chunks along (X, Y, Z)."""
        return (
            -(-self.size[0] // self.chunk_size[0]),
            -(-self.size[1] // self.chunk_size[1]),
            -(-self.size[2] // self.chunk_size[2]),
        )

    @property
    def num_chunks(self) -> int:
        gx, gy, gz = self.grid_shape
        return gx * gy * gz

    def chunk_boxes(self, bbox: Box | None = None) -> Iterator[Box]:
        """The chunks that intersect ``bbox`` (by default all), z slowest then y then x."""
        region = self.bounds if bbox is None else self.bounds.intersection(bbox)
        if region.is_empty():
            return
        ranges = []
        for axis in range(3):
            origin, step = self.voxel_offset[axis], self.chunk_size[axis]
            first = (region.start[axis] - origin) // step
            last = (region.stop[axis] - 1 - origin) // step
            ranges.append(range(first, last + 1))
        for k in ranges[2]:
            for j in ranges[1]:
                for i in ranges[0]:
                    yield self.chunk_box((i, j, k))

    def chunk_box(self, grid_index: Sequence[int]) -> Box:
        """The (truncated) box of the chunk at this index of the chunk grid (X, Y, Z)."""
        start = tuple(
            o + g * c
            for o, g, c in zip(self.voxel_offset, grid_index, self.chunk_size, strict=True)
        )
        stop = tuple(
            min(s + c, o + n)
            for s, c, o, n in zip(start, self.chunk_size, self.voxel_offset, self.size, strict=True)
        )
        return Box(start, stop)  # type: ignore[arg-type]

    def is_chunk(self, box: Box) -> bool:
        """Whether the box is exactly one chunk of this scale's grid."""
        for axis in range(3):
            offset = box.start[axis] - self.voxel_offset[axis]
            if offset < 0 or offset % self.chunk_size[axis]:
                return False
        return box == self.chunk_box(
            [(box.start[a] - self.voxel_offset[a]) // self.chunk_size[a] for a in range(3)]
        )

    def chunk_path(self, box: Box, *, gzipped: bool = False) -> Path:
        return self.scale_path / (box.name + (GZIP_SUFFIX if gzipped else ""))

    def existing_chunk_names(self) -> set[str]:
        """The names (without ``.gz``) of the chunk files present, from one directory listing."""
        try:
            entries = os.listdir(self.scale_path)
        except FileNotFoundError:
            return set()
        return {
            name.removesuffix(GZIP_SUFFIX)
            for name in entries
            if _CHUNK_NAME.match(name.removesuffix(GZIP_SUFFIX))
        }

    def chunk_files(self) -> dict[str, int]:
        """The chunk files present (names as stored, ``.gz`` included) and their sizes in bytes."""
        files = {}
        try:
            entries = list(os.scandir(self.scale_path))
        except FileNotFoundError:
            return {}
        for entry in entries:
            if _CHUNK_NAME.match(entry.name.removesuffix(GZIP_SUFFIX)) and entry.is_file():
                files[entry.name] = entry.stat().st_size
        return files

    def chunk_file(self, box: Box) -> Path | None:
        """The file holding this chunk (plain or ``.gz``), or None if there is none."""
        for gzipped in (False, True):
            path = self.chunk_path(box, gzipped=gzipped)
            if path.is_file():
                return path
        return None

    def delete_chunks(self) -> int:
        """Delete this scale's chunk files (and nothing else); return how many."""
        return _delete_chunk_files(self.scale_path)

    def remove_temporary_files(self) -> int:
        """Delete the temporary files that killed writers left; return how many.

        Do not call it while another writer works on the same dataset.
        """
        count = 0
        for name in os.listdir(self.scale_path):
            if name.startswith(".") and name.endswith(TEMP_SUFFIX):
                (self.scale_path / name).unlink(missing_ok=True)
                count += 1
        return count

    def chunk_nbytes(self, box: Box) -> int:
        """The decoded size of a chunk in bytes."""
        return box.num_voxels * self.num_channels * self.dtype.itemsize

    def read_chunk_bytes(self, box: Box) -> bytes:
        """The encoded bytes of a chunk, gunzipped if it is stored gzipped.

        :raises MissingChunkError: if there is no file for the chunk
        :raises ChunkError: if a ``.gz`` file is not valid gzip
        """
        for gzipped in (False, True):
            path = self.chunk_path(box, gzipped=gzipped)
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            if gzipped:
                try:
                    return _gunzip(data)
                except zlib.error as exc:
                    raise ChunkError(f"chunk {box.name}: {path.name} is not gzip: {exc}") from exc
            return data
        raise MissingChunkError(f"chunk {box.name} is missing from {self.scale_path}")

    def read_chunk(self, box: Box) -> np.ndarray:
        """Decode one chunk into a (C, Z, Y, X) array.

        :raises MissingChunkError: if the chunk file is absent
        :raises ChunkError: if it cannot be decoded (the message names the chunk)
        """
        data = self.read_chunk_bytes(box)
        try:
            return self.encoder.decode(data, box.size)
        except (InvalidFormatError, ValueError) as exc:
            raise ChunkError(f"chunk {box.name}: {exc}") from exc

    def write_chunk(
        self, box: Box, chunk: Any, *, gzip_level: int | None = DEFAULT_GZIP_LEVEL
    ) -> int:
        """Encode a (C, Z, Y, X) chunk and write it atomically; return the bytes written.

        :param gzip_level: gzip the file (named ``.gz``) at this level, or None for a plain file;
            jpeg chunks are never gzipped
        """
        if not self.is_chunk(box):
            raise ValueError(f"{box.name} is not a chunk of {self!r}")
        expected = (self.num_channels, box.size[2], box.size[1], box.size[0])
        if tuple(np.shape(chunk)) != expected:
            raise ValueError(
                f"chunk {box.name} must have shape {expected} (C, Z, Y, X), "
                f"got {tuple(np.shape(chunk))}"
            )
        data = self.encoder.encode(chunk)
        gzipped = gzip_level is not None and self.scale["encoding"] in GZIP_ENCODINGS
        if gzipped:
            assert gzip_level is not None
            data = _gzip(data, gzip_level)
        _write_atomically(self.chunk_path(box, gzipped=gzipped), data)
        # A file of the other kind (from a run with the other gzip setting) would shadow this one.
        self.chunk_path(box, gzipped=not gzipped).unlink(missing_ok=True)
        return len(data)

    def read(
        self,
        bbox: Box | None = None,
        *,
        fill_missing: bool = False,
        jobs: int | None = None,
    ) -> np.ndarray:
        """Read a bounding box (by default the whole volume) into a (C, Z, Y, X) array.

        :param bbox: a :class:`Box` in global voxel coordinates, within the volume
        :param fill_missing: give zeros for missing chunks, as the viewer does, instead of raising
        :param jobs: threads decoding chunks (default: one per CPU)
        :raises MissingChunkError: for a missing chunk, unless ``fill_missing``
        :raises ChunkError: for a chunk that cannot be decoded
        """
        region = self.bounds if bbox is None else bbox
        if region.intersection(self.bounds) != region or region.is_empty():
            raise ValueError(
                f"bounding box {region.start}-{region.stop} is empty or outside the volume "
                f"{self.bounds.start}-{self.bounds.stop}"
            )
        sx, sy, sz = region.size
        out = np.zeros((self.num_channels, sz, sy, sx), self.dtype)

        def copy_chunk(box: Box) -> None:
            try:
                chunk = self.read_chunk(box)
            except MissingChunkError:
                if fill_missing:
                    return
                raise
            overlap = box.intersection(region)
            out[(slice(None), *overlap.slices_within(region))] = chunk[
                (slice(None), *overlap.slices_within(box))
            ]

        _run_all(copy_chunk, self.chunk_boxes(region), jobs)
        return out


def _delete_chunk_files(directory: Path) -> int:
    """Delete the chunk files in a directory (and nothing else); return how many."""
    count = 0
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return 0
    for name in names:
        if _CHUNK_NAME.match(name.removesuffix(GZIP_SUFFIX)):
            (directory / name).unlink()
            count += 1
    return count


def _run_all(function: Callable[[Box], Any], boxes: Iterator[Box], jobs: int | None) -> None:
    """Call function on every box, in a thread pool when jobs > 1; re-raise the first error."""
    jobs = _job_count(jobs)
    if jobs == 1:
        for box in boxes:
            function(box)
        return
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = [pool.submit(function, box) for box in boxes]
        _wait_all(futures)


def _wait_all(futures: Sequence[concurrent.futures.Future[Any]]) -> None:
    done, pending = concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
    for future in done:
        if future.exception() is not None:
            for other in pending:
                other.cancel()
            concurrent.futures.wait(pending)
            raise future.exception()  # type: ignore[misc]


def _job_count(jobs: int | None) -> int:
    if jobs is None:
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    return jobs


def read_volume(
    path: str | os.PathLike[str],
    bbox: Box | tuple[Sequence[int], Sequence[int]] | None = None,
    *,
    key: str | None = None,
    fill_missing: bool = False,
    jobs: int | None = None,
) -> np.ndarray:
    """Read a precomputed dataset (or a bounding box of it) into a (C, Z, Y, X) array.

    :param bbox: ``(start, stop)`` in global voxel coordinates (X, Y, Z), stop exclusive
    :param key: the scale (by default the first)
    """
    volume = PrecomputedVolume.open(path, key)
    if bbox is not None and not isinstance(bbox, Box):
        start, stop = bbox
        bbox = Box(_vec3(start, "bbox start"), _vec3(stop, "bbox stop"))
    return volume.read(bbox, fill_missing=fill_missing, jobs=jobs)


# ---------------------------------------------------------------------------------------------
# Input arrays


AXES_3D = "zyx"
AXES_4D = "czyx"


class AxisOrderView:
    """A (C, Z, Y, X) view of an array-like whose axes are in another order.

    Only slicing is delegated, so the source is never read whole: a request for a box is turned
    into the same box in the source's axis order, and the result transposed.

    :param array: anything with ``shape``, ``dtype`` and basic slicing
    :param axes: the source's axes, a permutation of ``zyx`` or ``czyx`` (``xyz``, ``zyxc``, ...);
        by default ``zyx`` for 3-D and ``czyx`` for 4-D input
    """

    def __init__(self, array: Any, axes: str | None = None) -> None:
        shape = tuple(int(n) for n in array.shape)
        if axes is None:
            axes = {3: AXES_3D, 4: AXES_4D}.get(len(shape))
            if axes is None:
                raise ValueError(
                    f"the input must have 3 axes (Z, Y, X) or 4 (C, Z, Y, X), got shape {shape}"
                )
        axes = axes.lower()
        if sorted(axes) not in (sorted(AXES_3D), sorted(AXES_4D)):
            raise ValueError(f"axes must be a permutation of 'zyx' or 'czyx', got {axes!r}")
        if len(axes) != len(shape):
            raise ValueError(f"axes {axes!r} name {len(axes)} axes but the input has shape {shape}")
        self.array = array
        self.axes = axes
        self.dtype = np.dtype(array.dtype)
        sizes = dict(zip(axes, shape, strict=True))
        self.shape = (sizes.get("c", 1), sizes["z"], sizes["y"], sizes["x"])
        self.ndim = 4

    def __getitem__(self, key: tuple[slice, slice, slice, slice]) -> np.ndarray:
        by_axis = dict(zip(AXES_4D, key, strict=True))
        source_key = tuple(by_axis[a] for a in self.axes)
        block = np.asarray(self.array[source_key])
        order = [self.axes.index(a) for a in AXES_4D if a in self.axes]
        block = block.transpose(order)
        if "c" not in self.axes:
            block = block[np.newaxis][by_axis["c"]]
        return block


def check_castable(source: Any, target: Any) -> None:
    """Raise TypeError if values of dtype source cannot become target without losing their kind.

    Integers (and booleans) go to any integer type, with each block's values checked to fit;
    floats go to float32; integers go to float32 only when every value is exact there.
    """
    source, target = np.dtype(source), np.dtype(target)
    if np.can_cast(source, target, casting="safe"):
        return
    if source.kind in "biu" and target.kind in "iu":
        return
    if source.kind == "f" and target.kind == "f":
        return
    raise TypeError(f"cannot convert {source} input to {target.name} without losing values")


def _cast(block: np.ndarray, dtype: np.dtype[Any], where: str) -> np.ndarray:
    """The block as dtype: safe casts always, integer casts when the values fit, float downcasts."""
    if block.dtype == dtype:
        return block
    check_castable(block.dtype, dtype)
    if not np.can_cast(block.dtype, dtype, casting="safe") and dtype.kind in "iu" and block.size:
        low, high = block.min(), block.max()
        limits = np.iinfo(dtype)
        if low < limits.min or high > limits.max:
            raise UnrepresentableValuesError(
                f"{where}: values {low}..{high} do not fit in {dtype.name}; choose a wider "
                "data_type"
            )
    return block.astype(dtype)


def default_data_type(dtype: Any) -> str:
    """The Neuroglancer data type for an input dtype, or a ValueError saying what to choose."""
    dtype = np.dtype(dtype)
    if dtype.name in NEUROGLANCER_DATA_TYPES:
        return dtype.name
    if dtype.kind == "b":
        return "uint8"
    suggestion = {"i8": "uint64 or int32", "u8": "uint64", "f8": "float32", "f2": "float32"}.get(
        f"{dtype.kind}{dtype.itemsize}", "one of " + ", ".join(NEUROGLANCER_DATA_TYPES)
    )
    raise ValueError(
        f"input dtype {dtype} is not a Neuroglancer data type; choose data_type {suggestion} "
        "(values are checked to fit)"
    )


# ---------------------------------------------------------------------------------------------
# Writing


def plan_slabs(volume: PrecomputedVolume, max_bytes: int = DEFAULT_MAX_SLAB_BYTES) -> list[Box]:
    """Chunk-aligned boxes that tile the volume, each at most ``max_bytes`` (or one chunk).

    A slab is one chunk thick in z, and as wide in x, then as tall in y, as the budget allows, so
    that C-order sources (NumPy files, TIFF pages) are read in long contiguous runs.
    """
    gx, gy, gz = volume.grid_shape
    chunk_bytes = volume.chunk_nbytes(Box((0, 0, 0), volume.chunk_size))
    per_row = chunk_bytes * gx
    if per_row <= max_bytes:
        nx, ny = gx, max(1, min(gy, max_bytes // per_row))
    else:
        nx, ny = max(1, max_bytes // chunk_bytes), 1
    slabs = []
    for k in range(gz):
        for j in range(0, gy, ny):
            for i in range(0, gx, nx):
                start = volume.chunk_box((i, j, k)).start
                last = volume.chunk_box((min(i + nx, gx) - 1, min(j + ny, gy) - 1, k))
                slabs.append(Box(start, last.stop))
    return slabs


def write_block(
    volume: PrecomputedVolume,
    block: Any,
    origin: Sequence[int],
    *,
    gzip_level: int | None = DEFAULT_GZIP_LEVEL,
    skip_existing: bool = True,
) -> WriteStats:
    """Encode and write every chunk of a chunk-aligned (C, Z, Y, X) block; the unit of a task.

    :param origin: the block's first voxel in global coordinates (X, Y, Z), on the chunk grid
    :param skip_existing: leave chunks whose files exist alone (resuming a job)
    """
    started = time.perf_counter()
    block = np.asarray(block)
    box = Box(
        _vec3(origin, "origin"),
        tuple(o + n for o, n in zip(origin, block.shape[:0:-1], strict=True)),  # type: ignore[arg-type]
    )
    block = _cast(block, volume.dtype, f"block {box.name}")
    stats = WriteStats()
    for chunk in volume.chunk_boxes(box):
        if not chunk.intersection(box) == chunk:
            raise ValueError(f"block {box.name} is not aligned to the chunk grid of {volume!r}")
        stats.chunks_total += 1
        if skip_existing and volume.chunk_file(chunk) is not None:
            stats.chunks_skipped += 1
            continue
        data = block[(slice(None), *chunk.slices_within(box))]
        stats.bytes_out += volume.write_chunk(chunk, data, gzip_level=gzip_level)
        stats.bytes_in += volume.chunk_nbytes(chunk)
        stats.chunks_written += 1
    stats.seconds = time.perf_counter() - started
    return stats


def create_dataset_for(
    dtype: np.dtype,
    shape: Sequence[int],
    path: str | os.PathLike[str],
    *,
    encoding: str,
    chunk_size: Sequence[int] | int,
    block_size: Sequence[int] | int,
    resolution: Sequence[float] | float,
    voxel_offset: Sequence[int] | int,
    layer_type: str | None,
    key: str | None,
    data_type: Any,
    gzip_level: int,
    encoder_options: Mapping[str, Any] | None,
    overwrite: bool,
) -> PrecomputedVolume:
    """The dataset that an array of this dtype and (C, Z, Y, X) shape is written to, created with
    every option checked; the options are those of :func:`write_volume`."""
    if data_type is None:
        data_type = default_data_type(dtype)
    info = make_info(
        data_type=data_type,
        num_channels=shape[0],
        size=shape[:0:-1],
        encoding=encoding,
        chunk_size=chunk_size,
        resolution=resolution,
        voxel_offset=voxel_offset,
        block_size=block_size,
        layer_type=layer_type,
        key=key,
    )
    check_castable(dtype, info["data_type"])
    if not 1 <= gzip_level <= 9:
        raise ValueError(f"gzip_level must be between 1 and 9, got {gzip_level}")
    return PrecomputedVolume.create(
        path, info, overwrite=overwrite, encoder_options=encoder_options
    )


def write_volume(
    array: Any,
    path: str | os.PathLike[str],
    *,
    encoding: str = "raw",
    chunk_size: Sequence[int] | int = (64, 64, 64),
    block_size: Sequence[int] | int = (8, 8, 8),
    resolution: Sequence[float] | float = (1, 1, 1),
    voxel_offset: Sequence[int] | int = (0, 0, 0),
    layer_type: str | None = None,
    key: str | None = None,
    data_type: Any = None,
    axes: str | None = None,
    gzip: bool = True,
    gzip_level: int = DEFAULT_GZIP_LEVEL,
    encoder_options: Mapping[str, Any] | None = None,
    jobs: int | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    max_slab_bytes: int = DEFAULT_MAX_SLAB_BYTES,
) -> WriteStats:
    """Write an array to a single-scale precomputed dataset directory.

    The array is read one slab of chunks at a time (see ``max_slab_bytes``), never whole; while the
    thread pool encodes one slab the next is read. Each chunk is written atomically, and chunks
    already present are skipped, so running the same call again after an interruption finishes
    the job.

    :param array: a NumPy array or any array-like with ``shape``, ``dtype`` and slicing (memmap,
        zarr, h5py, dask), (Z, Y, X) or (C, Z, Y, X) unless ``axes`` says otherwise
    :param path: the dataset directory (created if needed)
    :param encoding: one of :data:`ENCODINGS`: ``raw``, ``compressed_segmentation``, ``jpeg``
        (and ``png`` where :mod:`ngcodec.chunk_encoding` has it)
    :param chunk_size: (X, Y, Z) or one number
    :param block_size: the compressed_segmentation block size (X, Y, Z) or one number
    :param resolution: voxel size (X, Y, Z) in nanometres
    :param voxel_offset: global coordinates (X, Y, Z) of the first voxel
    :param layer_type: ``image`` or ``segmentation`` (default: from the encoding)
    :param key: the scale's directory name (default: from the resolution, e.g. ``8_8_40``)
    :param data_type: the dataset's data type (default: the array's); values are cast, and a
        narrowing integer cast is checked to fit
    :param axes: the array's axis order, e.g. ``xyz`` or ``zyxc`` (default ``zyx`` / ``czyx``)
    :param gzip: gzip raw and compressed_segmentation chunks into ``.gz`` files
    :param gzip_level: the gzip level, 1 (fast) to 9 (small)
    :param encoder_options: extrinsic encoder options, as for :func:`get_encoder`:
        ``jpeg_quality`` and ``jpeg_plane`` for jpeg (``png_level`` for png)
    :param jobs: encoding threads (default: one per CPU); 1 runs everything in this thread
    :param overwrite: replace a different dataset at ``path`` and rewrite every chunk
    :param progress: called with the number of chunks finished, as they finish
    :param max_slab_bytes: the most input bytes read at once (two slabs are held: one read, one
        being encoded)
    :raises DatasetExistsError: if ``path`` holds a different dataset and ``overwrite`` is false
    :returns: :class:`WriteStats`
    """
    started = time.perf_counter()
    source = AxisOrderView(array, axes)
    volume = create_dataset_for(
        source.dtype,
        source.shape,
        path,
        encoding=encoding,
        chunk_size=chunk_size,
        block_size=block_size,
        resolution=resolution,
        voxel_offset=voxel_offset,
        layer_type=layer_type,
        key=key,
        data_type=data_type,
        gzip_level=gzip_level,
        encoder_options=encoder_options,
        overwrite=overwrite,
    )
    jobs = _job_count(jobs)
    level = gzip_level if gzip else None
    existing = set() if overwrite else volume.existing_chunk_names()
    stats = WriteStats()
    lock = threading.Lock()

    def write_one(box: Box, chunk: np.ndarray) -> None:
        written = volume.write_chunk(box, chunk, gzip_level=level)
        with lock:
            stats.chunks_written += 1
            stats.bytes_out += written
            stats.bytes_in += volume.chunk_nbytes(box)
        if progress is not None:
            progress(1)

    pool = concurrent.futures.ThreadPoolExecutor(jobs) if jobs > 1 else None
    in_flight: list[concurrent.futures.Future[None]] = []
    try:
        for slab in plan_slabs(volume, max_slab_bytes):
            boxes = list(volume.chunk_boxes(slab))
            stats.chunks_total += len(boxes)
            todo = [box for box in boxes if box.name not in existing]
            if len(todo) < len(boxes):
                stats.chunks_skipped += len(boxes) - len(todo)
                if progress is not None:
                    progress(len(boxes) - len(todo))
            if not todo:
                continue
            data = _read_slab(source, volume, slab)
            if pool is None:
                for box in todo:
                    write_one(box, data[(slice(None), *box.slices_within(slab))])
                continue
            _wait_all(in_flight)  # the slab before this one: at most two slabs in memory
            in_flight = [
                pool.submit(write_one, box, data[(slice(None), *box.slices_within(slab))])
                for box in todo
            ]
        _wait_all(in_flight)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    stats.seconds = time.perf_counter() - started
    return stats


def _read_slab(source: AxisOrderView, volume: PrecomputedVolume, slab: Box) -> np.ndarray:
    """The slab of the source as a (C, Z, Y, X) array of the volume's dtype."""
    local = Box(
        tuple(a - o for a, o in zip(slab.start, volume.voxel_offset, strict=True)),  # type: ignore[arg-type]
        tuple(b - o for b, o in zip(slab.stop, volume.voxel_offset, strict=True)),  # type: ignore[arg-type]
    )
    z, y, x = local.slices_within(Box((0, 0, 0), volume.size))
    data = source[(slice(None), z, y, x)]
    expected = (volume.num_channels, *local.size[::-1])
    if data.shape != expected:
        raise ValueError(
            f"reading {slab.name} from the input gave shape {data.shape}, expected {expected}"
        )
    return _cast(data, volume.dtype, f"input at {slab.name}")


# ---------------------------------------------------------------------------------------------
# Verification


@dataclass
class VerifyReport:
    """The outcome of :func:`verify_volume`."""

    chunks_total: int = 0
    chunks_ok: int = 0
    missing: list[str] = field(default_factory=list)
    corrupt: list[tuple[str, str]] = field(default_factory=list)
    mismatched: list[tuple[str, float]] = field(default_factory=list)
    max_abs_error: float = 0.0
    compared: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every chunk is present, decodes, and matches the reference if one was given."""
        return not (self.missing or self.corrupt or self.mismatched)

    def as_dict(self) -> dict[str, Any]:
        return {
            **{f.name: getattr(self, f.name) for f in fields(VerifyReport)},
            "ok": self.ok,
        }


def verify_volume(
    path: str | os.PathLike[str],
    reference: Any = None,
    *,
    key: str | None = None,
    axes: str | None = None,
    tolerance: float | None = None,
    jobs: int | None = None,
    progress: ProgressCallback | None = None,
    max_slab_bytes: int = DEFAULT_MAX_SLAB_BYTES,
) -> VerifyReport:
    """Decode every chunk of a dataset and, given a reference array, compare them with it.

    :param reference: an array-like of the volume's shape ((Z, Y, X) or (C, Z, Y, X), or ``axes``)
    :param tolerance: the largest absolute difference accepted; by default 0 for lossless
        encodings and none (differences are only measured) for jpeg
    :returns: :class:`VerifyReport`, whose ``ok`` says whether all is well
    :raises ValueError: if the reference's shape differs from the volume's
    """
    started = time.perf_counter()
    volume = PrecomputedVolume.open(path, key)
    source = None
    if reference is not None:
        source = AxisOrderView(reference, axes)
        if source.shape != volume.shape:
            raise ValueError(
                f"the reference has shape {source.shape} (C, Z, Y, X) but the volume has "
                f"{volume.shape}"
            )
    if tolerance is None and not volume.encoder.lossy:
        tolerance = 0
    report = VerifyReport(compared=source is not None)
    lock = threading.Lock()
    present = volume.existing_chunk_names()

    def check(box: Box, expected: np.ndarray | None) -> None:
        problem: tuple[str, str] | None = None
        error = 0.0
        if box.name not in present:
            with lock:
                report.missing.append(box.name)
            if progress is not None:
                progress(1)
            return
        try:
            decoded = volume.read_chunk(box)
        except ChunkError as exc:
            problem = (box.name, str(exc))
        else:
            if expected is not None:
                if np.array_equal(decoded, expected):
                    error = 0.0
                else:
                    error = float(
                        np.max(np.abs(decoded.astype(np.float64) - expected.astype(np.float64)))
                    )
        with lock:
            if problem is not None:
                report.corrupt.append(problem)
            else:
                report.max_abs_error = max(report.max_abs_error, error)
                if tolerance is not None and error > tolerance:
                    report.mismatched.append((box.name, error))
                else:
                    report.chunks_ok += 1
        if progress is not None:
            progress(1)

    jobs = _job_count(jobs)
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        for slab in plan_slabs(volume, max_slab_bytes):
            boxes = list(volume.chunk_boxes(slab))
            report.chunks_total += len(boxes)
            data = None if source is None else _read_slab(source, volume, slab)
            futures = [
                pool.submit(
                    check,
                    box,
                    None if data is None else data[(slice(None), *box.slices_within(slab))],
                )
                for box in boxes
            ]
            _wait_all(futures)
    for items in (report.missing, report.corrupt, report.mismatched):
        items.sort()
    report.seconds = time.perf_counter() - started
    return report
