"""The format's ``gzip`` encoding of chunk data and minishard indexes.

Writing goes through the store layer's gzip (:mod:`ngcodec.precomputed.store.compression`).
Reading also recognises the zlib streams (RFC 1950) that neuroglancer-scripts 1.2.0 writes where
the spec says gzip, and reports them as not standard.
"""

from __future__ import annotations

import zlib
from typing import Any

from ngcodec.chunk_encoding import InvalidFormatError
from ngcodec.precomputed.store.compression import DEFAULT_GZIP_LEVEL, gzip_compress

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
    if data[:2] == b"\x1f\x8b":
        wbits, standard = 16 + zlib.MAX_WBITS, True
    elif len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0:
        wbits, standard = zlib.MAX_WBITS, False
    else:
        raise InvalidFormatError(f"not a gzip stream (starts with {bytes(data[:2])!r})")
    decompressor = zlib.decompressobj(wbits)
    try:
        out = decompressor.decompress(data, 0 if max_size is None else max_size + 1)
    except zlib.error as error:
        raise InvalidFormatError(f"bad gzip stream: {error}") from None
    if max_size is not None and len(out) > max_size:
        raise InvalidFormatError(f"the gzip stream inflates to more than {max_size} bytes")
    if not decompressor.eof:
        raise InvalidFormatError("the gzip stream is cut short")
    if decompressor.unused_data:
        raise InvalidFormatError(f"{len(decompressor.unused_data)} bytes follow the gzip stream")
    return out, standard
