"""The sharded format, ``neuroglancer_uint64_sharded_v1``: many chunks per ``.shard`` file.

A chunk's id is the compressed Morton code of its grid position (:func:`chunk_ids`); the sharding
spec hashes it to a shard file and a minishard inside it. A shard file is a fixed shard index
(2^minishard_bits (start, end) pairs locating each minishard index), the chunks, and the
minishard indexes (each chunk's id, offset and size). :func:`encode_shard` builds one shard file;
:class:`ShardReader` finds one chunk with byte-range reads (the shard index, the minishard index,
then the chunk, the indexes cached) or reads a whole shard checking every entry. The hot parts
(Morton codes, hashing, index building and parsing) are Rust, in :mod:`ngcodec._native`.

Grid positions and shapes are in chunks, (x, y, z).
"""

from __future__ import annotations

import operator
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ngcodec import _native
from ngcodec.chunk_encoding import InvalidFormatError, InvalidInfoError

__all__ = [
    "DEFAULT_SHARD_BYTES",
    "SHARDING_TYPE",
    "LruCache",
    "ReadRange",
    "ShardBox",
    "ShardReader",
    "ShardingSpec",
    "choose_sharding",
    "chunk_ids",
    "chunk_positions",
    "encode_shard",
    "shard_boxes",
    "shard_key",
    "shard_numbers",
]

SHARDING_TYPE = "neuroglancer_uint64_sharded_v1"
HASHES = ("identity", "murmurhash3_x86_128")
ENCODINGS = ("raw", "gzip")
DEFAULT_SHARD_BYTES = 2 << 30
"""Uncompressed bytes per shard that :func:`choose_sharding` aims at by default."""
MAX_PRESHIFT_BITS = 9
"""Preshift bits :func:`choose_sharding` gives at most: minishards of up to 512 chunks, whose
index is 12 KiB before compression (tensorstore's choice)."""
WHOLE_INDEX_BYTES = 1 << 16
"""Shard indexes up to this size are read and cached whole; larger ones entry by entry."""
_LARGEST_READ = 1 << 62
"""A `stop` past any file, to read one whole."""

ReadRange = Callable[[str, int, int], "bytes | None"]
"""``read_range(key, start, stop)``: the bytes ``[start, stop)`` of the file at ``key``, fewer if
the file ends before ``stop``, or None if there is no such file. It must not allocate more than
the bytes it returns (clamp ``stop`` to the file's size): ranges come from files anyone may have
written."""


@dataclass(frozen=True)
class ShardingSpec:
    """The ``sharding`` member of a scale: how chunk ids map to shards and minishards."""

    preshift_bits: int
    hash: str
    minishard_bits: int
    shard_bits: int
    minishard_index_encoding: str = "raw"
    data_encoding: str = "raw"

    def __post_init__(self) -> None:
        _check_bits("preshift_bits", self.preshift_bits, 64)
        _check_bits("minishard_bits", self.minishard_bits, 32)
        _check_bits("shard_bits", self.shard_bits, 64 - self.minishard_bits)
        _check_choice("hash", self.hash, HASHES)
        _check_choice("minishard_index_encoding", self.minishard_index_encoding, ENCODINGS)
        _check_choice("data_encoding", self.data_encoding, ENCODINGS)

    @classmethod
    def from_json(cls, sharding: Any) -> ShardingSpec:
        """The spec of a scale's ``sharding`` dict; :class:`InvalidInfoError` names a bad field.

        The encodings default to ``raw``, as the format says; other members are ignored.
        """
        if not isinstance(sharding, Mapping):
            raise InvalidInfoError(f"sharding must be a JSON object, not {sharding!r}")
        if sharding.get("@type") != SHARDING_TYPE:
            raise InvalidInfoError(
                f"sharding @type must be {SHARDING_TYPE!r}, not {sharding.get('@type')!r}"
            )
        for name in ("preshift_bits", "hash", "minishard_bits", "shard_bits"):
            if name not in sharding:
                raise InvalidInfoError(f"sharding has no {name}")
        return cls(
            preshift_bits=sharding["preshift_bits"],
            hash=sharding["hash"],
            minishard_bits=sharding["minishard_bits"],
            shard_bits=sharding["shard_bits"],
            minishard_index_encoding=sharding.get("minishard_index_encoding", "raw"),
            data_encoding=sharding.get("data_encoding", "raw"),
        )

    def to_json(self) -> dict[str, Any]:
        """The ``sharding`` dict of a scale's info."""
        return {
            "@type": SHARDING_TYPE,
            "preshift_bits": self.preshift_bits,
            "hash": self.hash,
            "minishard_bits": self.minishard_bits,
            "shard_bits": self.shard_bits,
            "minishard_index_encoding": self.minishard_index_encoding,
            "data_encoding": self.data_encoding,
        }

    @property
    def shard_index_bytes(self) -> int:
        """Bytes of the shard index at the start of each shard file."""
        return 16 << self.minishard_bits

    @property
    def _native(self) -> tuple[int, str, int, int]:
        return (self.preshift_bits, self.hash, self.minishard_bits, self.shard_bits)

    def locate(self, chunk_ids: ArrayLike) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
        """The shard and minishard numbers of chunk ids."""
        shards, minishards = _native.sharding_locate(self._native, _uint64s(chunk_ids, "chunk_ids"))
        return shards, minishards


