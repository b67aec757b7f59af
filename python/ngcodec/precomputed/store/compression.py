"""Gzip (RFC 1952) as stores keep objects: deterministic output, bounded decompression."""

from __future__ import annotations

import zlib

from ngcodec.chunk_encoding import InvalidFormatError

__all__ = ["DEFAULT_GZIP_LEVEL", "gzip_compress", "gzip_decompress"]

DEFAULT_GZIP_LEVEL = 6
"""zlib's own default: within a few percent of level 9 on chunk data, several times faster."""

_GZIP_WBITS = 16 + zlib.MAX_WBITS


def gzip_compress(data: bytes | bytearray | memoryview, level: int = DEFAULT_GZIP_LEVEL) -> bytes:
    """A gzip member with a zero timestamp, so that the same chunk always gives the same file."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
    return compressor.compress(data) + compressor.flush()


def gzip_decompress(data: bytes | bytearray | memoryview, max_size: int | None = None) -> bytes:
    """The bytes a gzip member holds, never inflating past ``max_size``.

    :raises InvalidFormatError: if it is not gzip, is cut short, or holds more than ``max_size``
    """
    decompressor = zlib.decompressobj(_GZIP_WBITS)
    try:
        if max_size is None:
            out = decompressor.decompress(data)
        else:
            out = decompressor.decompress(data, max_size + 1)
            if len(out) > max_size:
                raise InvalidFormatError(f"it inflates to more than {max_size} bytes")
    except zlib.error as exc:
        raise InvalidFormatError(f"it is not gzip: {exc}") from exc
    if not decompressor.eof:
        raise InvalidFormatError("the gzip stream is cut short")
    return out
