"""The documented chunk_encoding API: names, signatures, get_encoder, argparse options, and the
promises ngcodec makes beyond the reference (writable native output, clear errors)."""

import argparse
import inspect
import pickle

import neuroglancer_scripts.chunk_encoding as reference
import numpy as np
import pytest

import ngcodec
import ngcodec.chunk_encoding as ce


def test_every_documented_name_is_exported():
    assert set(reference.__all__) <= set(ce.__all__)
    # The package adds its own names to the reference's.
    assert ngcodec.__all__ == [*ce.__all__, "downsample"]
    for name in ce.__all__:
        assert getattr(ngcodec, name) is getattr(ce, name)


@pytest.mark.parametrize(
    "name",
    [
        "get_encoder",
        "add_argparse_options",
        "ChunkEncoder",
        "RawChunkEncoder",
        "CompressedSegmentationEncoder",
        "JpegChunkEncoder",
    ],
)
def test_signatures_match_the_reference(name):
    ours = inspect.signature(getattr(ce, name))
    theirs = inspect.signature(getattr(reference, name))
    # The reference's parameters first, in its order; any others after them, with defaults.
    assert list(ours.parameters)[: len(theirs.parameters)] == list(theirs.parameters)
    extra = list(ours.parameters.values())[len(theirs.parameters) :]
    assert all(parameter.default is not inspect.Parameter.empty for parameter in extra)
    for parameter, expected in zip(
        ours.parameters.values(), theirs.parameters.values(), strict=False
    ):
        if expected.default is not inspect.Parameter.empty and expected.default != {}:
            assert parameter.default == expected.default
    for method in ("encode", "decode"):
        if hasattr(getattr(reference, name), method):
            ours_method = inspect.signature(getattr(getattr(ce, name), method))
            assert list(ours_method.parameters) == list(
                inspect.signature(getattr(getattr(reference, name), method)).parameters
            )


def test_class_attributes_match_the_reference():
    for name in [
        "ChunkEncoder",
        "RawChunkEncoder",
        "CompressedSegmentationEncoder",
        "JpegChunkEncoder",
    ]:
        assert getattr(ce, name).lossy == getattr(reference, name).lossy
        assert getattr(ce, name).mime_type == getattr(reference, name).mime_type
    assert issubclass(ce.RawChunkEncoder, ce.ChunkEncoder)


def test_exceptions_are_value_errors():
    for name in ["IncompatibleEncoderError", "InvalidFormatError", "InvalidInfoError"]:
        assert issubclass(getattr(ce, name), ValueError)


def test_base_class_is_abstract():
    encoder = ce.ChunkEncoder("uint8", 1)
    with pytest.raises(NotImplementedError):
        encoder.encode(np.zeros((1, 1, 1, 1), np.uint8))
    with pytest.raises(NotImplementedError):
        encoder.decode(b"\0", (1, 1, 1))


# get_encoder (reference-behaviour.md §4)

INFO = {"data_type": "uint32", "num_channels": 1}


@pytest.mark.parametrize(
    ("scale_info", "cls"),
    [
        ({"encoding": "raw"}, ce.RawChunkEncoder),
        (
            {
                "encoding": "compressed_segmentation",
                "compressed_segmentation_block_size": [8, 8, 4],
            },
            ce.CompressedSegmentationEncoder,
        ),
    ],
)
def test_get_encoder_picks_the_class(scale_info, cls):
    encoder = ce.get_encoder(INFO, scale_info, {"unknown_option": 1})
    assert type(encoder) is cls
    assert encoder.num_channels == 1
    assert encoder.dtype == np.dtype("<u4")


def test_get_encoder_jpeg_reads_options():
    info = {"data_type": "uint8", "num_channels": 3}
    encoder = ce.get_encoder(info, {"encoding": "jpeg"}, {"jpeg_quality": 50, "jpeg_plane": "xz"})
    assert type(encoder) is ce.JpegChunkEncoder
    assert (encoder.jpeg_quality, encoder.jpeg_plane) == (50, "xz")
    default = ce.get_encoder(info, {"encoding": "jpeg"})
    assert (default.jpeg_quality, default.jpeg_plane) == (95, "xy")
    assert type(ce.get_encoder(info, {"encoding": "jpeg"}, None)) is ce.JpegChunkEncoder


