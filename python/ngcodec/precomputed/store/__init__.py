"""Bytes at keys: where a dataset's files live. Knows nothing of volumes.

:func:`open_store` turns what a user gives (a path, a ``file://`` URL, or a store) into a
:class:`Store`; each kind of store is one module here.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

from ngcodec.precomputed.store.base import CorruptObjectError, Store, StoredObject
from ngcodec.precomputed.store.local import LocalStore

__all__ = ["CorruptObjectError", "LocalStore", "Store", "StoredObject", "open_store"]


def open_store(location: str | os.PathLike[str] | Store) -> Store:
    """The store at a location: a local path or a ``file://`` URL (or a store, returned as is)."""
    if isinstance(location, Store):
        return location
    text = os.fspath(location)
    if text.startswith("file://"):
        return LocalStore(unquote(urlparse(text).path))
    return LocalStore(text)
