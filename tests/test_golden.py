"""Golden vectors: every encoded file in tests/data decodes exactly and re-encodes to the
same bytes, and so do the hand-computed words of Neuroglancer's and tensorstore's unit tests.

The .cseg files are outputs on which compressed-segmentation, tensorstore, Neuroglancer's own
TypeScript encoder and a spec-following reference agree byte for byte (see the data's README).
"""

import json
from pathlib import Path

import numpy as np
import pytest

import ngcodec.chunk_encoding as ce


def xyz_to_chunk(xyz: np.ndarray) -> np.ndarray:
    """An [x, y, z] or [x, y, z, c] array (any memory order) as a (C, Z, Y, X) chunk."""
    if xyz.ndim == 3:
        xyz = xyz[..., np.newaxis]
    return np.ascontiguousarray(xyz.T)


# Every .cseg file of the test data, with the chunk it encodes: (data type, block, source), the
# source being a fixture of conftest.py or an .npy file of [x, y, z(, c)] values.
GOLDEN_FILES = {
    "fib25_64cube_uint64_b888.cseg": ("uint64", [8, 8, 8], "fib25"),
    "pinky40_crop192_64cube_uint32_b888.cseg": ("uint32", [8, 8, 8], "pinky40_64"),
    "partial_10x20x30_uint32_b888.cseg": ("uint32", [8, 8, 8], "partial_10x20x30_uint32_xyz.npy"),
    "multichannel_16cube_2ch_uint32_b888_tensorstore.cseg": (
        "uint32",
        [8, 8, 8],
        "multichannel_16cube_2ch_uint32_xyzc.npy",
    ),
}


def test_every_cseg_file_has_a_golden_test(testdata):
    assert sorted(p.name for p in testdata.glob("*.cseg")) == sorted(GOLDEN_FILES)


@pytest.mark.parametrize("name", sorted(GOLDEN_FILES))
def test_golden_file_decodes_exactly_and_re_encodes_to_the_same_bytes(testdata, name, request):
    data_type, block, source = GOLDEN_FILES[name]
    if source.endswith(".npy"):
        chunk = xyz_to_chunk(np.load(testdata / source))
    else:
        chunk = request.getfixturevalue(source)[np.newaxis]
    golden = (testdata / name).read_bytes()
    encoder = ce.CompressedSegmentationEncoder(data_type, chunk.shape[0], block)
    decoded = encoder.decode(golden, chunk.shape[:0:-1])
    assert decoded.dtype == np.dtype(data_type)
    np.testing.assert_array_equal(decoded, chunk)
    assert bytes(encoder.encode(chunk)) == golden


def test_multichannel_golden_file_has_the_documented_channel_offsets(testdata):
    words = np.frombuffer(
        (testdata / "multichannel_16cube_2ch_uint32_b888_tensorstore.cseg").read_bytes(), "<u4"
    )
    assert list(words[:2]) == [2, 277]


def precomputed_chunk_files(testdata: Path) -> list[Path]:
    return sorted((testdata / "precomputed_pinky40_100cube_uint32_cseg" / "32_32_40").iterdir())


def chunk_bounds(path: Path) -> list[tuple[int, int]]:
    """The (start, stop) of x, y, z in a chunk file's name, e.g. "64-100_0-64_0-64"."""
    return [tuple(int(n) for n in span.split("-")) for span in path.name.split("_")]


def test_precomputed_volume_has_its_eight_chunk_files(testdata):
    info = json.loads((testdata / "precomputed_pinky40_100cube_uint32_cseg" / "info").read_text())
    assert info["scales"][0]["compressed_segmentation_block_size"] == [8, 8, 8]
    assert len(precomputed_chunk_files(testdata)) == 8


@pytest.mark.parametrize("index", range(8))
def test_precomputed_chunk_files_re_encode_to_the_same_bytes(testdata, index):
    # Written by tensorstore; the values are checked against the volume in test_interop.py.
    path = precomputed_chunk_files(testdata)[index]
    (x0, x1), (y0, y1), (z0, z1) = chunk_bounds(path)
    written = path.read_bytes()
    encoder = ce.CompressedSegmentationEncoder("uint32", 1, [8, 8, 8])
    decoded = encoder.decode(written, (x1 - x0, y1 - y0, z1 - z0))
    assert decoded.shape == (1, z1 - z0, y1 - y0, x1 - x0)
    assert bytes(encoder.encode(decoded)) == written


