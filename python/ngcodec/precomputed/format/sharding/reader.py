"""Reading sharded scales: one chunk with byte-range reads (the shard index, the minishard index,
then the chunk; the indexes cached), a shard's list of chunks from its indexes alone, or a whole
shard checked entry by entry. Every malformed index, range or stream raises
:class:`~ngcodec.chunk_encoding.InvalidFormatError` naming the shard file and minishard.
"""

from __future__ import annotations

import operator
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, MutableMapping
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from ngcodec import _native
from ngcodec.chunk_encoding import InvalidFormatError
from ngcodec.precomputed.format.sharding.spec import ShardingSpec, shard_key
from ngcodec.precomputed.format.sharding.streams import gunzip

__all__ = ["WHOLE_INDEX_BYTES", "LruCache", "ReadRange", "ShardReader"]

WHOLE_INDEX_BYTES = 1 << 16
"""Shard indexes up to this size are read and cached whole; larger ones entry by entry."""
_LARGEST_READ = 1 << 62
"""A `stop` past any file, to read one whole."""
_NOT_CACHED = object()

ReadRange = Callable[[str, int, int], "bytes | None"]
"""``read_range(key, start, stop)``: the bytes ``[start, stop)`` of the file at ``key``, fewer if
the file ends before ``stop``, or None if there is no such file. It must not allocate more than
the bytes it returns (clamp ``stop`` to the file's size): ranges come from files anyone may have
written."""


