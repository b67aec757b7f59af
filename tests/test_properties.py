"""Property tests (hypothesis): round trips over data type x channels x shape x block size x the
memory layout of the input.

Shapes include zero-size axes and partial blocks; block sizes cubic, non-cubic and [1, 1, 1];
layouts C, Fortran, positive and negative strides, big-endian, read-only and unaligned buffers.
Each property holds for every layout: the bytes are those of the C-contiguous little-endian chunk.
The budgets keep the module to a few seconds.
"""

import io

import numpy as np
import PIL.Image
import pytest
import synthetic
from hypothesis import given, settings
from hypothesis import strategies as st

import ngcodec.chunk_encoding as ce

# The viewer's data types, and the wider ones RawChunkEncoder also takes.
RAW_TYPES = [*ce.NEUROGLANCER_DATA_TYPES, "int64", "float64"]


def check_decoded(decoded: np.ndarray, chunk: np.ndarray) -> None:
    """The decoder's promise: a new writable C-contiguous native array holding the same bits."""
    assert decoded.shape == chunk.shape
    assert decoded.dtype == chunk.dtype and decoded.dtype.isnative
    assert decoded.flags.writeable and decoded.flags.c_contiguous
    assert decoded.tobytes() == chunk.tobytes()


sides = st.integers(0, 13) | st.integers(14, 40)
shapes = st.tuples(sides, sides, sides)  # (Z, Y, X)
empty_shapes = st.tuples(sides, sides, sides, st.integers(0, 2)).map(
    lambda s: tuple(0 if axis == s[3] else n for axis, n in enumerate(s[:3]))
)
layouts = st.sampled_from(synthetic.LAYOUTS)
seeds = st.integers(0, 2**32 - 1)
blocks = st.one_of(
    st.tuples(*[st.integers(1, 9)] * 3),
    st.sampled_from([(1, 1, 1), (8, 8, 8), (64, 64, 64), (8, 8, 4), (4, 4, 8), (16, 2, 1)]),
)


# --- raw ----------------------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(
    data_type=st.sampled_from(RAW_TYPES),
    channels=st.integers(1, 3),
    shape=shapes,
    layout=layouts,
    seed=seeds,
)
def test_raw_round_trips_from_any_layout(data_type, channels, shape, layout, seed):
    chunk = synthetic.random_bits(data_type, (channels, *shape), seed)
    encoder = ce.RawChunkEncoder(data_type, channels)
    encoded = encoder.encode(synthetic.in_layout(chunk, layout))
    assert type(encoded) is bytes
    assert encoded == chunk.astype(chunk.dtype.newbyteorder("<")).tobytes()
    check_decoded(encoder.decode(encoded, shape[::-1]), chunk)


# --- compressed_segmentation --------------------------------------------------------------------


def block_tables(words: np.ndarray, channel_start: int, grid: int) -> list[tuple[int, int]]:
    """The (lookup table offset from the file start, bits) of each block of a channel."""
    first_words = words[channel_start : channel_start + 2 * grid : 2].astype(np.int64)
    return [(channel_start + (w & 0xFFFFFF), w >> 24) for w in first_words.tolist()]