def test_precomputed_chunk_files_hold_the_pinky40_volume(testdata, pinky40_512):
    # The volume is the pinky40 cube [100:200]^3, in (Z, Y, X) here.
    encoder = ce.CompressedSegmentationEncoder("uint32", 1, [8, 8, 8])
    for path in precomputed_chunk_files(testdata):
        (x0, x1), (y0, y1), (z0, z1) = chunk_bounds(path)
        expected = pinky40_512[100 + z0 : 100 + z1, 100 + y0 : 100 + y1, 100 + x0 : 100 + x1]
        decoded = encoder.decode(path.read_bytes(), (x1 - x0, y1 - y0, z1 - z0))
        np.testing.assert_array_equal(decoded[0], expected)


# --- the hand-computed words of the upstream unit tests -----------------------------------------


def handmade_vectors(testdata_dir: Path) -> list[dict]:
    return json.loads((testdata_dir / "handmade_vectors.json").read_text())["vectors"]


def vector_chunk(vector: dict) -> np.ndarray:
    values = np.array(vector["values_x_fastest"], dtype=vector["dtype"])
    return xyz_to_chunk(values.reshape(vector["shape_xyz"], order="F"))


def test_handmade_vectors_are_all_here(testdata):
    names = [v["name"] for v in handmade_vectors(testdata)]
    assert len(names) == 5 and len(set(names)) == 5


@pytest.mark.parametrize("index", range(5))
def test_handmade_vector_encodes_and_decodes_exactly(testdata, index):
    vector = handmade_vectors(testdata)[index]
    chunk = vector_chunk(vector)
    encoder = ce.CompressedSegmentationEncoder(vector["dtype"], 1, vector["block_xyz"])
    expected = np.array(vector["encoded_uint32le_words"], "<u4").tobytes()
    assert bytes(encoder.encode(chunk)) == expected, vector["name"]
    np.testing.assert_array_equal(encoder.decode(expected, vector["shape_xyz"]), chunk)


# The block-level EncodeBlock cases of Neuroglancer's compress_segmentation_test.cc (listed in the
# note of handmade_vectors.json: input values -> block words), each put in a one-block uint64 file:
# the channel offset 1, the header (table offset | bits << 24, values offset), the values (none for
# 0 bits), then the table as (low, high) word pairs.
ENCODE_BLOCK_CASES = {
    "Basic0": ([3, 3, 3, 3], (2, 2, 1), (2, 2, 1), [1, 2, 2, 3, 0]),
    "Basic1": ([4, 3, 4, 4], (2, 2, 1), (2, 2, 1), [1, 3 | 1 << 24, 2, 0b1101, 3, 0, 4, 0]),
    "SizeMismatch": ([4, 3, 4, 3], (2, 2, 1), (3, 2, 1), [1, 3 | 1 << 24, 2, 0b001001, 3, 0, 4, 0]),
    "Basic2": (
        [4, 3, 5, 4],
        (2, 2, 1),
        (2, 2, 1),
        [1, 3 | 2 << 24, 2, 0b01100001, 3, 0, 4, 0, 5, 0],
    ),
}


@pytest.mark.parametrize("name", sorted(ENCODE_BLOCK_CASES))
def test_upstream_block_cases_encode_and_decode_exactly(name):
    values, shape_xyz, block, words = ENCODE_BLOCK_CASES[name]
    chunk = xyz_to_chunk(np.array(values, np.uint64).reshape(shape_xyz, order="F"))
    encoder = ce.CompressedSegmentationEncoder("uint64", 1, list(block))
    expected = np.array(words, "<u4").tobytes()
    assert bytes(encoder.encode(chunk)) == expected
    np.testing.assert_array_equal(encoder.decode(expected, shape_xyz), chunk)