@pytest.mark.parametrize("data_type", ce.NEUROGLANCER_DATA_TYPES)
def test_get_encoder_accepts_every_viewer_data_type_for_raw(data_type):
    info = {"data_type": data_type, "num_channels": 2}
    assert ce.get_encoder(info, {"encoding": "raw"}).dtype == np.dtype(data_type).newbyteorder("<")


@pytest.mark.parametrize(
    ("info", "scale_info", "message"),
    [
        ({"num_channels": 1}, {"encoding": "raw"}, "missing an essential key 'data_type'"),
        ({"data_type": "uint8"}, {"encoding": "raw"}, "'num_channels'"),
        (INFO, {}, "'encoding'"),
        ({"data_type": "uint8", "num_channels": -1}, {"encoding": "raw"}, "num_channels"),
        ({"data_type": "uint8", "num_channels": 1.0}, {"encoding": "raw"}, "num_channels"),
        ({"data_type": "float64", "num_channels": 1}, {"encoding": "raw"}, "Invalid data_type"),
        ({"data_type": "UINT8", "num_channels": 1}, {"encoding": "raw"}, "Invalid data_type"),
        (INFO, {"encoding": "RAW"}, "Invalid encoding RAW"),
        (INFO, {"encoding": None}, "Invalid encoding None"),
        (INFO, {"encoding": "compressed_segmentation"}, "compressed_segmentation_block_size"),
        (
            INFO,
            {
                "encoding": "compressed_segmentation",
                "compressed_segmentation_block_size": "garbage",
            },
            "block_size",
        ),
        (
            INFO,
            {
                "encoding": "compressed_segmentation",
                "compressed_segmentation_block_size": [8, 0, 8],
            },
            "block_size",
        ),
        (
            {"data_type": "uint16", "num_channels": 1},
            {
                "encoding": "compressed_segmentation",
                "compressed_segmentation_block_size": [8, 8, 8],
            },
            "uint32 or uint64",
        ),
        ({"data_type": "uint8", "num_channels": 4}, {"encoding": "jpeg"}, "1 or 3 channels"),
        ({"data_type": "uint16", "num_channels": 1}, {"encoding": "jpeg"}, "uint8"),
    ],
)
def test_get_encoder_rejects_invalid_info(info, scale_info, message):
    with pytest.raises(ce.InvalidInfoError, match=message):
        ce.get_encoder(info, scale_info)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"jpeg_quality": 0}, "between 1 and 100"),
        ({"jpeg_quality": 101}, "between 1 and 100"),
        ({"jpeg_quality": None}, "jpeg_quality must be an integer"),
        ({"jpeg_plane": "yz"}, "jpeg_plane"),
    ],
)
def test_get_encoder_rejects_bad_jpeg_options_as_invalid_info(options, message):
    info = {"data_type": "uint8", "num_channels": 1}
    with pytest.raises(ce.InvalidInfoError, match=message):
        ce.get_encoder(info, {"encoding": "jpeg"}, options)


def test_get_encoder_chains_the_original_error():
    with pytest.raises(ce.InvalidInfoError) as raised:
        ce.get_encoder({"data_type": "uint8", "num_channels": 4}, {"encoding": "jpeg"})
    assert isinstance(raised.value.__cause__, ce.IncompatibleEncoderError)


# add_argparse_options (reference-behaviour.md §5)


def test_add_argparse_options_adds_nothing_without_lossy():
    parser = argparse.ArgumentParser()
    assert ce.add_argparse_options(parser) is None
    assert vars(parser.parse_args([])) == {}


def test_add_argparse_options_jpeg():
    parser = argparse.ArgumentParser()
    ce.add_argparse_options(parser, allow_lossy=True)
    assert vars(parser.parse_args([])) == {"jpeg_quality": 95, "jpeg_plane": "xy"}
    args = vars(parser.parse_args(["--jpeg-quality", "50", "--jpeg-plane", "xz"]))
    assert args == {"jpeg_quality": 50, "jpeg_plane": "xz"}
    encoder = ce.get_encoder({"data_type": "uint8", "num_channels": 1}, {"encoding": "jpeg"}, args)
    assert (encoder.jpeg_quality, encoder.jpeg_plane) == (50, "xz")


