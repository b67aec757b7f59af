"""The jxl (JPEG XL) encoding for images, through imagecodecs' libjxl (``pip install
'ngcodec[jxl]'``), laid out as Neuroglancer and cloud-volume read it: X wide and Y*Z high, one
channel greyscale or three RGB.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ngcodec.codec_base import (
    ChunkEncoder,
    IncompatibleEncoderError,
    InvalidFormatError,
    byte_view,
    require_voxels,
)

__all__ = [
    "DEFAULT_JXL_EFFORT",
    "DEFAULT_JXL_QUALITY",
    "JXL_OPTIONS",
    "JxlChunkEncoder",
    "transcode_jpeg",
]

DEFAULT_JXL_QUALITY = 90
"""A third smaller than the default (quality-95) jpeg on EM-like greyscale, 3 dB below its PSNR; at
equal PSNR jxl is about 20% smaller (benches/bench_images.py)."""
DEFAULT_JXL_EFFORT = 3
"""10-30 MB/s; effort 5 (cloud-volume's) is 3-10 times slower for about 10% smaller files."""
LOSSLESS_QUALITY = 100
"""Quality 100 is lossless, as for cloud-volume."""
JXL_OPTIONS = {
    "jxl_quality": DEFAULT_JXL_QUALITY,
    "jxl_effort": DEFAULT_JXL_EFFORT,
    "jxl_decodingspeed": 0,
}
"""The encoder's options with their defaults, named as cloud-volume names them in the scale info."""


_CODESTREAM_SIGNATURE = b"\xff\x0a"
_CONTAINER_SIGNATURE = b"\0\0\0\x0cJXL \r\n\x87\n"
_ASPECT_RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}
"""The SizeHeader's ratio codes: width = height * numerator // denominator."""


def _codestream(data: memoryview) -> memoryview | None:
    """The codestream of a JPEG XL file: the file itself, or the contents of its container's first
    codestream box (``jxlc``, or ``jxlp`` after its 4-byte index)."""
    if data[:2] == _CODESTREAM_SIGNATURE:
        return data
    if data[: len(_CONTAINER_SIGNATURE)] != _CONTAINER_SIGNATURE:
        return None
    offset = 0
    while offset + 8 <= len(data):
        size, header = int.from_bytes(data[offset : offset + 4], "big"), 8
        if size == 1:
            size, header = int.from_bytes(data[offset + 8 : offset + 16], "big"), 16
        elif size == 0:
            size = len(data) - offset
        if size < header:
            return None
        kind = bytes(data[offset + 4 : offset + 8])
        if kind in (b"jxlc", b"jxlp"):
            return data[offset + header + (4 if kind == b"jxlp" else 0) : offset + size]
        offset += size
    return None


def _image_size(data: memoryview) -> tuple[int, int] | None:
    """(width, height) as the codestream's SizeHeader declares them, read before any pixel is
    decoded (or allocated): None if the file does not start like JPEG XL."""
    stream = _codestream(data)
    if stream is None or stream[:2] != _CODESTREAM_SIGNATURE:
        return None
    # Bits are read from the least significant of each byte on; the header takes at most 9 bytes.
    bits = int.from_bytes(stream[2:12], "little")

    def read(count: int) -> int:
        nonlocal bits
        value, bits = bits & ((1 << count) - 1), bits >> count
        return value

    def side(small: int) -> int:
        return 8 * (1 + read(5)) if small else 1 + read((9, 13, 18, 30)[read(2)])

    small = read(1)
    height = side(small)
    ratio = read(3)
    if ratio:
        numerator, denominator = _ASPECT_RATIOS[ratio]
        return height * numerator // denominator, height
    return side(small), height


def _imagecodecs() -> Any:
    try:
        import imagecodecs
    except ImportError as exc:
        raise ImportError(
            "the jxl encoding needs the imagecodecs package: pip install 'ngcodec[jxl]'"
        ) from exc
    return imagecodecs


