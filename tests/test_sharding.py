"""The sharded format's core (ngcodec.precomputed.format.sharding) against its oracles.

tensorstore writes sharded volumes (both hashes, raw and gzip encodings, odd grids, 2 channels)
that ngcodec's reader reads chunk for chunk; tensorstore reads the shards encode_shard writes;
mmh3 checks the hash and a plain restatement of volume.md the Morton codes; neuroglancer-scripts'
own sharded output is read where it is sane; hostile shards raise InvalidFormatError naming the
shard file and minishard.
"""

import itertools
import json
import os
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ngcodec import _native
from ngcodec.chunk_encoding import InvalidFormatError, InvalidInfoError, get_encoder
from ngcodec.precomputed.format import sharding as sh
from ngcodec.precomputed.format.sharding import ShardingSpec, ShardReader

ts = pytest.importorskip("tensorstore")


# ---------------------------------------------------------------------------------------------
# Helpers


def local_read_range(root: Path):
    """A ReadRange over a directory, clamped to each file's size."""

    def read_range(key: str, start: int, stop: int) -> bytes | None:
        try:
            file = open(root / key, "rb")
        except FileNotFoundError:
            return None
        with file:
            size = os.fstat(file.fileno()).st_size
            file.seek(start)
            return file.read(max(0, min(stop, size) - start))

    return read_range


def memory_read_range(files: dict[str, bytes], log: list | None = None):
    def read_range(key: str, start: int, stop: int) -> bytes | None:
        if log is not None:
            log.append((key, start, stop))
        return files[key][start:stop] if key in files else None

    return read_range


def morton_restated(position, grid_shape) -> int:
    """volume.md's compressed Morton code, word for word."""
    bits = [math_ceil_log2(n) for n in grid_shape]
    code, j = 0, 0
    for i in range(max(bits)):
        for dim in range(3):
            if 2**i < grid_shape[dim]:
                code |= ((position[dim] >> i) & 1) << j
                j += 1
    return code


def math_ceil_log2(n: int) -> int:
    return (n - 1).bit_length()


