"""The raw codec: the bytes of a C-contiguous little-endian copy, from any input layout."""

import numpy as np
import pytest

import ngcodec.chunk_encoding as ce

DATA_TYPES = [*ce.NEUROGLANCER_DATA_TYPES, "int64", "float64"]


def sample(data_type: str, shape=(2, 5, 6, 7)) -> np.ndarray:
    rng = np.random.default_rng(7)
    dtype = np.dtype(data_type)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def layouts(chunk: np.ndarray):
    """The same logical chunk in every memory layout a caller may hand over."""
    yield "C", chunk
    yield "Fortran", np.asfortranarray(chunk)
    yield "big-endian", chunk.astype(chunk.dtype.newbyteorder(">"))
    yield "Fortran big-endian", np.asfortranarray(chunk.astype(chunk.dtype.newbyteorder(">")))
    padded = np.zeros((chunk.shape[0], *(2 * n + 1 for n in chunk.shape[1:])), chunk.dtype)
    padded[:, 1::2, 1::2, 1::2] = chunk
    yield "strided", padded[:, 1::2, 1::2, 1::2]
    flipped = np.ascontiguousarray(chunk[:, ::-1, :, ::-1])
    yield "negative strides", flipped[:, ::-1, :, ::-1]
    yield "moved axes", np.moveaxis(np.ascontiguousarray(np.moveaxis(chunk, 3, 0)), 0, 3)
    read_only = np.frombuffer(chunk.tobytes(), chunk.dtype).reshape(chunk.shape)
    assert not read_only.flags.writeable
    yield "read-only", read_only
    unaligned = np.frombuffer(b"\0" + chunk.tobytes(), chunk.dtype, offset=1).reshape(chunk.shape)
    yield "unaligned", unaligned


# The larger shape makes transposed layouts go through tiles, partial ones included.
@pytest.mark.parametrize("shape", [(2, 5, 6, 7), (2, 9, 45, 70)])
@pytest.mark.parametrize("data_type", DATA_TYPES)
def test_every_layout_encodes_to_the_little_endian_c_order_bytes(data_type, shape):
    chunk = sample(data_type, shape)
    expected = np.ascontiguousarray(chunk, chunk.dtype.newbyteorder("<")).tobytes()
    encoder = ce.RawChunkEncoder(data_type, 2)
    for layout, view in layouts(chunk):
        encoded = encoder.encode(view)
        assert type(encoded) is bytes, layout
        assert encoded == expected, layout


def test_memmap_input_is_read_in_place(tmp_path):
    chunk = sample("uint16")
    path = tmp_path / "chunk.dat"
    chunk.tofile(path)
    mapped = np.memmap(path, dtype=np.uint16, mode="r", shape=chunk.shape)
    assert ce.RawChunkEncoder("uint16", 2).encode(mapped) == chunk.tobytes()


@pytest.mark.parametrize("data_type", DATA_TYPES)
@pytest.mark.parametrize("buffer_type", [bytes, bytearray, memoryview])
def test_decode_returns_a_writable_native_c_contiguous_copy(data_type, buffer_type):
    chunk = sample(data_type)
    encoder = ce.RawChunkEncoder(data_type, 2)
    buf = buffer_type(encoder.encode(chunk))
    decoded = encoder.decode(buf, (7, 6, 5))
    np.testing.assert_array_equal(decoded, chunk)
    assert decoded.dtype == np.dtype(data_type) and decoded.dtype.isnative
    assert decoded.flags.writeable and decoded.flags.c_contiguous and decoded.flags.owndata
    decoded += 0  # in-place work, as convert_chunks does, must be possible


def test_decode_accepts_a_numpy_buffer():
    encoder = ce.RawChunkEncoder("uint32", 1)
    data = np.arange(24, dtype="<u4")
    np.testing.assert_array_equal(encoder.decode(data, (4, 3, 2)).ravel(), data)


def test_safe_casts_are_applied_and_unsafe_ones_refused():
    encoder = ce.RawChunkEncoder("uint16", 1)
    assert encoder.encode(np.array([[[[1, 2]]]], np.uint8)) == np.array([1, 2], "<u2").tobytes()
    assert encoder.encode(np.array([[[[True]]]])) == b"\x01\x00"
    with pytest.raises(TypeError, match="cannot be safely cast"):
        encoder.encode(np.zeros((1, 1, 1, 2), np.int16))
    with pytest.raises(TypeError, match="cannot be safely cast"):
        ce.RawChunkEncoder("float32", 1).encode(np.zeros((1, 1, 1, 2), np.float64))


@pytest.mark.parametrize("length", [0, 23, 25, 48])
def test_wrong_length_is_an_invalid_format(length):
    encoder = ce.RawChunkEncoder("uint8", 1)
    with pytest.raises(ce.InvalidFormatError, match=f"it has {length} bytes, expected 24"):
        encoder.decode(b"\0" * length, (2, 3, 4))


def test_zero_size_chunks():
    encoder = ce.RawChunkEncoder("float32", 3)
    chunk = np.zeros((3, 0, 4, 5), np.float32)
    assert encoder.encode(chunk) == b""
    assert encoder.decode(b"", (5, 4, 0)).shape == (3, 0, 4, 5)


def test_huge_chunk_size_fails_before_allocating():
    encoder = ce.RawChunkEncoder("uint64", 1)
    with pytest.raises(ce.InvalidFormatError, match="expected"):
        encoder.decode(b"\0" * 8, (2**20, 2**20, 2**20))
