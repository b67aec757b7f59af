"""The sharded format, ``neuroglancer_uint64_sharded_v1``: many chunks per ``.shard`` file.

A chunk's id is the compressed Morton code of its grid position (:func:`chunk_ids`); the sharding
spec hashes it to a shard file and a minishard inside it. A shard file is a fixed shard index
(2^minishard_bits (start, end) pairs locating each minishard index), the chunks, and the
minishard indexes (each chunk's id, offset and size). :func:`encode_shard` builds one shard file;
:class:`ShardReader` finds one chunk with byte-range reads (the shard index, the minishard index,
then the chunk, the indexes cached) or reads a whole shard checking every entry;
:func:`choose_sharding` and :func:`shard_boxes` make shards that are boxes of chunks. The hot
parts (Morton codes, hashing, index building and parsing) are Rust, in :mod:`ngcodec._native`.

Grid positions and shapes are in chunks, (x, y, z).
"""

from ngcodec.precomputed.format.sharding.boxes import (
    DEFAULT_SHARD_BYTES,
    MAX_PRESHIFT_BITS,
    ShardBox,
    choose_sharding,
    shard_boxes,
)
from ngcodec.precomputed.format.sharding.reader import (
    WHOLE_INDEX_BYTES,
    LruCache,
    ReadRange,
    ShardReader,
)
from ngcodec.precomputed.format.sharding.spec import (
    ENCODINGS,
    HASHES,
    SHARDING_TYPE,
    ShardingSpec,
    chunk_ids,
    chunk_positions,
    is_shard_file_name,
    shard_files,
    shard_key,
    shard_numbers,
)
from ngcodec.precomputed.format.sharding.writer import encode_chunk_data, encode_shard

__all__ = [
    "DEFAULT_SHARD_BYTES",
    "ENCODINGS",
    "HASHES",
    "MAX_PRESHIFT_BITS",
    "SHARDING_TYPE",
    "WHOLE_INDEX_BYTES",
    "LruCache",
    "ReadRange",
    "ShardBox",
    "ShardReader",
    "ShardingSpec",
    "choose_sharding",
    "chunk_ids",
    "chunk_positions",
    "encode_chunk_data",
    "encode_shard",
    "is_shard_file_name",
    "shard_boxes",
    "shard_files",
    "shard_key",
    "shard_numbers",
]
