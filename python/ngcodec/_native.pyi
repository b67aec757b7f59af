"""The Rust codecs behind ngcodec.chunk_encoding. Arrays are (C, Z, Y, X); sizes are (X, Y, Z)."""

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "compressed_segmentation_decode",
    "compressed_segmentation_encode",
    "compresso_decode",
    "jpeg_decode",
    "jpeg_encode",
    "raw_encode",
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
def jpeg_encode(chunk: NDArray[np.uint8], width: int, quality: int, progressive: bool) -> bytes: ...
def jpeg_decode(
    buf: bytes | NDArray[np.uint8], chunk_size: tuple[int, int, int], num_channels: int
) -> NDArray[np.uint8]: ...
def compresso_decode(
    buf: bytes | NDArray[np.uint8], chunk_size: tuple[int, int, int], label_bytes: int
) -> NDArray[np.unsignedinteger]: ...
