"""Property-based fuzzing of the public decoders (hypothesis).

For every encoder the API offers, any bytes and any chunk size give either an array of exactly the
requested shape and the encoder's dtype, or InvalidFormatError with a message; a plain ValueError
only for a chunk size no array can hold. The buffers are random bytes, and valid chunk files cut,
bit-flipped, overwritten with telling words or spliced, so that the decoders' deeper checks run.

The budget is NGCODEC_FUZZ_EXAMPLES examples per property and encoder (default 50, some 15 s in
CI):

    NGCODEC_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz_api.py     # a longer run
"""

import importlib.util
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ngcodec.chunk_encoding as ce

EXAMPLES = int(os.environ.get("NGCODEC_FUZZ_EXAMPLES", "50"))
fuzz_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def encoders() -> list[ce.ChunkEncoder]:
    """One of every kind the API offers, over its data types, channel counts and options."""
    found: list[ce.ChunkEncoder] = []
    for data_type in ce.NEUROGLANCER_DATA_TYPES:
        found += [ce.RawChunkEncoder(data_type, channels) for channels in (1, 3)]
    for data_type in ("uint32", "uint64"):
        for block in ([8, 8, 8], [2, 2, 1], [1, 1, 1], [4, 2, 3], [16, 16, 16]):
            found += [ce.CompressedSegmentationEncoder(data_type, c, block) for c in (1, 2)]
    found += [
        ce.JpegChunkEncoder("uint8", 1),
        ce.JpegChunkEncoder("uint8", 3, jpeg_quality=40, jpeg_plane="xz"),
    ]
    found += [ce.PngChunkEncoder(t, c) for t in ("uint8", "uint16") for c in (1, 2, 3, 4)]
    if importlib.util.find_spec("compresso") is not None:
        found += [ce.CompressoEncoder(t, 1) for t in ("uint8", "uint16", "uint32", "uint64")]
    if importlib.util.find_spec("imagecodecs") is not None:
        found += [ce.JxlChunkEncoder("uint8", 1, 100), ce.JxlChunkEncoder("uint8", 3)]
    return found


ENCODERS = encoders()
LOSSLESS = [encoder for encoder in ENCODERS if not encoder.lossy]

small_sizes = st.tuples(*[st.integers(0, 12)] * 3)
huge_sizes = st.tuples(*[st.sampled_from([0, 1, 7, 2**16, 2**20, 2**31, 2**32 + 1, 2**64])] * 3)

# Words that mean something in a chunk header: offsets near the start and the end, bit widths.
TELLING_WORDS = [0, 1, 2, 3, 4, 0xFF_FFFF, 0xFFFF_FFFF, 2**24, 2**31] + [
    bits << 24 | offset for bits in (0, 1, 2, 3, 8, 16, 32, 64) for offset in (0, 2, 5)
]


def sample_chunk(encoder: ce.ChunkEncoder, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """A chunk with a few distinct values, so every encoding has several blocks and bit widths."""
    rng = np.random.default_rng(seed)
    if encoder.dtype.kind == "f":
        return rng.normal(size=shape).astype(encoder.dtype)
    info = np.iinfo(encoder.dtype)
    palette = rng.integers(info.min, info.max, 1 + seed % 40, dtype=encoder.dtype, endpoint=True)
    return palette[rng.integers(0, len(palette), shape)]


@st.composite
def mutated(draw, encoder: ce.ChunkEncoder):
    """A valid chunk file of the encoder, damaged, and the chunk size it was written for."""
    x, y, z = draw(st.tuples(*[st.integers(1, 12)] * 3))
    chunk = sample_chunk(encoder, (encoder.num_channels, z, y, x), draw(st.integers(0, 2**16)))
    buf = bytearray(encoder.encode(chunk))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["cut", "flip", "word", "insert", "delete", "splice"]))
        at = draw(st.integers(0, max(len(buf) - 1, 0)))
        if action == "cut":
            del buf[at:]
        elif action == "flip" and buf:
            buf[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "word":
            word = draw(st.sampled_from(TELLING_WORDS) | st.integers(0, 2**32 - 1))
            buf[at - at % 4 : at - at % 4 + 4] = word.to_bytes(4, "little")
        elif action == "insert":
            buf[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif action == "delete":
            del buf[at : at + draw(st.integers(1, 16))]
        else:
            start = draw(st.integers(0, max(len(buf) - 1, 0)))
            buf[at : at + 8] = buf[start : start + 8]
    size = draw(st.sampled_from([(x, y, z), (z, y, x)]) | small_sizes)
    return bytes(buf), size


@st.composite
def valid(draw, encoder: ce.ChunkEncoder):
    x, y, z = draw(st.tuples(*[st.integers(0, 12)] * 3))
    images = not isinstance(encoder, (ce.RawChunkEncoder, ce.CompressedSegmentationEncoder))
    if images and 0 in (x, y, z):
        x = y = z = 1  # image formats have no empty images
    chunk = sample_chunk(encoder, (encoder.num_channels, z, y, x), draw(st.integers(0, 2**16)))
    return bytes(encoder.encode(chunk)), chunk


def check_contract(encoder: ce.ChunkEncoder, buf: bytes, chunk_size) -> None:
    original = bytearray(buf)
    try:
        chunk = encoder.decode(original, chunk_size)
    except ce.InvalidFormatError as error:
        assert str(error)
        return
    except ValueError as error:
        # Only for a request that no array could hold (NumPy bounds the product of the nonzero
        # axes even when another axis is 0).
        extent = np.prod([n for n in chunk_size if n], dtype=object) * encoder.num_channels
        assert extent * encoder.dtype.itemsize > 2**40, error
        return
    finally:
        assert original == buf, "decode changed its input"
    x, y, z = chunk_size
    assert chunk.shape == (encoder.num_channels, z, y, x)
    assert chunk.dtype == encoder.dtype.newbyteorder("=")
    assert chunk.flags.c_contiguous and chunk.flags.writeable


@pytest.mark.parametrize("encoder", ENCODERS, ids=repr)
@fuzz_settings
@given(data=st.data())
def test_any_bytes_decode_to_the_chunk_or_invalid_format(encoder, data):
    buf = data.draw(st.binary(max_size=512) | st.binary(min_size=1024, max_size=4096))
    chunk_size = data.draw(small_sizes | huge_sizes)
    check_contract(encoder, buf, chunk_size)


@pytest.mark.parametrize("encoder", ENCODERS, ids=repr)
@fuzz_settings
@given(data=st.data())
def test_damaged_chunk_files_decode_to_the_chunk_or_invalid_format(encoder, data):
    buf, chunk_size = data.draw(mutated(encoder))
    check_contract(encoder, buf, chunk_size)


@pytest.mark.parametrize("encoder", ENCODERS, ids=repr)
@fuzz_settings
@given(data=st.data())
def test_valid_files_at_the_wrong_chunk_size(encoder, data):
    buf, _ = data.draw(valid(encoder))
    check_contract(encoder, buf, data.draw(small_sizes | huge_sizes))


@pytest.mark.parametrize("encoder", LOSSLESS, ids=repr)
@fuzz_settings
@given(data=st.data())
def test_lossless_encoders_round_trip(encoder, data):
    buf, chunk = data.draw(valid(encoder))
    _, z, y, x = chunk.shape
    np.testing.assert_array_equal(encoder.decode(buf, (x, y, z)), chunk)