class LruCache(MutableMapping[Hashable, Any]):
    """A thread-safe mapping that keeps the ``size`` entries used last."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __getitem__(self, key: Hashable) -> Any:
        with self._lock:
            self._items.move_to_end(key)
            return self._items[key]

    def __setitem__(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __delitem__(self, key: Hashable) -> None:
        with self._lock:
            del self._items[key]

    def __iter__(self) -> Iterator[Hashable]:
        with self._lock:
            return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class _ShardFile:
    """One shard's bytes: a ``.shard`` file, or the legacy ``.index`` + ``.data`` pair (the same
    bytes split after the shard index). Offsets are from the start of the shard as one file."""

    name: str
    index_key: str
    data_key: str
    read_range: ReadRange
    data_offset: int
    index: NDArray[np.uint64] | None
    """The whole shard index as (minishards, 2) [start, end) ranges, if it is small."""

    def read(self, start: int, stop: int, what: str) -> bytes:
        if start < self.data_offset:
            key, offset = self.index_key, 0
        else:
            key, offset = self.data_key, self.data_offset
        data = self.read_range(key, start - offset, stop - offset)
        if data is None or len(data) < stop - start:
            got = "no file" if data is None else f"{len(data)} bytes"
            raise InvalidFormatError(
                f"{self.name}: {what} [{start}, {stop}) lies past the end of the file ({got})"
            )
        return data


class ShardReader:
    """Reads the chunks of one sharded scale through byte-range reads.

    ``read_range`` reads the scale's files (see :data:`ReadRange`); ``cache`` keeps parsed shard
    and minishard indexes (an :class:`LruCache` of 4096 entries unless given; one per reader, its
    keys are shard and minishard numbers). Every malformed index, range or stream raises
    :class:`InvalidFormatError` naming the shard file and minishard.
    """

    def __init__(
        self,
        spec: ShardingSpec,
        read_range: ReadRange,
        cache: MutableMapping[Hashable, Any] | None = None,
    ) -> None:
        self.spec = spec
        self._read_range = read_range
        self._cache = LruCache() if cache is None else cache
        self._lock = threading.Lock()
        self._nonstandard_streams = 0

    @property
    def nonstandard_streams(self) -> int:
        """Zlib streams read where the spec says gzip (neuroglancer-scripts 1.2.0 writes them)."""
        return self._nonstandard_streams

    def read_chunk(self, chunk_id: int, max_size: int | None = None) -> bytes | None:
        """The chunk's bytes (its data encoding removed), or None if the dataset lacks it.

        :param max_size: the most bytes a gzipped chunk may inflate to
        """
        if not 0 <= operator.index(chunk_id) < 1 << 64:
            raise ValueError(f"chunk_id must be 0 to 2^64 - 1, not {chunk_id}")
        shard, minishard = _native.sharding_locate_one(self.spec._native, chunk_id)
        found = self._minishard_index(shard, minishard)
        if found is None:
            return None
        file, index = found
        return self._chunk(file, index, minishard, chunk_id, max_size)

    def has_chunk(self, chunk_id: int) -> bool:
        """Whether the dataset holds the chunk, from the indexes alone."""
        if not 0 <= operator.index(chunk_id) < 1 << 64:
            raise ValueError(f"chunk_id must be 0 to 2^64 - 1, not {chunk_id}")
        found = self._minishard_index(*_native.sharding_locate_one(self.spec._native, chunk_id))
        if found is None:
            return False
        located = _native.sharding_find_chunk(found[1], chunk_id)
        return located is not None and located[0] != located[1]

    def shard_chunks(self, shard: int) -> tuple[NDArray[np.uint64], NDArray[np.uint64]] | None:
        """The ids of the chunks a shard holds and their sizes as stored, or None if there is no
        such shard.

        Reads the shard index and every minishard index, not the chunks, and checks them as
        :meth:`read_shard` does: each entry, that every chunk is where its id says, and that no
        byte ranges overlap. The indexes stay cached for :meth:`read_chunk`.
        """
        file = self._open(shard)
        if file is None:
            return None
        if file.index is None:
            entries = file.read(0, self.spec.shard_index_bytes, "shard index")
            file = replace(file, index=self._parse_shard_index(file.name, 0, entries))
            self._cache[("shard", shard)] = file
        indexes = self._checked_indexes(file, shard)
        for minishard, index in enumerate(indexes):
            self._cache[("minishard", shard, minishard)] = file, index
        ids = np.concatenate([index[0] for index in indexes])
        sizes = np.concatenate([index[2] - index[1] for index in indexes])
        # neuroglancer-scripts lists chunks it never received with no bytes.
        return ids[sizes > 0], sizes[sizes > 0]

    def read_shard(self, shard: int) -> Iterator[tuple[int, bytes]]:
        """Every chunk of a shard as ``(id, bytes)``, in file order, reading the file whole.

        All of the file is checked before the first chunk: each index entry, that every chunk is
        where its id says, and that no byte ranges overlap. Memory is the file and one chunk.
        """
        file = self._open(shard, whole=True)
        if file is None:
            return
        for minishard, index in enumerate(self._checked_indexes(file, shard)):
            for chunk_id in index[0].tolist():
                data = self._chunk(file, index, minishard, chunk_id)
                if data is not None:
                    yield chunk_id, data

    def _checked_indexes(self, file: _ShardFile, shard: int) -> list[NDArray[np.uint64]]:
        """Every minishard index of a shard whose whole shard index is known, checked, and checked
        to locate no two byte ranges (indexes and chunks) that overlap."""
        assert file.index is not None
        indexes = [
            self._parse_minishard_index(file, shard, minishard)
            for minishard in range(len(file.index))
        ]
        ranges = np.concatenate([file.index, *(index[1:].T for index in indexes)])
        ranges = ranges[ranges[:, 0] < ranges[:, 1]]
        ranges = ranges[np.argsort(ranges[:, 0], kind="stable")]
        clash = np.flatnonzero(ranges[1:, 0] < ranges[:-1, 1])
        if clash.size:
            before, after = ranges[clash[0]], ranges[clash[0] + 1]
            raise InvalidFormatError(
                f"{file.name}: byte ranges [{before[0]}, {before[1]}) and "
                f"[{after[0]}, {after[1]}) overlap"
            )
        if len(ranges):  # the furthest range ends within the file
            end = int(ranges[:, 1].max())
            file.read(end - 1, end, "the byte range ending last")
        return indexes

    def _decode(self, data: bytes, encoding: str, where: str, max_size: int | None = None) -> bytes:
        if encoding == "raw":
            return data
        try:
            decoded, standard = gunzip(data, max_size)
        except InvalidFormatError as error:
            raise InvalidFormatError(f"{where}: {error}") from None
        if not standard:
            with self._lock:
                self._nonstandard_streams += 1
        return decoded

    def _chunk(
        self,
        file: _ShardFile,
        index: NDArray[np.uint64],
        minishard: int,
        chunk_id: int,
        max_size: int | None = None,
    ) -> bytes | None:
        found = _native.sharding_find_chunk(index, chunk_id)
        if found is None:
            return None
        start, stop = found
        if start == stop:
            # neuroglancer-scripts lists chunks it never received with no bytes.
            return None
        where = f"{file.name}: minishard {minishard}: chunk {chunk_id}"
        data = file.read(start, stop, f"minishard {minishard}: chunk {chunk_id}")
        return self._decode(data, self.spec.data_encoding, where, max_size)

    def _open(self, shard: int, whole: bool = False) -> _ShardFile | None:
        """The shard's file with its shard index, None if the dataset has no such shard; with
        ``whole``, the file read entirely into memory (the legacy pair joined)."""
        cache_key = ("shard", shard)
        if not whole:
            # One lookup, not `in` then `[]`: another thread may evict the entry in between.
            cached = self._cache.get(cache_key, _NOT_CACHED)
            if cached is not _NOT_CACHED:
                return cast("_ShardFile | None", cached)
        name = shard_key(self.spec, shard)
        stem = name.removesuffix(".shard")
        index_bytes = self.spec.shard_index_bytes
        index_read = index_bytes if whole or index_bytes <= WHOLE_INDEX_BYTES else 16
        display, index_key, data_key, data_offset = name, name, name, 0
        head = self._read_range(name, 0, _LARGEST_READ if whole else index_read)
        if head is None:
            display = f"{stem}.index/.data"
            index_key, data_key, data_offset = f"{stem}.index", f"{stem}.data", index_bytes
            head = self._read_range(index_key, 0, index_read)
        if head is None:
            if not whole:
                self._cache[cache_key] = None
            return None
        if len(head) < index_read:
            raise InvalidFormatError(
                f"{display}: the file is {len(head)} bytes, shorter than its shard index "
                f"({index_bytes} bytes)"
            )
        index = None
        if index_read == index_bytes:
            index = self._parse_shard_index(display, 0, head[:index_bytes])
        if whole:
            if data_offset:
                head = head[:index_bytes] + (self._read_range(data_key, 0, _LARGEST_READ) or b"")
            everything = head

            def read_range(key: str, start: int, stop: int) -> bytes:
                return everything[start:stop]

            return _ShardFile(display, display, display, read_range, 0, index)
        file = _ShardFile(display, index_key, data_key, self._read_range, data_offset, index)
        self._cache[cache_key] = file
        return file

    def _parse_shard_index(self, name: str, first: int, data: bytes) -> NDArray[np.uint64]:
        try:
            return _native.sharding_parse_shard_index(self.spec._native, first, data)
        except InvalidFormatError as error:
            raise InvalidFormatError(f"{name}: {error}") from None

    def _minishard_index(
        self, shard: int, minishard: int
    ) -> tuple[_ShardFile, NDArray[np.uint64]] | None:
        cache_key = ("minishard", shard, minishard)
        found: tuple[_ShardFile, NDArray[np.uint64]] | None = self._cache.get(cache_key)
        if found is None:
            file = self._open(shard)
            if file is None:
                return None
            found = file, self._parse_minishard_index(file, shard, minishard)
            self._cache[cache_key] = found
        return found

    def _parse_minishard_index(
        self, file: _ShardFile, shard: int, minishard: int
    ) -> NDArray[np.uint64]:
        if file.index is not None:
            start, stop = (int(offset) for offset in file.index[minishard])
        else:
            entry = file.read(16 * minishard, 16 * minishard + 16, "shard index entry")
            start, stop = (int(o) for o in self._parse_shard_index(file.name, minishard, entry)[0])
        decoded = b""
        if stop > start:
            encoded = file.read(start, stop, f"minishard {minishard}: index")
            where = f"{file.name}: minishard {minishard}: index"
            decoded = self._decode(encoded, self.spec.minishard_index_encoding, where)
        try:
            return _native.sharding_parse_minishard_index(
                self.spec._native, shard, minishard, decoded
            )
        except InvalidFormatError as error:
            raise InvalidFormatError(f"{file.name}: {error}") from None