def _check_bits(name: str, value: object, largest: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= largest:
        raise InvalidInfoError(f"sharding {name} must be an integer from 0 to {largest}: {value!r}")


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InvalidInfoError(f"sharding {name} must be one of {choices}, not {value!r}")


def _uint64s(values: ArrayLike, name: str) -> NDArray[np.uint64]:
    """Non-negative integers as a uint64 array; a clear error for anything else."""
    array = np.asarray(values)
    if array.dtype.kind in "fO" and not isinstance(values, np.ndarray):
        # NumPy guesses float64 or object for Python ints past int64: convert each exactly.
        exact = np.asarray(values, dtype=object)
        try:
            ints = [operator.index(value) for value in exact.ravel()]
        except TypeError:
            raise TypeError(f"{name} must be integers") from None
        try:
            array = np.array(ints, dtype=np.uint64).reshape(exact.shape)
        except (OverflowError, ValueError):
            raise ValueError(f"{name} must be integers from 0 to 2^64 - 1") from None
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integers, not {array.dtype}")
    if array.dtype.kind == "i" and array.size and array.min() < 0:
        raise ValueError(f"{name} must not be negative")
    return array.astype(np.uint64, copy=False)


def _grid(grid_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(n) for n in grid_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"grid_shape must be 3 positive chunk counts (x, y, z), not {grid_shape}")
    return shape  # type: ignore[return-value]


def _positions(grid_positions: ArrayLike) -> NDArray[np.uint64]:
    positions = _uint64s(grid_positions, "grid_positions")
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValueError(f"grid_positions must have shape (n, 3), not {positions.shape}")
    return positions


def chunk_ids(grid_positions: ArrayLike, grid_shape: Sequence[int]) -> NDArray[np.uint64]:
    """The chunk ids (compressed Morton codes) of (n, 3) chunk grid positions (x, y, z)."""
    positions = np.ascontiguousarray(_positions(grid_positions))
    return _native.morton_encode(positions, _grid(grid_shape))


def chunk_positions(ids: ArrayLike, grid_shape: Sequence[int]) -> NDArray[np.uint64]:
    """The (n, 3) chunk grid positions (x, y, z) of chunk ids."""
    return _native.morton_decode(_uint64s(ids, "ids").ravel(), _grid(grid_shape))


def shard_numbers(
    spec: ShardingSpec, grid_positions: ArrayLike, grid_shape: Sequence[int]
) -> NDArray[np.uint64]:
    """The shard number of each (n, 3) chunk grid position (x, y, z)."""
    return spec.locate(chunk_ids(grid_positions, grid_shape))[0]


def shard_key(spec: ShardingSpec, shard: int) -> str:
    """The file name of a shard: lowercase hex, zero-padded to ceil(shard_bits / 4) digits."""
    if not 0 <= shard < 1 << spec.shard_bits:
        raise ValueError(f"shard must be 0 to 2^{spec.shard_bits} - 1, not {shard}")
    return f"{shard:0{-(-spec.shard_bits // 4)}x}.shard"


def _gzip(data: bytes | bytearray | memoryview, level: int = 6) -> bytes:
    """One gzip member (RFC 1952), the format's ``gzip`` encoding."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def _gunzip(data: bytes) -> tuple[bytes, bool]:
    """Decompresses a ``gzip`` encoded part; returns the bytes and whether the stream was gzip.

    neuroglancer-scripts 1.2.0 writes zlib streams (RFC 1950) instead, so they are recognised by
    their header and read too, reported as not standard.
    """
    if data[:2] == b"\x1f\x8b":
        wbits, standard = 16 + zlib.MAX_WBITS, True
    elif len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0:
        wbits, standard = zlib.MAX_WBITS, False
    else:
        raise InvalidFormatError(f"not a gzip stream (starts with {bytes(data[:2])!r})")
    decompressor = zlib.decompressobj(wbits)
    try:
        out = decompressor.decompress(data)
    except zlib.error as error:
        raise InvalidFormatError(f"bad gzip stream: {error}") from None
    if not decompressor.eof:
        raise InvalidFormatError("the gzip stream is cut short")
    if decompressor.unused_data:
        raise InvalidFormatError(f"{len(decompressor.unused_data)} bytes follow the gzip stream")
    return out, standard


def encode_shard(
    spec: ShardingSpec,
    chunks: Mapping[int, bytes | bytearray | memoryview],
    *,
    gzip_level: int = 6,
) -> bytes:
    """One shard file holding ``{chunk id: encoded chunk bytes}``, all of one shard.

    The chunk bytes are those of the scale's encoding (the chunk file's bytes); the spec's
    ``data_encoding`` and ``minishard_index_encoding`` are applied here.
    """
    ids = _uint64s(list(chunks), "chunk ids")
    if spec.data_encoding == "gzip":
        data: list[bytes | NDArray[np.uint8]] = [_gzip(c, gzip_level) for c in chunks.values()]
    else:
        data = [c if isinstance(c, bytes) else np.frombuffer(c, np.uint8) for c in chunks.values()]
    sizes = np.fromiter((len(c) for c in data), np.uint64, len(data))
    order, minishards, indexes = _native.sharding_layout(spec._native, ids, sizes)
    if spec.minishard_index_encoding == "gzip":
        indexes = [_gzip(index, gzip_level) for index in indexes]
    return _native.sharding_write(spec._native, [data[i] for i in order], minishards, list(indexes))


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

    def read_chunk(self, chunk_id: int) -> bytes | None:
        """The chunk's bytes (its data encoding removed), or None if the dataset lacks it."""
        if not 0 <= operator.index(chunk_id) < 1 << 64:
            raise ValueError(f"chunk_id must be 0 to 2^64 - 1, not {chunk_id}")
        shard, minishard = _native.sharding_locate_one(self.spec._native, chunk_id)
        found = self._minishard_index(shard, minishard)
        if found is None:
            return None
        file, index = found
        return self._chunk(file, index, minishard, chunk_id)

    def read_shard(self, shard: int) -> Iterator[tuple[int, bytes]]:
        """Every chunk of a shard as ``(id, bytes)``, in file order, reading the file whole.

        All of the file is checked before the first chunk: each index entry, that every chunk is
        where its id says, and that no byte ranges overlap. Memory is the file and one chunk.
        """
        file = self._open(shard, whole=True)
        if file is None:
            return
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
        for minishard, index in enumerate(indexes):
            for chunk_id in index[0].tolist():
                data = self._chunk(file, index, minishard, chunk_id)
                if data is not None:
                    yield chunk_id, data

    def _decode(self, data: bytes, encoding: str, where: str) -> bytes:
        if encoding == "raw":
            return data
        try:
            decoded, standard = _gunzip(data)
        except InvalidFormatError as error:
            raise InvalidFormatError(f"{where}: {error}") from None
        if not standard:
            with self._lock:
                self._nonstandard_streams += 1
        return decoded

    def _chunk(
        self, file: _ShardFile, index: NDArray[np.uint64], minishard: int, chunk_id: int
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
        return self._decode(data, self.spec.data_encoding, where)

    def _open(self, shard: int, whole: bool = False) -> _ShardFile | None:
        """The shard's file with its shard index, None if the dataset has no such shard; with
        ``whole``, the file read entirely into memory (the legacy pair joined)."""
        cache_key = ("shard", shard)
        if not whole and cache_key in self._cache:
            cached: _ShardFile | None = self._cache[cache_key]
            return cached
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


def _morton_bits(grid_shape: Sequence[int]) -> tuple[int, int, int]:
    """Morton bits of each axis: ceil(log2(chunks))."""
    bits = tuple((n - 1).bit_length() for n in _grid(grid_shape))
    if sum(bits) > 64:
        raise ValueError(f"grid_shape {tuple(grid_shape)} needs {sum(bits)} bits of chunk id")
    return bits  # type: ignore[return-value]


def _low_morton_bits(bits: Sequence[int], count: int) -> list[int]:
    """How many of the lowest ``count`` Morton bits each axis has."""
    taken = [0, 0, 0]
    for bit in range(max(bits)):
        for axis in range(3):
            if bit < bits[axis] and count > 0:
                taken[axis] += 1
                count -= 1
    return taken


def choose_sharding(
    grid_shape: Sequence[int],
    chunk_bytes: int,
    *,
    target_shard_bytes: int = DEFAULT_SHARD_BYTES,
    data_encoding: str = "gzip",
    minishard_index_encoding: str = "gzip",
) -> ShardingSpec:
    """A sharding spec whose shards are boxes of about ``target_shard_bytes`` uncompressed bytes.

    As tensorstore derives it: the identity hash, and preshift + minishard + shard bits equal to
    the grid's Morton bits, so each shard is a box of chunks (:func:`shard_boxes`) that one task
    can own. The chunks per shard are the power of two nearest ``target_shard_bytes /
    chunk_bytes`` (at most the whole grid); up to 512 of them share a minishard (``preshift_bits``
    <= 9), so a minishard index stays near 12 KiB. ``chunk_bytes`` is one chunk's uncompressed
    size (voxels x channels x bytes per value); jpeg and png chunks want ``data_encoding="raw"``.
    """
    bits = _morton_bits(grid_shape)
    if chunk_bytes < 1 or target_shard_bytes < 1:
        raise ValueError("chunk_bytes and target_shard_bytes must be positive")
    total_bits = sum(bits)
    target_chunks = (target_shard_bytes + chunk_bytes // 2) // chunk_bytes
    within = 0
    while within < total_bits and 1 << within < target_chunks:
        within += 1
    if within > 0 and (1 << within) - target_chunks > target_chunks - (1 << (within - 1)):
        within -= 1
    preshift = min(within, MAX_PRESHIFT_BITS)
    return ShardingSpec(
        preshift_bits=preshift,
        hash="identity",
        minishard_bits=within - preshift,
        shard_bits=total_bits - within,
        minishard_index_encoding=minishard_index_encoding,
        data_encoding=data_encoding,
    )


@dataclass(frozen=True)
class ShardBox:
    """The chunks of one shard: grid positions from ``start`` up to ``stop`` (x, y, z)."""

    shard: int
    start: tuple[int, int, int]
    stop: tuple[int, int, int]


def shard_boxes(spec: ShardingSpec, grid_shape: Sequence[int]) -> list[ShardBox]:
    """Every shard that holds chunks, as a box of chunk grid positions, by shard number.

    Needs shards that are boxes: the identity hash, and at least as many preshift + minishard +
    shard bits as the grid's Morton bits (what :func:`choose_sharding` gives).
    """
    bits = _morton_bits(grid_shape)
    total_bits = sum(bits)
    if spec.hash != "identity" or spec.preshift_bits + spec.minishard_bits + spec.shard_bits < (
        total_bits
    ):
        raise ValueError(
            "the shards of this spec are not boxes of chunks: that takes the identity hash and "
            f"preshift + minishard + shard bits of at least {total_bits}"
        )
    within = _low_morton_bits(bits, min(spec.preshift_bits + spec.minishard_bits, total_bits))
    grid = _grid(grid_shape)
    side = np.array([1 << b for b in within])
    axes = (np.arange(0, n, s) for n, s in zip(grid, side, strict=True))
    starts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    stops = np.minimum(starts + side, grid)
    shards = shard_numbers(spec, starts, grid)
    boxes = [
        ShardBox(int(shard), tuple(map(int, start)), tuple(map(int, stop)))  # type: ignore[arg-type]
        for shard, start, stop in zip(shards, starts, stops, strict=True)
    ]
    return sorted(boxes, key=lambda box: box.shard)
