"""Datasets in S3 or Google Cloud Storage buckets (and S3-compatible stores: MinIO, Ceph, ...).

Requests go through obstore (Rust's ``object_store``): each write is one whole-object put, so a
reader sees an object whole or not at all; transient errors (5xx, dropped connections) are retried
with backoff for up to ``retry_timeout``; calls release the GIL, and inside
:meth:`~ngcodec.precomputed.store.base.Store.batched_writes` up to ``max_requests`` puts are in
flight at once, so that a conversion is not bound by request latency.

Gzip as buckets keep it, and as Neuroglancer, tensorstore and CloudVolume read it: the gzipped
bytes under the plain name, with ``Content-Encoding: gzip``. Objects named ``<key>.gz`` (a local
dataset copied into a bucket as it is) are read too.

Credentials come from the standard chains: for S3, botocore's when boto3 is installed
(environment, ``~/.aws`` config and credentials files, SSO, instance roles), else obstore's
(environment, web identity, container and instance roles); ``AWS_ENDPOINT_URL`` or
``endpoint_url`` names an S3-compatible server. For GCS, ``GOOGLE_APPLICATION_CREDENTIALS``,
``GOOGLE_SERVICE_ACCOUNT`` or the application default credentials.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from ngcodec.precomputed.store.base import Store, StoredObject

__all__ = ["DEFAULT_MAX_REQUESTS", "DEFAULT_RETRY_TIMEOUT", "GZIP_SUFFIX", "ObjectStore"]

DEFAULT_MAX_REQUESTS = 32
"""Puts in flight at once in a batch: enough to hide a cloud store's tens of milliseconds."""

DEFAULT_RETRY_TIMEOUT = 180.0
"""Seconds a request is retried on transient errors (obstore's own default)."""

GZIP_SUFFIX = ".gz"
_CONTENT_ENCODING = "Content-Encoding"
_EXTRAS = {"s3": "s3", "gs": "gcs", "http": "http", "https": "http"}


def import_obstore(scheme: str) -> Any:
    """The obstore module, or an ImportError that names the extra to install."""
    try:
        import obstore
    except ImportError as exc:
        raise ImportError(
            f"{scheme}:// locations need obstore: pip install 'ngcodec[{_EXTRAS[scheme]}]'"
        ) from exc
    return obstore


def request_error(exc: Exception, url: str) -> OSError:
    """An obstore error as an OSError naming the object: obstore's first line, without the
    store's name and the response body, plus the S3 error code if there is one."""
    text = str(exc)
    reason = text.split("\n", 1)[0].split(": <?xml", 1)[0]
    reason = re.sub(r"^Generic \w+ error: ", "", reason).strip()
    code = re.search(r"<Code>(\w+)</Code>", text)
    if code:
        reason += f" ({code.group(1)})"
    number = errno.EACCES if type(exc).__name__ in _DENIED else errno.EIO
    return OSError(number, reason, url)


_DENIED = {"PermissionDeniedError", "UnauthenticatedError"}