def check_canonical_structure(encoded: bytes, chunk: np.ndarray, block) -> None:
    """Channel offsets, and each block's bit width and lookup table, as the spec defines them."""
    assert len(encoded) % 4 == 0
    words = np.frombuffer(encoded, "<u4")
    channels, z, y, x = chunk.shape
    bx, by, bz = block
    gx, gy, gz = -(-x // bx), -(-y // by), -(-z // bz)
    offsets = [int(w) for w in words[:channels]]
    assert offsets[0] == channels and offsets == sorted(offsets)
    if chunk.size == 0:
        assert len(words) == channels
        return
    table_words = chunk.dtype.itemsize // 4
    for channel, start in enumerate(offsets):
        for index, (table, bits) in enumerate(block_tables(words, start, gx * gy * gz)):
            bx_, by_, bz_ = index % gx, index // gx % gy, index // (gx * gy)
            values = np.unique(
                chunk[
                    channel,
                    bz_ * bz : (bz_ + 1) * bz,
                    by_ * by : (by_ + 1) * by,
                    bx_ * bx : (bx_ + 1) * bx,
                ]
            )
            assert bits == next(b for b in (0, 1, 2, 4, 8, 16, 32) if 2**b >= len(values))
            stored = words[table : table + table_words * len(values)].view(chunk.dtype)
            np.testing.assert_array_equal(stored, values)  # the distinct values, ascending


@st.composite
def label_chunks(draw, max_channels=3):
    data_type = draw(st.sampled_from(["uint32", "uint64"]))
    shape = (draw(st.integers(1, max_channels)), *draw(shapes))
    distinct = draw(st.sampled_from([1, 2, 3, 5, 17, 300, 5000]))
    run = draw(st.integers(1, 5))
    return synthetic.runs(shape, distinct, run, data_type, seed=draw(seeds))


@settings(max_examples=1000, deadline=None)
@given(chunk=label_chunks(), block=blocks, layout=layouts)
def test_compressed_segmentation_round_trips_from_any_layout(chunk, block, layout):
    encoder = ce.CompressedSegmentationEncoder(chunk.dtype.name, chunk.shape[0], block)
    encoded = encoder.encode(synthetic.in_layout(chunk, layout))
    assert type(encoded) is bytearray
    assert encoded == encoder.encode(chunk)
    check_decoded(encoder.decode(encoded, chunk.shape[:0:-1]), chunk)
    grid = np.prod([-(-n // b) for n, b in zip(chunk.shape[:0:-1], block, strict=True)])
    if grid * chunk.shape[0] <= 600:  # the Python walk over every block costs ~20 us a block
        check_canonical_structure(bytes(encoded), chunk, block)


@settings(max_examples=100, deadline=None)
@given(chunk=label_chunks(max_channels=2), block=blocks)
def test_compressed_segmentation_decodes_from_every_buffer_type(chunk, block):
    encoder = ce.CompressedSegmentationEncoder(chunk.dtype.name, chunk.shape[0], block)
    encoded = encoder.encode(chunk)
    for buf in (bytes(encoded), memoryview(encoded), np.frombuffer(bytes(encoded), np.uint8)):
        check_decoded(encoder.decode(buf, chunk.shape[:0:-1]), chunk)


# --- jpeg: shapes, not pixels (the codec is lossy) ----------------------------------------------


def image_chunk(channels: int, shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """A smooth uint8 image with mild noise, as microscopy chunks are."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    slopes = rng.integers(-9, 10, (channels, 3))
    planes = [(a * x + b * y + c * z + 80 * channel) for channel, (a, b, c) in enumerate(slopes)]
    return ((np.stack(planes) + rng.integers(0, 8, (channels, *shape))) % 256).astype(np.uint8)


@settings(max_examples=300, deadline=None)
@given(
    channels=st.sampled_from([1, 3]),
    shape=st.tuples(*[st.integers(1, 13) | st.integers(14, 40)] * 3),
    plane=st.sampled_from(["xy", "xz"]),
    quality=st.integers(1, 100),
    layout=layouts,
    seed=seeds,
)
def test_jpeg_keeps_the_shape_from_any_layout(channels, shape, plane, quality, layout, seed):
    chunk = image_chunk(channels, shape, seed)
    z, y, x = shape
    encoder = ce.JpegChunkEncoder("uint8", channels, jpeg_quality=quality, jpeg_plane=plane)
    encoded = encoder.encode(synthetic.in_layout(chunk, layout))
    assert type(encoded) is bytes and encoded == encoder.encode(chunk)
    with PIL.Image.open(io.BytesIO(encoded)) as image:
        assert image.format == "JPEG" and image.mode == ("L" if channels == 1 else "RGB")
        assert image.size == ((x, z * y) if plane == "xy" else (y * x, z))
    decoded = encoder.decode(encoded, (x, y, z))
    assert decoded.shape == chunk.shape and decoded.dtype == np.uint8
    assert decoded.flags.writeable and decoded.flags.c_contiguous
    other_plane = ce.JpegChunkEncoder("uint8", channels, jpeg_plane="xz" if plane == "xy" else "xy")
    np.testing.assert_array_equal(other_plane.decode(encoded, (x, y, z)), decoded)


@settings(max_examples=30, deadline=None)
@given(channels=st.sampled_from([1, 3]), shape=empty_shapes)
def test_jpeg_refuses_empty_chunks(channels, shape):
    with pytest.raises(ValueError, match="at least one voxel"):
        ce.JpegChunkEncoder("uint8", channels).encode(np.zeros((channels, *shape), np.uint8))


@pytest.mark.parametrize("quality", [75, 90, 95])
def test_jpeg_encodes_noisy_rgb_chunks(quality):
    # Too noisy for Pillow's buffer of an optimised progressive JPEG: encoded baseline instead.
    chunk = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 64), dtype=np.uint8)
    encoder = ce.JpegChunkEncoder("uint8", 3, jpeg_quality=quality)
    assert encoder.decode(encoder.encode(chunk), (64, 64, 64)).shape == chunk.shape
