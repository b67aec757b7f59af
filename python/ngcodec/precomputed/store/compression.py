"""Transport compression of chunk files: gzip written and read by libdeflate in Rust, the GIL
released, and the zlib streams that neuroglancer-scripts writes in shards, read.

A gzip file here is one member (RFC 1952), as every writer of chunk files makes: a second member
or trailing bytes are refused. Decompression takes the most bytes the caller expects the data to
inflate to (the chunk's size): a stream that claims or inflates to more, and a truncated or
corrupt one, raise :class:`~ngcodec.chunk_encoding.InvalidFormatError` before more than
``max_size`` bytes are allocated.
"""

from __future__ import annotations

import operator
import sys
from typing import Any

import numpy as np

from ngcodec import _native
from ngcodec.codec_base import byte_array

__all__ = [
    "DEFAULT_GZIP_LEVEL",
    "GZIP_LEVELS",
    "gzip_compress",
    "gzip_decompress",
    "is_gzip",
    "zlib_decompress",
]

GZIP_LEVELS = range(1, 13)
"""libdeflate's levels: 1-9 as zlib's, 10-12 search much harder for a few percent smaller files."""

DEFAULT_GZIP_LEVEL = 5
"""libdeflate's 5: on real compressed_segmentation chunks 2.7% smaller than zlib's default level
(6, what ngcodec wrote before) and 3.5x faster to write; libdeflate's 6 saves 0.7% more for 25%
more time (benches/bench_gzip.py)."""

GZIP_MAGIC = b"\x1f\x8b"

MAX_DEFLATE_RATIO = 1032
"""The most bytes deflate can inflate one byte to."""


def gzip_compress(data: Any, level: int = DEFAULT_GZIP_LEVEL) -> bytes:
    """One gzip member of ``data`` (any bytes-like object), with a zero timestamp: the same data
    and level always give the same bytes.

    :param level: 1 (fastest) to 12 (smallest)
    """
    if isinstance(level, bool) or not isinstance(level, int):
        raise TypeError(f"gzip_level must be an int, not {type(level).__name__}")
    if level not in GZIP_LEVELS:
        raise ValueError(
            f"gzip_level must be from {GZIP_LEVELS.start} to {GZIP_LEVELS.stop - 1}, not {level}"
        )
    return _native.gzip_compress(_readable(data), level)


def gzip_decompress(data: Any, max_size: int | None = None) -> bytes:
    """The bytes of one gzip member, which must inflate to at most ``max_size`` bytes (by default
    as much as deflate can: 1032 times the compressed bytes).

    :raises InvalidFormatError: not gzip, truncated, corrupt, a wrong CRC-32 or size, more than
        ``max_size`` bytes, or anything after the member
    """
    data = _readable(data)
    if max_size is None:
        max_size = MAX_DEFLATE_RATIO * len(data)
    return _native.gzip_decompress(data, _checked_max_size(max_size))


def zlib_decompress(data: Any, max_size: int) -> bytes:
    """The bytes of one zlib stream (RFC 1950), which must inflate to at most ``max_size`` bytes.

    :raises InvalidFormatError: not zlib, truncated, corrupt, a wrong Adler-32 or more than
        ``max_size`` bytes
    """
    return _native.zlib_decompress(_readable(data), _checked_max_size(max_size))


def is_gzip(data: Any) -> bool:
    """Whether ``data`` starts as gzip does (1f 8b)."""
    return bytes(_readable(data)[:2]) == GZIP_MAGIC


def _readable(data: Any) -> bytes | np.ndarray:
    """``bytes`` as they are, any other bytes-like object as a zero-copy uint8 array."""
    if type(data) is bytes:
        return data
    try:
        memoryview(data)
    except TypeError:
        raise TypeError(f"data must be a bytes-like object, not {type(data).__name__}") from None
    return byte_array(data)


def _checked_max_size(max_size: int) -> int:
    try:
        max_size = operator.index(max_size)
    except TypeError:
        raise TypeError(f"max_size must be an int, not {type(max_size).__name__}") from None
    if max_size < 0:
        raise ValueError(f"max_size must be at least 0, not {max_size}")
    # Beyond any possible allocation, a bound is no bound.
    return min(max_size, sys.maxsize)
