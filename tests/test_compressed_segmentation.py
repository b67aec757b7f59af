"""The compressed_segmentation codec: round trips where the reference breaks, limits, layouts."""

import numpy as np
import pytest

import ngcodec.chunk_encoding as ce

BLOCK_SIZES = [[8, 8, 8], [8, 8, 4], [4, 4, 8], [16, 8, 4], [2, 4, 8], [1, 1, 1], [64, 64, 64]]


def labels(shape, distinct: int, dtype="uint32", seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = np.unique(
        rng.integers(0, np.iinfo(dtype).max, 2 * distinct, dtype=dtype, endpoint=True)
    )
    values = rng.permutation(values)[:distinct]
    return values[rng.integers(0, distinct, shape)]


@pytest.mark.parametrize("block_size", BLOCK_SIZES, ids=str)
@pytest.mark.parametrize("data_type", ["uint32", "uint64"])
def test_round_trip_with_any_block_size(block_size, data_type):
    encoder = ce.CompressedSegmentationEncoder(data_type, 2, block_size)
    chunk = labels((2, 9, 17, 10), 12, data_type)
    encoded = encoder.encode(chunk)
    assert type(encoded) is bytearray
    decoded = encoder.decode(encoded, (10, 17, 9))
    np.testing.assert_array_equal(decoded, chunk)
    assert decoded.dtype == np.dtype(data_type) and decoded.dtype.isnative
    assert decoded.flags.writeable and decoded.flags.c_contiguous


@pytest.mark.parametrize("distinct", [1, 2, 3, 4, 5, 16, 17, 256, 257, 512])
def test_every_bit_width_round_trips(distinct):
    encoder = ce.CompressedSegmentationEncoder("uint64", 1, [8, 8, 8])
    chunk = labels((1, 8, 8, 8), distinct, "uint64")
    bits = np.frombuffer(bytes(encoder.encode(chunk)), "<u4")[1] >> 24
    expected_bits = next(b for b in (0, 1, 2, 4, 8, 16, 32) if 2**b >= len(np.unique(chunk)))
    assert bits == expected_bits
    np.testing.assert_array_equal(encoder.decode(encoder.encode(chunk), (8, 8, 8)), chunk)


def test_more_than_65536_values_in_a_block_use_32_bits():
    encoder = ce.CompressedSegmentationEncoder("uint32", 1, [64, 64, 32])
    chunk = (
        np.random.default_rng(1).permutation(64 * 64 * 32).astype(np.uint32).reshape(1, 32, 64, 64)
    )
    encoded = encoder.encode(chunk)
    assert np.frombuffer(bytes(encoded[4:8]), "<u4")[0] >> 24 == 32
    np.testing.assert_array_equal(encoder.decode(encoded, (64, 64, 32)), chunk)


def test_chunks_beyond_24_bit_offsets_are_refused():
    # All-distinct uint32 labels take 768 words per 8³ block: 24576 blocks exceed 2^24 words.
    chunk = np.arange(192 * 256 * 256, dtype=np.uint32).reshape(1, 192, 256, 256)
    encoder = ce.CompressedSegmentationEncoder("uint32", 1, [8, 8, 8])
    with pytest.raises(ValueError, match=r"2\^24 words.*smaller chunks"):
        encoder.encode(chunk)


def test_identical_tables_are_shared_within_a_channel_only():
    encoder = ce.CompressedSegmentationEncoder("uint32", 2, [2, 2, 2])
    chunk = np.tile(np.array([5, 9], np.uint32), 16).reshape(1, 2, 4, 4).repeat(2, axis=0)
    words = np.frombuffer(bytes(encoder.encode(chunk)), "<u4")
    channel_starts = words[:2]
    for start in channel_starts:
        headers = words[start : start + 8].reshape(4, 2)
        assert len(set(headers[:, 0])) == 1  # one table for the four blocks of the channel
    np.testing.assert_array_equal(encoder.decode(words.tobytes(), (4, 4, 2)), chunk)


def test_every_layout_gives_the_same_bytes():
    chunk = labels((1, 12, 11, 10), 7, "uint64")
    encoder = ce.CompressedSegmentationEncoder("uint64", 1, [8, 4, 2])
    expected = encoder.encode(chunk)
    variants = [
        np.asfortranarray(chunk),
        chunk.astype(">u8"),
        np.ascontiguousarray(chunk[:, ::-1, ::-1])[:, ::-1, ::-1],
        np.frombuffer(chunk.tobytes(), np.uint64).reshape(chunk.shape),
        np.pad(chunk, ((0, 0), (1, 1), (2, 2), (3, 3)))[:, 1:-1, 2:-2, 3:-3],
    ]
    for variant in variants:
        assert encoder.encode(variant) == expected


def test_narrower_inputs_are_cast_and_wider_ones_refused():
    encoder = ce.CompressedSegmentationEncoder("uint32", 1, [8, 8, 8])
    small = np.arange(8, dtype=np.uint8).reshape(1, 2, 2, 2)
    assert encoder.encode(small) == encoder.encode(small.astype(np.uint32))
    with pytest.raises(TypeError, match="cannot be safely cast"):
        encoder.encode(small.astype(np.int64))
    with pytest.raises(TypeError, match="cannot be safely cast"):
        encoder.encode(small.astype(np.uint64))


@pytest.mark.parametrize("shape", [(1, 0, 4, 4), (2, 4, 0, 4), (1, 4, 4, 0)])
def test_zero_size_chunks_are_just_the_channel_table(shape):
    encoder = ce.CompressedSegmentationEncoder("uint32", shape[0], [8, 8, 8])
    encoded = encoder.encode(np.zeros(shape, np.uint32))
    assert len(encoded) == 4 * shape[0]
    assert encoder.decode(encoded, shape[:0:-1]).shape == shape


@pytest.mark.parametrize("data_type", ["uint8", "uint16", "int32", "float32"])
def test_other_data_types_are_incompatible(data_type):
    with pytest.raises(ce.IncompatibleEncoderError, match="uint32 or uint64"):
        ce.CompressedSegmentationEncoder(data_type, 1, [8, 8, 8])


def test_decode_accepts_every_bytes_like_type():
    encoder = ce.CompressedSegmentationEncoder("uint32", 1, [4, 4, 4])
    chunk = labels((1, 5, 6, 7), 3)
    encoded = encoder.encode(chunk)
    for buf in (bytes(encoded), encoded, memoryview(encoded), np.frombuffer(bytes(encoded), "<u4")):
        np.testing.assert_array_equal(encoder.decode(buf, (7, 6, 5)), chunk)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda w: w[:1], "too short: channel 0 has 0 words"),
        (lambda w: np.concatenate([[99], w[1:]]), "channel 0 starts at word 99"),
        (
            lambda w: np.concatenate([w[:1], [w[1] | 3 << 24], w[2:]]),
            "invalid number of encoding bits 3",
        ),
        (
            lambda w: np.concatenate([w[:1], [w[1] & 0xFF000000 | 1], w[2:]]),
            "outside the block data",
        ),
        (lambda w: np.concatenate([w[:2], [10**6], w[3:]]), "encoded values at word 1000000"),
    ],
)
def test_malformed_buffers_raise_invalid_format(mutate, message):
    encoder = ce.CompressedSegmentationEncoder("uint32", 1, [8, 8, 8])
    words = np.frombuffer(bytes(encoder.encode(labels((1, 8, 8, 8), 3))), "<u4")
    with pytest.raises(ce.InvalidFormatError, match=message):
        encoder.decode(mutate(words).astype("<u4").tobytes(), (8, 8, 8))


def test_truncated_files_raise_invalid_format():
    encoder = ce.CompressedSegmentationEncoder("uint64", 1, [8, 8, 8])
    encoded = bytes(encoder.encode(labels((1, 8, 8, 8), 200, "uint64")))
    for end in (0, 3, 4, 11, len(encoded) - 8, len(encoded) - 1):
        with pytest.raises(ce.InvalidFormatError):
            encoder.decode(encoded[:end], (8, 8, 8))
