"""Encoding / decoding of Neuroglancer precomputed chunks.

A drop-in replacement for :mod:`neuroglancer_scripts.chunk_encoding`. The central component is
the :class:`ChunkEncoder` base class; use :func:`get_encoder` to instantiate a concrete encoder.

Arrays are (C, Z, Y, X) in C order, which is the precomputed formats' x-fastest order; chunk sizes
are (X, Y, Z). The raw and compressed_segmentation codecs are Rust (:mod:`ngcodec._native`); the
image codecs live in :mod:`ngcodec.image_codecs`, the base class in :mod:`ngcodec.codec_base`.
"""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ngcodec import _native
from ngcodec.codec_base import (
    LARGEST_AXIS,
    NEUROGLANCER_DATA_TYPES,
    ChunkEncoder,
    IncompatibleEncoderError,
    InvalidFormatError,
    InvalidInfoError,
    byte_array,
    unsigned_view,
)
from ngcodec.compresso_codec import CompressoEncoder
from ngcodec.image_codecs import (
    DEFAULT_PNG_LEVEL,
    JPEG_MODES,
    JPEG_PLANES,
    JpegChunkEncoder,
    PngChunkEncoder,
)
from ngcodec.image_codecs import PNG_SIGNATURE as PNG_SIGNATURE  # public here since 0.1
from ngcodec.jxl_codec import DEFAULT_JXL_EFFORT, DEFAULT_JXL_QUALITY, JXL_OPTIONS, JxlChunkEncoder

__all__ = [
    "ChunkEncoder",
    "CompressedSegmentationEncoder",
    "CompressoEncoder",
    "IncompatibleEncoderError",
    "InvalidFormatError",
    "InvalidInfoError",
    "JpegChunkEncoder",
    "JxlChunkEncoder",
    "PngChunkEncoder",
    "RawChunkEncoder",
    "add_argparse_options",
    "get_encoder",
]

_LITTLE_ENDIAN_HOST = sys.byteorder == "little"

ENCODINGS = ("raw", "compressed_segmentation", "jpeg", "png", "jxl", "compresso")
"""Every ``encoding`` :func:`get_encoder` knows: the six the Neuroglancer viewer reads. Writing jxl
needs ``ngcodec[jxl]`` (also to read it), writing compresso ``ngcodec[compresso]``."""


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
                jpeg_mode=options.get("jpeg_mode", "progressive"),
            )
        if encoding == "png":
            png_level = _writing_option("png_level", options, scale_info, DEFAULT_PNG_LEVEL)
            return PngChunkEncoder(data_type, num_channels, png_level=png_level)
        if encoding == "jxl":
            jxl_options = {
                name: _writing_option(name, options, scale_info, default)
                for name, default in JXL_OPTIONS.items()
            }
            return JxlChunkEncoder(data_type, num_channels, **jxl_options)
        if encoding == "compresso":
            return CompressoEncoder(data_type, num_channels)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, InvalidInfoError):
            raise
        raise InvalidInfoError(str(exc)) from exc
    raise InvalidInfoError(f"Invalid encoding {encoding}")


def _writing_option(
    name: str, options: Mapping[str, Any], scale_info: Mapping[str, Any], default: Any
) -> Any:
    """An option that only affects writing: given for this run (``--png-level``), it wins over the
    value tensorstore and cloud-volume keep in the scale info (``png_level``, ``jxl_quality``)."""
    value = options.get(name)
    return scale_info.get(name, default) if value is None else value


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

    ``--png-level``, ``--jxl-quality`` and ``--jxl-effort`` are offered whether or not lossy
    encodings are allowed (PNG is lossless, and so is JPEG XL at quality 100), ``--jpeg-mode`` with
    the jpeg options; when they are not given, the parsed arguments do not contain them at all, so
    the reference's option set is unchanged.
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

    jxl_group = parser.add_argument_group("Options for JPEG XL compression (jxl)")
    jxl_group.add_argument(
        "--jxl-quality",
        type=_int_between("jxl_quality", "JPEG XL quality", 1, 100),
        default=argparse.SUPPRESS,
        metavar="Q",
        help="JPEG XL quality, from 1 to 100 (lossless); default: the scale's jxl_quality if "
        f"its info has one, else {DEFAULT_JXL_QUALITY}",
    )
    jxl_group.add_argument(
        "--jxl-effort",
        type=_int_between("jxl_effort", "JPEG XL effort", 1, 10),
        default=argparse.SUPPRESS,
        metavar="E",
        help="JPEG XL encoder effort, from 1 (fastest) to 10 (smallest files); default: the "
        f"scale's jxl_effort if its info has one, else {DEFAULT_JXL_EFFORT}",
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
    group.add_argument(
        "--jpeg-mode",
        choices=JPEG_MODES,
        default=argparse.SUPPRESS,
        help="progressive: the reference's files; baseline: several times faster to write and "
        "to read, for files about 10%% larger (default: progressive)",
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


class RawChunkEncoder(ChunkEncoder):
    """Codec for the Neuroglancer raw chunk format.

    :param str data_type: data type supported by Neuroglancer
    :param int num_channels: number of image channels
    """

    def encode(self, chunk: np.ndarray) -> bytes:
        values, byteswapped = unsigned_view(self._checked_chunk(chunk))
        rows_in_place = values.flags.c_contiguous or values.strides[3] == values.itemsize
        if _LITTLE_ENDIAN_HOST and not byteswapped and rows_in_place:
            # Rows of the raw encoding already lie in memory: NumPy copies them into a new bytes
            # object in one pass, without first zeroing it as a Rust-filled bytes object is.
            return values.tobytes()
        return _native.raw_encode(values, byteswapped)

    def decode(self, buf: Any, chunk_size: Sequence[int]) -> np.ndarray:
        shape = self._output_shape(chunk_size)
        data = byte_array(buf)
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
        if int(np.prod(block, dtype=object)) > LARGEST_AXIS:
            raise ValueError(f"block_size {block_size!r} is too large")
        self.block_size = block

    def encode(self, chunk: np.ndarray) -> bytearray:
        values, byteswapped = unsigned_view(self._checked_chunk(chunk))
        return _native.compressed_segmentation_encode(values, self.block_size, byteswapped)

    def decode(self, buf: Any, chunk_size: Sequence[int]) -> np.ndarray:
        channels, z, y, x = self._output_shape(chunk_size)
        return _native.compressed_segmentation_decode(
            buf if type(buf) is bytes else byte_array(buf),
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
