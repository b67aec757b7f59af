"""A dataset in a directory of the local file system.

Gzipped objects are files named ``<key>.gz``, the convention of neuroglancer-scripts and
CloudVolume (a web server sends such a file for the plain name with ``Content-Encoding: gzip``).
Every write goes to a temporary file in the same directory and is renamed into place, so a killed
writer leaves at most a hidden ``.tmp`` file, never a half-written object.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
import zlib
from pathlib import Path

from ngcodec.precomputed.store.base import Store, StoredObject

__all__ = ["GZIP_SUFFIX", "LocalStore"]

GZIP_SUFFIX = ".gz"
TEMP_SUFFIX = ".tmp"
_FOREIGN_WRITER_SECONDS = 3600
"""How long another host's writer may leave its temporary file untouched and still be at work."""


class LocalStore(Store):
    """Objects as files under a root directory (created on the first write).

    :param root: the directory
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.location = str(self.root)

    def __repr__(self) -> str:
        return f"LocalStore({self.location!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LocalStore) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)

    def _path(self, key: str, *, gzipped: bool = False) -> Path:
        return self.root / (key + (GZIP_SUFFIX if gzipped else ""))

    def gzipped_name(self, key: str) -> str:
        return self._path(key, gzipped=True).name

    def read_stored(self, key: str) -> tuple[bytes, bool] | None:
        for gzipped in (False, True):
            try:
                return self._path(key, gzipped=gzipped).read_bytes(), gzipped
            except (FileNotFoundError, NotADirectoryError):
                continue
        return None

    def read_range(self, key: str, start: int, stop: int) -> bytes | None:
        try:
            with open(self._path(key), "rb") as f:
                # Clamped to the file: a read of n bytes allocates n bytes before reading.
                stop = min(stop, os.fstat(f.fileno()).st_size)
                f.seek(start)
                return f.read(max(0, stop - start))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _write(self, key: str, data: bytes | bytearray, *, gzipped: bool) -> int:
        path = self._path(key, gzipped=gzipped)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{_writer_tag()}.{uuid.uuid4().hex}{TEMP_SUFFIX}")
        try:
            with open(temp, "wb") as f:
                f.write(data)
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        # A file of the other form (from a run with the other gzip setting) would shadow this one.
        self._path(key, gzipped=not gzipped).unlink(missing_ok=True)
        return len(data)

    def delete(self, key: str) -> bool:
        found = False
        for gzipped in (False, True):
            try:
                self._path(key, gzipped=gzipped).unlink()
                found = True
            except FileNotFoundError:
                pass
        return found

    def list(self, prefix: str = "") -> dict[str, StoredObject]:
        try:
            entries = list(os.scandir(self.root / prefix))
        except (FileNotFoundError, NotADirectoryError):
            return {}
        objects: dict[str, StoredObject] = {}
        for entry in entries:
            if entry.name.endswith(TEMP_SUFFIX) or not entry.is_file():
                continue
            gzipped = entry.name.endswith(GZIP_SUFFIX)
            name = entry.name.removesuffix(GZIP_SUFFIX)
            if gzipped and name in objects:
                continue  # the plain file is the one read
            objects[name] = StoredObject(entry.stat().st_size, gzipped)
        return objects

    def exists(self, key: str) -> bool:
        return self._path(key).is_file() or self._path(key, gzipped=True).is_file()

    def check_writable(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise FileExistsError(f"{self.root} exists and is not a directory")

    def discard_partial_writes(self, prefix: str = "", *, only_abandoned: bool = False) -> int:
        directory = self.root / prefix
        try:
            names = os.listdir(directory)
        except (FileNotFoundError, NotADirectoryError):
            return 0
        count = 0
        for name in names:
            if name.startswith(".") and name.endswith(TEMP_SUFFIX):
                path = directory / name
                try:
                    if only_abandoned and not _abandoned(path):
                        continue
                    path.unlink()
                except FileNotFoundError:
                    continue  # renamed into place or removed meanwhile
                count += 1
        return count


def _writer_tag() -> str:
    """Who writes a temporary file: the process and a digest of the host name."""
    return f"{os.getpid()}@{zlib.crc32(socket.gethostname().encode()):08x}"


def _abandoned(temp: Path) -> bool:
    """Whether a temporary file's writer is gone: a process of this host that has ended, or,
    for another host's, one that has not touched the file for an hour."""
    tag = temp.name.rsplit(".", 3)[1]
    pid, _, host = tag.partition("@")
    if host == _writer_tag().partition("@")[2] and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, OverflowError):
            pass  # another user's live process, or no process at all
    return time.time() - temp.stat().st_mtime > _FOREIGN_WRITER_SECONDS
