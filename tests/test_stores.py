"""The store layer: one contract that every store keeps, run on the local disk and on a real S3
server (moto's); what each kind adds (gzip forms, listing, batched puts, pickling); and
``open_store`` on every kind of location."""

from __future__ import annotations

import gzip
import pickle

import pytest

from ngcodec.precomputed.store import (
    CorruptObjectError,
    LocalStore,
    Store,
    UnsupportedLocationError,
    open_store,
)
from ngcodec.precomputed.store.compression import gzip_compress

PAYLOAD = bytes(range(256)) * 40


class StoreContract:
    """What every writable store does; subclasses make the store and put foreign objects."""

    @pytest.fixture
    def store(self) -> Store:
        raise NotImplementedError

    def put_raw(self, store: Store, name: str, data: bytes) -> None:
        """Store bytes at a name as another tool would (no gzip, no metadata)."""
        raise NotImplementedError

    def test_plain_and_gzipped_objects_read_back(self, store):
        assert store.write("s/plain", PAYLOAD) == len(PAYLOAD)
        stored = store.write("s/zipped", PAYLOAD, gzip_level=6)
        assert stored < len(PAYLOAD)
        assert store.read("s/plain") == PAYLOAD
        assert store.read("s/zipped") == PAYLOAD
        assert store.read("s/absent") is None and store.read("nowhere/absent") is None

    def test_listing_names_objects_under_their_plain_names(self, store):
        store.write("info", b"{}")
        store.write("s/a", PAYLOAD)
        store.write("s/b", PAYLOAD, gzip_level=1)
        store.write("s/deeper/c", PAYLOAD)
        listed = store.list("s")
        assert set(listed) == {"a", "b"}
        assert listed["a"].size == len(PAYLOAD) and listed["a"].gzipped in (False, None)
        assert listed["b"].size == len(gzip_compress(PAYLOAD, 1))
        assert listed["b"].gzipped in (True, None)
        assert "info" in store.list("") and store.list("nothing") == {}

    def test_exists_and_delete_cover_both_forms(self, store):
        store.write("s/a", PAYLOAD, gzip_level=6)
        self.put_raw(store, "s/b.gz", gzip.compress(PAYLOAD))
        assert store.exists("s/a") and store.exists("s/b") and not store.exists("s/c")
        assert store.delete("s/a") and store.delete("s/b") and not store.delete("s/c")
        assert store.list("s") == {} and store.read("s/a") is None

    def test_a_foreign_gz_object_is_read_for_its_plain_name(self, store):
        self.put_raw(store, "s/chunk.gz", gzip.compress(PAYLOAD))
        assert store.read("s/chunk") == PAYLOAD
        assert store.list("s")["chunk"].gzipped is True

    def test_bad_gzip_and_gzip_bombs_are_corrupt_objects(self, store):
        self.put_raw(store, "s/bad.gz", b"not gzip at all")
        with pytest.raises(CorruptObjectError, match="not gzip"):
            store.read("s/bad")
        store.write("s/bomb", bytes(10**6), gzip_level=9)
        with pytest.raises(CorruptObjectError, match="more than"):
            store.read("s/bomb", max_size=1000)

    def test_byte_ranges(self, store):
        store.write("shard", PAYLOAD)
        assert store.read_range("shard", 10, 20) == PAYLOAD[10:20]
        assert store.read_range("shard", len(PAYLOAD) - 5, len(PAYLOAD) + 100) == PAYLOAD[-5:]
        assert store.read_range("shard", len(PAYLOAD) + 1, len(PAYLOAD) + 9) == b""
        assert store.read_range("absent", 0, 10) is None

    def test_a_rewrite_in_the_other_form_replaces_the_object(self, store):
        store.write("s/a", b"first", gzip_level=6)
        store.write("s/a", b"second")
        assert store.read("s/a") == b"second" and set(store.list("s")) == {"a"}

    def test_batched_writes_are_all_stored_on_leaving_the_block(self, store):
        with store.batched_writes():
            for i in range(100):
                store.write(f"many/{i}", PAYLOAD[i:], gzip_level=1 if i % 2 else None)
        assert len(store.list("many")) == 100
        assert all(store.read(f"many/{i}") == PAYLOAD[i:] for i in range(0, 100, 7))

    def test_the_store_pickles_and_works_after(self, store):
        store.write("info", b"{}")
        copy = pickle.loads(pickle.dumps(store))
        assert copy == store and hash(copy) == hash(store)
        assert copy.read("info") == b"{}"
        assert len(pickle.dumps(store)) < 1000


class TestLocalStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path) -> Store:
        return LocalStore(tmp_path / "dataset")

    def put_raw(self, store, name, data):
        path = store.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


class TestS3Store(StoreContract):
    @pytest.fixture
    def store(self, s3_server, s3_bucket) -> Store:
        return open_store(f"s3://{s3_bucket}/some/dataset", endpoint_url=s3_server.endpoint)

    def put_raw(self, store, name, data):
        from s3_server import s3_client

        bucket = store.location.removeprefix("s3://").split("/")[0]
        key = store.location.removeprefix(f"s3://{bucket}/") + "/" + name
        s3_client(store.endpoint_url).put_object(Bucket=bucket, Key=key, Body=data)

    def test_gzip_is_content_encoding_under_the_plain_name(self, store, s3_server, s3_bucket):
        from s3_server import s3_client

        store.write("s/a", PAYLOAD, gzip_level=6)
        client = s3_client(s3_server.endpoint)
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
        assert keys == ["some/dataset/s/a"]
        stored = client.get_object(Bucket=s3_bucket, Key="some/dataset/s/a")
        assert stored["ContentEncoding"] == "gzip"
        assert gzip.decompress(stored["Body"].read()) == PAYLOAD

    def test_the_endpoint_comes_from_aws_endpoint_url(self, s3_server, s3_bucket, monkeypatch):
        monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
        store = open_store(f"s3://{s3_bucket}/x")
        store.write("info", b"{}")
        assert open_store(f"s3://{s3_bucket}/x", endpoint_url=s3_server.endpoint).read("info")

    def test_a_failed_put_in_a_batch_is_raised(self, s3_server):
        store = open_store("s3://no-such-bucket/x", endpoint_url=s3_server.endpoint)
        with pytest.raises(OSError, match="NoSuchBucket") as raised:
            with store.batched_writes():
                for i in range(10):
                    store.write(f"k{i}", b"data")
        assert raised.value.filename.startswith("s3://no-such-bucket/x/k")


def test_credentials_come_from_the_aws_config_files(tmp_path, monkeypatch):
    """botocore's chain: with no keys in the environment, the shared credentials file."""
    pytest.importorskip("boto3")
    from ngcodec.precomputed.store.object_store import boto3_credentials

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    credentials = tmp_path / "credentials"
    credentials.write_text("[lab]\naws_access_key_id = FROMFILE\naws_secret_access_key = s\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_PROFILE", "lab")
    provider = boto3_credentials((("AWS_PROFILE", "lab"), ("file", str(credentials))))
    assert provider()["access_key_id"] == "FROMFILE"


@pytest.mark.parametrize(
    "location",
    ["ftp://host/data", "az://account/container", "S3:/bucket/x", "s3://", "gs:///path"],
)
def test_unsupported_locations_are_errors_never_local_folders(location, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UnsupportedLocationError, match=location.split(":")[0]):
        open_store(location)
    assert list(tmp_path.iterdir()) == []


def test_locations_open_the_right_store(tmp_path):
    pytest.importorskip("obstore")
    from ngcodec.precomputed.store.http import HTTPStore
    from ngcodec.precomputed.store.object_store import ObjectStore

    assert open_store(tmp_path) == LocalStore(tmp_path)
    assert open_store(f"file://{tmp_path}/a%20b") == LocalStore(tmp_path / "a b")
    gcs = open_store("gs://bucket/path/to/dataset/")
    assert type(gcs) is ObjectStore and gcs.location == "gs://bucket/path/to/dataset"
    assert type(open_store("https://example.org/data")) is HTTPStore
    with pytest.raises(UnsupportedLocationError, match="endpoint URL applies to s3://"):
        open_store("gs://bucket/x", endpoint_url="http://127.0.0.1:9000")
    with pytest.raises(UnsupportedLocationError, match="endpoint URL applies to s3://"):
        open_store(tmp_path, endpoint_url="http://127.0.0.1:9000")