def grid_of(size, chunk):
    return tuple(-(-s // c) for s, c in zip(size, chunk, strict=True))


def grid_positions(grid):
    return np.array(list(itertools.product(*(range(n) for n in grid))), np.uint64).reshape(-1, 3)


def chunk_box(position, chunk, size):
    start = [p * c for p, c in zip(position, chunk, strict=True)]
    stop = [min(s + c, n) for s, c, n in zip(start, chunk, size, strict=True)]
    return start, stop


def volume_data(size, channels, dtype, seed=0):
    """(C, Z, Y, X) values with no zero, so tensorstore stores every chunk."""
    rng = np.random.default_rng(seed)
    shape = (channels, size[2], size[1], size[0])
    if np.dtype(dtype).kind == "u" and np.dtype(dtype).itemsize == 1:
        return rng.integers(1, 255, shape, dtype=dtype)
    labels = rng.integers(1, 1000, (channels, -(-size[2] // 4), -(-size[1] // 4), -(-size[0] // 4)))
    return (
        labels.repeat(4, 1)
        .repeat(4, 2)
        .repeat(4, 3)[:, : size[2], : size[1], : size[0]]
        .astype(dtype)
    )


def tensorstore_spec(root: Path, size, chunk, dtype, channels, encoding, sharding):
    scale = {
        "size": list(size),
        "chunk_size": list(chunk),
        "encoding": encoding,
        "resolution": [4, 5, 6],
        "key": "s0",
    }
    if sharding is not None:
        scale["sharding"] = sharding
    if encoding == "compressed_segmentation":
        scale["compressed_segmentation_block_size"] = [8, 8, 8]
    return {
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "file", "path": str(root)},
        "scale_metadata": scale,
        "multiscale_metadata": {
            "data_type": dtype,
            "num_channels": channels,
            "type": "segmentation" if encoding == "compressed_segmentation" else "image",
        },
    }


def write_with_tensorstore(root: Path, data, chunk, encoding, sharding):
    channels, z, y, x = data.shape
    spec = tensorstore_spec(root, (x, y, z), chunk, str(data.dtype), channels, encoding, sharding)
    store = ts.open(spec, create=True).result()
    store.write(data.transpose(3, 2, 1, 0)).result()
    return json.loads((root / "info").read_text())["scales"][0]


def encoder_for(dtype, channels, scale):
    return get_encoder({"data_type": str(np.dtype(dtype)), "num_channels": channels}, scale)


# ---------------------------------------------------------------------------------------------
# Hash and Morton codes


def test_pinned_murmurhash_vectors():
    values = np.array([0, 1, 42], np.uint64)
    assert list(_native.murmurhash3_x86_128(values)) == [
        0x4772B084E028AE41,
        0xE8BD67D616D4CE9A,
        0xC20B94F95119F47A,
    ]


@given(st.lists(st.integers(0, 2**64 - 1), max_size=50))
def test_murmurhash_equals_mmh3(values):
    mmh3 = pytest.importorskip("mmh3")
    expected = [mmh3.hash64(v.to_bytes(8, "little"), 0, False, False)[0] for v in values]
    assert list(_native.murmurhash3_x86_128(np.array(values, np.uint64))) == expected


grid_shapes = st.tuples(st.integers(1, 300), st.integers(1, 300), st.integers(1, 40))


@given(grid_shapes, st.data())
def test_chunk_ids_are_volume_md_morton_codes_and_invert(grid, data):
    positions = data.draw(
        st.lists(st.tuples(*(st.integers(0, n - 1) for n in grid)), min_size=1, max_size=30)
    )
    ids = sh.chunk_ids(positions, grid)
    assert list(ids) == [morton_restated(p, grid) for p in positions]
    assert sh.chunk_positions(ids, grid).tolist() == [list(p) for p in positions]


def test_chunk_ids_cover_a_grid_without_collisions():
    grid = (5, 3, 7)
    ids = sh.chunk_ids(grid_positions(grid), grid)
    assert len(set(ids.tolist())) == 5 * 3 * 7
    assert int(ids.max()) < 2 ** sum(math_ceil_log2(n) for n in grid)


@pytest.mark.parametrize(
    ("positions", "grid", "error"),
    [
        ([[5, 0, 0]], (5, 3, 7), ValueError),
        ([[-1, 0, 0]], (5, 3, 7), ValueError),
        ([[0.5, 0, 0]], (5, 3, 7), TypeError),
        ([[0, 0]], (5, 3, 7), ValueError),
        ([[0, 0, 0]], (0, 3, 7), ValueError),
        ([[0, 0, 0]], (2**22, 2**22, 2**21), ValueError),
    ],
)
def test_bad_positions_and_grids_are_value_errors(positions, grid, error):
    with pytest.raises(error):
        sh.chunk_ids(positions, grid)


def test_ids_outside_the_grid_have_no_position():
    with pytest.raises(ValueError, match="not a position"):
        sh.chunk_positions([7], (3, 2, 1))


# ---------------------------------------------------------------------------------------------
# The spec


def test_spec_json_round_trip_and_defaults():
    sharding = {
        "@type": "neuroglancer_uint64_sharded_v1",
        "preshift_bits": 3,
        "hash": "murmurhash3_x86_128",
        "minishard_bits": 6,
        "shard_bits": 15,
    }
    spec = ShardingSpec.from_json(sharding)
    assert spec.minishard_index_encoding == spec.data_encoding == "raw"
    assert spec.shard_index_bytes == 16 * 64
    assert ShardingSpec.from_json(spec.to_json()) == spec
    assert spec.to_json() == {**sharding, "minishard_index_encoding": "raw", "data_encoding": "raw"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"@type": "neuroglancer_uint64_sharded_v2"}, "@type"),
        ({"preshift_bits": 65}, "preshift_bits"),
        ({"preshift_bits": -1}, "preshift_bits"),
        ({"preshift_bits": True}, "preshift_bits"),
        ({"minishard_bits": 33}, "minishard_bits"),
        ({"minishard_bits": 2.0}, "minishard_bits"),
        ({"shard_bits": 60, "minishard_bits": 5}, "shard_bits"),
        ({"hash": "murmurhash3_x64_128"}, "hash"),
        ({"data_encoding": "zlib"}, "data_encoding"),
        ({"minishard_index_encoding": None}, "minishard_index_encoding"),
        ({"hash": None}, "hash"),
    ],
)
def test_bad_specs_name_the_field(change, field):
    sharding = {
        "@type": "neuroglancer_uint64_sharded_v1",
        "preshift_bits": 0,
        "hash": "identity",
        "minishard_bits": 0,
        "shard_bits": 0,
        **change,
    }
    with pytest.raises(InvalidInfoError, match=field):
        ShardingSpec.from_json(sharding)


def test_missing_spec_members_are_named():
    with pytest.raises(InvalidInfoError, match="shard_bits"):
        ShardingSpec.from_json({"@type": sh.SHARDING_TYPE, "preshift_bits": 0, "hash": "identity",
                                "minishard_bits": 0})  # fmt: skip
    with pytest.raises(InvalidInfoError, match="JSON object"):
        ShardingSpec.from_json([])


def test_shard_keys_are_padded_hex():
    def spec(shard_bits):
        return ShardingSpec(0, "identity", 2, shard_bits)

    assert sh.shard_key(spec(0), 0) == "0.shard"
    assert sh.shard_key(spec(1), 1) == "1.shard"
    assert sh.shard_key(spec(5), 0x1F) == "1f.shard"
    assert sh.shard_key(spec(9), 5) == "005.shard"
    assert sh.shard_key(spec(62), 2**62 - 1) == "3fffffffffffffff.shard"
    with pytest.raises(ValueError, match="shard"):
        sh.shard_key(spec(4), 16)


def test_shifts_by_64_are_defined():
    spec = ShardingSpec(64, "murmurhash3_x86_128", 0, 64)
    shards, minishards = spec.locate([0, 1, 2**64 - 1])
    assert set(shards.tolist()) == {0x4772B084E028AE41} and set(minishards.tolist()) == {0}
    whole = ShardingSpec(0, "identity", 32, 32)
    shards, minishards = whole.locate([2**64 - 1])
    assert (int(shards[0]), int(minishards[0])) == (2**32 - 1, 2**32 - 1)


# ---------------------------------------------------------------------------------------------
# Reading what tensorstore writes


TENSORSTORE_CASES = [
    # size (X, Y, Z), chunk, dtype, channels, encoding, sharding
    ((100, 70, 45), (16, 16, 16), "uint32", 1, "raw", (2, "identity", 2, 3, "raw", "raw")),
    ((100, 70, 45), (16, 16, 16), "uint32", 2, "raw",
     (0, "murmurhash3_x86_128", 2, 2, "gzip", "gzip")),
    ((50, 33, 17), (8, 16, 4), "uint64", 1, "compressed_segmentation",
     (1, "murmurhash3_x86_128", 3, 1, "gzip", "raw")),
    ((50, 33, 17), (8, 16, 4), "uint32", 2, "compressed_segmentation",
     (3, "identity", 1, 4, "raw", "gzip")),
    ((70, 45, 9), (32, 16, 8), "uint8", 1, "raw", (0, "identity", 0, 6, "gzip", "gzip")),
    ((70, 45, 9), (32, 16, 8), "uint8", 1, "raw", (6, "identity", 0, 0, "gzip", "gzip")),
]  # fmt: skip


def spec_of(sharding) -> ShardingSpec:
    return ShardingSpec(*sharding)


@pytest.mark.parametrize("case", TENSORSTORE_CASES, ids=str)
def test_every_chunk_tensorstore_wrote_is_read(tmp_path, case):
    size, chunk, dtype, channels, encoding, sharding = case
    spec = spec_of(sharding)
    data = volume_data(size, channels, dtype)
    scale = write_with_tensorstore(tmp_path, data, chunk, encoding, spec.to_json())
    assert ShardingSpec.from_json(scale["sharding"]) == spec
    encoder = encoder_for(dtype, channels, scale)
    reader = ShardReader(spec, local_read_range(tmp_path / "s0"))
    grid = grid_of(size, chunk)
    positions = grid_positions(grid)
    ids = sh.chunk_ids(positions, grid)
    for position, chunk_id in zip(positions, ids, strict=True):
        start, stop = chunk_box(position, chunk, size)
        buf = reader.read_chunk(int(chunk_id))
        assert buf is not None, position
        clipped = tuple(b - a for a, b in zip(start, stop, strict=True))
        decoded = encoder.decode(buf, clipped)
        expected = data[:, start[2] : stop[2], start[1] : stop[1], start[0] : stop[0]]
        np.testing.assert_array_equal(decoded, expected)
    assert reader.nonstandard_streams == 0

    # Every shard file, read whole and checked, holds exactly the chunks its ids say.
    shards = spec.locate(ids)[0]
    files = sorted(path.name for path in (tmp_path / "s0").iterdir())
    assert files == sorted({sh.shard_key(spec, int(s)) for s in shards})
    found = {}
    for shard in sorted(set(shards.tolist())):
        found.update(reader.read_shard(shard))
    assert sorted(found) == sorted(ids.tolist())


def test_chunks_tensorstore_left_out_read_as_missing(tmp_path):
    size, chunk = (64, 64, 32), (16, 16, 16)
    spec = ShardingSpec(2, "identity", 2, 2, "gzip", "gzip")
    data = volume_data(size, 1, "uint32")
    data[:, :16, :16, :16] = 0  # tensorstore does not store chunks equal to the fill value
    write_with_tensorstore(tmp_path, data, chunk, "raw", spec.to_json())
    reader = ShardReader(spec, local_read_range(tmp_path / "s0"))
    grid = grid_of(size, chunk)
    assert reader.read_chunk(int(sh.chunk_ids([[0, 0, 0]], grid)[0])) is None
    assert reader.read_chunk(int(sh.chunk_ids([[1, 0, 0]], grid)[0])) is not None


# ---------------------------------------------------------------------------------------------
# tensorstore reading what encode_shard writes


def write_sharded(root: Path, data, chunk, encoding, spec: ShardingSpec, block=(8, 8, 8)):
    """A sharded precomputed dataset of (C, Z, Y, X) ``data``, written by hand."""
    channels, z, y, x = data.shape
    size = (x, y, z)
    scale = {
        "key": "s0",
        "size": list(size),
        "voxel_offset": [0, 0, 0],
        "chunk_sizes": [list(chunk)],
        "resolution": [4, 5, 6],
        "encoding": encoding,
        "sharding": spec.to_json(),
    }
    if encoding == "compressed_segmentation":
        scale["compressed_segmentation_block_size"] = list(block)
    info = {
        "@type": "neuroglancer_multiscale_volume",
        "data_type": str(data.dtype),
        "num_channels": channels,
        "type": "segmentation" if encoding == "compressed_segmentation" else "image",
        "scales": [scale],
    }
    (root / "s0").mkdir(parents=True)
    (root / "info").write_text(json.dumps(info))
    encoder = encoder_for(data.dtype, channels, scale)
    grid = grid_of(size, chunk)
    positions = grid_positions(grid)
    ids = sh.chunk_ids(positions, grid)
    shards = spec.locate(ids)[0]
    for shard in sorted(set(shards.tolist())):
        chunks = {}
        for position, chunk_id in zip(
            positions[shards == shard], ids[shards == shard], strict=True
        ):
            start, stop = chunk_box(position, chunk, size)
            block_data = data[:, start[2] : stop[2], start[1] : stop[1], start[0] : stop[0]]
            chunks[int(chunk_id)] = encoder.encode(block_data)
        (root / "s0" / sh.shard_key(spec, shard)).write_bytes(sh.encode_shard(spec, chunks))
    return scale


ENCODE_CASES = [
    # size (X, Y, Z), chunk, dtype, channels, encoding
    ((100, 70, 45), (16, 16, 16), "uint32", 1, "raw"),
    ((100, 70, 45), (16, 16, 16), "uint16", 2, "raw"),
    ((50, 33, 17), (8, 16, 4), "uint64", 1, "compressed_segmentation"),
    ((50, 33, 17), (8, 16, 4), "uint32", 2, "compressed_segmentation"),
    ((70, 45, 9), (32, 16, 8), "uint8", 1, "png"),
]


def specs_for(grid, chunk_bytes):
    """A rectangular identity spec with several shards, and murmur specs."""
    rectangular = sh.choose_sharding(grid, chunk_bytes, target_shard_bytes=8 * chunk_bytes)
    return [
        rectangular,
        sh.choose_sharding(
            grid, chunk_bytes, target_shard_bytes=2 * chunk_bytes, data_encoding="raw"
        ),
        ShardingSpec(1, "murmurhash3_x86_128", 2, 2, "gzip", "gzip"),
        ShardingSpec(0, "murmurhash3_x86_128", 0, 3, "raw", "raw"),
    ]


@pytest.mark.parametrize("case", ENCODE_CASES, ids=str)
def test_tensorstore_reads_encode_shard_output(tmp_path, case):
    size, chunk, dtype, channels, encoding = case
    grid = grid_of(size, chunk)
    chunk_bytes = int(np.prod(chunk)) * channels * np.dtype(dtype).itemsize
    data = volume_data(size, channels, dtype)
    for n, spec in enumerate(specs_for(grid, chunk_bytes)):
        root = tmp_path / str(n)
        write_sharded(root, data, chunk, encoding, spec)
        store = ts.open(
            {"driver": "neuroglancer_precomputed", "kvstore": f"file://{root}"}
        ).result()
        np.testing.assert_array_equal(store.read().result().transpose(3, 2, 1, 0), data)


def test_choose_sharding_gives_several_box_shards_in_the_tests():
    grid = grid_of((100, 70, 45), (16, 16, 16))
    spec = specs_for(grid, 4096 * 4)[0]
    assert spec.hash == "identity" and spec.shard_bits > 0
    assert spec.preshift_bits + spec.minishard_bits + spec.shard_bits == 3 + 3 + 2


def test_an_empty_interior_minishard(tmp_path):
    """Minishards 0 and 2 hold chunks, 1 and 3 none: their shard index entries are empty ranges at
    their own places, and tensorstore and the reader find every chunk."""
    size, chunk = (64, 32, 16), (16, 16, 16)
    spec = ShardingSpec(0, "identity", 2, 0, "raw", "gzip")
    data = volume_data(size, 1, "uint32")
    grid = grid_of(size, chunk)  # (4, 2, 1): ids 0-7, minishard = id & 3
    scale = {"encoding": "raw"}
    encoder = encoder_for("uint32", 1, scale)
    chunks = {}
    for position in grid_positions(grid):
        chunk_id = int(sh.chunk_ids([position], grid)[0])
        if chunk_id & 3 in (0, 2):
            start, stop = chunk_box(position, chunk, size)
            chunks[chunk_id] = encoder.encode(data[:, :, start[1] : stop[1], start[0] : stop[0]])
    shard = sh.encode_shard(spec, chunks)
    entries = struct.unpack("<8Q", shard[:64])
    assert entries[2] == entries[3] and entries[6] == entries[7]  # minishards 1 and 3: empty
    assert entries[1] == entries[2] and entries[5] == entries[6]  # ... where theirs would start
    assert entries[0] < entries[1] and entries[4] < entries[5]

    root = tmp_path / "ds"
    write_sharded(root, data, chunk, "raw", spec)
    (root / "s0" / "0.shard").write_bytes(shard)
    store = ts.open({"driver": "neuroglancer_precomputed", "kvstore": f"file://{root}"}).result()
    read = store.read().result().transpose(3, 2, 1, 0)
    reader = ShardReader(spec, local_read_range(root / "s0"))
    for chunk_id in range(8):
        x, y, _ = sh.chunk_positions([chunk_id], grid)[0]
        box = (slice(None), slice(None), slice(16 * y, 16 * y + 16), slice(16 * x, 16 * x + 16))
        if chunk_id in chunks:
            np.testing.assert_array_equal(read[box], data[box])
            assert reader.read_chunk(chunk_id) == chunks[chunk_id]
        else:
            assert not read[box].any()
            assert reader.read_chunk(chunk_id) is None
    assert dict(reader.read_shard(0)) == chunks


# ---------------------------------------------------------------------------------------------
# Reads: ranges only, cached indexes, the legacy pair


def sample_shard(spec: ShardingSpec, count=300, seed=0):
    """A shard file of shard 0 with ``count`` chunk ids and varied bytes."""
    rng = np.random.default_rng(seed)
    candidates = np.arange(count * 4 * (1 << spec.shard_bits), dtype=np.uint64)
    ids = candidates[spec.locate(candidates)[0] == 0][:count]
    chunks = {
        int(i): rng.integers(0, 4, rng.integers(1, 200), dtype=np.uint8).tobytes() for i in ids
    }
    return chunks, sh.encode_shard(spec, chunks)


def test_a_chunk_costs_the_indexes_and_its_own_bytes(tmp_path):
    spec = ShardingSpec(2, "identity", 4, 1, "gzip", "gzip")
    chunks, shard = sample_shard(spec)
    log: list = []
    reader = ShardReader(spec, memory_read_range({"0.shard": shard}, log))
    first, second = sorted(chunks)[:2]  # the same minishard: ids 0 and 1 share id >> 2
    assert reader.read_chunk(first) == chunks[first]
    assert log[0][2] - log[0][1] == spec.shard_index_bytes
    assert len(log) == 3 and sum(stop - start for _, start, stop in log) < len(shard) / 10
    log.clear()
    assert reader.read_chunk(second) == chunks[second]
    assert len(log) == 1  # shard index and minishard index cached
    log.clear()
    assert reader.read_chunk(64) is None  # in shard 1, which does not exist
    assert [key for key, _, _ in log] == ["1.shard", "1.index"]


def test_large_shard_indexes_are_read_entry_by_entry():
    spec = ShardingSpec(0, "murmurhash3_x86_128", 13, 0, "raw", "gzip")
    assert spec.shard_index_bytes > sh.WHOLE_INDEX_BYTES
    chunks, shard = sample_shard(spec, count=500)
    log: list = []
    reader = ShardReader(spec, memory_read_range({"0.shard": shard}, log))
    for chunk_id, data in chunks.items():
        assert reader.read_chunk(chunk_id) == data
    assert max(stop - start for _, start, stop in log) < 4096
    assert dict(reader.read_shard(0)) == chunks


def test_the_legacy_index_and_data_pair():
    spec = ShardingSpec(1, "identity", 3, 2, "gzip", "raw")
    chunks, shard = sample_shard(spec)
    split = spec.shard_index_bytes
    files = {"0.index": shard[:split], "0.data": shard[split:]}
    reader = ShardReader(spec, memory_read_range(files))
    for chunk_id, data in chunks.items():
        assert reader.read_chunk(chunk_id) == data
    assert dict(reader.read_shard(0)) == chunks
    files["0.data"] = files["0.data"][:-10]
    with pytest.raises(InvalidFormatError, match=r"0\.index/\.data: minishard 7"):
        dict(ShardReader(spec, memory_read_range(files)).read_shard(0))


def test_a_shared_cache_and_its_bound():
    cache = sh.LruCache(3)
    for key in range(5):
        cache[key] = key
    assert list(cache) == [2, 3, 4]
    assert cache[2] == 2
    cache[5] = 5
    assert sorted(cache) == [2, 4, 5]
    spec = ShardingSpec(0, "identity", 2, 0)
    chunks, shard = sample_shard(spec, count=20)
    reader = ShardReader(spec, memory_read_range({"0.shard": shard}), cache=cache)
    assert all(reader.read_chunk(i) == d for i, d in chunks.items())
    assert len(cache) == 3


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 4),
    st.sampled_from(sh.HASHES),
    st.integers(0, 4),
    st.integers(0, 3),
    st.sampled_from(sh.ENCODINGS),
    st.sampled_from(sh.ENCODINGS),
    st.dictionaries(st.integers(0, 2**64 - 1) | st.integers(0, 200), st.binary(max_size=40),
                    max_size=40),
)  # fmt: skip
def test_round_trips(preshift, hash_, minishard_bits, shard_bits, index_encoding, data_encoding,
                     chunks):  # fmt: skip
    spec = ShardingSpec(preshift, hash_, minishard_bits, shard_bits, index_encoding, data_encoding)
    files = {}
    by_shard: dict[int, dict[int, bytes]] = {}
    for chunk_id, data in chunks.items():
        shard = int(spec.locate([chunk_id])[0][0])
        by_shard.setdefault(shard, {})[chunk_id] = data
    for shard, members in by_shard.items():
        files[sh.shard_key(spec, shard)] = sh.encode_shard(spec, members)
    reader = ShardReader(spec, memory_read_range(files))
    # Chunks stored as no bytes read as missing (neuroglancer-scripts writes them for holes).
    stored = {i: d for i, d in chunks.items() if d or data_encoding == "gzip"}
    for chunk_id in chunks:
        assert reader.read_chunk(chunk_id) == stored.get(chunk_id)
    for shard, members in by_shard.items():
        assert dict(reader.read_shard(shard)) == {i: d for i, d in members.items() if i in stored}


