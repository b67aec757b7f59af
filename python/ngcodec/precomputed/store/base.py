"""The store interface: bytes at keys, with gzip as the kind of store expects it.

Keys are ``/``-separated paths relative to the dataset's root (``info``,
``8_8_40/0-64_0-64_0-64``). A store moves whole objects atomically: a reader sees an object whole
or not at all, never half-written. Transport compression belongs here: a store knows how it keeps
gzipped objects (``.gz`` files on disk, ``Content-Encoding`` on object stores) and reads either
form back as the plain bytes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ngcodec.codec_base import InvalidFormatError
from ngcodec.precomputed.store.compression import gzip_compress, gzip_decompress

__all__ = ["CorruptObjectError", "Store", "StoredObject"]


class CorruptObjectError(ValueError):
    """Raised when a stored object cannot be read back as stored (e.g. a bad gzip stream)."""


@dataclass(frozen=True)
class StoredObject:
    """An object as listed: its size as stored and whether it is kept gzipped (None when the
    listing cannot tell: object stores keep ``Content-Encoding`` with each object)."""

    size: int
    gzipped: bool | None


class Store(ABC):
    """Bytes at keys. Implementations: :class:`~ngcodec.precomputed.store.local.LocalStore`,
    :class:`~ngcodec.precomputed.store.object_store.ObjectStore` (S3, GCS) and
    :class:`~ngcodec.precomputed.store.http.HTTPStore` (read-only)."""

    location: str
    """Where the store is, as a user names it (a path or a URL), for messages."""

    listable: bool = True
    """Whether :meth:`list` works (a plain web server cannot list its files)."""

    def read(self, key: str, *, max_size: int | None = None) -> bytes | None:
        """The object's bytes (gunzipped if kept gzipped), or None if there is none.

        :param max_size: the most bytes the object may hold once gunzipped; more is an error
        :raises CorruptObjectError: if the object is not what its form says (bad gzip, too large)
        """
        stored = self.read_stored(key)
        if stored is None or not stored[1]:
            return None if stored is None else stored[0]
        try:
            return gzip_decompress(stored[0], max_size)
        except InvalidFormatError as exc:
            raise CorruptObjectError(f"{self.gzipped_name(key)} is not gzip: {exc}") from exc

    @abstractmethod
    def read_stored(self, key: str) -> tuple[bytes, bool] | None:
        """The object's bytes as kept and whether they are gzipped (one gzip member), or None if
        there is none: for callers that gunzip many objects at once."""

    @abstractmethod
    def gzipped_name(self, key: str) -> str:
        """What a gzipped object is called where it is kept, for messages."""

    @abstractmethod
    def read_range(self, key: str, start: int, stop: int) -> bytes | None:
        """Bytes ``start`` to ``stop`` (exclusive) of a plain object, fewer if it ends sooner;
        None if there is no such object."""

    def write(self, key: str, data: bytes | bytearray, *, gzip_level: int | None = None) -> int:
        """Store an object atomically, gzipped at ``gzip_level`` unless it is None; the other form
        of the same key, if present, is removed. Returns the bytes stored."""
        if gzip_level is None:
            return self._write(key, data, gzipped=False)
        return self._write(key, gzip_compress(data, gzip_level), gzipped=True)

    def write_gzipped(self, key: str, data: bytes | bytearray) -> int:
        """Store an object already gzipped (one gzip member, as
        :func:`~ngcodec.precomputed.store.compression.gzip_compress` makes) as :meth:`write`
        stores gzipped objects; for callers that gzip many objects at once. Returns the bytes
        stored."""
        return self._write(key, data, gzipped=True)

    @abstractmethod
    def _write(self, key: str, data: bytes | bytearray, *, gzipped: bool) -> int:
        """Store the bytes as given, atomically, in the form ``gzipped`` says; remove the other
        form of the key if present. Returns the bytes stored."""

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Remove the object (either form); return whether there was one."""

    @abstractmethod
    def list(self, prefix: str = "") -> dict[str, StoredObject]:
        """The objects directly under ``prefix`` (a directory-like key, ``""`` for the root), by
        name relative to it; a gzipped object is listed under its plain name."""

    def exists(self, key: str) -> bool:
        """Whether the object is there, in either form."""
        parent, _, name = key.rpartition("/")
        return name in self.list(parent)

    def check_writable(self) -> None:  # noqa: B027 (most stores can always be written to)
        """Raise :class:`FileExistsError` if a dataset cannot be written here at all."""

    @contextmanager
    def batched_writes(self) -> Iterator[None]:
        """A block in which :meth:`write` may return before the object is stored, so that many
        writes are in flight at once; leaving the block waits for them all.

        A failed write is raised by a later :meth:`write` in the block, or on leaving it; either
        way, every object is stored whole or not at all. Stores whose writes are quick (the local
        disk) write at once.
        """
        yield

    def discard_partial_writes(self, prefix: str = "", *, only_abandoned: bool = False) -> int:
        """Remove what killed writers left under ``prefix``; return how many objects.

        Only stores whose writes leave temporary objects have any. Without ``only_abandoned``,
        do not call it while another writer works in the same place; with it, what may belong to
        a running writer is spared.
        """
        return 0
