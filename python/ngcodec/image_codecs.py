"""The image encodings: jpeg through libjpeg-turbo (:mod:`ngcodec._native`), png through Pillow.

An image chunk is one picture whose rows, read one after the other, are the chunk's x-fastest
voxels: X wide and Y*Z high (jpeg may also be laid out in the xz plane); several channels are
interleaved in each pixel.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import PIL.Image
import PIL.ImageFile
import PIL.PngImagePlugin

from ngcodec import _native
from ngcodec.codec_base import (
    ChunkEncoder,
    IncompatibleEncoderError,
    InvalidFormatError,
    byte_array,
    byte_view,
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
_MULTICHANNEL_MODES = {2: "LA", 3: "RGB", 4: "RGBA"}
"""The Pillow mode of an image interleaving this many 8-bit channels."""
MAX_JPEG_SIDE = 65500
DEFAULT_PNG_LEVEL = 6
"""zlib's default level, which Pillow and tensorstore also use when none is given."""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _image_from_chunk(chunk: np.ndarray, width: int, height: int) -> PIL.Image.Image:
    """The chunk as an image whose rows, read one after the other, are its x-fastest voxels.

    One channel gives a greyscale image; several are interleaved, one pixel holding every channel.
    """
    require_voxels(chunk)
    planes = [
        PIL.Image.fromarray(np.ascontiguousarray(plane))
        for plane in chunk.reshape(-1, height, width)
    ]
    # Pillow interleaves the channels many times faster than a strided NumPy copy would.
    return (
        planes[0] if len(planes) == 1 else PIL.Image.merge(_MULTICHANNEL_MODES[len(planes)], planes)
    )


def _chunk_from_image(
    buf: Any,
    shape: tuple[int, int, int, int],
    dtype: np.dtype,
    image_file: Callable[[io.BytesIO], PIL.ImageFile.ImageFile],
    format_name: str,
    pixel_format_error: Callable[[PIL.ImageFile.ImageFile], str | None],
) -> np.ndarray:
    """The (C, Z, Y, X) chunk of dtype held in a one-image file; see :func:`_image_from_chunk`.

    Any image of X*Y*Z pixels is read, whatever its width. The image format's own class opens the
    file, so no other format is read; its pixel format and size are checked against the chunk
    before any pixel is decoded. Pillow's decompression-bomb limits are not needed (the size must
    be exactly the chunk's) and would refuse large but valid chunks, so the file is not opened
    through :func:`PIL.Image.open`.
    """
    channels, z, y, x = shape
    try:
        with image_file(io.BytesIO(byte_view(buf))) as image:
            problem = pixel_format_error(image)
            if problem is not None:
                raise InvalidFormatError(problem)
            width, height = image.size
            if width * height != x * y * z:
                raise InvalidFormatError(
                    f"The {format_name}-encoded chunk has an incompatible shape ({width}x{height} "
                    f"= {width * height} pixels, expecting {x * y * z} for chunk_size "
                    f"{(x, y, z)})"
                )
            # Split by Pillow, which de-interleaves far faster than a strided NumPy copy.
            chunk = np.empty(shape, dtype.newbyteorder("="))
            for channel, plane in enumerate(image.split() if channels > 1 else [image]):
                chunk[channel] = np.asarray(plane).reshape(shape[1:])
    except InvalidFormatError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InvalidFormatError(
            f"The {format_name}-encoded chunk could not be decoded: {exc}"
        ) from exc
    return chunk


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


_PNG_PIXEL_FORMATS = {
    # Pillow's raw mode for each PNG bit depth and colour type, as a PNG user names them.
    "1": "1-bit greyscale",
    "L;2": "2-bit greyscale",
    "L;4": "4-bit greyscale",
    "L": "8-bit greyscale",
    "I;16B": "16-bit greyscale",
    "LA": "8-bit greyscale+alpha",
    "LA;16B": "16-bit greyscale+alpha",
    "RGB": "8-bit RGB",
    "RGB;16B": "16-bit RGB",
    "RGBA": "8-bit RGBA",
    "RGBA;16B": "16-bit RGBA",
    "P;1": "1-bit palette",
    "P;2": "2-bit palette",
    "P;4": "4-bit palette",
    "P": "8-bit palette",
}

_PNG_MODES: dict[tuple[str, int], tuple[tuple[str, ...], str]] = {
    # (data_type, num_channels): (Pillow modes, Pillow raw mode) of the PNGs that hold them.
    ("uint8", 1): (("L",), "L"),
    ("uint8", 2): (("LA",), "LA"),
    ("uint8", 3): (("RGB",), "RGB"),
    ("uint8", 4): (("RGBA",), "RGBA"),
    # Pillow before 10.3 opens 16-bit greyscale in mode I (int32 samples), since then I;16.
    ("uint16", 1): (("I;16", "I"), "I;16B"),
}


