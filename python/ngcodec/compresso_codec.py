"""The compresso encoding for segmentation (seung-lab's format, which Neuroglancer reads).

Chunks are written by the ``compresso`` package (``pip install 'ngcodec[compresso]'``), byte for
byte as ``compresso.compress`` and cloud-volume write them; they are read by ngcodec's own Rust
decoder, which needs no extra package and checks every offset, index and count of the stream (the
package's decoder crashes the process on some damaged files).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ngcodec import _native
from ngcodec.codec_base import ChunkEncoder, IncompatibleEncoderError, byte_array

__all__ = ["COMPRESSO_DATA_TYPES", "MAX_COMPRESSO_SIDE", "CompressoEncoder"]

COMPRESSO_DATA_TYPES = ("uint8", "uint16", "uint32", "uint64")
MAX_COMPRESSO_SIDE = 65535
"""The header stores each side of the chunk in 16 bits."""


class CompressoEncoder(ChunkEncoder):
    """Codec for the compresso chunk format (lossless, segmentation).

    :param str data_type: ``uint8``, ``uint16``, ``uint32`` or ``uint64``
    :param int num_channels: 1
    :raises IncompatibleEncoderError: if data_type or num_channels are unsupported
    """

    def __init__(self, data_type: Any, num_channels: int) -> None:
        if data_type not in COMPRESSO_DATA_TYPES or num_channels != 1:
            raise IncompatibleEncoderError(
                "The compresso encoding can only handle uint8, uint16, uint32 or uint64 "
                "data_type with 1 channel"
            )
        super().__init__(data_type, num_channels)

    def encode(self, chunk: np.ndarray) -> bytes:
        chunk = self._checked_chunk(chunk)
        if max(chunk.shape[1:]) > MAX_COMPRESSO_SIDE:
            raise ValueError(
                f"compresso chunks are at most {MAX_COMPRESSO_SIDE} voxels a side, got shape "
                f"{chunk.shape}"
            )
        try:
            import compresso
        except ImportError as exc:
            raise ImportError(
                "writing compresso chunks needs the compresso package: "
                "pip install 'ngcodec[compresso]'"
            ) from exc
        # (X, Y, Z) in Fortran order is the (Z, Y, X) chunk in C order: a view, as cloud-volume
        # passes its chunks. Non-native byte orders are made native first.
        labels = chunk[0].astype(chunk.dtype.newbyteorder("="), copy=False)
        return compresso.compress(labels.T)

    def decode(self, buf: Any, chunk_size: Sequence[int]) -> np.ndarray:
        _, z, y, x = self._output_shape(chunk_size)
        return _native.compresso_decode(
            buf if type(buf) is bytes else byte_array(buf), (x, y, z), self.dtype.itemsize
        )
