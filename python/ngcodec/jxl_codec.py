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
"""Files about a third smaller than quality-95 progressive JPEG at the same PSNR on EM images."""
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
        image = np.empty((z * y, x) if channels == 1 else (z * y, x, channels), np.uint8)
        try:
            # libjxl reads the header first and refuses an image that does not fit `out`.
            imagecodecs.jpegxl_decode(byte_view(buf), numthreads=1, out=image)
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
