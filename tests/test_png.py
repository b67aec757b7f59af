"""The png codec: lossless through the Rust png crate, 8 and 16 bits of 1 to 4 channels, the
Neuroglancer layout (width X, height Y*Z), read and written by tensorstore, libpng (imagecodecs) and
Pillow, and every malformed file an InvalidFormatError."""

import argparse
import io
import json
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ngcodec
import ngcodec.chunk_encoding as ce

FORMATS = [(data_type, channels) for data_type in ("uint8", "uint16") for channels in (1, 2, 3, 4)]


def sample(data_type: str, channels: int, shape=(5, 6, 7), seed=0) -> np.ndarray:
    """Random voxels over the whole range of the type, (C, Z, Y, X)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, np.iinfo(data_type).max, (channels, *shape), data_type, endpoint=True)


def png_file(
    width: int, height: int, bit_depth: int, colour_type: int, samples: bytes, headers=1
) -> bytes:
    """A PNG written by hand, for the files Pillow cannot or will not write."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    stride = len(samples) // height
    rows = b"".join(b"\0" + samples[i * stride : (i + 1) * stride] for i in range(height))
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0))
    return (
        ce.PNG_SIGNATURE
        + ihdr * headers
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# The API


def test_exported_with_the_documented_attributes():
    assert ngcodec.PngChunkEncoder is ce.PngChunkEncoder
    assert "PngChunkEncoder" in ce.__all__ and "PngChunkEncoder" in ngcodec.__all__
    assert issubclass(ce.PngChunkEncoder, ce.ChunkEncoder)
    assert ce.PngChunkEncoder.lossy is False
    assert ce.PngChunkEncoder.mime_type == "image/png"


@pytest.mark.parametrize(
    ("data_type", "channels"),
    [("uint8", 5), ("uint8", 0), ("uint16", 5), ("uint32", 1)]
    + [(data_type, 1) for data_type in ("int8", "int16", "int32", "uint64", "float32")],
)
def test_unsupported_types_and_channel_counts_are_incompatible(data_type, channels):
    with pytest.raises(ce.IncompatibleEncoderError, match="PNG encoding can only handle"):
        ce.PngChunkEncoder(data_type, channels)


@pytest.mark.parametrize(
    ("level", "error", "message"),
    [
        (-1, ValueError, "must be between 0 and 9"),
        (10, ValueError, "must be between 0 and 9"),
        (6.0, TypeError, "must be an integer"),
        ("6", TypeError, "must be an integer"),
        (None, TypeError, "must be an integer"),
        (True, TypeError, "must be an integer"),
    ],
)
def test_bad_png_levels_are_refused(level, error, message):
    with pytest.raises(error, match=f"png_level {message}"):
        ce.PngChunkEncoder("uint8", 1, png_level=level)


def test_repr_pickle_and_numpy_level():
    encoder = ce.PngChunkEncoder("uint8", 3, png_level=np.int64(2))
    assert encoder.png_level == 2 and type(encoder.png_level) is int
    assert repr(encoder) == "PngChunkEncoder('uint8', 3, png_level=2)"
    copy = pickle.loads(pickle.dumps(encoder))
    assert vars(copy) == vars(encoder)
    chunk = sample("uint8", 3)
    assert copy.encode(chunk) == encoder.encode(chunk)
    assert repr(ce.PngChunkEncoder("uint16", 1)) == "PngChunkEncoder('uint16', 1, png_level=6)"


# Round trips


@pytest.mark.parametrize(("data_type", "channels"), FORMATS)
@pytest.mark.parametrize("shape", [(5, 6, 7), (1, 1, 1), (64, 1, 3), (3, 33, 1), (4, 16, 16)])
def test_round_trip_is_exact(data_type, channels, shape):
    encoder = ce.PngChunkEncoder(data_type, channels)
    chunk = sample(data_type, channels, shape)
    encoded = encoder.encode(chunk)
    assert type(encoded) is bytes and encoded.startswith(ce.PNG_SIGNATURE)
    decoded = encoder.decode(encoded, shape[::-1])
    assert decoded.dtype == np.dtype(data_type) and decoded.dtype.isnative
    assert decoded.flags.writeable and decoded.flags.c_contiguous and decoded.flags.owndata
    np.testing.assert_array_equal(decoded, chunk)


@settings(max_examples=60, deadline=None)
@given(
    fmt=st.sampled_from(FORMATS),
    shape=st.tuples(*(st.integers(1, 20) for _ in range(3))),
    seed=st.integers(0, 2**32 - 1),
    level=st.integers(0, 9),
)
def test_round_trip_property(fmt, shape, seed, level):
    data_type, channels = fmt
    encoder = ce.PngChunkEncoder(data_type, channels, png_level=level)
    chunk = sample(data_type, channels, shape, seed)
    np.testing.assert_array_equal(encoder.decode(encoder.encode(chunk), shape[::-1]), chunk)


def test_extreme_values_survive():
    encoder = ce.PngChunkEncoder("uint16", 1)
    chunk = np.array([0, 1, 255, 256, 32767, 32768, 65534, 65535], np.uint16).reshape(1, 2, 2, 2)
    np.testing.assert_array_equal(encoder.decode(encoder.encode(chunk), (2, 2, 2)), chunk)


def layouts(chunk: np.ndarray):
    yield np.asfortranarray(chunk)
    yield chunk.astype(chunk.dtype.newbyteorder(">"))
    yield np.ascontiguousarray(chunk[:, ::-1, :, ::-1])[:, ::-1, :, ::-1]
    read_only = np.frombuffer(chunk.tobytes(), chunk.dtype).reshape(chunk.shape)
    yield read_only
    yield np.frombuffer(b"\0" + chunk.tobytes(), chunk.dtype, offset=1).reshape(chunk.shape)


@pytest.mark.parametrize(("data_type", "channels"), FORMATS)
def test_every_input_layout_encodes_the_same_bytes(data_type, channels):
    encoder = ce.PngChunkEncoder(data_type, channels)
    chunk = sample(data_type, channels)
    expected = encoder.encode(chunk)
    for variant in layouts(chunk):
        assert encoder.encode(variant) == expected


def test_input_is_cast_only_when_safe():
    encoder = ce.PngChunkEncoder("uint16", 1)
    small = sample("uint8", 1)
    assert encoder.decode(encoder.encode(small), (7, 6, 5)).dtype == np.uint16
    np.testing.assert_array_equal(encoder.decode(encoder.encode(small), (7, 6, 5)), small)
    flags = np.array([True, False] * 4).reshape(1, 2, 2, 2)
    uint8 = ce.PngChunkEncoder("uint8", 1)
    assert uint8.decode(uint8.encode(flags), (2, 2, 2)).tolist() == flags.astype(np.uint8).tolist()
    with pytest.raises(TypeError, match="cannot be safely cast"):
        uint8.encode(np.zeros((1, 2, 2, 2), np.uint16))
    with pytest.raises(ValueError, match=r"\(C, Z, Y, X\) with C = 1"):
        uint8.encode(np.zeros((3, 2, 2, 2), np.uint8))


@pytest.mark.parametrize(
    "as_buffer", [bytes, bytearray, memoryview, lambda b: np.frombuffer(b, np.uint8)]
)
def test_decode_accepts_any_bytes_like_object(as_buffer):
    encoder = ce.PngChunkEncoder("uint8", 2)
    chunk = sample("uint8", 2)
    np.testing.assert_array_equal(
        encoder.decode(as_buffer(encoder.encode(chunk)), (7, 6, 5)), chunk
    )
    with pytest.raises(TypeError, match="bytes-like"):
        encoder.decode("text", (7, 6, 5))


def test_png_level_trades_speed_for_size_without_changing_voxels():
    z, y, x = np.meshgrid(np.arange(8), np.arange(32), np.arange(32), indexing="ij")
    chunk = ((x + y + z) % 7).astype(np.uint8)[None]
    sizes = [len(ce.PngChunkEncoder("uint8", 1, png_level=level).encode(chunk)) for level in (0, 9)]
    assert sizes[1] < sizes[0]
    fast = ce.PngChunkEncoder("uint8", 1, png_level=0)
    np.testing.assert_array_equal(fast.decode(fast.encode(chunk), (32, 32, 8)), chunk)


# Layout: what Neuroglancer and tensorstore read


@pytest.mark.parametrize(("data_type", "channels"), FORMATS)
def test_image_is_x_wide_and_y_times_z_high_with_interleaved_channels(data_type, channels):
    chunk = sample(data_type, channels, (5, 6, 7))
    encoded = ce.PngChunkEncoder(data_type, channels).encode(chunk)
    width, height, bit_depth, colour_type = struct.unpack(">IIBB", encoded[16:26])
    assert (width, height) == (7, 30)
    assert bit_depth == np.dtype(data_type).itemsize * 8
    assert colour_type == {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    expected = chunk.reshape(channels, 30, 7)
    expected = expected[0] if channels == 1 else np.moveaxis(expected, 0, -1)
    imagecodecs = pytest.importorskip("imagecodecs")
    np.testing.assert_array_equal(imagecodecs.png_decode(encoded), expected)  # libpng
    if data_type == "uint8" or channels == 1:  # Pillow reads 16-bit colour as 8-bit
        with PIL.Image.open(io.BytesIO(encoded)) as image:
            np.testing.assert_array_equal(np.asarray(image), expected)


@pytest.mark.parametrize(("data_type", "channels"), [*FORMATS[:4], ("uint16", 1)])
def test_any_image_of_the_right_area_decodes_like_the_viewer(data_type, channels):
    """Neuroglancer checks only the pixel count; rows, concatenated, are the x-fastest voxels.
    Pillow wrote ngcodec's png files before 0.2: they still read."""
    chunk = sample(data_type, channels)
    out = io.BytesIO()
    image = np.moveaxis(chunk, 0, -1).reshape(5, 42, channels).squeeze(-1 if channels == 1 else ())
    PIL.Image.fromarray(image).save(out, format="png")
    decoded = ce.PngChunkEncoder(data_type, channels).decode(out.getvalue(), (7, 6, 5))
    np.testing.assert_array_equal(decoded, chunk)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("level", [0, 9])
def test_16_bit_files_libpng_writes_decode(channels, level):
    imagecodecs = pytest.importorskip("imagecodecs")
    chunk = sample("uint16", channels, (3, 8, 9))
    image = np.moveaxis(chunk, 0, -1).reshape(24, 9, channels).squeeze(-1 if channels == 1 else ())
    encoded = imagecodecs.png_encode(np.ascontiguousarray(image), level=level)
    decoded = ce.PngChunkEncoder("uint16", channels).decode(encoded, (9, 8, 3))
    np.testing.assert_array_equal(decoded, chunk)


def test_large_chunks_are_not_refused_by_pillows_bomb_heuristics(monkeypatch):
    """Pillow warns above MAX_IMAGE_PIXELS and refuses twice that; a valid chunk must still decode
    (the exact size check already stops bombs)."""
    chunk = sample("uint8", 1, (4, 16, 16))
    encoded = ce.PngChunkEncoder("uint8", 1).encode(chunk)
    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", 100)
    np.testing.assert_array_equal(
        ce.PngChunkEncoder("uint8", 1).decode(encoded, (16, 16, 4)), chunk
    )
    jpeg = ce.JpegChunkEncoder("uint8", 1)
    assert jpeg.decode(jpeg.encode(chunk), (16, 16, 4)).shape == chunk.shape


# Malformed input


def good_file(data_type="uint8", channels=1) -> bytes:
    return ce.PngChunkEncoder(data_type, channels).encode(sample(data_type, channels))


def corrupt_idat(buf: bytes) -> bytes:
    damaged = bytearray(buf)
    damaged[8 + 25 + 8 + 20] ^= 0x55  # a byte inside the first IDAT's data
    return bytes(damaged)


def rgb16_file() -> bytes:
    return png_file(7, 30, 16, 2, bytes(7 * 30 * 6))


MALFORMED = {
    "empty": (b"", "uint8", 1, "not a PNG file"),
    "garbage": (b"garbage" * 20, "uint8", 1, "not a PNG file"),
    "signature only": (ce.PNG_SIGNATURE, "uint8", 1, "truncated"),
    "cut in the header": (good_file()[:20], "uint8", 1, "truncated"),
    "cut in the data": (good_file()[:100], "uint8", 1, "truncated"),
    "no IEND": (good_file()[:-12], "uint8", 1, "truncated"),
    "damaged data": (corrupt_idat(good_file()), "uint8", 1, "could not be decoded"),
    "damaged header": (good_file()[:20] + b"\xff" + good_file()[21:], "uint8", 1, "CRC"),
    "a JPEG": (
        ce.JpegChunkEncoder("uint8", 1).encode(sample("uint8", 1)),
        "uint8",
        1,
        "not a PNG file",
    ),
    "RGB for greyscale": (good_file("uint8", 3), "uint8", 1, "8-bit RGB pixels instead of 8-bit"),
    "greyscale for RGBA": (good_file(), "uint8", 4, "8-bit greyscale pixels instead of 8-bit RGBA"),
    "greyscale+alpha for RGB": (good_file("uint8", 2), "uint8", 3, "8-bit greyscale\\+alpha"),
    "16 bits for 8": (good_file("uint16"), "uint8", 1, "16-bit greyscale pixels instead of 8-bit"),
    "8 bits for 16": (good_file(), "uint16", 1, "8-bit greyscale pixels instead of 16-bit"),
    "8-bit RGBA for 16-bit RGBA": (good_file("uint8", 4), "uint16", 4, "8-bit RGBA pixels"),
    "16-bit RGBA for 16-bit RGB": (good_file("uint16", 4), "uint16", 3, "16-bit RGBA pixels"),
    "16-bit RGB for 8-bit RGB": (
        rgb16_file(),
        "uint8",
        3,
        "16-bit RGB pixels instead of 8-bit RGB",
    ),
    "16-bit greyscale+alpha for RGBA": (
        png_file(7, 30, 16, 4, bytes(7 * 30 * 4)),
        "uint8",
        4,
        "16-bit greyscale\\+alpha",
    ),
    "4-bit greyscale": (png_file(7, 30, 4, 0, bytes(4 * 30)), "uint8", 1, "4-bit greyscale"),
    "palette": (png_file(7, 30, 8, 3, bytes(7 * 30)), "uint8", 3, "palette"),
    # The header checked must be the one the pixels are decoded with.
    "second header": (
        png_file(7, 30, 8, 2, bytes(7 * 30 * 3))[:33] + rgb16_file()[8:],
        "uint8",
        3,
        "IHDR",
    ),
    "too few pixels": (good_file(), "uint8", 1, r"incompatible shape \(7x30 = 210 pixels"),
    "too many pixels": (good_file(), "uint8", 1, "expecting 168"),
    "bomb": (png_file(2**20, 2**20, 8, 0, b"\0" * 2**20), "uint8", 1, "incompatible shape"),
}
CHUNK_SIZES = {"too few pixels": (7, 6, 6), "too many pixels": (7, 6, 4)}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_input_is_an_invalid_format(case):
    buf, data_type, channels, message = MALFORMED[case]
    encoder = ce.PngChunkEncoder(data_type, channels)
    with pytest.raises(ce.InvalidFormatError, match=message):
        encoder.decode(buf, CHUNK_SIZES.get(case, (7, 6, 5)))


def test_every_truncation_and_byte_flip_is_caught():
    encoder = ce.PngChunkEncoder("uint16", 1, png_level=1)
    chunk = sample("uint16", 1, (3, 4, 5))
    encoded = encoder.encode(chunk)
    for end in range(len(encoded)):
        with pytest.raises(ce.InvalidFormatError):
            encoder.decode(encoded[:end], (5, 4, 3))
    for position in range(len(encoded)):
        damaged = bytearray(encoded)
        damaged[position] ^= 0x01
        try:
            decoded = encoder.decode(bytes(damaged), (5, 4, 3))
        except ce.InvalidFormatError:
            continue
        # Only bytes no reader looks at may change (none in a file ngcodec writes).
        np.testing.assert_array_equal(decoded, chunk)


# get_encoder and the command line


def test_get_encoder_png_reads_png_level_from_the_scale_info():
    info = {"data_type": "uint8", "num_channels": 4}
    encoder = ce.get_encoder(info, {"encoding": "png"})
    assert type(encoder) is ce.PngChunkEncoder
    assert (encoder.num_channels, encoder.png_level) == (4, ce.DEFAULT_PNG_LEVEL)
    assert ce.get_encoder(info, {"encoding": "png", "png_level": 9}).png_level == 9
    assert ce.get_encoder(info, {"encoding": "png", "png_level": 9}, None).png_level == 9


def test_get_encoder_png_level_option_wins_over_the_scale_info():
    info = {"data_type": "uint16", "num_channels": 1}
    scale = {"encoding": "png", "png_level": 9}
    assert ce.get_encoder(info, scale, {"png_level": 1}).png_level == 1
    assert ce.get_encoder(info, scale, {"png_level": None}).png_level == 9
    assert ce.get_encoder(info, {"encoding": "png"}, {"jpeg_quality": 50}).png_level == 6


@pytest.mark.parametrize(
    ("info", "scale_info", "options", "message"),
    [
        ({"data_type": "uint16", "num_channels": 5}, {}, {}, "PNG encoding can only handle"),
        ({"data_type": "uint32", "num_channels": 1}, {}, {}, "PNG encoding can only handle"),
        ({"data_type": "uint8", "num_channels": 5}, {}, {}, "PNG encoding can only handle"),
        ({"data_type": "uint8", "num_channels": 1}, {"png_level": 10}, {}, "between 0 and 9"),
        ({"data_type": "uint8", "num_channels": 1}, {"png_level": "9"}, {}, "integer"),
        ({"data_type": "uint8", "num_channels": 1}, {}, {"png_level": -1}, "between 0 and 9"),
    ],
)
def test_get_encoder_png_refusals_are_invalid_info(info, scale_info, options, message):
    with pytest.raises(ce.InvalidInfoError, match=message):
        ce.get_encoder(info, {"encoding": "png", **scale_info}, options)


def test_png_level_option_is_absent_unless_given():
    for allow_lossy, defaults in ((False, {}), (True, {"jpeg_quality": 95, "jpeg_plane": "xy"})):
        parser = argparse.ArgumentParser()
        ce.add_argparse_options(parser, allow_lossy=allow_lossy)
        assert vars(parser.parse_args([])) == defaults
        assert vars(parser.parse_args(["--png-level", "0"])) == {**defaults, "png_level": 0}


def test_png_level_option_reaches_the_encoder():
    parser = argparse.ArgumentParser()
    ce.add_argparse_options(parser)
    args = vars(parser.parse_args(["--png-level", "9"]))
    info = {"data_type": "uint8", "num_channels": 1}
    assert ce.get_encoder(info, {"encoding": "png", "png_level": 1}, args).png_level == 9


@pytest.mark.parametrize("value", ["10", "-1", "abc", "4.5"])
def test_png_level_option_rejects_bad_values(value, capsys):
    parser = argparse.ArgumentParser()
    ce.add_argparse_options(parser)
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["--png-level", value])
    assert exited.value.code == 2
    assert "png" in capsys.readouterr().err.lower()


# tensorstore, the reference reader and writer


def precomputed(path: Path, data_type: str, channels: int, size, chunk_size, **scale) -> dict:
    return {
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "file", "path": str(path)},
        "multiscale_metadata": {"type": "image", "data_type": data_type, "num_channels": channels},
        "scale_metadata": {
            "key": "s0",
            "size": list(size),
            "chunk_size": list(chunk_size),
            "resolution": [1, 1, 1],
            "encoding": "png",
            **scale,
        },
    }


