"""The Rust codecs behind ngcodec.chunk_encoding and the store's gzip. Arrays are (C, Z, Y, X);
sizes are (X, Y, Z)."""

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "compressed_segmentation_decode",
    "compressed_segmentation_encode",
    "gzip_compress",
    "gzip_decompress",
    "raw_encode",
    "zlib_decompress",
]

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
def gzip_compress(data: bytes | NDArray[np.uint8], level: int) -> bytes: ...
def gzip_decompress(data: bytes | NDArray[np.uint8], max_size: int) -> bytes: ...
def zlib_decompress(data: bytes | NDArray[np.uint8], max_size: int) -> bytes: ...
