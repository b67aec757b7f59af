"""The sharding spec, chunk ids and shard file names.

Grid positions and shapes are in chunks, (x, y, z).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ngcodec import _native
from ngcodec.chunk_encoding import InvalidInfoError

__all__ = [
    "ENCODINGS",
    "HASHES",
    "SHARDING_TYPE",
    "ShardingSpec",
    "chunk_ids",
    "chunk_positions",
    "is_shard_file_name",
    "shard_files",
    "shard_key",
    "shard_numbers",
]

SHARDING_TYPE = "neuroglancer_uint64_sharded_v1"
HASHES = ("identity", "murmurhash3_x86_128")
ENCODINGS = ("raw", "gzip")


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


SHARD_SUFFIX = ".shard"
LEGACY_SUFFIXES = (".index", ".data")


def is_shard_file_name(name: str) -> bool:
    """Whether a file name is that of a shard of any spec: ``<hex>.shard``, ``.index`` or
    ``.data``."""
    stem, _, suffix = name.rpartition(".")
    return (
        f".{suffix}" in (SHARD_SUFFIX, *LEGACY_SUFFIXES)
        and bool(stem)
        and all(c in "0123456789abcdef" for c in stem)
    )


def shard_files(spec: ShardingSpec, names: Iterable[str]) -> dict[int, str]:
    """The shards present among a scale's file names, by shard number: ``<hex>.shard`` files, and
    legacy ``<hex>.index`` + ``<hex>.data`` pairs (named ``<hex>.index/.data``). Other names,
    and hex numbers not padded as :func:`shard_key` pads them, are not shards of this spec."""
    names = set(names)
    found: dict[int, str] = {}
    for name in names:
        stem, dot, suffix = name.rpartition(".")
        if not dot or f".{suffix}" not in (SHARD_SUFFIX, LEGACY_SUFFIXES[0]):
            continue
        try:
            shard = int(stem, 16)
        except ValueError:
            continue
        if not 0 <= shard < 1 << spec.shard_bits or shard_key(spec, shard) != stem + SHARD_SUFFIX:
            continue
        if name.endswith(SHARD_SUFFIX):
            found[shard] = name
        elif stem + LEGACY_SUFFIXES[1] in names:
            found.setdefault(shard, f"{stem}.index/.data")
    return found