class ObjectStore(Store):
    """Objects under a prefix of an S3 (``s3://bucket/path``) or GCS (``gs://bucket/path``) bucket.

    Pickles as its URL and options: a dask worker that unpickles it connects with its own
    credentials.

    :param url: ``s3://bucket/path`` or ``gs://bucket/path``
    :param endpoint_url: an S3-compatible server, e.g. ``http://127.0.0.1:9000`` (default:
        ``AWS_ENDPOINT_URL``, else AWS)
    :param max_requests: the most puts in flight at once in :meth:`batched_writes`
    :param retry_timeout: seconds a request is retried on transient errors before it fails
    """

    def __init__(
        self,
        url: str,
        *,
        endpoint_url: str | None = None,
        max_requests: int = DEFAULT_MAX_REQUESTS,
        retry_timeout: float = DEFAULT_RETRY_TIMEOUT,
    ) -> None:
        parsed = urlparse(url)
        self.scheme = parsed.scheme.lower()
        if not parsed.netloc:
            raise ValueError(f"{url}: the URL names no bucket (write {self.scheme}://BUCKET/PATH)")
        if endpoint_url is not None and self.scheme != "s3":
            raise ValueError(f"endpoint_url applies to s3:// locations, not to {url}")
        if not isinstance(max_requests, int) or max_requests < 1:
            raise ValueError(f"max_requests must be a positive integer, got {max_requests!r}")
        self.location = url.rstrip("/")
        self.endpoint_url = endpoint_url
        self.max_requests = max_requests
        self.retry_timeout = retry_timeout
        self._obstore = import_obstore(self.scheme)
        self._store = self._connect()
        self._lock = threading.Lock()
        self._batch_depth = 0
        self._pending: set[Future[None]] = set()
        self._slots = threading.BoundedSemaphore(max_requests)
        self._failure: BaseException | None = None
        self._executor: ThreadPoolExecutor | None = None

    def _connect(self) -> Any:
        from obstore.store import from_url

        options: dict[str, Any] = {
            "retry_config": {"retry_timeout": timedelta(seconds=self.retry_timeout)}
        }
        if self.scheme == "s3":
            endpoint = self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3")
            endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL")
            if endpoint:
                options["config"] = {"endpoint": endpoint}
                if endpoint.startswith("http://"):
                    options["client_options"] = {"allow_http": True}
            provider = boto3_credentials(
                tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
            )
            if provider is not None:
                options["credential_provider"] = provider
        elif self.scheme == "http":
            options["client_options"] = {"allow_http": True}
        return from_url(self.location, **options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, ObjectStore)
            and other.location == self.location
            and other.endpoint_url == self.endpoint_url
        )

    def __hash__(self) -> int:
        return hash((self.location, self.endpoint_url))

    def __getstate__(self) -> dict[str, Any]:
        return {
            "url": self.location,
            "endpoint_url": self.endpoint_url,
            "max_requests": self.max_requests,
            "retry_timeout": self.retry_timeout,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state.pop("url"), **state)  # type: ignore[misc]

    def url(self, key: str) -> str:
        """The URL of an object, for messages."""
        return f"{self.location}/{key}"

    # --- reading -------------------------------------------------------------------------------

    def _get(self, key: str) -> Any:
        """obstore's result for the object, or None if there is none."""
        try:
            return self._obstore.get(self._store, key)
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise request_error(exc, self.url(key)) from exc

    def gzipped_name(self, key: str) -> str:
        return self.url(key)  # kept under its plain name, with Content-Encoding: gzip

    def read_stored(self, key: str) -> tuple[bytes, bool] | None:
        result = self._get(key)
        gzipped = result is not None and result.attributes.get(_CONTENT_ENCODING) == "gzip"
        if result is None:
            key += GZIP_SUFFIX
            result = self._get(key)
            gzipped = True
        if result is None:
            return None
        try:
            return bytes(result.bytes()), gzipped
        except Exception as exc:
            raise request_error(exc, self.url(key)) from exc

    def read_range(self, key: str, start: int, stop: int) -> bytes | None:
        if stop <= start:
            return b"" if self.exists(key) else None
        try:
            return bytes(self._obstore.get_range(self._store, key, start=start, end=stop))
        except FileNotFoundError:
            return None
        except Exception as exc:
            # The range starts past the end (416): as a file read would, give no bytes.
            try:
                size = self._obstore.head(self._store, key)["size"]
            except Exception:
                size = None
            if size is not None and start >= size:
                return b""
            raise request_error(exc, self.url(key)) from exc

    def _head(self, key: str) -> bool:
        try:
            self._obstore.head(self._store, key)
        except FileNotFoundError:
            return False
        except Exception as exc:
            raise request_error(exc, self.url(key)) from exc
        return True

    def exists(self, key: str) -> bool:
        return self._head(key) or self._head(key + GZIP_SUFFIX)

    def list(self, prefix: str = "") -> dict[str, StoredObject]:
        directory = prefix.strip("/") + "/" if prefix.strip("/") else None
        try:
            listing = self._obstore.list_with_delimiter(self._store, directory)
        except FileNotFoundError:
            return {}
        except Exception as exc:
            raise request_error(exc, self.url(prefix)) from exc
        objects: dict[str, StoredObject] = {}
        for meta in listing["objects"]:
            name = str(meta["path"]).rpartition("/")[2]
            if name.endswith(GZIP_SUFFIX):
                plain = name.removesuffix(GZIP_SUFFIX)
                if plain not in objects:
                    objects[plain] = StoredObject(int(meta["size"]), True)
            else:
                # Content-Encoding is kept with each object, and a listing does not show it.
                objects[name] = StoredObject(int(meta["size"]), None)
        return objects

    # --- writing -------------------------------------------------------------------------------

    def _write(self, key: str, data: bytes | bytearray, *, gzipped: bool) -> int:
        # A gzipped object keeps its plain name, marked by its Content-Encoding.
        attributes = {_CONTENT_ENCODING: "gzip"} if gzipped else {}
        with self._lock:
            batched = self._batch_depth > 0
            if self._failure is not None and batched:
                raise self._failure
        if not batched:
            self._put(key, data, attributes)
            return len(data)
        self._slots.acquire()  # bounds the bytes held by puts in flight
        try:
            future = self._pool().submit(self._put, key, data, attributes)
        except BaseException:
            self._slots.release()
            raise
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._finished)
        return len(data)

    def _put(self, key: str, data: bytes | bytearray, attributes: dict[str, str]) -> None:
        try:
            self._obstore.put(self._store, key, data, attributes=attributes)
        except Exception as exc:
            raise request_error(exc, self.url(key)) from exc

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.max_requests, "ngcodec-put")
            return self._executor

    def _finished(self, future: Future[None]) -> None:
        self._slots.release()
        with self._lock:
            self._pending.discard(future)
            if self._failure is None and not future.cancelled():
                self._failure = future.exception()

    @contextmanager
    def batched_writes(self) -> Iterator[None]:
        with self._lock:
            self._batch_depth += 1
        try:
            yield
        except BaseException:
            self._end_batch(cancel=True)
            raise
        self._end_batch(cancel=False)

    def _end_batch(self, *, cancel: bool) -> None:
        """Leave a batch; the last one out waits for every put and raises the first failure."""
        with self._lock:
            self._batch_depth -= 1
            if self._batch_depth > 0:
                return
            pending = list(self._pending)
        for future in pending:
            if cancel:
                future.cancel()
        for future in pending:
            if not future.cancelled():
                future.exception()  # waits
        with self._lock:
            failure, self._failure = self._failure, None
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)
        if failure is not None and not cancel:
            raise failure

    def delete(self, key: str) -> bool:
        found = self.exists(key)
        try:
            self._obstore.delete(self._store, [key, key + GZIP_SUFFIX])
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise request_error(exc, self.url(key)) from exc
        return found


@functools.lru_cache(maxsize=8)
def boto3_credentials(aws_environment: tuple[tuple[str, str], ...]) -> Any:
    """botocore's credential chain (environment, config files, SSO, roles), if boto3 is there.

    Cached by the ``AWS_*`` environment it was made in: a session takes a tenth of a second, and
    every dask task unpickles a store.
    """
    try:
        import boto3
        from obstore.auth.boto3 import Boto3CredentialProvider
    except ImportError:
        return None
    session = boto3.Session()
    if session.get_credentials() is None:
        return None
    return Boto3CredentialProvider(session)
