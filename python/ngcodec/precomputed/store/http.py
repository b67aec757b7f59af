"""Datasets behind a web server (``http://`` and ``https://``), read-only.

A plain web server cannot list its files or take new ones, so this store only reads: whole
objects, gunzipped when the server says ``Content-Encoding: gzip`` or when only ``<key>.gz`` is
there (a static server over a local dataset), and byte ranges (shards). Requests go through
obstore, like the bucket stores, with the same retries.
"""

from __future__ import annotations

import errno
from typing import NoReturn

from ngcodec.precomputed.store.base import StoredObject
from ngcodec.precomputed.store.object_store import ObjectStore

__all__ = ["HTTPStore"]


class HTTPStore(ObjectStore):
    """The objects under a URL, ``http(s)://host/path`` (the dataset's ``info`` is at
    ``url/info``), read-only. Takes the options of :class:`ObjectStore` but ``endpoint_url``."""

    listable = False

    def _read_only(self, key: str = "") -> NoReturn:
        raise PermissionError(
            errno.EROFS,
            "http(s) datasets are read-only: write to a local path, s3:// or gs://",
            self.url(key) if key else self.location,
        )

    def list(self, prefix: str = "") -> dict[str, StoredObject]:
        raise OSError(errno.EOPNOTSUPP, "a web server does not list its files", self.url(prefix))

    def write(self, key: str, data: bytes | bytearray, *, gzip_level: int | None = None) -> int:
        self._read_only(key)  # before any gzip

    def _write(self, key: str, data: bytes | bytearray, *, gzipped: bool) -> int:
        self._read_only(key)

    def delete(self, key: str) -> bool:
        self._read_only(key)

    def check_writable(self) -> None:
        self._read_only()