@pytest.mark.parametrize(
    "argv", [["--jpeg-quality", "0"], ["--jpeg-quality", "abc"], ["--jpeg-plane", "yz"]]
)
def test_add_argparse_options_rejects_bad_values(argv, capsys):
    parser = argparse.ArgumentParser()
    ce.add_argparse_options(parser, allow_lossy=True)
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(argv)
    assert exited.value.code == 2
    assert "jpeg" in capsys.readouterr().err


# Constructors and shared behaviour


@pytest.mark.parametrize("num_channels", [0, -1, 1.5, "1", None])
def test_constructors_name_bad_num_channels(num_channels):
    with pytest.raises(ValueError, match="num_channels"):
        ce.RawChunkEncoder("uint8", num_channels)


@pytest.mark.parametrize("data_type", ["foo", "bool", "complex64", "U4", object])
def test_raw_rejects_unsupported_data_types(data_type):
    with pytest.raises(ce.IncompatibleEncoderError, match="data_type"):
        ce.RawChunkEncoder(data_type, 1)


@pytest.mark.parametrize(
    "block_size", [[8, 8], [8, 8, 8, 8], [0, 8, 8], [8, -1, 8], "888", None, [8.0, 8, 8]]
)
def test_compressed_segmentation_names_bad_block_sizes(block_size):
    with pytest.raises(ValueError, match="block_size"):
        ce.CompressedSegmentationEncoder("uint32", 1, block_size)


@pytest.mark.parametrize(
    "encoder",
    [
        ce.RawChunkEncoder("uint16", 2),
        ce.CompressedSegmentationEncoder("uint64", 1, [8, 8, 4]),
        ce.JpegChunkEncoder("uint8", 3, jpeg_quality=80, jpeg_plane="xz"),
    ],
    ids=repr,
)
def test_encoders_pickle_and_compare_by_behaviour(encoder):
    copy = pickle.loads(pickle.dumps(encoder))
    assert type(copy) is type(encoder)
    assert vars(copy) == vars(encoder)
    assert repr(copy) == repr(encoder)
    chunk = np.arange(np.prod((encoder.num_channels, 3, 4, 5)), dtype=np.uint8).reshape(
        encoder.num_channels, 3, 4, 5
    )
    assert copy.encode(chunk) == encoder.encode(chunk)


@pytest.mark.parametrize(
    "encoder",
    [
        ce.RawChunkEncoder("uint16", 2),
        ce.CompressedSegmentationEncoder("uint32", 2, [8, 8, 8]),
        ce.JpegChunkEncoder("uint8", 3),
    ],
    ids=repr,
)
@pytest.mark.parametrize("shape", [(4, 4, 4), (2, 4, 4, 4), (3, 4, 4, 4, 1)])
def test_wrong_shape_names_the_expected_shape(encoder, shape):
    if shape[0] == encoder.num_channels and len(shape) == 4:
        shape = (encoder.num_channels + 1, *shape[1:])
    with pytest.raises(ValueError, match=rf"\(C, Z, Y, X\) with C = {encoder.num_channels}"):
        encoder.encode(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("chunk_size", [(4, 4), (4, -1, 4), ("a", 4, 4), None, (4.0, 4, 4)])
def test_decode_names_bad_chunk_sizes(chunk_size):
    encoder = ce.RawChunkEncoder("uint8", 1)
    with pytest.raises(ValueError, match="chunk_size"):
        encoder.decode(b"\0" * 64, chunk_size)


def test_decode_reads_only_three_chunk_size_items():
    encoder = ce.RawChunkEncoder("uint8", 1)
    assert encoder.decode(b"\0" * 24, (2, 3, 4, 99)).shape == (1, 4, 3, 2)
    assert encoder.decode(b"\0" * 24, np.array([2, 3, 4])).shape == (1, 4, 3, 2)


@pytest.mark.parametrize("buf", ["text", 12, None, [1, 2]])
def test_decode_of_a_non_buffer_is_a_type_error(buf):
    for encoder in (
        ce.RawChunkEncoder("uint8", 1),
        ce.CompressedSegmentationEncoder("uint32", 1, [8, 8, 8]),
    ):
        with pytest.raises(TypeError, match="bytes-like"):
            encoder.decode(buf, (1, 1, 1))