def test_encode_shard_refuses_chunks_of_two_shards_and_accepts_any_buffer():
    spec = ShardingSpec(0, "identity", 1, 1)
    with pytest.raises(ValueError, match="different shards"):
        sh.encode_shard(spec, {0: b"a", 2: b"b"})
    with pytest.raises(ValueError, match="chunk ids must not be negative"):
        sh.encode_shard(spec, {-1: b"a"})
    chunks = {0: bytearray(b"ab"), 1: memoryview(b"cd"), 4: np.frombuffer(b"ef", np.uint8)}
    reader = ShardReader(spec, memory_read_range({"0.shard": sh.encode_shard(spec, chunks)}))
    assert dict(reader.read_shard(0)) == {0: b"ab", 1: b"cd", 4: b"ef"}


# ---------------------------------------------------------------------------------------------
# choose_sharding and shard boxes


def sharding_tensorstore_chooses(size, chunk, target_elements):
    store = ts.open(
        {
            "driver": "neuroglancer_precomputed",
            "kvstore": "memory://",
            "scale_metadata": {"size": list(size), "chunk_size": list(chunk), "encoding": "raw",
                               "resolution": [1, 1, 1]},
            "multiscale_metadata": {"data_type": "uint8", "num_channels": 1, "type": "image"},
            "schema": {"chunk_layout": {"write_chunk": {"elements": target_elements}}},
        },
        create=True,
    ).result()  # fmt: skip
    scale = store.spec().to_json()["scale_metadata"]
    return scale.get("sharding"), store.chunk_layout.write_chunk.shape[:3]


