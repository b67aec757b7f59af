"""The batch calls (ngcodec.chunk_batch): the same bytes and arrays as the chunk-by-chunk path,
in any region, with odd sizes, offsets, 2 channels and sharded scales; corrupt chunks named."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ngcodec import chunk_batch
from ngcodec.chunk_encoding import InvalidFormatError, get_encoder
from ngcodec.precomputed.format import Box
from ngcodec.precomputed.pipeline.convert import write_volume
from ngcodec.precomputed.pipeline.encode import encode_chunks
from ngcodec.precomputed.pipeline.write import encode_block
from ngcodec.precomputed.volume import ChunkError, PrecomputedVolume, read_volume


@contextlib.contextmanager
def chunk_by_chunk():
    """Every chunk encoded, gzipped and decoded by a call of its own, as before the batch calls."""
    saved = chunk_batch.ChunkBatch.of
    chunk_batch.ChunkBatch.of = lambda *args: None
    try:
        yield
    finally:
        chunk_batch.ChunkBatch.of = saved


def files(path):
    return {p.relative_to(path): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 7, shape) * (1 + 2 ** (8 * np.dtype(dtype).itemsize - 4))
    return values.astype(dtype)


CASES = [
    ("compressed_segmentation", "uint32", {}),
    ("compressed_segmentation", "uint64", {"sharded": True}),
    ("raw", "int16", {}),
    ("raw", "float32", {"sharded": True}),
    ("raw", "uint8", {"gzip": False}),
]


@pytest.mark.parametrize(("encoding", "dtype", "options"), CASES)
def test_files_and_reads_are_those_of_the_chunk_by_chunk_path(tmp_path, encoding, dtype, options):
    data = sample(dtype, (2, 37, 29, 43))
    layout = dict(encoding=encoding, chunk_size=(16, 8, 12), voxel_offset=(3, 5, 7), **options)
    write_volume(data, tmp_path / "batch", jobs=2, **layout)
    assert PrecomputedVolume.open(tmp_path / "batch").batch is not None
    with chunk_by_chunk():
        write_volume(data, tmp_path / "chunkwise", jobs=2, **layout)
        assert PrecomputedVolume.open(tmp_path / "chunkwise").batch is None
        before = read_volume(tmp_path / "batch", ((4, 6, 9), (40, 30, 41)), jobs=2)
    assert files(tmp_path / "batch") == files(tmp_path / "chunkwise")
    for jobs in (1, 2, 3):
        assert np.array_equal(read_volume(tmp_path / "batch", jobs=jobs), data)
        after = read_volume(tmp_path / "batch", ((4, 6, 9), (40, 30, 41)), jobs=jobs)
        assert np.array_equal(after, before)
        assert np.array_equal(after, data[:, 2:34, 1:25, 1:37])


@settings(max_examples=40, deadline=None)
@given(
    size=st.tuples(*[st.integers(1, 20)] * 3),
    chunk=st.tuples(*[st.integers(1, 9)] * 3),
    channels=st.integers(1, 2),
    dtype=st.sampled_from(["uint32", "uint64"]),
    block=st.tuples(*[st.integers(1, 5)] * 3),
    gzip_level=st.sampled_from([None, 1, 6]),
    threads=st.integers(1, 3),
    data=st.data(),
)
def test_any_region_decodes_as_each_chunk_alone(
    size, chunk, channels, dtype, block, gzip_level, threads, data
):
    encoder = get_encoder(
        {"data_type": dtype, "num_channels": channels},
        {"encoding": "compressed_segmentation", "compressed_segmentation_block_size": block},
    )
    batch = chunk_batch.ChunkBatch.of(encoder, chunk, size)
    volume = sample(dtype, (channels, *size[::-1]), seed=sum(size))
    grid = [range(0, n, c) for n, c in zip(size, chunk, strict=True)]
    boxes = [
        Box((x, y, z), tuple(min(a + c, n) for a, c, n in zip((x, y, z), chunk, size, strict=True)))
        for z in grid[2]
        for y in grid[1]
        for x in grid[0]
    ]
    stored = batch.encode(volume, (0, 0, 0), range(len(boxes)), gzip_level=gzip_level, threads=2)
    for box, got in zip(boxes, stored, strict=True):
        one = encoder.encode(volume[(slice(None), *box.slices_within(Box((0, 0, 0), size)))])
        assert (
            got if gzip_level is None else chunk_batch._native.gzip_decompress(got, 10**7)
        ) == one
    start = tuple(data.draw(st.integers(0, n - 1)) for n in size)
    stop = tuple(data.draw(st.integers(a + 1, n)) for a, n in zip(start, size, strict=True))
    region = Box(start, stop)
    inside = [i for i, box in enumerate(boxes) if not box.intersection(region).is_empty()]
    out = np.zeros((channels, *region.size[::-1]), dtype)
    chunks = [(stored[i], gzip_level is not None) for i in inside]
    batch.decode_into(out, start, chunks, max_inflated=10**7, threads=threads)
    z, y, x = region.slices_within(Box((0, 0, 0), size))
    assert np.array_equal(out, volume[:, z, y, x])


def test_corrupt_and_missing_chunks_are_named(tmp_path):
    data = sample("uint64", (1, 40, 40, 40))
    write_volume(data, tmp_path / "v", encoding="compressed_segmentation", chunk_size=16)
    chunk = tmp_path / "v" / "1_1_1" / "16-32_0-16_0-16.gz"
    chunk.write_bytes(chunk.read_bytes()[:-9] + b"junk\0\0\0\0\0")
    with pytest.raises(ChunkError, match=r"chunk 16-32_0-16_0-16: .*gzip"):
        read_volume(tmp_path / "v", jobs=2)
    chunk.write_bytes(chunk_batch._native.gzip_compress(b"\1\0\0\0" * 3, 6))
    with pytest.raises(ChunkError, match="chunk 16-32_0-16_0-16: "):
        read_volume(tmp_path / "v", jobs=2)
    chunk.unlink()
    with pytest.raises(ChunkError, match="16-32_0-16_0-16 is missing"):
        read_volume(tmp_path / "v", jobs=1)
    filled = read_volume(tmp_path / "v", jobs=2, fill_missing=True)
    assert not filled[:, :16, :16, 16:32].any()
    assert np.array_equal(filled[:, 16:], data[:, 16:])


def test_a_gzip_bomb_is_refused_at_the_chunk_size(tmp_path):
    data = sample("uint32", (1, 16, 16, 16))
    write_volume(data, tmp_path / "v", encoding="raw", chunk_size=16)
    (path,) = (tmp_path / "v").rglob("*.gz")
    path.write_bytes(chunk_batch._native.gzip_compress(bytes(64 << 20), 1))
    with pytest.raises(ChunkError, match="bomb"):
        read_volume(tmp_path / "v")


def test_encoding_a_slab_checks_its_chunks(tmp_path):
    data = sample("uint32", (1, 32, 32, 32))
    write_volume(data, tmp_path / "v", encoding="raw", chunk_size=16)
    volume = PrecomputedVolume.open(tmp_path / "v")
    slab = Box((0, 0, 0), (32, 32, 16))
    with pytest.raises(ValueError, match="must have shape"):
        encode_chunks(volume, slab, data, [])
    with pytest.raises(ValueError, match="is not a chunk of"):
        encode_chunks(volume, slab, data[:, :16], [Box((0, 0, 16), (16, 16, 32))])
    with pytest.raises(InvalidFormatError):
        volume.batch.decode_into(
            np.zeros((1, 16, 16, 16), np.uint32),
            (0, 0, 0),
            [(b"x", True)],
            max_inflated=9,
            threads=1,
        )


@pytest.mark.parametrize("encoding", ["compressed_segmentation", "raw"])
def test_a_dask_task_packs_a_shard_block_as_the_per_chunk_api_does(tmp_path, encoding):
    data = sample("uint64", (2, 37, 29, 43))
    layout = dict(encoding=encoding, chunk_size=(16, 8, 12), voxel_offset=(3, 5, 7), sharded=True)
    write_volume(data, tmp_path, **layout)
    volume = PrecomputedVolume.open(tmp_path)
    block = Box((3, 5, 7), (3 + 43, 5 + 16, 7 + 24))  # whole chunks, cut by the volume's x edge
    values = data[:, : block.size[2], : block.size[1], :]
    packed = encode_block(volume, values, block.start)
    assert list(packed) == list(volume.chunk_boxes(block))
    for box, stored in packed.items():
        chunk = values[(slice(None), *box.slices_within(block))]
        assert stored == volume.encode_shard_chunk(box, chunk)
    with pytest.raises(ValueError, match="not aligned to the chunk grid"):
        encode_block(volume, values[:, :, 1:], (3, 6, 7))
