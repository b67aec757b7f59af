"""The format's ``gzip`` encoding of chunk data and minishard indexes.

Writing goes through the store layer's gzip (:mod:`ngcodec.precomputed.store.compression`).
Reading also recognises the zlib streams (RFC 1950) that neuroglancer-scripts 1.2.0 writes where
the spec says gzip, and reports them as not standard.
"""

from __future__ import annotations

from typing import Any

from ngcodec.chunk_encoding import InvalidFormatError
from ngcodec.precomputed.store.compression import (
    DEFAULT_GZIP_LEVEL,
    MAX_DEFLATE_RATIO,
    gzip_compress,
    gzip_decompress,
    is_gzip,
    zlib_decompress,
)

__all__ = ["gunzip", "gzip"]


def gzip(data: Any, level: int = DEFAULT_GZIP_LEVEL) -> bytes:
    """One gzip member (RFC 1952) of any bytes-like object, the format's ``gzip`` encoding."""
    return gzip_compress(data, level)


def gunzip(data: bytes, max_size: int | None = None) -> tuple[bytes, bool]:
    """Decompresses a ``gzip`` encoded part; returns the bytes and whether the stream was gzip.

    :param max_size: the most bytes it may inflate to (a gzip bomb stops there)
    :raises InvalidFormatError: not gzip nor zlib, corrupt, cut short, followed by other bytes, or
        more than ``max_size`` bytes
    """
    if is_gzip(data):
        return gzip_decompress(data, max_size), True
    if len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0:
        bound = MAX_DEFLATE_RATIO * len(data) if max_size is None else max_size
        return zlib_decompress(data, bound), False
    raise InvalidFormatError(f"not a gzip stream (starts with {bytes(data[:2])!r})")
