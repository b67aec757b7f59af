"""Encoding / decoding of Neuroglancer precomputed chunks.

A drop-in replacement for :mod:`neuroglancer_scripts.chunk_encoding`. The central component is
the :class:`ChunkEncoder` base class; use :func:`get_encoder` to instantiate a concrete encoder.

Arrays are (C, Z, Y, X) in C order, which is the precomputed formats' x-fastest order; chunk sizes
are (X, Y, Z).
"""

from __future__ import annotations

import io
import math
import operator
import sys
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import PIL.Image
import PIL.ImageFile
import PIL.JpegImagePlugin
import PIL.PngImagePlugin

from ngcodec import _native

__all__ = [
    "ChunkEncoder",
    "CompressedSegmentationEncoder",
    "IncompatibleEncoderError",
    "InvalidFormatError",
    "InvalidInfoError",
    "JpegChunkEncoder",
    "PngChunkEncoder",
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

_LITTLE_ENDIAN_HOST = sys.byteorder == "little"
# The largest length of an array axis; looked up once, as decode checks it on every call.
_LARGEST_AXIS = int(np.iinfo(np.intp).max)

JPEG_PLANES = ("xy", "xz")
_MULTICHANNEL_MODES = {2: "LA", 3: "RGB", 4: "RGBA"}
"""The Pillow mode of an image interleaving this many 8-bit channels."""
MAX_JPEG_SIDE = 65500
DEFAULT_PNG_LEVEL = 6
"""zlib's default level, which Pillow and tensorstore also use when none is given."""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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
        if encoding == "png":
            # The level only affects writing: a --png-level given for this run wins over the
            # png_level that tensorstore and cloud-volume keep in the scale info.
            png_level = options.get("png_level")
            if png_level is None:
                png_level = scale_info.get("png_level", DEFAULT_PNG_LEVEL)
            return PngChunkEncoder(data_type, num_channels, png_level=png_level)
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

    ``--png-level`` is offered whether or not lossy encodings are allowed (PNG is lossless); when
    it is not given, the parsed arguments do not contain it at all, exactly as in the reference.
    """
    import argparse

    png_group = parser.add_argument_group("Options for PNG compression")
    png_group.add_argument(
        "--png-level",
        type=_int_between("png_level", "PNG level", 0, 9),
        default=argparse.SUPPRESS,
        metavar="L",
        help="zlib compression level of PNG chunks, from 0 (fastest) to 9 (smallest files); "
        f"default: the scale's png_level if its info has one, else {DEFAULT_PNG_LEVEL}",
    )

    if not allow_lossy:
        return

    group = parser.add_argument_group("Options for JPEG compression")
    group.add_argument(
        "--jpeg-quality",
        type=_int_between("jpeg_quality", "JPEG quality", 1, 100),
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


def _int_between(name: str, what: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer from `low` to `high`. argparse names `name` when the text is
    not an integer at all ("invalid jpeg_quality value")."""
    import argparse

    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be between {low} and {high}")
        return value

    parse.__name__ = name
    return parse


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
        if channels > _LARGEST_AXIS:
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
        if not (0 <= x <= _LARGEST_AXIS and 0 <= y <= _LARGEST_AXIS and 0 <= z <= _LARGEST_AXIS):
            if min(x, y, z) < 0:
                raise ValueError(f"chunk_size must not be negative, got {chunk_size!r}")
            raise ValueError(f"chunk_size {chunk_size!r} is too large for any array")
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
    if type(buf) is bytes:  # the usual case, without the memoryview
        return np.frombuffer(buf, dtype=np.uint8)
    return np.frombuffer(_byte_view(buf), dtype=np.uint8)


def _image_from_chunk(chunk: np.ndarray, width: int, height: int) -> PIL.Image.Image:
    """The chunk as an image whose rows, read one after the other, are its x-fastest voxels.

    One channel gives a greyscale image; several are interleaved, one pixel holding every channel.
    """
    if chunk.size == 0:
        raise ValueError(f"an image chunk must hold at least one voxel, got shape {chunk.shape}")
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
        with image_file(io.BytesIO(_byte_view(buf))) as image:
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


class RawChunkEncoder(ChunkEncoder):
    """Codec for the Neuroglancer raw chunk format.

    :param str data_type: data type supported by Neuroglancer
    :param int num_channels: number of image channels
    """

    def encode(self, chunk: np.ndarray) -> bytes:
        values, byteswapped = _unsigned_view(self._checked_chunk(chunk))
        rows_in_place = values.flags.c_contiguous or values.strides[3] == values.itemsize
        if _LITTLE_ENDIAN_HOST and not byteswapped and rows_in_place:
            # Rows of the raw encoding already lie in memory: NumPy copies them into a new bytes
            # object in one pass, without first zeroing it as a Rust-filled bytes object is.
            return values.tobytes()
        return _native.raw_encode(values, byteswapped)

    def decode(self, buf: Any, chunk_size: Sequence[int]) -> np.ndarray:
        shape = self._output_shape(chunk_size)
        data = _byte_array(buf)
        expected = math.prod(shape) * self.dtype.itemsize
        if data.size != expected:
            raise InvalidFormatError(
                f"Cannot decode raw-encoded chunk: it has {data.size} bytes, expected {expected} "
                f"for {self.num_channels} channel(s) of {self.dtype.name} and chunk_size "
                f"{tuple(chunk_size)[:3]}"
            )
        # One copy, which NumPy makes in native byte order: nothing for Rust to add.
        return np.frombuffer(data, self.dtype).reshape(shape).astype(self.dtype.newbyteorder("="))


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
        if int(np.prod(block, dtype=object)) > _LARGEST_AXIS:
            raise ValueError(f"block_size {block_size!r} is too large")
        self.block_size = block

    def encode(self, chunk: np.ndarray) -> bytearray:
        values, byteswapped = _unsigned_view(self._checked_chunk(chunk))
        return _native.compressed_segmentation_encode(values, self.block_size, byteswapped)

    def decode(self, buf: Any, chunk_size: Sequence[int]) -> np.ndarray:
        channels, z, y, x = self._output_shape(chunk_size)
        return _native.compressed_segmentation_decode(
            buf if type(buf) is bytes else _byte_array(buf),
            (x, y, z),
            channels,
            self.block_size,
            self.dtype.itemsize,
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
        _, z, y, x = chunk.shape
        width, height = (x, z * y) if self.jpeg_plane == "xy" else (y * x, z)
        if max(width, height) > MAX_JPEG_SIDE:
            raise ValueError(
                f"a {x}x{y}x{z} chunk makes a {width}x{height} image in the {self.jpeg_plane} "
                f"plane; JPEG images are limited to {MAX_JPEG_SIDE} pixels a side"
            )
        image = _image_from_chunk(chunk, width, height)
        settings: dict[str, Any] = {"quality": self.jpeg_quality, "subsampling": 0}
        out = io.BytesIO()
        try:
            image.save(out, "jpeg", optimize=True, progressive=True, **settings)
        except OSError:
            # Pillow holds an optimised progressive JPEG in a buffer of 1 or 2 bytes a pixel, too
            # small for noisy images ("broken data stream"); a baseline JPEG streams and fits.
            out = io.BytesIO()
            image.save(out, "jpeg", **settings)
        return out.getvalue()

    def decode(self, buf: Any, chunk_size: Sequence[int]) -> np.ndarray:
        shape = self._output_shape(chunk_size)
        mode = "L" if shape[0] == 1 else "RGB"

        def pixel_format_error(image: PIL.ImageFile.ImageFile) -> str | None:
            if image.mode == mode:
                return None
            return f"The JPEG chunk is encoded with mode={image.mode} instead of {mode}"

        return _chunk_from_image(
            buf, shape, self.dtype, PIL.JpegImagePlugin.JpegImageFile, "JPEG", pixel_format_error
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.dtype.name!r}, {self.num_channels!r}, "
            f"jpeg_quality={self.jpeg_quality!r}, jpeg_plane={self.jpeg_plane!r})"
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
        data = _byte_view(buf)
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