class JxlChunkEncoder(ChunkEncoder):
    """Codec for the Neuroglancer jxl chunk format (JPEG XL).

    :param str data_type: ``uint8``
    :param int num_channels: 1 (greyscale) or 3 (RGB)
    :param int jxl_quality: 1 to 100; 100 is lossless
    :param int jxl_effort: libjxl's effort, 1 (fastest) to 10 (smallest files)
    :param int jxl_decodingspeed: libjxl's decoding speed tier, 0 (smallest files) to 4
    :raises IncompatibleEncoderError: if data_type or num_channels are unsupported
    """

    mime_type: ClassVar[str] = "image/jxl"

    def __init__(
        self,
        data_type: Any,
        num_channels: int,
        jxl_quality: int = JXL_OPTIONS["jxl_quality"],
        jxl_effort: int = JXL_OPTIONS["jxl_effort"],
        jxl_decodingspeed: int = JXL_OPTIONS["jxl_decodingspeed"],
    ) -> None:
        if data_type != "uint8" or num_channels not in (1, 3):
            raise IncompatibleEncoderError(
                "The JPEG XL encoding can only handle uint8 data_type with 1 or 3 channels"
            )
        super().__init__(data_type, num_channels)
        for name, value, low, high in (
            ("jxl_quality", jxl_quality, 1, 100),
            ("jxl_effort", jxl_effort, 1, 10),
            ("jxl_decodingspeed", jxl_decodingspeed, 0, 4),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} must be an integer, got {value!r}")
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low} and {high}, got {value}")
        self.jxl_quality = int(jxl_quality)
        self.jxl_effort = int(jxl_effort)
        self.jxl_decodingspeed = int(jxl_decodingspeed)

    @property
    def lossy(self) -> bool:  # type: ignore[override]
        """True unless the quality is 100."""
        return self.jxl_quality < LOSSLESS_QUALITY

    def encode(self, chunk: np.ndarray) -> bytes:
        chunk = self._checked_chunk(chunk)
        channels, z, y, x = chunk.shape
        require_voxels(chunk)
        image = chunk.reshape(channels, z * y, x)
        image = image[0] if channels == 1 else np.moveaxis(image, 0, -1)
        return _imagecodecs().jpegxl_encode(
            np.ascontiguousarray(image),
            level=self.jxl_quality,
            lossless=not self.lossy,
            effort=self.jxl_effort,
            decodingspeed=self.jxl_decodingspeed,
            photometric="GRAY" if channels == 1 else "RGB",
            numthreads=1,
        )

    def decode(self, buf: Any, chunk_size: Sequence[int]) -> np.ndarray:
        channels, z, y, x = self._output_shape(chunk_size)
        imagecodecs = _imagecodecs()
        data = byte_view(buf)
        # The output is allocated only for a file that declares the chunk's pixel count.
        size = _image_size(data)
        if size is None or size[0] * size[1] != x * y * z:
            problem = (
                "it is not a JPEG XL file"
                if size is None
                else f"its image is {size[0]}x{size[1]}, not {x * y * z} pixels"
            )
            raise InvalidFormatError(
                f"The JPEG XL-encoded chunk could not be decoded for chunk_size {(x, y, z)}: "
                f"{problem}"
            )
        image = np.empty((z * y, x) if channels == 1 else (z * y, x, channels), np.uint8)
        try:
            # libjxl reads the header first and refuses an image that does not fit `out`.
            imagecodecs.jpegxl_decode(data, numthreads=1, out=image)
        except (ValueError, RuntimeError, imagecodecs.JpegxlError) as exc:
            raise InvalidFormatError(
                f"The JPEG XL-encoded chunk could not be decoded as a {x}x{y * z} image of "
                f"{channels} channel(s): {exc}"
            ) from exc
        if channels == 1:
            return image.reshape(1, z, y, x)
        return np.ascontiguousarray(np.moveaxis(image, -1, 0)).reshape(channels, z, y, x)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.dtype.name!r}, {self.num_channels!r}, "
            f"jxl_quality={self.jxl_quality!r}, jxl_effort={self.jxl_effort!r}, "
            f"jxl_decodingspeed={self.jxl_decodingspeed!r})"
        )


def transcode_jpeg(buf: Any) -> bytes:
    """A JPEG chunk recompressed losslessly as JPEG XL: the same DCT coefficients (libjxl decodes
    them within 2 of libjpeg's pixels) in 4-10% fewer bytes, and the original JPEG file
    recoverable with ``imagecodecs.jpegxl_decode_jpeg``."""
    imagecodecs = _imagecodecs()
    try:
        return imagecodecs.jpegxl_encode_jpeg(byte_view(buf), numthreads=1)
    except (ValueError, RuntimeError, imagecodecs.JpegxlError) as exc:
        raise InvalidFormatError(f"The JPEG chunk could not be transcoded: {exc}") from exc
