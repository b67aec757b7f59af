"""Encoding / decoding of Neuroglancer precomputed chunks.

A drop-in replacement for :mod:`neuroglancer_scripts.chunk_encoding`. The central component is
the :class:`ChunkEncoder` base class; use :func:`get_encoder` to instantiate a concrete encoder.

Arrays are (C, Z, Y, X) in C order, which is the precomputed formats' x-fastest order; chunk sizes
are (X, Y, Z).
"""

from __future__ import annotations

import io
import operator
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import PIL.Image

from ngcodec import _native

__all__ = [
    "ChunkEncoder",
    "CompressedSegmentationEncoder",
    "IncompatibleEncoderError",
    "InvalidFormatError",
    "InvalidInfoError",
    "JpegChunkEncoder",
    "RawChunkEncoder",
    "add_argparse_options",
    "get_encoder",
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

JPEG_PLANES = ("xy", "xz")
MAX_JPEG_SIDE = 65500


class IncompatibleEncoderError(ValueError):
    """Raised when an Encoder cannot handle the requested data type."""


class InvalidFormatError(ValueError):
    """Raised when chunk data cannot be decoded properly."""


class InvalidInfoError(ValueError):
    """Raised when an info dict is invalid or inconsistent."""


def get_encoder(
    info: Mapping[str, Any],
    scale_info: Mapping[str, Any],
    encoder_options: Mapping[str, Any] | None = None,
) -> ChunkEncoder:
    """Create an Encoder object for the provided scale.

    :param dict info: a Neuroglancer *info* dictionary containing general encoding parameters
        (``data_type`` and ``num_channels``)
    :param dict scale_info: an element of ``info["scales"]`` containing scale-specific encoding
        parameters (``encoding`` and encoding-specific parameters)
    :param dict encoder_options: extrinsic encoder parameters
    :returns: an instance of a chunk encoder
    :rtype: ChunkEncoder
    :raises InvalidInfoError: if the provided *info* dict is invalid
    """
    options = encoder_options or {}
    try:
        data_type = info["data_type"]
        num_channels = info["num_channels"]
        encoding = scale_info["encoding"]
    except KeyError as exc:
        raise InvalidInfoError(f"The info dict is missing an essential key {exc}") from exc
    if not isinstance(num_channels, int) or num_channels <= 0:
        raise InvalidInfoError(
            f"Invalid value {num_channels} for num_channels (must be a positive integer)"
        )
    if data_type not in NEUROGLANCER_DATA_TYPES:
        raise InvalidInfoError(
            f"Invalid data_type {data_type} (should be one of {NEUROGLANCER_DATA_TYPES})"
        )
    try:
        if encoding == "raw":
            return RawChunkEncoder(data_type, num_channels)
        if encoding == "compressed_segmentation":
            if "compressed_segmentation_block_size" not in scale_info:
                raise InvalidInfoError(
                    'Encoding is set to "compressed_segmentation" but '
                    '"compressed_segmentation_block_size" is missing'
                )
            block_size = scale_info["compressed_segmentation_block_size"]
            return CompressedSegmentationEncoder(data_type, num_channels, block_size)
        if encoding == "jpeg":
            return JpegChunkEncoder(
                data_type,
                num_channels,
                jpeg_quality=options.get("jpeg_quality", 95),
                jpeg_plane=options.get("jpeg_plane", "xy"),
            )
    except (ValueError, TypeError) as exc:
        if isinstance(exc, InvalidInfoError):
            raise
        raise InvalidInfoError(str(exc)) from exc
    raise InvalidInfoError(f"Invalid encoding {encoding}")


def add_argparse_options(parser: Any, allow_lossy: bool = False) -> None:
    """Add command-line options for chunk encoding.

    :param parser: an instance of :class:`argparse.ArgumentParser`
    :param bool allow_lossy: show parameters for lossy encodings (i.e. jpeg)

    The extrinsic encoder parameters can be obtained from command-line arguments with
    :func:`add_argparse_options` and passed to :func:`get_encoder`::

        import argparse
        parser = argparse.ArgumentParser()
        add_argparse_options(parser)
        args = parser.parse_args()
        get_encoder(info, scale_info, vars(args))
    """
    import argparse

    if not allow_lossy:
        return

    def jpeg_quality(text: str) -> int:
        quality = int(text)
        if not 1 <= quality <= 100:
            raise argparse.ArgumentTypeError("JPEG quality must be between 1 and 100")
        return quality

    group = parser.add_argument_group("Options for JPEG compression")
    group.add_argument(
        "--jpeg-quality",
        type=jpeg_quality,
        default=95,
        metavar="Q",
        help="JPEG quality factor, from 1 (worst) to 100 (best); above 95 the files grow with "
        "hardly any gain in quality (default: 95)",
    )
    group.add_argument(
        "--jpeg-plane",
        choices=JPEG_PLANES,
        default="xy",
        help="plane of JPEG compression (default: xy)",
    )


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
        try:
            x, y, z = (operator.index(n) for n in tuple(chunk_size)[:3])
        except (TypeError, ValueError):
            raise ValueError(
                f"chunk_size must be three non-negative integers (X, Y, Z), got {chunk_size!r}"
            ) from None
        if min(x, y, z) < 0:
            raise ValueError(f"chunk_size must not be negative, got {chunk_size!r}")
        return (self.num_channels, z, y, x)


def _unsigned_view(chunk: np.ndarray) -> tuple[np.ndarray, bool]:
    """The chunk viewed as native unsigned integers of its size, and whether it is byteswapped."""
    byteswapped = not chunk.dtype.isnative
    return chunk.view(np.dtype(f"u{chunk.dtype.itemsize}")), byteswapped


def _byte_view(buf: Any) -> memoryview:
    """A flat byte view of any bytes-like object, copied only if it is not contiguous."""
    try:
        view = memoryview(buf)
    except TypeError:
        raise TypeError(f"buf must be a bytes-like object, not {type(buf).__name__}") from None
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    return view.cast("B")


def _byte_array(buf: Any) -> np.ndarray:
    """A zero-copy uint8 array over any bytes-like object."""
    return np.frombuffer(_byte_view(buf), dtype=np.uint8)


class RawChunkEncoder(ChunkEncoder):
    """Codec for the Neuroglancer raw chunk format.

    :param str data_type: data type supported by Neuroglancer
    :param int num_channels: number of image channels
    """

    def encode(self, chunk: np.ndarray) -> bytes:
        values, byteswapped = _unsigned_view(self._checked_chunk(chunk))
        return _native.raw_encode(values, byteswapped)

    def decode(self, buf: Any, chunk_size: Sequence[int]) -> np.ndarray:
        shape = self._output_shape(chunk_size)
        data = _byte_array(buf)
        expected = int(np.prod(shape, dtype=object)) * self.dtype.itemsize
        if data.size != expected:
            raise InvalidFormatError(
                f"Cannot decode raw-encoded chunk: it has {data.size} bytes, expected {expected} "
                f"for {self.num_channels} channel(s) of {self.dtype.name} and chunk_size "
                f"{tuple(chunk_size)[:3]}"
            )
        chunk = np.empty(shape, self.dtype.newbyteorder("="))
        _native.raw_decode(data, _unsigned_view(chunk.reshape(-1))[0])
        return chunk


class CompressedSegmentationEncoder(ChunkEncoder):
    """Codec for the Neuroglancer compressed_segmentation chunk format.

    :param str data_type: data type supported by Neuroglancer (``uint32`` or ``uint64``)
    :param int num_channels: number of image channels
    :param list block_size: block size (X, Y, Z) of the compressed segmentation algorithm
    :raises IncompatibleEncoderError: if data_type or num_channels are unsupported
    """

    def __init__(self, data_type: Any, num_channels: int, block_size: Sequence[int]) -> None:
        if data_type not in ("uint32", "uint64"):
            raise IncompatibleEncoderError(
                "The compressed_segmentation encoding can only handle uint32 or uint64 data_type"
            )
        super().__init__(data_type, num_channels)
        try:
            block = tuple(operator.index(n) for n in block_size)
        except TypeError:
            block = ()
        if len(block) != 3 or min(block) <= 0:
            raise ValueError(
                f"block_size must be three positive integers (X, Y, Z), got {block_size!r}"
            )
        self.block_size = block

    def encode(self, chunk: np.ndarray) -> bytearray:
        values, byteswapped = _unsigned_view(self._checked_chunk(chunk))
        return _native.compressed_segmentation_encode(values, self.block_size, byteswapped)

    def decode(self, buf: Any, chunk_size: Sequence[int]) -> np.ndarray:
        channels, z, y, x = self._output_shape(chunk_size)
        return _native.compressed_segmentation_decode(
            _byte_array(buf), (x, y, z), channels, self.block_size, self.dtype.name
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.dtype.name!r}, {self.num_channels!r}, "
            f"{list(self.block_size)!r})"
        )


