"""The chunks of a sharded scale: read through byte ranges of its shard files, written a shard at
a time.

Below :class:`~ngcodec.precomputed.volume.PrecomputedVolume`, which uses :class:`ShardedChunks`
for every chunk of a scale whose info has a ``sharding`` member: a chunk costs the shard index and
minishard index reads (cached) plus its own bytes, never the whole shard. A shard file is written
whole by one atomic store write, so a reader or a killed writer never sees half of one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

import numpy as np

from ngcodec.chunk_encoding import InvalidFormatError
from ngcodec.precomputed.format import Box, ChunkGrid
from ngcodec.precomputed.format import sharding as sh
from ngcodec.precomputed.store import Store, StoredObject

__all__ = ["ShardedChunks"]


class ShardedChunks:
    """The chunks of one sharded scale, ``key``, of the dataset in ``store``.

    Reads go through one :class:`~ngcodec.precomputed.format.sharding.ShardReader`, built on first
    use and shared by threads, which caches the shard and minishard indexes. Errors in shard files
    are :class:`~ngcodec.chunk_encoding.InvalidFormatError` naming the shard file and minishard.
    """

    def __init__(self, store: Store, key: str, spec: sh.ShardingSpec, grid: ChunkGrid) -> None:
        self.store = store
        self.key = key
        self.spec = spec
        self.grid = grid
        self._reader: sh.ShardReader | None = None
        self._lock = threading.Lock()

    @property
    def reader(self) -> sh.ShardReader:
        with self._lock:
            if self._reader is None:
                self._reader = sh.ShardReader(self.spec, self._read_range)
            return self._reader

    def _read_range(self, name: str, start: int, stop: int) -> bytes | None:
        return self.store.read_range(f"{self.key}/{name}", start, stop)

    def chunk_ids(self, boxes: Iterable[Box]) -> np.ndarray:
        """The chunk ids (compressed Morton codes) of chunk boxes."""
        origin, step = self.grid.voxel_offset, self.grid.chunk_size
        positions = [
            [(a - o) // c for a, o, c in zip(box.start, origin, step, strict=True)] for box in boxes
        ]
        return sh.chunk_ids(np.array(positions, np.uint64).reshape(-1, 3), self.grid.grid_shape)

    def read(self, box: Box, max_size: int | None = None) -> bytes | None:
        """The chunk's encoded bytes, or None if its shard does not hold it.

        :param max_size: the most bytes a gzipped chunk may inflate to
        """
        return self.reader.read_chunk(int(self.chunk_ids([box])[0]), max_size)

    def has(self, box: Box) -> bool:
        """Whether the chunk is stored, from the indexes alone."""
        return self.reader.has_chunk(int(self.chunk_ids([box])[0]))

    def shard_files(self) -> dict[int, str]:
        """The shard files present, by shard number."""
        return sh.shard_files(self.spec, self.store.list(self.key))

    def stored_shards(self) -> dict[str, StoredObject]:
        """The shard files present, by name, with their sizes (a legacy pair as one)."""
        listed = self.store.list(self.key)
        shards = {}
        for name in self.shard_files().values():
            stem = name.partition(".")[0]
            parts = [name] if name.endswith(".shard") else [f"{stem}.index", f"{stem}.data"]
            shards[name] = StoredObject(sum(listed[part].size for part in parts), False)
        return shards

    def stored_chunks(self) -> dict[str, StoredObject]:
        """The chunks present, by name, with their sizes in their shards; a chunk whose id has no
        place in the grid is named ``id N``."""
        gzipped = self.spec.data_encoding == "gzip"
        chunks = {}
        for shard in self.shard_files():
            found = self.reader.shard_chunks(shard)
            if found is None:  # deleted since the listing
                continue
            for name, size in zip(self._names(found[0]), found[1].tolist(), strict=True):
                chunks[name] = StoredObject(size, gzipped)
        return chunks

    def check(self) -> list[tuple[str, str]]:
        """Check the indexes of every shard file present (``ShardReader.shard_chunks``); return
        the problems, as (shard file, why). The indexes of the others stay cached."""
        problems = []
        for shard, name in sorted(self.shard_files().items()):
            try:
                self.reader.shard_chunks(shard)
            except InvalidFormatError as exc:
                problems.append((name, str(exc)))
        return problems

    def expected_shards(self) -> int:
        """How many shard files the whole grid fills."""
        try:
            return len(self.shard_boxes())
        except ValueError:  # not boxes (a hash): locate every chunk
            grid_shape = self.grid.grid_shape
            axes = np.meshgrid(*(np.arange(n, dtype=np.uint64) for n in grid_shape), indexing="ij")
            positions = np.stack(axes, axis=-1).reshape(-1, 3)
            return len(np.unique(self.spec.locate(sh.chunk_ids(positions, grid_shape))[0]))

    @property
    def nonstandard_streams(self) -> int:
        """Zlib streams read so far where the format says gzip (neuroglancer-scripts 1.2.0 writes
        them; tensorstore and Neuroglancer cannot read them)."""
        return self.reader.nonstandard_streams

    def shard_boxes(self) -> list[sh.ShardBox]:
        """Every shard of the grid as a box of chunk positions, by shard number.

        :raises ValueError: if the spec's shards are not boxes (a hash other than identity, or
            fewer bits than the grid's Morton code): ngcodec writes only box-shaped shards
        """
        return sh.shard_boxes(self.spec, self.grid.grid_shape)

    def shard_region(self, shard: sh.ShardBox) -> Box:
        """The voxels of a shard's chunks, in global coordinates."""
        last = tuple(n - 1 for n in shard.stop)
        return Box(self.grid.chunk_box(shard.start).start, self.grid.chunk_box(last).stop)

    def pack(self, chunk: bytes | bytearray, gzip_level: int) -> bytes | bytearray:
        """An encoded chunk as its shard stores it: the spec's data encoding applied."""
        return sh.encode_chunk_data(self.spec, chunk, gzip_level=gzip_level)

    def write_shard(self, shard: sh.ShardBox, chunks: Mapping[Box, bytes | bytearray]) -> int:
        """Build a shard file of chunks packed by :meth:`pack` (all of the shard, or some) and
        write it with one atomic store write; return its size.

        :raises ValueError: if a box is not a chunk of this shard
        """
        boxes = list(chunks)
        region = self.shard_region(shard)
        for box in boxes:
            if not self.grid.is_chunk(box) or box.intersection(region) != box:
                raise ValueError(f"{box.name} is not a chunk of shard {shard.shard}")
        ids = self.chunk_ids(boxes).tolist()
        data = sh.encode_shard(
            self.spec, dict(zip(ids, chunks.values(), strict=True)), data_encoded=True
        )
        return self.store.write(f"{self.key}/{sh.shard_key(self.spec, shard.shard)}", data)

    def _names(self, ids: np.ndarray) -> list[str]:
        """The chunk names of chunk ids; an id with no place in the grid is named ``id N``."""
        try:
            positions = sh.chunk_positions(ids, self.grid.grid_shape).tolist()
        except ValueError:  # some id is no position of the grid (a hostile or foreign shard)
            return [self._name_of(int(chunk_id)) for chunk_id in ids]
        return [self.grid.chunk_box(position).name for position in positions]

    def _name_of(self, chunk_id: int) -> str:
        try:
            position = sh.chunk_positions([chunk_id], self.grid.grid_shape)[0].tolist()
        except ValueError:
            return f"id {chunk_id}"
        return self.grid.chunk_box(position).name