def chunk_boxes(size, chunk_size):
    """Each chunk's file name and (X, Y, Z) slices, edge chunks truncated to the volume."""
    ranges = [
        [(start, min(start + step, end)) for start in range(0, end, step)]
        for end, step in zip(size, chunk_size, strict=True)
    ]
    for xs in ranges[0]:
        for ys in ranges[1]:
            for zs in ranges[2]:
                name = "_".join(f"{lo}-{hi}" for lo, hi in (xs, ys, zs))
                yield name, tuple(slice(lo, hi) for lo, hi in (xs, ys, zs))


SIZE, CHUNK_SIZE = (13, 10, 6), (8, 8, 4)


@pytest.mark.parametrize(("data_type", "channels"), FORMATS)
def test_tensorstore_reads_a_volume_written_by_ngcodec(tmp_path, data_type, channels):
    ts = pytest.importorskip("tensorstore")
    volume = sample(data_type, channels, SIZE[::-1], seed=3)  # (C, Z, Y, X)
    info = {
        "@type": "neuroglancer_multiscale_volume",
        "type": "image",
        "data_type": data_type,
        "num_channels": channels,
        "scales": [
            {
                "key": "s0",
                "size": list(SIZE),
                "chunk_sizes": [list(CHUNK_SIZE)],
                "resolution": [1, 1, 1],
                "voxel_offset": [0, 0, 0],
                "encoding": "png",
                "png_level": 3,
            }
        ],
    }
    (tmp_path / "info").write_text(json.dumps(info))
    (tmp_path / "s0").mkdir()
    encoder = ce.get_encoder(info, info["scales"][0])
    assert encoder.png_level == 3
    for name, (xs, ys, zs) in chunk_boxes(SIZE, CHUNK_SIZE):
        (tmp_path / "s0" / name).write_bytes(encoder.encode(volume[:, zs, ys, xs]))
    store = ts.open(
        {"driver": "neuroglancer_precomputed", "kvstore": f"file://{tmp_path}"}
    ).result()
    read = store.read().result()  # [x, y, z, channel]
    np.testing.assert_array_equal(np.transpose(read, (3, 2, 1, 0)), volume)


