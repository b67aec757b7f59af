"""Bytes at keys: where a dataset's files live. Knows nothing of volumes.

:func:`open_store` turns what a user gives (a path, a URL, or a store) into a :class:`Store`;
each kind of store is one module here, and one line of :data:`SCHEMES`.
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote, urlparse

from ngcodec.precomputed.store.base import CorruptObjectError, Store, StoredObject
from ngcodec.precomputed.store.local import LocalStore

__all__ = [
    "SCHEMES",
    "CorruptObjectError",
    "LocalStore",
    "Store",
    "StoredObject",
    "UnsupportedLocationError",
    "open_store",
]

SCHEMES = ("file", "s3", "gs", "http", "https")
"""The URL schemes ngcodec opens: local directories, S3 (and S3-compatible) and GCS buckets, web
servers (read-only)."""

# A scheme and a colon-slash: a URL, never a local folder named "s3:". One-letter schemes are
# Windows drive letters.
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/")


class UnsupportedLocationError(ValueError):
    """Raised for a URL that ngcodec cannot open: an unknown scheme, no bucket, a missing extra."""


def open_store(
    location: str | os.PathLike[str] | Store, *, endpoint_url: str | None = None
) -> Store:
    """The store at a location: a local path, or a ``file://``, ``s3://``, ``gs://`` or
    ``http(s)://`` URL (a store is returned as it is).

    :param endpoint_url: the S3-compatible server for ``s3://`` URLs (default:
        ``AWS_ENDPOINT_URL``, else AWS)
    :raises UnsupportedLocationError: for another scheme, a URL without a bucket, an option that
        does not apply, or a store whose extra is not installed
    """
    if isinstance(location, Store):
        return location
    text = os.fspath(location)
    match = _URL.match(text)
    scheme = match.group(1).lower() if match else None
    if endpoint_url is not None and scheme != "s3":
        raise UnsupportedLocationError(f"an endpoint URL applies to s3:// locations, not to {text}")
    if scheme is None:
        return LocalStore(text)
    if scheme == "file":
        return LocalStore(unquote(urlparse(text).path))
    if scheme not in SCHEMES:
        raise UnsupportedLocationError(
            f"{text}: ngcodec does not open {scheme}:// locations, only local paths and "
            "file://, s3://, gs:// and http(s):// URLs"
        )
    try:
        if scheme in ("http", "https"):
            from ngcodec.precomputed.store.http import HTTPStore

            return HTTPStore(text)
        from ngcodec.precomputed.store.object_store import ObjectStore

        return ObjectStore(text, endpoint_url=endpoint_url)
    except (ImportError, ValueError) as exc:
        raise UnsupportedLocationError(str(exc)) from exc
