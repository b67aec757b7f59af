"""Building shard files: chunks in minishard then id order, then the minishard indexes, located
by the shard index (the layout and indexes are built in Rust)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from ngcodec import _native
from ngcodec.precomputed.format.sharding.spec import ShardingSpec, _uint64s
from ngcodec.precomputed.format.sharding.streams import gzip
from ngcodec.precomputed.store.compression import DEFAULT_GZIP_LEVEL

__all__ = ["encode_chunk_data", "encode_shard"]

Buffer = bytes | bytearray | memoryview | NDArray[np.uint8]
AnyBuffer = TypeVar("AnyBuffer", bound=Buffer)


def encode_chunk_data(
    spec: ShardingSpec, chunk: AnyBuffer, *, gzip_level: int = DEFAULT_GZIP_LEVEL
) -> AnyBuffer | bytes:
    """A chunk's bytes as its shard stores them: the spec's ``data_encoding`` applied.

    Writers that encode chunks in threads call it there, then pass ``data_encoded=True`` to
    :func:`encode_shard`.
    """
    return gzip(chunk, gzip_level) if spec.data_encoding == "gzip" else chunk


def encode_shard(
    spec: ShardingSpec,
    chunks: Mapping[int, Buffer],
    *,
    gzip_level: int = DEFAULT_GZIP_LEVEL,
    data_encoded: bool = False,
) -> bytes:
    """One shard file holding ``{chunk id: encoded chunk bytes}``, all of one shard.

    The chunk bytes are those of the scale's encoding (the chunk file's bytes); the spec's
    ``data_encoding`` is applied here unless ``data_encoded`` says :func:`encode_chunk_data`
    already did, and the ``minishard_index_encoding`` always is.
    """
    ids = _uint64s(list(chunks), "chunk ids")
    data = [
        chunk if data_encoded else encode_chunk_data(spec, chunk, gzip_level=gzip_level)
        for chunk in chunks.values()
    ]
    data = [c if isinstance(c, (bytes, np.ndarray)) else np.frombuffer(c, np.uint8) for c in data]
    sizes = np.fromiter((len(c) for c in data), np.uint64, len(data))
    order, minishards, indexes = _native.sharding_layout(spec._native, ids, sizes)
    if spec.minishard_index_encoding == "gzip":
        indexes = [gzip(index, gzip_level) for index in indexes]
    return _native.sharding_write(spec._native, [data[i] for i in order], minishards, list(indexes))