class JpegChunkEncoder(ChunkEncoder):
    """Codec for the Neuroglancer jpeg chunk format.

    :param str data_type: data type supported by Neuroglancer (``uint8``)
    :param int num_channels: number of image channels (1 or 3)
    :param int jpeg_quality: quality factor for JPEG compression, 1 to 100
    :param str jpeg_plane: plane of JPEG compression ("xy" or "xz")
    :raises IncompatibleEncoderError: if data_type or num_channels are unsupported
    """

    lossy: ClassVar[bool] = True
    mime_type: ClassVar[str] = "image/jpeg"

    def __init__(
        self,
        data_type: Any,
        num_channels: int,
        jpeg_quality: int = 95,
        jpeg_plane: str = "xy",
    ) -> None:
        if data_type != "uint8" or num_channels not in (1, 3):
            raise IncompatibleEncoderError(
                "The JPEG encoding can only handle uint8 data_type with 1 or 3 channels"
            )
        super().__init__(data_type, num_channels)
        if isinstance(jpeg_quality, bool) or not isinstance(jpeg_quality, (int, np.integer)):
            raise TypeError(f"jpeg_quality must be an integer, got {jpeg_quality!r}")
        if not 1 <= jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be between 1 and 100, got {jpeg_quality}")
        if jpeg_plane not in JPEG_PLANES:
            raise ValueError(f"jpeg_plane must be 'xy' or 'xz', got {jpeg_plane!r}")
        self.jpeg_quality = int(jpeg_quality)
        self.jpeg_plane = jpeg_plane

    def encode(self, chunk: np.ndarray) -> bytes:
        chunk = self._checked_chunk(chunk)
        channels, z, y, x = chunk.shape
        width, height = (x, z * y) if self.jpeg_plane == "xy" else (y * x, z)
        if max(width, height) > MAX_JPEG_SIDE:
            raise ValueError(
                f"a {x}x{y}x{z} chunk makes a {width}x{height} image in the {self.jpeg_plane} "
                f"plane; JPEG images are limited to {MAX_JPEG_SIDE} pixels a side"
            )
        pixels = chunk.reshape(channels, height, width)
        pixels = pixels[0] if channels == 1 else np.moveaxis(pixels, 0, -1)
        out = io.BytesIO()
        PIL.Image.fromarray(np.ascontiguousarray(pixels)).save(
            out,
            format="jpeg",
            quality=self.jpeg_quality,
            optimize=True,
            progressive=True,
            subsampling=0,
        )
        return out.getvalue()

    def decode(self, buf: Any, chunk_size: Sequence[int]) -> np.ndarray:
        channels, z, y, x = shape = self._output_shape(chunk_size)
        mode = "L" if channels == 1 else "RGB"
        try:
            with PIL.Image.open(io.BytesIO(_byte_view(buf)), formats=("JPEG",)) as image:
                if image.mode != mode:
                    raise InvalidFormatError(
                        f"The JPEG chunk is encoded with mode={image.mode} instead of {mode}"
                    )
                width, height = image.size
                if width * height != x * y * z:
                    raise InvalidFormatError(
                        f"The JPEG-encoded chunk has an incompatible shape ({width}x{height} = "
                        f"{width * height} pixels, expecting {x * y * z} for chunk_size "
                        f"{(x, y, z)})"
                    )
                pixels = np.asarray(image)
        except InvalidFormatError:
            raise
        except (OSError, ValueError, SyntaxError, PIL.Image.DecompressionBombError) as exc:
            raise InvalidFormatError(f"The JPEG-encoded chunk could not be decoded: {exc}") from exc
        if channels == 1:
            return pixels.reshape(shape).copy()
        return np.ascontiguousarray(np.moveaxis(pixels, -1, 0)).reshape(shape)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.dtype.name!r}, {self.num_channels!r}, "
            f"jpeg_quality={self.jpeg_quality!r}, jpeg_plane={self.jpeg_plane!r})"
        )