@pytest.mark.parametrize(("data_type", "channels"), FORMATS)
def test_ngcodec_decodes_chunks_written_by_tensorstore(tmp_path, data_type, channels):
    ts = pytest.importorskip("tensorstore")
    spec = precomputed(tmp_path, data_type, channels, SIZE, CHUNK_SIZE, png_level=9)
    store = ts.open(spec, create=True).result()
    volume = sample(data_type, channels, SIZE[::-1], seed=4)
    store.write(np.transpose(volume, (3, 2, 1, 0))).result()
    info = json.loads((tmp_path / "info").read_text())
    assert info["scales"][0]["png_level"] == 9
    encoder = ce.get_encoder(info, info["scales"][0])
    assert encoder.png_level == 9
    for name, (xs, ys, zs) in chunk_boxes(SIZE, CHUNK_SIZE):
        chunk_size = tuple(s.stop - s.start for s in (xs, ys, zs))
        decoded = encoder.decode((tmp_path / "s0" / name).read_bytes(), chunk_size)
        np.testing.assert_array_equal(decoded, volume[:, zs, ys, xs])


def test_tensorstore_refuses_what_ngcodec_refuses(tmp_path):
    """The formats match: tensorstore also stops at 4 channels and at uint8/uint16."""
    ts = pytest.importorskip("tensorstore")
    for data_type, channels in (("uint8", 5), ("uint32", 1)):
        spec = precomputed(tmp_path / data_type, data_type, channels, SIZE, CHUNK_SIZE)
        with pytest.raises(ValueError, match="png"):
            ts.open(spec, create=True).result()
        with pytest.raises(ce.IncompatibleEncoderError):
            ce.PngChunkEncoder(data_type, channels)
