"""Many chunks of one volume at a time, on Rust threads with the GIL released: decoded (and
gunzipped) into one (C, Z, Y, X) array, or encoded (and gzipped) from one.

One call does a whole region's chunks, so the per-chunk cost is a few microseconds of Rust rather
than a thread pool's tens of microseconds of Python holding the GIL, which is what stopped
decoding from scaling past 1.5 threads. For the encoders that are Rust through and through: raw
and compressed_segmentation (of the classes :func:`~ngcodec.chunk_encoding.get_encoder` makes;
:meth:`ChunkBatch.of` gives None for the others, which go a chunk at a time). Results are those
of the encoder's own ``encode`` and ``decode``, chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ngcodec import _native
from ngcodec.chunk_encoding import (
    ChunkEncoder,
    CompressedSegmentationEncoder,
    RawChunkEncoder,
)
from ngcodec.codec_base import unsigned_view

__all__ = ["ChunkBatch", "StoredChunk"]

StoredChunk = tuple[bytes, bool]
"""A chunk as stored: its bytes and whether they are gzipped."""

Vec3 = tuple[int, int, int]


class ChunkBatch:
    """The batch calls of one encoder over one volume's chunk grid; make it with :meth:`of`.

    Coordinates are (X, Y, Z) voxels from the volume's first voxel; chunks are in the grid's
    order, z slowest, then y, then x. A chunk that fails raises the codec's error
    (:class:`~ngcodec.chunk_encoding.InvalidFormatError` for a malformed one) with a
    ``chunk_index`` attribute: its place in that order (in ``which`` for :meth:`encode`).
    """

    def __init__(
        self,
        encoder: ChunkEncoder,
        encoding: str,
        block_size: Vec3 | None,
        chunk_size: Vec3,
        volume_size: Vec3,
    ) -> None:
        self.encoder = encoder
        self.encoding = encoding
        self.block_size = block_size
        self.chunk_size = chunk_size
        self.volume_size = volume_size

    @classmethod
    def of(cls, encoder: ChunkEncoder, chunk_size: Vec3, volume_size: Vec3) -> ChunkBatch | None:
        """The batch calls of an encoder, or None if its codec has none (image encodings,
        subclasses that may encode differently)."""
        if type(encoder) is RawChunkEncoder:
            return cls(encoder, "raw", None, chunk_size, volume_size)
        if type(encoder) is CompressedSegmentationEncoder:
            block = encoder.block_size
            return cls(encoder, "compressed_segmentation", block, chunk_size, volume_size)
        return None

    def decode_into(
        self,
        out: np.ndarray,
        start: Vec3,
        chunks: Sequence[StoredChunk | None],
        *,
        max_inflated: int,
        threads: int,
    ) -> None:
        """Decode the chunks that ``out`` (a writable (C, Z, Y, X) array of the encoder's dtype,
        native byte order, from voxel ``start``) meets, into it; None chunks are left as they
        are in ``out``.

        :param max_inflated: the most bytes a gzipped chunk may inflate to
        """
        if out.dtype != self.encoder.dtype.newbyteorder("="):
            raise TypeError(f"out must be {self.encoder.dtype.name}, not {out.dtype}")
        values, _ = unsigned_view(out)
        _native.decode_chunks(
            values, chunks, **self._grid(start), max_inflated=max_inflated, threads=threads
        )

    def encode(
        self,
        slab: Any,
        start: Vec3,
        which: Sequence[int],
        *,
        gzip_level: int | None,
        threads: int,
    ) -> list[bytes]:
        """The encoded bytes (gzipped at ``gzip_level`` unless None) of the chunks at ``which``
        (indexes in the grid's order) of ``slab``, a (C, Z, Y, X) array of whole chunks (cut by
        the volume's edge) from voxel ``start``."""
        values, byteswapped = unsigned_view(self.encoder._checked_chunk(slab))
        return _native.encode_chunks(
            values,
            list(which),
            byteswapped=byteswapped,
            **self._grid(start),
            gzip_level=gzip_level,
            threads=threads,
        )

    def _grid(self, start: Vec3) -> dict[str, Any]:
        """The arguments of both native calls that place an array from ``start`` on the grid."""
        return {
            "encoding": self.encoding,
            "block_size": self.block_size,
            "chunk_size": self.chunk_size,
            "volume_size": self.volume_size,
            "start": start,
        }
