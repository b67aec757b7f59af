"""The chunk encoder base class, its errors, and what every encoder shares.

Internal: :mod:`ngcodec.chunk_encoding` is the public face of all of it.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "LARGEST_AXIS",
    "NEUROGLANCER_DATA_TYPES",
    "ChunkEncoder",
    "IncompatibleEncoderError",
    "InvalidFormatError",
    "InvalidInfoError",
    "byte_array",
    "byte_view",
    "require_voxels",
    "unsigned_view",
]

NEUROGLANCER_DATA_TYPES = (
    "uint8",
    "int8",
    "uint16",
    "int16",
    "uint32",
    "int32",
    "uint64",
    "float32",
)
"""The ``data_type`` values :func:`get_encoder` accepts: those the Neuroglancer viewer reads."""
# The largest length of an array axis; looked up once, as decode checks it on every call.
LARGEST_AXIS = int(np.iinfo(np.intp).max)


class IncompatibleEncoderError(ValueError):
    """Raised when an Encoder cannot handle the requested data type."""


class InvalidFormatError(ValueError):
    """Raised when chunk data cannot be decoded properly."""


class InvalidInfoError(ValueError):
    """Raised when an info dict is invalid or inconsistent."""


class ChunkEncoder:
    """Encode/decode chunks from NumPy arrays to byte buffers.

    :param str data_type: data type supported by Neuroglancer
    :param int num_channels: number of image channels
    """

    lossy: ClassVar[bool] = False
    """True if this encoder is lossy."""

    mime_type: ClassVar[str] = "application/octet-stream"
    """MIME type of the encoded chunk."""

    def __init__(self, data_type: Any, num_channels: int) -> None:
        try:
            dtype = np.dtype(data_type)
        except TypeError as exc:
            raise IncompatibleEncoderError(f"Unsupported data_type {data_type!r}: {exc}") from None
        if dtype.kind not in "uif" or dtype.itemsize not in (1, 2, 4, 8):
            raise IncompatibleEncoderError(
                f"Unsupported data_type {data_type!r}: chunks hold integers or floats of "
                "1, 2, 4 or 8 bytes"
            )
        try:
            channels = operator.index(num_channels)
        except TypeError:
            channels = 0
        if channels <= 0:
            raise ValueError(f"num_channels must be a positive integer, got {num_channels!r}")
        if channels > LARGEST_AXIS:
            raise ValueError(f"num_channels {num_channels!r} is too large for any array")
        self.dtype = dtype.newbyteorder("<")
        self.num_channels = num_channels

    def encode(self, chunk: np.ndarray) -> bytes | bytearray:
        """Encode a chunk from a NumPy array into bytes.

        :param numpy.ndarray chunk: array with four dimensions (C, Z, Y, X)
        :returns: encoded chunk
        :rtype: bytes
        """
        raise NotImplementedError

    def decode(self, buf: Any, chunk_size: Sequence[int]) -> np.ndarray:
        """Decode a chunk from bytes into a NumPy array.

        :param bytes buf: encoded chunk
        :param tuple chunk_size: the 3-D size of the chunk (X, Y, Z)
        :returns: chunk contained in a 4-D NumPy array (C, Z, Y, X)
        :rtype: numpy.ndarray
        :raises InvalidFormatError: if the chunk data cannot be decoded properly
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.dtype.name!r}, {self.num_channels!r})"

    def _checked_chunk(self, chunk: Any) -> np.ndarray:
        """The chunk as an array of this encoder's type (cast only if it must be, and safely)."""
        chunk = np.asarray(chunk)
        if chunk.ndim != 4 or chunk.shape[0] != self.num_channels:
            raise ValueError(
                f"chunk must be a 4-D array (C, Z, Y, X) with C = {self.num_channels} "
                f"channel(s), got shape {chunk.shape}"
            )
        if chunk.dtype.newbyteorder("<") != self.dtype:
            if not np.can_cast(chunk.dtype, self.dtype, casting="safe"):
                raise TypeError(
                    f"chunk of dtype {chunk.dtype} cannot be safely cast to this encoder's "
                    f"data_type {self.dtype.name}"
                )
            chunk = chunk.astype(self.dtype.newbyteorder("="))
        if not chunk.flags.aligned:
            chunk = chunk.copy()
        return chunk

    def _output_shape(self, chunk_size: Sequence[int]) -> tuple[int, int, int, int]:
        """(C, Z, Y, X) for a chunk_size (X, Y, Z), checked."""
        # Indexed rather than iterated, as the reference does: this runs on every decode.
        index = operator.index
        try:
            x, y, z = index(chunk_size[0]), index(chunk_size[1]), index(chunk_size[2])
        except (TypeError, IndexError, KeyError, ValueError):
            raise ValueError(
                f"chunk_size must be three non-negative integers (X, Y, Z), got {chunk_size!r}"
            ) from None
        if not (0 <= x <= LARGEST_AXIS and 0 <= y <= LARGEST_AXIS and 0 <= z <= LARGEST_AXIS):
            if min(x, y, z) < 0:
                raise ValueError(f"chunk_size must not be negative, got {chunk_size!r}")
            raise ValueError(f"chunk_size {chunk_size!r} is too large for any array")
        return (self.num_channels, z, y, x)


def require_voxels(chunk: np.ndarray) -> None:
    """Refuses a chunk of no voxels, which no image can hold."""
    if chunk.size == 0:
        raise ValueError(f"an image chunk must hold at least one voxel, got shape {chunk.shape}")


def unsigned_view(chunk: np.ndarray) -> tuple[np.ndarray, bool]:
    """The chunk viewed as native unsigned integers of its size, and whether it is byteswapped."""
    byteswapped = not chunk.dtype.isnative
    return chunk.view(np.dtype(f"u{chunk.dtype.itemsize}")), byteswapped


def byte_view(buf: Any) -> memoryview:
    """A flat byte view of any bytes-like object, copied only if it is not contiguous."""
    try:
        view = memoryview(buf)
    except TypeError:
        raise TypeError(f"buf must be a bytes-like object, not {type(buf).__name__}") from None
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    return view.cast("B")


def byte_array(buf: Any) -> np.ndarray:
    """A zero-copy uint8 array over any bytes-like object."""
    if type(buf) is bytes:  # the usual case, without the memoryview
        return np.frombuffer(buf, dtype=np.uint8)
    return np.frombuffer(byte_view(buf), dtype=np.uint8)