@pytest.mark.parametrize(
    ("size", "chunk", "target_chunks"),
    [
        ((250, 220, 100), (16, 16, 16), 40),
        ((250, 220, 100), (16, 16, 16), 700),
        ((250, 220, 100), (64, 64, 64), 5),
        ((1000, 30, 3000), (8, 16, 32), 3000),
        ((1000, 30, 3000), (8, 16, 32), 10**6),
        ((513, 512, 511), (64, 64, 64), 1),
    ],
)
def test_choose_sharding_agrees_with_tensorstore(size, chunk, target_chunks):
    chunk_bytes = int(np.prod(chunk))  # uint8, one channel: bytes are elements
    expected, write_chunk = sharding_tensorstore_chooses(size, chunk, target_chunks * chunk_bytes)
    grid = grid_of(size, chunk)
    spec = sh.choose_sharding(grid, chunk_bytes, target_shard_bytes=target_chunks * chunk_bytes)
    if expected is None:  # tensorstore leaves one-chunk shards unsharded
        assert spec.preshift_bits == spec.minishard_bits == 0
        return
    assert spec == ShardingSpec.from_json(expected)
    # Its shards are the write chunks tensorstore derives.
    box = sh.shard_boxes(spec, grid)[0]
    assert [b - a for a, b in zip(box.start, box.stop, strict=True)] == [
        -(-w // c) for w, c in zip(write_chunk, chunk, strict=True)
    ]


@pytest.mark.parametrize(
    ("grid", "chunk_bytes", "expected", "files"),
    [
        ((4, 4, 2), 64**3 * 4, (5, 0, 0), 1),  # the sample: 250x220x100 uint32
        ((8, 8, 8), 64**3 * 4, (9, 0, 0), 1),  # 512³ uint32
        ((313, 313, 16), 64**3, (9, 4, 9), 200),  # 20000x20000x1000 uint8
    ],
)
def test_choose_sharding_for_the_reported_volumes(grid, chunk_bytes, expected, files):
    spec = sh.choose_sharding(grid, chunk_bytes)
    assert (spec.preshift_bits, spec.minishard_bits, spec.shard_bits) == expected
    assert len(sh.shard_boxes(spec, grid)) == files


@settings(deadline=None)
@given(st.tuples(*[st.integers(1, 40)] * 3), st.integers(0, 12))
def test_shard_boxes_tile_the_grid(grid, within_bits):
    spec = sh.choose_sharding(grid, 1, target_shard_bytes=1 << within_bits)
    boxes = sh.shard_boxes(spec, grid)
    assert len({box.shard for box in boxes}) == len(boxes)
    covered = np.zeros(grid[::-1], int)
    for box in boxes:
        (x0, y0, z0), (x1, y1, z1) = box.start, box.stop
        covered[z0:z1, y0:y1, x0:x1] += 1
        corners = [box.start, tuple(s - 1 for s in box.stop)]
        assert set(sh.shard_numbers(spec, corners, grid).tolist()) == {box.shard}
    assert (covered == 1).all()


def test_every_position_lies_in_its_shards_box():
    grid = (9, 5, 6)
    spec = sh.choose_sharding(grid, 1, target_shard_bytes=8)
    boxes = {box.shard: box for box in sh.shard_boxes(spec, grid)}
    positions = grid_positions(grid)
    for position, shard in zip(positions, sh.shard_numbers(spec, positions, grid), strict=True):
        box = boxes[int(shard)]
        assert all(a <= p < b for a, p, b in zip(box.start, position, box.stop, strict=True))


def test_shards_that_are_not_boxes_have_no_boxes():
    with pytest.raises(ValueError, match="not boxes"):
        sh.shard_boxes(ShardingSpec(0, "murmurhash3_x86_128", 2, 2), (4, 4, 4))
    with pytest.raises(ValueError, match="not boxes"):
        sh.shard_boxes(ShardingSpec(0, "identity", 2, 2), (4, 4, 4))
    with pytest.raises(ValueError, match="positive"):
        sh.choose_sharding((4, 4, 4), 0)


# ---------------------------------------------------------------------------------------------
# neuroglancer-scripts 1.2.0's own sharded output


def write_with_neuroglancer_scripts(root: Path, data, chunk, sharding, only=None):
    """neuroglancer-scripts' sharded writer on (C, Z, Y, X) ``data``; ``only`` the chunks of these
    ids if given."""
    from neuroglancer_scripts.sharded_file_accessor import ShardedFileAccessor

    _, z, y, x = data.shape
    info = {
        "type": "image",
        "data_type": str(data.dtype),
        "num_channels": 1,
        "scales": [
            {"key": "s0", "size": [x, y, z], "resolution": [1, 1, 1], "voxel_offset": [0, 0, 0],
             "chunk_sizes": [list(chunk)], "encoding": "raw", "sharding": dict(sharding)}
        ],
    }  # fmt: skip
    accessor = ShardedFileAccessor(str(root), strategy="in memory")
    accessor.info = json.loads(json.dumps(info))
    encoder = encoder_for(data.dtype, 1, {"encoding": "raw"})
    grid = grid_of((x, y, z), chunk)
    for position in grid_positions(grid):
        if only is not None and int(sh.chunk_ids([position], grid)[0]) not in only:
            continue
        start, stop = chunk_box(position, chunk, (x, y, z))
        block = data[:, start[2] : stop[2], start[1] : stop[1], start[0] : stop[0]]
        coords = (start[0], stop[0], start[1], stop[1], start[2], stop[2])
        accessor.store_chunk(encoder.encode(block), "s0", coords)
    accessor.close()


def test_neuroglancer_scripts_output_is_read_and_its_zlib_reported(tmp_path):
    size, chunk = (64, 64, 64), (16, 16, 16)
    spec = ShardingSpec(2, "identity", 2, 2, "gzip", "gzip")
    data = volume_data(size, 1, "uint16")
    write_with_neuroglancer_scripts(tmp_path, data, chunk, spec.to_json())
    reader = ShardReader(spec, local_read_range(tmp_path / "s0"))
    grid = grid_of(size, chunk)
    encoder = encoder_for("uint16", 1, {"encoding": "raw"})
    for position, chunk_id in zip(grid_positions(grid), sh.chunk_ids(grid_positions(grid), grid),
                                  strict=True):  # fmt: skip
        start, stop = chunk_box(position, chunk, size)
        decoded = encoder.decode(reader.read_chunk(int(chunk_id)), chunk)
        expected = data[:, start[2] : stop[2], start[1] : stop[1], start[0] : stop[0]]
        np.testing.assert_array_equal(decoded, expected)
    assert reader.nonstandard_streams >= 64  # each chunk's zlib stream, and the indexes'
    # tensorstore cannot read them: zlib where gzip is specified.
    with pytest.raises(ValueError):
        store = ts.open({"driver": "neuroglancer_precomputed", "kvstore": f"file://{tmp_path}"})
        store.result().read().result()


def test_neuroglancer_scripts_compacted_shard_index_is_refused(tmp_path):
    """With an empty interior minishard, neuroglancer-scripts writes the next minishard's index in
    its slot; reading the whole shard finds the chunks there and refuses them, where a lookup
    would silently miss them."""
    size, chunk = (64, 16, 16), (16, 16, 16)  # grid (4, 1, 1): ids 0-3, minishard = id
    spec = ShardingSpec(0, "identity", 2, 0, "raw", "raw")
    data = volume_data(size, 1, "uint8")
    write_with_neuroglancer_scripts(tmp_path, data, chunk, spec.to_json(), only=(0, 2))
    reader = ShardReader(spec, local_read_range(tmp_path / "s0"))
    assert reader.read_chunk(0) is not None
    with pytest.raises(InvalidFormatError, match=r"0\.shard: minishard 1: chunk id 2 belongs to "):
        dict(reader.read_shard(0))


# ---------------------------------------------------------------------------------------------
# Hostile shards


def hostile_spec(index_encoding="raw", data_encoding="raw"):
    return ShardingSpec(0, "identity", 2, 1, index_encoding, data_encoding)


def shard_with(entries, body: bytes) -> bytes:
    """A shard file of hostile_spec from its 4 (start, end) index entries and the rest."""
    return struct.pack("<8Q", *itertools.chain(*entries)) + body


def minishard_index(ids, offsets, sizes) -> bytes:
    return struct.pack(f"<{3 * len(ids)}Q", *ids, *offsets, *sizes)


def valid_shard() -> bytes:
    # Chunks 1 and 9 (minishard 1, shard 0), 8 bytes each, then minishard 1's index.
    index = minishard_index([1, 8], [0, 0], [8, 8])
    return shard_with(
        [(16, 16), (16, 16 + len(index)), (64, 64), (64, 64)], b"A" * 8 + b"B" * 8 + index
    )


HOSTILE = {
    "index past the file": (
        shard_with([(0, 0), (16, 200), (0, 0), (0, 0)], b"x" * 40),
        "minishard 1: index .* lies past the end of the file",
    ),
    "decreasing index range": (
        shard_with([(0, 0), (40, 16), (0, 0), (0, 0)], b"x" * 40),
        "minishard 1: its index range .* decreases",
    ),
    "overlapping index ranges": (
        shard_with([(0, 24), (16, 40), (0, 0), (0, 0)], b"x" * 40),
        "minishards 0 and 1: their indexes overlap",
    ),
    "index not 24n bytes": (
        shard_with([(0, 0), (0, 25), (0, 0), (0, 0)], b"x" * 25),
        "minishard 1: its index is 25 bytes",
    ),
    "ids out of order": (
        shard_with(
            [(0, 0), (0, 48), (0, 0), (0, 0)], minishard_index([1, 2**64 - 1], [0, 0], [0, 0])
        ),
        "minishard 1: chunk ids are out of order",
    ),
    "ids repeated": (
        shard_with([(0, 0), (0, 48), (0, 0), (0, 0)], minishard_index([1, 0], [0, 0], [0, 0])),
        "minishard 1: chunk id 1 repeats",
    ),
    "chunk in another minishard": (
        shard_with([(0, 0), (0, 24), (0, 0), (0, 0)], minishard_index([2], [0], [0])),
        "minishard 1: chunk id 2 belongs to minishard 2",
    ),
    "chunk in another shard": (
        shard_with([(0, 0), (0, 24), (0, 0), (0, 0)], minishard_index([5 + 8], [0], [0])),
        "minishard 1: chunk id 13 belongs to minishard 1 of shard 1",
    ),
    "absurd chunk size": (
        shard_with([(0, 0), (0, 24), (0, 0), (0, 0)], minishard_index([1], [24], [2**62])),
        "minishard 1: chunk 1 .* lies past the end of the file",
    ),
    "absurd chunk offset": (
        shard_with([(0, 0), (0, 24), (0, 0), (0, 0)], minishard_index([1], [2**64 - 8], [1])),
        "minishard 1: chunk 1 starts past any file",
    ),
    "absurd index range": (
        shard_with([(0, 0), (0, 2**63), (0, 0), (0, 0)], b""),
        "minishard 1: index .* lies past the end of the file",
    ),
    "index range overflowing": (
        shard_with([(0, 0), (0, 2**64 - 1), (0, 0), (0, 0)], b""),
        "minishard 1: its index range .* lies past any file",
    ),
    "file shorter than its shard index": (b"\0" * 63, "shorter than its shard index"),
    "empty file": (b"", "the file is 0 bytes"),
}


@pytest.mark.parametrize("case", HOSTILE, ids=str)
def test_hostile_shards_name_the_file_and_minishard(case):
    shard, message = HOSTILE[case]
    spec = hostile_spec()
    tracemalloc.start()
    try:
        with pytest.raises(InvalidFormatError, match=rf"^0\.shard: .*{message}"):
            ShardReader(spec, memory_read_range({"0.shard": shard})).read_chunk(1)
        with pytest.raises(InvalidFormatError, match=r"^0\.shard: "):
            dict(ShardReader(spec, memory_read_range({"0.shard": shard})).read_shard(0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_the_valid_hostile_template_reads():
    reader = ShardReader(hostile_spec(), memory_read_range({"0.shard": valid_shard()}))
    assert reader.read_chunk(1) == b"A" * 8
    assert reader.read_chunk(9) == b"B" * 8
    assert dict(reader.read_shard(0)) == {1: b"A" * 8, 9: b"B" * 8}


def test_chunks_overlapping_an_index_are_refused_when_reading_a_whole_shard():
    index = minishard_index([1, 8], [0, 0], [8, 30])  # chunk 9 runs into the index
    shard = shard_with([(0, 0), (16, 16 + len(index)), (0, 0), (0, 0)], b"A" * 16 + index)
    reader = ShardReader(hostile_spec(), memory_read_range({"0.shard": shard}))
    assert reader.read_chunk(1) == b"A" * 8
    with pytest.raises(InvalidFormatError, match=r"0\.shard: byte ranges .* overlap"):
        dict(reader.read_shard(0))


BAD_GZIP = {
    "not gzip": b"PK\x03\x04garbage",
    "corrupt": zlib.compress(b"x" * 100)[:2] + b"\xff" * 10,
    "cut short": sh._gzip(b"x" * 1000)[:-6],
    "trailing bytes": sh._gzip(b"x" * 24) + b"junk",
    "empty": b"",
}


@pytest.mark.parametrize("case", BAD_GZIP, ids=str)
def test_bad_gzip_is_named(case):
    stream = BAD_GZIP[case]
    spec = hostile_spec("gzip", "gzip")
    as_index = shard_with([(0, 0), (0, len(stream)), (0, 0), (0, 0)], stream)
    if stream:
        with pytest.raises(InvalidFormatError, match=r"^0\.shard: minishard 1: index: "):
            ShardReader(spec, memory_read_range({"0.shard": as_index})).read_chunk(1)
    index = sh._gzip(minishard_index([1], [0], [len(stream)]))
    as_chunk = shard_with([(0, 0), (len(stream), len(stream) + len(index)), (0, 0), (0, 0)],
                          stream + index)  # fmt: skip
    reader = ShardReader(spec, memory_read_range({"0.shard": as_chunk}))
    if stream:
        with pytest.raises(InvalidFormatError, match=r"^0\.shard: minishard 1: chunk 1: "):
            reader.read_chunk(1)
    else:
        assert reader.read_chunk(1) is None


def test_every_truncation_and_bit_flip_is_refused_or_read():
    spec = ShardingSpec(1, "murmurhash3_x86_128", 2, 1, "gzip", "gzip")
    _, shard = sample_shard(spec, count=12)
    for cut in range(len(shard)):
        with pytest.raises(InvalidFormatError, match=r"^0\.shard: "):
            dict(ShardReader(spec, memory_read_range({"0.shard": shard[:cut]})).read_shard(0))
    rng = np.random.default_rng(1)
    for position in rng.integers(0, len(shard), 400):
        flipped = bytearray(shard)
        flipped[position] ^= 1 << int(rng.integers(0, 8))
        reader = ShardReader(spec, memory_read_range({"0.shard": bytes(flipped)}))
        try:
            dict(reader.read_shard(0))
        except InvalidFormatError as error:
            assert str(error).startswith("0.shard: ")
