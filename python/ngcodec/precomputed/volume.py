"""One scale of a precomputed dataset, read and written as (C, Z, Y, X) arrays, chunk by chunk.

A dataset is an ``info`` object plus, for each scale, objects named ``<key>/x0-x1_y0-y1_z0-z1``
(global voxel coordinates, ends exclusive; chunks at the upper edges are truncated), in any
:class:`~ngcodec.precomputed.store.Store`; or, for a sharded scale, ``<key>/<hex>.shard`` files
that each hold many chunks (:mod:`~ngcodec.precomputed.sharded`).
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ngcodec.chunk_batch import ChunkBatch, StoredChunk
from ngcodec.chunk_encoding import ChunkEncoder, InvalidFormatError, InvalidInfoError, get_encoder
from ngcodec.precomputed.batched import ChunkError, MissingChunkError, read_region
from ngcodec.precomputed.format import (
    Box,
    ChunkGrid,
    Vec3,
    dump_info,
    is_chunk_name,
    parse_info,
    scale_grid,
    select_scale,
    stored_gzip_level,
    vec3,
)
from ngcodec.precomputed.format.sharding import ShardBox, ShardingSpec, is_shard_file_name
from ngcodec.precomputed.parallel import job_count, run_all
from ngcodec.precomputed.sharded import ShardedChunks
from ngcodec.precomputed.store import (
    CorruptObjectError,
    LocalStore,
    Store,
    StoredObject,
    open_store,
)
from ngcodec.precomputed.store.compression import DEFAULT_GZIP_LEVEL

__all__ = [
    "ChunkError",
    "DatasetExistsError",
    "MissingChunkError",
    "PrecomputedVolume",
    "read_volume",
]

# Gzip bombs stop here: no encoding's chunk is near twice its decoded size.
_MAX_ENCODED_PER_DECODED_BYTE = 2
_MAX_ENCODED_OVERHEAD = 64 * 2**10


class DatasetExistsError(ValueError):
    """Raised when the output holds a dataset whose info differs from the one to write."""


class PrecomputedVolume:
    """One scale of a precomputed dataset.

    Holds only the store, the info and the encoder options, so it pickles small and can be sent
    to worker processes. Use :meth:`open` for an existing dataset and :meth:`create` for a new one.

    :param path: the dataset (the directory holding ``info``), or a store
    :param info: the dataset's info dict
    :param key: the scale to use; by default the first one
    :param encoder_options: extrinsic encoder options (``jpeg_quality``, ``jpeg_plane``)
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | Store,
        info: Mapping[str, Any],
        key: str | None = None,
        encoder_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.store = open_store(path)
        self.info = dict(info)
        where = self.store.location
        self.scale = select_scale(self.info, key, where)
        self.encoder_options = dict(encoder_options or {})
        self.encoder: ChunkEncoder = get_encoder(self.info, self.scale, self.encoder_options)
        try:
            self.key = str(self.scale["key"])
        except KeyError as exc:
            raise InvalidInfoError(f"invalid scale in the info of {where}: no key") from exc
        self.grid: ChunkGrid = scale_grid(self.scale, where)
        self.sharding: ShardingSpec | None = None
        self._shards: ShardedChunks | None = None
        if "sharding" in self.scale:
            self.sharding = ShardingSpec.from_json(self.scale["sharding"])
            self._shards = ShardedChunks(self.store, self.key, self.sharding, self.grid)
        self.dtype = np.dtype(self.info["data_type"])
        self.num_channels = int(self.info["num_channels"])
        # The native batch calls of the encoding (None for images), which read() uses.
        self.batch = ChunkBatch.of(self.encoder, self.grid.chunk_size, self.grid.size)

    def __repr__(self) -> str:
        return f"PrecomputedVolume({self.store.location!r}, key={self.key!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {
            "path": self.store,
            "info": self.info,
            "key": self.key,
            "encoder_options": self.encoder_options,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | Store,
        key: str | None = None,
        encoder_options: Mapping[str, Any] | None = None,
    ) -> PrecomputedVolume:
        """Open an existing dataset.

        :raises FileNotFoundError: if there is no ``info`` file
        :raises InvalidInfoError: if the info is not valid JSON or not a volume ngcodec reads
        """
        store = open_store(path)
        where = f"{store.location}/info"
        data = store.read("info")
        if data is None:
            raise FileNotFoundError(errno.ENOENT, "no info file", where)
        return cls(store, parse_info(data, where), key, encoder_options)

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str] | Store,
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
        store = volume.store
        try:
            store.check_writable()
        except FileExistsError as exc:
            raise DatasetExistsError(str(exc)) from exc
        existing: Any = None
        stored = store.read("info")
        if stored is not None:
            try:
                existing = json.loads(stored)
            except (json.JSONDecodeError, UnicodeDecodeError):
                existing = None
            if existing != info and not overwrite:
                raise DatasetExistsError(
                    f"{store.location} already holds a different dataset; choose another output "
                    "or overwrite it"
                )
        if overwrite:
            volume.delete_chunks()
            old_scales = existing.get("scales") if isinstance(existing, dict) else None
            for scale in old_scales if isinstance(old_scales, list) else []:
                old_key = scale.get("key") if isinstance(scale, dict) else None
                if isinstance(old_key, str) and old_key != volume.key and "/" not in old_key:
                    _delete_chunks(store, old_key)
        # A resume may start while an earlier writer still runs: spare its fresh temporary files.
        store.discard_partial_writes(volume.key, only_abandoned=True)
        store.write("info", dump_info(info))
        return volume

    @property
    def path(self) -> Path | str:
        """The dataset's directory (a :class:`~pathlib.Path`), or its URL for other stores."""
        return self.store.root if isinstance(self.store, LocalStore) else self.store.location

    @property
    def scale_path(self) -> Path:
        """The directory holding this scale's chunks (local datasets only)."""
        return Path(self.path) / self.key

    # The chunk grid, as attributes of the volume.
    @property
    def size(self) -> Vec3:
        return self.grid.size

    @property
    def voxel_offset(self) -> Vec3:
        return self.grid.voxel_offset

    @property
    def chunk_size(self) -> Vec3:
        return self.grid.chunk_size

    @property
    def bounds(self) -> Box:
        """The whole volume, in global voxel coordinates."""
        return self.grid.bounds

    @property
    def grid_shape(self) -> Vec3:
        """The number of chunks along (X, Y, Z)."""
        return self.grid.grid_shape

    @property
    def num_chunks(self) -> int:
        return self.grid.num_chunks

    def chunk_boxes(self, bbox: Box | None = None) -> Iterator[Box]:
        """The chunks that intersect ``bbox`` (by default all), z slowest then y then x."""
        return self.grid.chunk_boxes(bbox)

    def chunk_box(self, grid_index: Sequence[int]) -> Box:
        """The (truncated) box of the chunk at this index of the chunk grid (X, Y, Z)."""
        return self.grid.chunk_box(grid_index)

    def is_chunk(self, box: Box) -> bool:
        """Whether the box is exactly one chunk of this scale's grid."""
        return self.grid.is_chunk(box)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """The volume as an array: (C, Z, Y, X)."""
        return (self.num_channels, self.size[2], self.size[1], self.size[0])

    ndim = 4

    def __getitem__(self, key: tuple[slice, slice, slice, slice]) -> np.ndarray:
        """A (C, Z, Y, X) block by slices of the volume as an array (index 0 at voxel_offset),
        so that a scale can be read like any input array."""
        if (
            not isinstance(key, tuple)
            or len(key) != 4
            or not all(isinstance(k, slice) for k in key)
        ):
            raise TypeError(f"index a volume with four slices (C, Z, Y, X), got {key!r}")
        ranges = [k.indices(n) for k, n in zip(key, self.shape, strict=True)]
        if any(step != 1 for _, _, step in ranges):
            raise ValueError(f"volumes are sliced with step 1, got {key!r}")
        (c0, c1, _), (z0, z1, _), (y0, y1, _), (x0, x1, _) = ranges
        ox, oy, oz = self.voxel_offset
        box = Box(
            (ox + x0, oy + y0, oz + z0), (ox + max(x0, x1), oy + max(y0, y1), oz + max(z0, z1))
        )
        if box.is_empty():
            return np.zeros((max(0, c1 - c0), *box.size[::-1]), self.dtype)
        return self.read(box)[c0:c1]

    def chunk_key(self, box: Box) -> str:
        """The store key of a chunk (of an unsharded scale)."""
        return f"{self.key}/{box.name}"

    @property
    def sharded(self) -> bool:
        """Whether the scale's chunks are kept in shard files."""
        return self._shards is not None

    def stored_chunks(self) -> dict[str, StoredObject]:
        """The chunks present, by name, as the store lists them (size stored, gzipped); for a
        sharded scale, as the shards' indexes list them (size in the shard, data encoding).

        :raises ChunkError: if a shard's indexes cannot be read (the message names the shard)
        """
        if self._shards is not None:
            try:
                return self._shards.stored_chunks()
            except InvalidFormatError as exc:
                raise ChunkError(f"scale {self.key}: {exc}") from exc
        return {
            name: stored
            for name, stored in self.store.list(self.key).items()
            if is_chunk_name(name)
        }

    def existing_chunk_names(self) -> set[str]:
        """The names of the chunks present, from one listing (and, if sharded, the indexes)."""
        return set(self.stored_chunks())

    def has_chunk(self, box: Box) -> bool:
        if self._shards is not None:
            try:
                return self._shards.has(box)
            except InvalidFormatError as exc:
                raise ChunkError(f"chunk {box.name}: {exc}") from exc
        return self.store.exists(self.chunk_key(box))

    @property
    def shards(self) -> ShardedChunks:
        """The shard files of a sharded scale: their boxes, listing and checks.

        :raises ValueError: if the scale is not sharded
        """
        if self._shards is None:
            raise ValueError(f"scale {self.key} is not sharded: it has no shard files")
        return self._shards

    def delete_chunks(self) -> int:
        """Delete this scale's chunk or shard files (and nothing else); return how many."""
        return _delete_chunks(self.store, self.key)

    def remove_temporary_files(self) -> int:
        """Delete what killed writers left in this scale; return how many.

        Do not call it while another writer works on the same dataset.
        """
        return self.store.discard_partial_writes(self.key)

    def chunk_nbytes(self, box: Box) -> int:
        """The decoded size of a chunk in bytes."""
        return box.num_voxels * self.num_channels * self.dtype.itemsize

    def read_chunk_bytes(self, box: Box) -> bytes:
        """The encoded bytes of a chunk, gunzipped if it is stored gzipped.

        :raises MissingChunkError: if there is no file for the chunk
        :raises ChunkError: if a gzipped chunk is not valid gzip
        """
        stored = self._read_stored_chunk(box, fill_missing=False, gunzip=True)
        assert stored is not None  # a missing chunk raised
        return stored[0]

    def _max_encoded_size(self, box: Box) -> int:
        """The most bytes a chunk's encoding may take: gzip bombs stop there."""
        return _MAX_ENCODED_PER_DECODED_BYTE * self.chunk_nbytes(box) + _MAX_ENCODED_OVERHEAD

    def _read_stored_chunk(
        self, box: Box, fill_missing: bool, *, gunzip: bool = False
    ) -> StoredChunk | None:
        """A chunk as stored (a sharded scale's gunzipped; with ``gunzip``, every one), or None
        if missing and filled."""
        limit, key = self._max_encoded_size(box), self.chunk_key(box)
        try:
            if self._shards is not None:
                stored = _plain(self._shards.read(box, max_size=limit))
            elif gunzip:
                stored = _plain(self.store.read(key, max_size=limit))
            else:
                stored = self.store.read_stored(key)
        except (CorruptObjectError, InvalidFormatError) as exc:
            raise ChunkError(f"chunk {box.name}: {exc}") from exc
        if stored is None and not fill_missing:
            raise MissingChunkError(f"chunk {box.name} is missing from {self.store.location}")
        return stored

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

    def encode_chunk(self, box: Box, chunk: Any) -> bytes | bytearray:
        """The bytes of a (C, Z, Y, X) chunk in the scale's encoding (a chunk file's bytes)."""
        if not self.is_chunk(box):
            raise ValueError(f"{box.name} is not a chunk of {self!r}")
        expected = (self.num_channels, box.size[2], box.size[1], box.size[0])
        if tuple(np.shape(chunk)) != expected:
            raise ValueError(
                f"chunk {box.name} must have shape {expected} (C, Z, Y, X), "
                f"got {tuple(np.shape(chunk))}"
            )
        return self.encoder.encode(chunk)

    def write_chunk(
        self, box: Box, chunk: Any, *, gzip_level: int | None = DEFAULT_GZIP_LEVEL
    ) -> int:
        """Encode a (C, Z, Y, X) chunk and write it atomically; return the bytes written.

        :param gzip_level: gzip the chunk at this level, or None for a plain file; image
            encodings are never gzipped
        :raises ValueError: for a sharded scale, whose chunks are written a shard at a time
        """
        if self._shards is not None:
            raise ValueError(
                f"scale {self.key} is sharded: its chunks are written a whole shard at a time "
                "(encode_shard_chunk, then write_shard), not one by one"
            )
        level = stored_gzip_level(self.scale, gzip_level)
        return self.store.write(
            self.chunk_key(box), self.encode_chunk(box, chunk), gzip_level=level
        )

    def encode_shard_chunk(
        self, box: Box, chunk: Any, *, gzip_level: int | None = DEFAULT_GZIP_LEVEL
    ) -> bytes | bytearray:
        """A (C, Z, Y, X) chunk of a sharded scale as its shard stores it: encoded, then gzipped
        if the sharding's ``data_encoding`` says so (at ``gzip_level``, or the default level)."""
        encoded = self.encode_chunk(box, chunk)
        level = DEFAULT_GZIP_LEVEL if gzip_level is None else gzip_level
        return self.shards.pack(encoded, level)

    def write_shard(self, shard: ShardBox, chunks: Mapping[Box, bytes | bytearray]) -> int:
        """Write one shard file of a sharded scale, whole and atomically; return its size.

        :param shard: one of ``shards.shard_boxes()``
        :param chunks: its chunks (all of them, or those to store) as
            :meth:`encode_shard_chunk` gives them, by chunk box
        :raises ValueError: if a box is not a chunk of this shard
        """
        return self.shards.write_shard(shard, chunks)

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
        if self.batch is not None:
            read_region(
                self.batch,
                self.grid,
                region,
                out,
                lambda box: self._read_stored_chunk(box, fill_missing),
                max_inflated=self._max_encoded_size(Box((0, 0, 0), self.chunk_size)),
                jobs=job_count(jobs),
            )
            return out

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

        run_all(copy_chunk, self.chunk_boxes(region), jobs)
        return out


def _plain(data: bytes | None) -> StoredChunk | None:
    return None if data is None else (data, False)


def _delete_chunks(store: Store, key: str) -> int:
    """Delete the chunk and shard files of a scale (and nothing else); return how many."""
    names = [name for name in store.list(key) if is_chunk_name(name) or is_shard_file_name(name)]
    for name in names:
        store.delete(f"{key}/{name}")
    return len(names)


def read_volume(
    path: str | os.PathLike[str] | Store,
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
        bbox = Box(vec3(start, "bbox start"), vec3(stop, "bbox stop"))
    return volume.read(bbox, fill_missing=fill_missing, jobs=jobs)