def _png_structure_error(data: memoryview) -> str | None:
    """What is wrong with the PNG's chunk sequence, if anything.

    Pillow checks neither the CRCs of the image data chunks nor that the file goes on to its IEND
    chunk, so a damaged or cut file could otherwise decode, silently, to wrong voxels.
    """
    if data[: len(PNG_SIGNATURE)] != PNG_SIGNATURE:
        return "not a PNG file"
    offset = len(PNG_SIGNATURE)
    while offset + 12 <= len(data):
        end = offset + 12 + int.from_bytes(data[offset : offset + 4], "big")
        if end > len(data):
            break
        kind = bytes(data[offset + 4 : offset + 8])
        if zlib.crc32(data[offset + 4 : end - 4]) != int.from_bytes(data[end - 4 : end], "big"):
            name = kind.decode() if kind.isalpha() else repr(kind)
            return f"its {name} chunk at byte {offset} fails its CRC check"
        if kind == b"IEND":
            return None
        offset = end
    return f"it is truncated (no IEND chunk in its {len(data)} bytes)"


def _png_raw_mode(image: PIL.ImageFile.ImageFile) -> str | None:
    """The raw mode Pillow will decode the PNG's pixels with: that of the last IHDR it read.

    The image mode alone does not tell the bit depth (16-bit RGB opens as RGB, 8 bits a sample),
    and a file can hold several IHDR chunks, so the first one says nothing certain either.
    """
    if len(image.tile) != 1:
        return None
    raw_mode = image.tile[0][3]
    return raw_mode if isinstance(raw_mode, str) else None


class PngChunkEncoder(ChunkEncoder):
    """Codec for the Neuroglancer png chunk format (lossless).

    The image is X pixels wide and Y*Z high, as Neuroglancer and tensorstore write it; several
    channels are interleaved (greyscale+alpha, RGB, RGBA). 16-bit samples are big-endian, as PNG
    requires.

    :param str data_type: data type supported by Neuroglancer (``uint8`` or ``uint16``)
    :param int num_channels: number of image channels (1 to 4 for uint8, 1 for uint16)
    :param int png_level: zlib compression level, 0 (fastest) to 9 (smallest files)
    :raises IncompatibleEncoderError: if data_type or num_channels are unsupported
    """

    mime_type: ClassVar[str] = "image/png"

    def __init__(
        self, data_type: Any, num_channels: int, png_level: int = DEFAULT_PNG_LEVEL
    ) -> None:
        if not (
            (data_type == "uint8" and num_channels in (1, 2, 3, 4))
            or (data_type == "uint16" and num_channels == 1)
        ):
            # Pillow reads 16-bit PNGs of 2 to 4 channels as 8-bit ones and cannot write them.
            raise IncompatibleEncoderError(
                "The PNG encoding can only handle uint8 data_type with 1 to 4 channels or "
                "uint16 data_type with 1 channel"
            )
        super().__init__(data_type, num_channels)
        if isinstance(png_level, bool) or not isinstance(png_level, (int, np.integer)):
            raise TypeError(f"png_level must be an integer, got {png_level!r}")
        if not 0 <= png_level <= 9:
            raise ValueError(f"png_level must be between 0 and 9, got {png_level}")
        self.png_level = int(png_level)

    def encode(self, chunk: np.ndarray) -> bytes:
        chunk = self._checked_chunk(chunk)
        _, z, y, x = chunk.shape
        out = io.BytesIO()
        _image_from_chunk(chunk, x, z * y).save(out, format="png", compress_level=self.png_level)
        return out.getvalue()

    def decode(self, buf: Any, chunk_size: Sequence[int]) -> np.ndarray:
        shape = self._output_shape(chunk_size)
        modes, raw_mode = _PNG_MODES[(self.dtype.name, shape[0])]
        data = byte_view(buf)
        problem = _png_structure_error(data)
        if problem is not None:
            raise InvalidFormatError(f"The PNG-encoded chunk could not be decoded: {problem}")

        def pixel_format_error(image: PIL.ImageFile.ImageFile) -> str | None:
            found = _png_raw_mode(image)
            if image.mode in modes and found == raw_mode:
                return None
            return (
                f"The PNG chunk holds {_PNG_PIXEL_FORMATS.get(found or '', image.mode)} pixels "
                f"instead of {_PNG_PIXEL_FORMATS[raw_mode]} ({self.num_channels} channel(s) of "
                f"{self.dtype.name})"
            )

        return _chunk_from_image(
            data, shape, self.dtype, PIL.PngImagePlugin.PngImageFile, "PNG", pixel_format_error
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.dtype.name!r}, {self.num_channels!r}, "
            f"png_level={self.png_level!r})"
        )
