"""The jpeg codec: the reference layout through Pillow; errors become InvalidFormatError."""

import io

import numpy as np
import PIL.Image
import pytest

import ngcodec.chunk_encoding as ce


def smooth(channels: int, shape=(6, 10, 12)) -> np.ndarray:
    z, y, x = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    planes = [(40 + 3 * x + 5 * y + 7 * z + 20 * c) % 256 for c in range(channels)]
    return np.stack(planes).astype(np.uint8)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("plane", ["xy", "xz"])
def test_round_trip_within_quality_95_error(channels, plane):
    encoder = ce.JpegChunkEncoder("uint8", channels, jpeg_plane=plane)
    chunk = smooth(channels)
    encoded = encoder.encode(chunk)
    assert type(encoded) is bytes and encoded[:2] == b"\xff\xd8"
    decoded = encoder.decode(encoded, (12, 10, 6))
    assert decoded.shape == chunk.shape and decoded.dtype == np.uint8
    assert decoded.flags.writeable and decoded.flags.c_contiguous
    assert np.mean((decoded.astype(float) - chunk) ** 2) < 1.5


def test_image_layout_matches_the_reference_planes():
    chunk = smooth(1)
    for plane, size in (("xy", (12, 60)), ("xz", (120, 6))):
        encoded = ce.JpegChunkEncoder("uint8", 1, jpeg_plane=plane).encode(chunk)
        with PIL.Image.open(io.BytesIO(encoded)) as image:
            assert image.size == size and image.mode == "L"


def test_partial_and_odd_chunks():
    encoder = ce.JpegChunkEncoder("uint8", 3, jpeg_quality=100)
    chunk = smooth(3, (3, 5, 7))
    assert encoder.decode(encoder.encode(chunk), (7, 5, 3)).shape == (3, 3, 5, 7)


def test_images_too_tall_for_jpeg_are_refused_clearly():
    encoder = ce.JpegChunkEncoder("uint8", 1)
    with pytest.raises(ValueError, match="65500"):
        encoder.encode(np.zeros((1, 256, 256, 16), np.uint8))


def test_only_uint8_compatible_input_is_accepted():
    encoder = ce.JpegChunkEncoder("uint8", 1)
    with pytest.raises(TypeError, match="cannot be safely cast"):
        encoder.encode(np.zeros((1, 2, 2, 2), np.uint16))


@pytest.mark.parametrize(
    ("quality", "plane", "error"),
    [
        (0, "xy", ValueError),
        (101, "xy", ValueError),
        (50.5, "xy", TypeError),
        (None, "xy", TypeError),
        (95, "yz", ValueError),
    ],
)
def test_bad_options_are_refused(quality, plane, error):
    with pytest.raises(error, match="jpeg_"):
        ce.JpegChunkEncoder("uint8", 1, jpeg_quality=quality, jpeg_plane=plane)


def encoded_chunk(channels=1) -> bytes:
    return ce.JpegChunkEncoder("uint8", channels).encode(smooth(channels))


@pytest.mark.parametrize(
    ("buf", "channels", "chunk_size", "message"),
    [
        (b"", 1, (12, 10, 6), "could not be decoded"),
        (b"garbage" * 10, 1, (12, 10, 6), "could not be decoded"),
        (encoded_chunk()[:200], 1, (12, 10, 6), "could not be decoded"),
        (encoded_chunk(), 1, (12, 10, 7), "incompatible shape"),
        (encoded_chunk(), 3, (12, 10, 6), "mode=L instead of RGB"),
        (encoded_chunk(3), 1, (12, 10, 6), "mode=RGB instead of L"),
    ],
)
def test_malformed_input_is_an_invalid_format(buf, channels, chunk_size, message):
    with pytest.raises(ce.InvalidFormatError, match=message):
        ce.JpegChunkEncoder("uint8", channels).decode(buf, chunk_size)


def test_other_image_formats_are_refused():
    out = io.BytesIO()
    PIL.Image.fromarray(np.zeros((60, 12), np.uint8)).save(out, format="png")
    with pytest.raises(ce.InvalidFormatError, match="could not be decoded"):
        ce.JpegChunkEncoder("uint8", 1).decode(out.getvalue(), (12, 10, 6))
