"""The Rust codecs behind ngcodec.chunk_encoding and the store's gzip. Arrays are (C, Z, Y, X);
sizes are (X, Y, Z)."""

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "__version__",
    "compressed_segmentation_decode",
    "compressed_segmentation_encode",
    "compresso_decode",
    "decode_chunks",
    "downsample",
    "downsample_geometry",
    "encode_chunks",
    "gzip_compress",
    "gzip_decompress",
    "jpeg_decode",
    "jpeg_encode",
    "morton_decode",
    "morton_encode",
    "murmurhash3_x86_128",
    "png_decode",
    "png_encode",
    "raw_encode",
    "sharding_find_chunk",
    "sharding_layout",
    "sharding_locate",
    "sharding_locate_one",
    "sharding_parse_minishard_index",
    "sharding_parse_shard_index",
    "sharding_write",
    "zlib_decompress",
]

__version__: str

# (preshift_bits, hash, minishard_bits, shard_bits)
_Spec = tuple[int, str, int, int]

def raw_encode(chunk: NDArray[np.unsignedinteger], byteswapped: bool) -> bytes: ...
def compressed_segmentation_encode(
    chunk: NDArray[np.uint32] | NDArray[np.uint64],
    block_size: tuple[int, int, int],
    byteswapped: bool,
) -> bytearray: ...
def compressed_segmentation_decode(
    buf: bytes | NDArray[np.uint8],
    chunk_size: tuple[int, int, int],
    num_channels: int,
    block_size: tuple[int, int, int],
    label_bytes: int,
) -> NDArray[np.uint32] | NDArray[np.uint64]: ...
def morton_encode(
    positions: NDArray[np.uint64], grid_shape: tuple[int, int, int]
) -> NDArray[np.uint64]: ...
def morton_decode(
    codes: NDArray[np.uint64], grid_shape: tuple[int, int, int]
) -> NDArray[np.uint64]: ...
def murmurhash3_x86_128(values: NDArray[np.uint64]) -> NDArray[np.uint64]: ...
def sharding_locate(spec: _Spec, ids: NDArray[np.uint64]) -> NDArray[np.uint64]: ...
def sharding_locate_one(spec: _Spec, id: int) -> tuple[int, int]: ...
def sharding_layout(
    spec: _Spec, ids: NDArray[np.uint64], sizes: NDArray[np.uint64]
) -> tuple[NDArray[np.uintp], NDArray[np.uint64], list[bytes]]: ...
def sharding_write(
    spec: _Spec,
    chunks: list[bytes | NDArray[np.uint8]],
    minishards: NDArray[np.uint64],
    indexes: list[bytes | NDArray[np.uint8]],
) -> bytes: ...
def sharding_parse_shard_index(
    spec: _Spec, first_minishard: int, buf: bytes | NDArray[np.uint8]
) -> NDArray[np.uint64]: ...
def sharding_parse_minishard_index(
    spec: _Spec, shard: int, minishard: int, buf: bytes | NDArray[np.uint8]
) -> NDArray[np.uint64]: ...
def sharding_find_chunk(index: NDArray[np.uint64], id: int) -> tuple[int, int] | None: ...
def jpeg_encode(chunk: NDArray[np.uint8], width: int, quality: int, progressive: bool) -> bytes: ...
def jpeg_decode(
    buf: bytes | NDArray[np.uint8], chunk_size: tuple[int, int, int], num_channels: int
) -> NDArray[np.uint8]: ...
def png_encode(chunk: NDArray[np.uint8] | NDArray[np.uint16], width: int, level: int) -> bytes: ...
def png_decode(
    buf: bytes | NDArray[np.uint8],
    chunk_size: tuple[int, int, int],
    num_channels: int,
    sample_bytes: int,
) -> NDArray[np.uint8] | NDArray[np.uint16]: ...
def compresso_decode(
    buf: bytes | NDArray[np.uint8], chunk_size: tuple[int, int, int], label_bytes: int
) -> NDArray[np.unsignedinteger]: ...
def downsample(
    volume: NDArray[np.integer] | NDArray[np.floating],
    origin: tuple[int, int, int],
    factors: tuple[int, int, int],
    method: str,
    ignore_zero: bool,
    threads: int,
) -> NDArray[np.integer] | NDArray[np.floating]: ...
def downsample_geometry(
    origin: tuple[int, int, int],
    size: tuple[int, int, int],
    factors: tuple[int, int, int],
    method: str,
) -> tuple[tuple[int, int, int], tuple[int, int, int]]: ...
def gzip_compress(data: bytes | NDArray[np.uint8], level: int) -> bytes: ...
def gzip_decompress(data: bytes | NDArray[np.uint8], max_size: int) -> bytes: ...
def zlib_decompress(data: bytes | NDArray[np.uint8], max_size: int) -> bytes: ...
def decode_chunks(
    out: NDArray[np.unsignedinteger],
    chunks: Sequence[tuple[bytes | NDArray[np.uint8], bool] | None],
    *,
    encoding: str,
    block_size: tuple[int, int, int] | None,
    chunk_size: tuple[int, int, int],
    volume_size: tuple[int, int, int],
    start: tuple[int, int, int],
    max_inflated: int,
    threads: int,
) -> None: ...
def encode_chunks(
    slab: NDArray[np.unsignedinteger],
    which: list[int],
    *,
    byteswapped: bool,
    encoding: str,
    block_size: tuple[int, int, int] | None,
    chunk_size: tuple[int, int, int],
    volume_size: tuple[int, int, int],
    start: tuple[int, int, int],
    gzip_level: int | None,
    threads: int,
) -> list[bytes]: ...
