"""The image encodings: jpeg through libjpeg-turbo, png through the Rust png crate (both in
:mod:`ngcodec._native`).

An image chunk is one picture whose rows, read one after the other, are the chunk's x-fastest
voxels: X wide and Y*Z high (jpeg may also be laid out in the xz plane); several channels are
interleaved in each pixel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ngcodec import _native
from ngcodec.codec_base import (
    ChunkEncoder,
    IncompatibleEncoderError,
    byte_array,
    require_voxels,
)

__all__ = [
    "DEFAULT_PNG_LEVEL",
    "JPEG_MODES",
    "JPEG_PLANES",
    "MAX_JPEG_SIDE",
    "PNG_SIGNATURE",
    "JpegChunkEncoder",
    "PngChunkEncoder",
]

JPEG_PLANES = ("xy", "xz")
JPEG_MODES = ("progressive", "baseline")
"""How jpeg chunks are written: progressive (the reference's bytes) or baseline (several times
faster to write and to read, for files a few percent larger)."""
MAX_JPEG_SIDE = 65500
DEFAULT_PNG_LEVEL = 6
"""zlib's default level, which Pillow and tensorstore also use when none is given."""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class JpegChunkEncoder(ChunkEncoder):
    """Codec for the Neuroglancer jpeg chunk format.

    :param str data_type: data type supported by Neuroglancer (``uint8``)
    :param int num_channels: number of image channels (1 or 3)
    :param int jpeg_quality: quality factor for JPEG compression, 1 to 100
    :param str jpeg_plane: plane of JPEG compression ("xy" or "xz")
    :param str jpeg_mode: "progressive" (the reference's bytes) or "baseline" (several times
        faster to write and read, files a few percent larger)
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
        jpeg_mode: str = "progressive",
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
        if jpeg_mode not in JPEG_MODES:
            raise ValueError(f"jpeg_mode must be 'progressive' or 'baseline', got {jpeg_mode!r}")
        self.jpeg_quality = int(jpeg_quality)
        self.jpeg_plane = jpeg_plane
        self.jpeg_mode = jpeg_mode

    def encode(self, chunk: np.ndarray) -> bytes:
        chunk = self._checked_chunk(chunk)
        _, z, y, x = chunk.shape
        require_voxels(chunk)
        width, height = (x, z * y) if self.jpeg_plane == "xy" else (y * x, z)
        if max(width, height) > MAX_JPEG_SIDE:
            raise ValueError(
                f"a {x}x{y}x{z} chunk makes a {width}x{height} image in the {self.jpeg_plane} "
                f"plane; JPEG images are limited to {MAX_JPEG_SIDE} pixels a side"
            )
        return _native.jpeg_encode(chunk, width, self.jpeg_quality, self.jpeg_mode == "progressive")

    def decode(self, buf: Any, chunk_size: Sequence[int]) -> np.ndarray:
        channels, z, y, x = self._output_shape(chunk_size)
        return _native.jpeg_decode(
            buf if type(buf) is bytes else byte_array(buf), (x, y, z), channels
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.dtype.name!r}, {self.num_channels!r}, "
            f"jpeg_quality={self.jpeg_quality!r}, jpeg_plane={self.jpeg_plane!r}, "
            f"jpeg_mode={self.jpeg_mode!r})"
        )


class PngChunkEncoder(ChunkEncoder):
    """Codec for the Neuroglancer png chunk format (lossless).

    The image is X pixels wide and Y*Z high, as Neuroglancer and tensorstore write it; several
    channels are interleaved (greyscale+alpha, RGB, RGBA). 16-bit samples are big-endian, as PNG
    requires.

    :param str data_type: data type supported by Neuroglancer (``uint8`` or ``uint16``)
    :param int num_channels: number of image channels (1 to 4)
    :param int png_level: zlib compression level, 0 (fastest) to 9 (smallest files)
    :raises IncompatibleEncoderError: if data_type or num_channels are unsupported
    """

    mime_type: ClassVar[str] = "image/png"

    def __init__(
        self, data_type: Any, num_channels: int, png_level: int = DEFAULT_PNG_LEVEL
    ) -> None:
        if data_type not in ("uint8", "uint16") or num_channels not in (1, 2, 3, 4):
            raise IncompatibleEncoderError(
                "The PNG encoding can only handle uint8 or uint16 data_type with 1 to 4 channels"
            )
        super().__init__(data_type, num_channels)
        if isinstance(png_level, bool) or not isinstance(png_level, (int, np.integer)):
            raise TypeError(f"png_level must be an integer, got {png_level!r}")
        if not 0 <= png_level <= 9:
            raise ValueError(f"png_level must be between 0 and 9, got {png_level}")
        self.png_level = int(png_level)

    def encode(self, chunk: np.ndarray) -> bytes:
        chunk = self._checked_chunk(chunk)
        require_voxels(chunk)
        # The Rust encoder takes native-endian samples (and writes them big-endian).
        chunk = chunk.astype(chunk.dtype.newbyteorder("="), copy=False)
        return _native.png_encode(chunk, chunk.shape[3], self.png_level)

    def decode(self, buf: Any, chunk_size: Sequence[int]) -> np.ndarray:
        channels, z, y, x = self._output_shape(chunk_size)
        return _native.png_decode(
            buf if type(buf) is bytes else byte_array(buf),
            (x, y, z),
            channels,
            self.dtype.itemsize,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.dtype.name!r}, {self.num_channels!r}, "
            f"png_level={self.png_level!r})"
        )
