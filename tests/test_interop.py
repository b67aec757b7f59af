"""Interoperability: ngcodec against independent implementations of the chunk formats.

The oracles are test extras, never runtime dependencies:

- compressed-segmentation (seung-lab's Cython binding of Neuroglancer's C++ codec),
- tensorstore (Google's C++ ``neuroglancer_precomputed`` driver, which writes and reads real
  chunk files: each single-chunk case is a one-chunk volume whose size equals the chunk),
- neuroglancer-scripts 1.2.0 (the reference Python API that ngcodec replaces).

Part 1: ngcodec's compressed_segmentation bytes equal both C++ encoders' bytes, on real data cut
into chunks and on synthetic label fields, for partial chunks and cubic and non-cubic blocks.
Part 2: each side decodes what the other encodes, for every encoding the oracle has.

Known oracle bugs, avoided so that the test process never hangs or crashes (FORMAT.md):

- compressed-segmentation hangs encoding a block with more than 65,536 distinct values,
  mis-decodes 32-bit blocks, segfaults encoding several channels, and ignores the array's strides
  (only an F-contiguous [x, y, z] array with ``order='F'`` gives the right bytes).
- neuroglancer-scripts crashes or writes wrong data for blocks with x != z, and its decoder fails
  on their 0-bit blocks; it also writes the table before the values and pads with the most
  frequent value, so its bytes legitimately differ from the canonical ones: it is a decoding
  oracle only.

Each successful comparison is counted per oracle and printed after the module has run.
"""

from __future__ import annotations

import collections
import functools
import importlib.metadata
import itertools
import json
import tempfile
from pathlib import Path

import neuroglancer_scripts.chunk_encoding as reference
import numpy as np
import pytest
import synthetic
import tensorstore as ts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.version import Version

import compressed_segmentation as cseg
import ngcodec.chunk_encoding as ce

CSEG = "compressed-segmentation"
TENSORSTORE = "tensorstore"
REFERENCE = "neuroglancer-scripts"

CASES: collections.Counter[tuple[str, str]] = collections.Counter()


def agreed(oracle: str, check: str, cases: int = 1) -> None:
    """Count comparisons with an oracle that passed."""
    CASES[oracle, check] += cases


class OracleCaseSummary:
    """Prints the counts in pytest's closing summary, so that CI logs show what was compared."""

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not CASES:
            return
        terminalreporter.write_sep("-", "interoperability cases checked, per oracle")
        for oracle in (CSEG, TENSORSTORE, REFERENCE):
            checks = {check: n for (name, check), n in CASES.items() if name == oracle}
            terminalreporter.write_line(f"{oracle}: {sum(checks.values())}")
            for check, n in sorted(checks.items()):
                terminalreporter.write_line(f"  {n:7d}  {check}")


@pytest.fixture(scope="module", autouse=True)
def report_oracle_cases(request) -> None:
    plugins = request.config.pluginmanager
    if not plugins.has_plugin("ngcodec-oracle-cases"):
        plugins.register(OracleCaseSummary(), "ngcodec-oracle-cases")


def assert_same_chunk(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal shape, type and values (np.testing's version costs 30 times as much on big chunks)."""
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    if not np.array_equal(actual, expected):
        wrong = np.argwhere(actual != expected)
        first = tuple(int(i) for i in wrong[0])
        raise AssertionError(
            f"{len(wrong)} voxels differ; the first, at (c, z, y, x) {first}, is "
            f"{actual[first]} instead of {expected[first]}"
        )


# --- the oracles, behind (C, Z, Y, X) chunks and (X, Y, Z) sizes --------------------------------


def size_of(chunk: np.ndarray) -> tuple[int, int, int]:
    """A (C, Z, Y, X) chunk's chunk_size (X, Y, Z)."""
    return chunk.shape[:0:-1]


def cseg_encode(chunk: np.ndarray, block) -> bytes:
    """compressed-segmentation's file for a one-channel chunk.

    Its C++ encoder reads the [x, y, z] array with ``order='F'`` and ignores the real strides, so
    it must get an F-contiguous array: the transpose of the C-contiguous (Z, Y, X) chunk is one.
    """
    assert chunk.shape[0] == 1, "compressed-segmentation segfaults encoding several channels"
    xyz = chunk[0].T
    assert xyz.flags.f_contiguous
    return cseg.compress(xyz, block_size=tuple(block), order="F")


def cseg_decode(buf, chunk_size, channels: int, data_type: str, block) -> np.ndarray:
    """compressed-segmentation's decoding of a file, as (C, Z, Y, X)."""
    xyzc = cseg.decompress(
        bytes(buf), (*chunk_size, channels), np.dtype(data_type), tuple(block), order="F"
    )
    return np.ascontiguousarray(xyzc.T)


def precomputed(folder: Path, **options) -> dict:
    """A tensorstore spec for the precomputed volume in a local folder."""
    return {
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "file", "path": str(folder)},
        **options,
    }


def chunk_file_name(chunk_size) -> str:
    return "_".join(f"0-{n}" for n in chunk_size)


class OneChunkVolumes:
    """tensorstore's neuroglancer_precomputed driver on one-chunk volumes in a folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.serial = itertools.count()

    def new_folder(self) -> Path:
        folder = self.root / f"volume{next(self.serial)}"
        folder.mkdir()
        return folder

    def write(self, chunk: np.ndarray, encoding: str, **scale) -> bytes:
        """The chunk file tensorstore writes for a volume holding exactly `chunk`."""
        folder = self.new_folder()
        channels, z, y, x = chunk.shape
        spec = precomputed(
            folder,
            multiscale_metadata={
                "data_type": chunk.dtype.name,
                "num_channels": channels,
                "type": "image",
            },
            scale_metadata={
                "key": "s0",
                "size": [x, y, z],
                "chunk_size": [x, y, z],
                "resolution": [1, 1, 1],
                "encoding": encoding,
                **scale,
            },
            create=True,
            # A chunk equal to the fill value (zeros) is otherwise not written at all.
            store_data_equal_to_fill_value=True,
        )
        volume = ts.open(spec).result()
        volume.write(chunk.T).result()  # tensorstore's axes are x, y, z, channel
        return (folder / "s0" / chunk_file_name((x, y, z))).read_bytes()

    def read(self, buf, data_type: str, channels: int, chunk_size, encoding: str, **scale):
        """tensorstore's decoding of `buf` as the only chunk of a volume, as (C, Z, Y, X)."""
        folder = self.new_folder()
        info = {
            "@type": "neuroglancer_multiscale_volume",
            "type": "image",
            "data_type": data_type,
            "num_channels": channels,
            "scales": [
                {
                    "key": "s0",
                    "size": list(chunk_size),
                    "voxel_offset": [0, 0, 0],
                    "chunk_sizes": [list(chunk_size)],
                    "resolution": [1, 1, 1],
                    "encoding": encoding,
                    **scale,
                }
            ],
        }
        (folder / "info").write_text(json.dumps(info))
        (folder / "s0").mkdir()
        (folder / "s0" / chunk_file_name(chunk_size)).write_bytes(bytes(buf))
        volume = ts.open(precomputed(folder), read=True).result()
        return np.ascontiguousarray(volume.read().result().T)


@pytest.fixture
def volumes(tmp_path) -> OneChunkVolumes:
    return OneChunkVolumes(tmp_path)


def check_compressed_segmentation(
    chunk: np.ndarray,
    block,
    volumes: OneChunkVolumes,
    *,
    cseg_encoder: bool = True,
    cseg_decoder: bool = True,
    tensorstore: bool = True,
    tensorstore_decoder: bool = True,
) -> None:
    """ngcodec's file for `chunk` is each C++ encoder's file, and each side decodes the other's."""
    channels = chunk.shape[0]
    data_type = chunk.dtype.name
    size = size_of(chunk)
    encoder = ce.CompressedSegmentationEncoder(data_type, channels, block)
    ours = bytes(encoder.encode(chunk))
    if cseg_encoder and channels == 1:
        theirs = cseg_encode(chunk, block)
        assert ours == theirs, f"{CSEG} wrote other bytes"
        agreed(CSEG, "compressed_segmentation: same bytes as ngcodec")
        assert_same_chunk(encoder.decode(theirs, size), chunk)
        agreed(CSEG, "compressed_segmentation: ngcodec decodes its file")
    if cseg_decoder:
        assert_same_chunk(cseg_decode(ours, size, channels, data_type, block), chunk)
        agreed(CSEG, "compressed_segmentation: decodes ngcodec's file")
    block_size = {"compressed_segmentation_block_size": list(block)}
    if tensorstore and chunk.size:
        theirs = volumes.write(chunk, "compressed_segmentation", **block_size)
        assert ours == theirs, f"{TENSORSTORE} wrote other bytes"
        agreed(TENSORSTORE, "compressed_segmentation: same bytes as ngcodec")
        assert_same_chunk(encoder.decode(theirs, size), chunk)
        agreed(TENSORSTORE, "compressed_segmentation: ngcodec decodes its file")
    if tensorstore and tensorstore_decoder and chunk.size:
        read = volumes.read(
            ours, data_type, channels, size, "compressed_segmentation", **block_size
        )
        assert_same_chunk(read, chunk)
        agreed(TENSORSTORE, "compressed_segmentation: decodes ngcodec's file")


# --- 1. byte identity: real data cut into chunks ------------------------------------------------

REAL_DATA_BLOCKS = [
    [8, 8, 8],
    [4, 4, 4],
    [16, 16, 16],
    [64, 64, 64],
    [8, 8, 4],
    [4, 8, 2],
    [16, 4, 8],
    [3, 5, 7],
    [1, 1, 1],
]
CHUNKINGS = [(64, 64, 64), (32, 32, 32), (24, 20, 28)]  # the last leaves partial edge chunks


@pytest.mark.parametrize("block", REAL_DATA_BLOCKS, ids=str)
@pytest.mark.parametrize("chunk_xyz", CHUNKINGS, ids=lambda c: "x".join(map(str, c)))
@pytest.mark.parametrize("volume", ["fib25", "pinky40_64"])
def test_real_data_chunks_match_both_encoders(volume, chunk_xyz, block, volumes, request):
    data = request.getfixturevalue(volume)
    for _, chunk in synthetic.chunks(data, chunk_xyz):
        check_compressed_segmentation(chunk, block, volumes)


@pytest.mark.parametrize("block", [[8, 8, 8], [8, 4, 2], [5, 7, 3]], ids=str)
@pytest.mark.parametrize(
    ("name", "data_type"),
    [("ng_fib25_64x64x64_uint64_F.dat", "<u8"), ("pinky40_crop192_64cube_uint32_F.dat", "<u4")],
)
def test_compressed_segmentation_on_the_files_own_fortran_array(testdata, name, data_type, block):
    # compressed-segmentation as its users call it: the [x, y, z] array of a Fortran-order file.
    xyz = np.fromfile(testdata / name, data_type).reshape((64, 64, 64), order="F")
    assert xyz.flags.f_contiguous
    theirs = cseg.compress(xyz, block_size=tuple(block), order="F")
    encoder = ce.CompressedSegmentationEncoder(xyz.dtype.name, 1, block)
    assert bytes(encoder.encode(xyz.T[np.newaxis])) == theirs
    agreed(CSEG, "compressed_segmentation: same bytes as ngcodec")
    assert_same_chunk(encoder.decode(theirs, xyz.shape)[0], xyz.T)
    agreed(CSEG, "compressed_segmentation: ngcodec decodes its file")


@pytest.mark.parametrize("layout", synthetic.LAYOUTS)
def test_every_input_layout_gives_the_encoders_bytes(fib25, pinky40_64, layout, volumes):
    # ngcodec reads any layout in place; the oracles get the C-contiguous chunk.
    for volume, block in ((fib25, [8, 8, 8]), (pinky40_64, [4, 8, 2])):
        chunk = np.ascontiguousarray(volume[np.newaxis, 5:45, 3:30, 7:40])
        encoder = ce.CompressedSegmentationEncoder(chunk.dtype.name, 1, block)
        ours = bytes(encoder.encode(synthetic.in_layout(chunk, layout)))
        assert ours == cseg_encode(chunk, block)
        agreed(CSEG, "compressed_segmentation: same bytes as ngcodec")
        block_size = {"compressed_segmentation_block_size": block}
        assert ours == volumes.write(chunk, "compressed_segmentation", **block_size)
        agreed(TENSORSTORE, "compressed_segmentation: same bytes as ngcodec")


@pytest.mark.parametrize(
    ("chunk_xyz", "block"),
    [((64, 64, 64), [8, 8, 8]), ((100, 96, 112), [8, 8, 4])],
    ids=str,
)
def test_whole_pinky40_volume_cut_into_chunks(pinky40_512, chunk_xyz, block, tmp_path):
    # tensorstore writes (and then reads) the whole volume at once, one file a chunk and the edge
    # ones truncated: one-chunk volumes would cost ten times as much for the same files.
    size = list(pinky40_512.shape[::-1])
    spec = precomputed(
        tmp_path / "tensorstore",
        multiscale_metadata={"data_type": "uint32", "num_channels": 1, "type": "segmentation"},
        scale_metadata={
            "key": "s0",
            "size": size,
            "chunk_size": list(chunk_xyz),
            "resolution": [1, 1, 1],
            "encoding": "compressed_segmentation",
            "compressed_segmentation_block_size": block,
        },
        create=True,
    )
    ts.open(spec).result().write(pinky40_512.T[..., np.newaxis]).result()
    ours_folder = tmp_path / "ngcodec"
    (ours_folder / "s0").mkdir(parents=True)
    (ours_folder / "info").write_bytes((tmp_path / "tensorstore" / "info").read_bytes())
    encoder = ce.CompressedSegmentationEncoder("uint32", 1, block)
    count = 0
    for origin, chunk in synthetic.chunks(pinky40_512, chunk_xyz):
        name = "_".join(f"{o}-{o + n}" for o, n in zip(origin, size_of(chunk), strict=True))
        ours = bytes(encoder.encode(chunk))
        written = (tmp_path / "tensorstore" / "s0" / name).read_bytes()
        assert ours == written, name
        assert_same_chunk(encoder.decode(written, size_of(chunk)), chunk)
        assert ours == cseg_encode(chunk, block), name
        assert_same_chunk(cseg_decode(ours, size_of(chunk), 1, "uint32", block), chunk)
        (ours_folder / "s0" / name).write_bytes(ours)
        count += 1
    read = ts.open(precomputed(ours_folder), read=True).result().read().result()
    assert_same_chunk(read[..., 0].T, pinky40_512)
    for oracle in (CSEG, TENSORSTORE):
        agreed(oracle, "compressed_segmentation: same bytes as ngcodec", count)
        agreed(oracle, "compressed_segmentation: ngcodec decodes its file", count)
        agreed(oracle, "compressed_segmentation: decodes ngcodec's file", count)


def test_tensorstore_written_volume_decodes_and_re_encodes_to_the_same_files(testdata):
    root = testdata / "precomputed_pinky40_100cube_uint32_cseg"
    scale = json.loads((root / "info").read_text())["scales"][0]
    whole = np.ascontiguousarray(ts.open(precomputed(root), read=True).result().read().result().T)
    block = scale["compressed_segmentation_block_size"]
    encoder = ce.CompressedSegmentationEncoder("uint32", 1, block)
    files = sorted((root / scale["key"]).iterdir())
    assert len(files) == 8
    for path in files:
        (x0, x1), (y0, y1), (z0, z1) = (map(int, r.split("-")) for r in path.name.split("_"))
        expected = np.ascontiguousarray(whole[:, z0:z1, y0:y1, x0:x1])
        written = path.read_bytes()
        assert_same_chunk(encoder.decode(written, (x1 - x0, y1 - y0, z1 - z0)), expected)
        agreed(TENSORSTORE, "compressed_segmentation: ngcodec decodes its file")
        assert bytes(encoder.encode(expected)) == written
        agreed(TENSORSTORE, "compressed_segmentation: same bytes as ngcodec")
        assert cseg_encode(expected, block) == written
        agreed(CSEG, "compressed_segmentation: same bytes as ngcodec")


# --- 1. byte identity: synthetic label fields ---------------------------------------------------


@functools.cache
def synthetic_field(name: str) -> np.ndarray:
    """A (1, Z, Y, X) synthetic chunk; the odd sizes leave partial blocks for most block sizes."""
    kind, data_type, *rest = name.split("-")
    if kind == "voronoi":
        field = synthetic.voronoi((37, 42, 53), 40, data_type, seed=1)
    elif kind == "constant":
        field = synthetic.constant(
            (16, 17, 18), int(np.iinfo(data_type).max) if rest else 0, data_type
        )
    elif kind == "noise":
        field = synthetic.noise((20, 24, 28), int(rest[0]), data_type, seed=int(rest[0]))
    elif kind == "distinct":
        field = synthetic.all_distinct((17, 18, 19), data_type)
    elif kind == "partial":
        shape = tuple(int(n) for n in rest[0].split("x"))
        field = synthetic.noise(shape, 3, data_type, seed=3)
    else:
        raise ValueError(name)
    return field[np.newaxis]


SYNTHETIC_FIELDS = [
    "voronoi-uint32",
    "voronoi-uint64",
    "constant-uint32",
    "constant-uint64-max",
    *(f"noise-{t}-{n}" for t in ("uint32", "uint64") for n in (2, 3, 5, 17, 257, 4097)),
    "distinct-uint32",
    "distinct-uint64",
    "partial-uint64-1x1x1",
    "partial-uint32-1x9x13",
    "partial-uint64-7x1x5",
    "partial-uint32-3x64x5",
]
SYNTHETIC_BLOCKS = [
    [8, 8, 8],
    [1, 1, 1],
    [2, 2, 2],
    [16, 16, 16],
    [8, 8, 4],
    [4, 4, 8],
    [2, 4, 8],
    [3, 5, 7],
    [32, 1, 2],
    [1, 16, 1],
]


@pytest.mark.parametrize("block", SYNTHETIC_BLOCKS, ids=str)
@pytest.mark.parametrize("field", SYNTHETIC_FIELDS)
def test_synthetic_fields_match_both_encoders(field, block, volumes):
    check_compressed_segmentation(synthetic_field(field), block, volumes)


@pytest.mark.parametrize("shape", [(1, 0, 4, 4), (1, 5, 0, 3), (1, 2, 3, 0)])
def test_zero_size_chunks_match_compressed_segmentation(shape, volumes):
    # tensorstore has no empty chunk to write: a volume with an empty axis has no chunk file.
    check_compressed_segmentation(np.zeros(shape, np.uint64), [8, 8, 8], volumes, tensorstore=False)


def block_bits(encoded, blocks: int) -> list[int]:
    """The bit widths of the first blocks of a one-channel file."""
    words = np.frombuffer(bytes(encoded), "<u4")
    return [int(words[1 + 2 * block] >> 24) for block in range(blocks)]


@pytest.mark.parametrize("data_type", ["uint32", "uint64"])
def test_widest_16_bit_blocks_match_both_encoders(data_type, volumes):
    # 65,536 distinct labels in one 64x64x16 block: the most that 16 bits index.
    chunk = synthetic.all_distinct((1, 16, 64, 64), data_type)
    check_compressed_segmentation(chunk, [64, 64, 16], volumes)
    encoded = ce.CompressedSegmentationEncoder(data_type, 1, [64, 64, 16]).encode(chunk)
    assert block_bits(encoded, 1) == [16]


def with_a_32_bit_block(data_type: str, distinct: int) -> np.ndarray:
    """A chunk whose first 64x64x32 block holds more than 65,536 labels, next to a constant one."""
    labels = synthetic.all_distinct((distinct,), data_type)
    chunk = np.zeros((1, 64, 64, 64), data_type)
    chunk[0, :32] = np.resize(labels, (32, 64, 64))
    return chunk


# tensorstore before 0.1.86 misreads 32-bit blocks, its own files included, and 0.1.78 is its newest
# release for Python 3.10.
TENSORSTORE_READS_32_BIT_BLOCKS = Version(importlib.metadata.version("tensorstore")) >= Version(
    "0.1.86"
)


@pytest.mark.parametrize("distinct", [65537, 2**17])
@pytest.mark.parametrize("data_type", ["uint32", "uint64"])
def test_32_bit_blocks_match_tensorstore(data_type, distinct, volumes):
    # Only tensorstore takes part: compressed-segmentation hangs encoding such a block and
    # mis-decodes it (all voxels but one wrong), where tensorstore and ngcodec agree.
    chunk = with_a_32_bit_block(data_type, distinct)
    check_compressed_segmentation(
        chunk,
        [64, 64, 32],
        volumes,
        cseg_encoder=False,
        cseg_decoder=False,
        tensorstore_decoder=False,
    )
    encoded = ce.CompressedSegmentationEncoder(data_type, 1, [64, 64, 32]).encode(chunk)
    assert block_bits(encoded, 2) == [32, 0]


@pytest.mark.skipif(
    not TENSORSTORE_READS_32_BIT_BLOCKS,
    reason="tensorstore < 0.1.86 misreads 32-bit blocks (0.1.78 is the newest for Python 3.10)",
)
@pytest.mark.parametrize("distinct", [65537, 2**17])
@pytest.mark.parametrize("data_type", ["uint32", "uint64"])
def test_tensorstore_reads_32_bit_blocks(data_type, distinct, volumes):
    chunk = with_a_32_bit_block(data_type, distinct)
    check_compressed_segmentation(
        chunk, [64, 64, 32], volumes, cseg_encoder=False, cseg_decoder=False
    )


# --- 2. cross-decoding: several channels --------------------------------------------------------


@pytest.mark.parametrize("block", [[8, 8, 8], [4, 8, 2], [1, 1, 1], [5, 3, 3]], ids=str)
@pytest.mark.parametrize("channels", [2, 3])
@pytest.mark.parametrize("data_type", ["uint32", "uint64"])
def test_several_channels_match_tensorstore(data_type, channels, block, volumes):
    # compressed-segmentation decodes several channels but segfaults encoding them.
    fields = [
        synthetic.voronoi((13, 22, 17), 9, data_type, seed=channels),
        synthetic.noise((13, 22, 17), 5, data_type, seed=1),
        synthetic.constant((13, 22, 17), 7, data_type),
    ]
    chunk = np.stack(fields[:channels])
    check_compressed_segmentation(chunk, block, volumes, cseg_encoder=False)


def test_identical_channels_repeat_their_tables_like_tensorstore(volumes):
    field = synthetic.voronoi((16, 16, 16), 6, "uint64", seed=5)
    check_compressed_segmentation(np.stack([field, field]), [8, 8, 8], volumes, cseg_encoder=False)


# --- 2. cross-decoding: raw ---------------------------------------------------------------------

RAW_TYPES = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "float32"]


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("shape", [(1, 7, 9, 13), (3, 4, 5, 6), (2, 1, 1, 1)], ids=str)
@pytest.mark.parametrize("data_type", RAW_TYPES)
def test_raw_matches_tensorstore(data_type, shape, volumes):
    chunk = synthetic.random_bits(data_type, shape, seed=len(data_type))
    encoder = ce.RawChunkEncoder(data_type, shape[0])
    ours = encoder.encode(chunk)
    theirs = volumes.write(chunk, "raw")
    assert ours == theirs
    agreed(TENSORSTORE, "raw: same bytes as ngcodec")
    assert same_bits(encoder.decode(theirs, size_of(chunk)), chunk)
    agreed(TENSORSTORE, "raw: ngcodec decodes its file")
    assert same_bits(volumes.read(ours, data_type, shape[0], size_of(chunk), "raw"), chunk)
    agreed(TENSORSTORE, "raw: decodes ngcodec's file")


@pytest.mark.parametrize("shape", [(1, 7, 9, 13), (3, 4, 5, 6), (2, 1, 1, 1)], ids=str)
@pytest.mark.parametrize("data_type", [*RAW_TYPES, "int64", "float64"])
def test_raw_matches_the_reference(data_type, shape):
    chunk = synthetic.random_bits(data_type, shape, seed=len(data_type))
    ours = ce.RawChunkEncoder(data_type, shape[0])
    theirs = reference.RawChunkEncoder(data_type, shape[0])
    encoded = ours.encode(chunk)
    assert encoded == theirs.encode(chunk)
    agreed(REFERENCE, "raw: same bytes as ngcodec")
    assert same_bits(ours.decode(theirs.encode(chunk), size_of(chunk)), chunk)
    agreed(REFERENCE, "raw: ngcodec decodes its file")
    decoded = theirs.decode(encoded, size_of(chunk))
    assert decoded.shape == chunk.shape and decoded.tobytes() == chunk.tobytes()
    agreed(REFERENCE, "raw: decodes ngcodec's file")


# --- 2. cross-decoding: jpeg --------------------------------------------------------------------


def image_chunk(channels: int, shape=(6, 10, 12)) -> np.ndarray:
    """A smooth uint8 chunk with some texture: JPEG's realistic input."""
    z, y, x = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    rng = np.random.default_rng(channels)
    planes = [
        (40 + 3 * x + 5 * y + 7 * z + 50 * c + rng.integers(0, 12, shape)) % 256
        for c in range(channels)
    ]
    return np.stack(planes).astype(np.uint8)


@pytest.mark.parametrize("shape", [(6, 10, 12), (1, 1, 1), (9, 17, 5), (32, 48, 40)], ids=str)
@pytest.mark.parametrize("quality", [95, 50])
@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_written_by_tensorstore_decodes_as_tensorstore_reads_it(
    channels, quality, shape, volumes
):
    chunk = image_chunk(channels, shape)
    written = volumes.write(chunk, "jpeg", jpeg_quality=quality)
    theirs = volumes.read(written, "uint8", channels, size_of(chunk), "jpeg")
    ours = ce.JpegChunkEncoder("uint8", channels).decode(written, size_of(chunk))
    assert_same_chunk(ours, theirs)
    agreed(TENSORSTORE, "jpeg: ngcodec decodes its file (same pixels)")


@pytest.mark.parametrize("quality", [95, 75])
@pytest.mark.parametrize("channels", [1, 3])
def test_noisy_jpeg_written_by_tensorstore_decodes_as_tensorstore_reads_it(
    channels, quality, volumes
):
    # Pure noise: the largest JPEG files (ngcodec itself cannot write the RGB ones, see
    # test_properties.py::test_jpeg_encodes_noisy_rgb_chunks).
    chunk = np.random.default_rng(channels).integers(0, 256, (channels, 32, 64, 64), np.uint8)
    written = volumes.write(chunk, "jpeg", jpeg_quality=quality)
    theirs = volumes.read(written, "uint8", channels, size_of(chunk), "jpeg")
    ours = ce.JpegChunkEncoder("uint8", channels).decode(written, size_of(chunk))
    assert_same_chunk(ours, theirs)
    agreed(TENSORSTORE, "jpeg: ngcodec decodes its file (same pixels)")


@pytest.mark.parametrize("shape", [(6, 10, 12), (1, 1, 1), (9, 17, 5), (32, 48, 40)], ids=str)
@pytest.mark.parametrize("plane", ["xy", "xz"])
@pytest.mark.parametrize("quality", [95, 30])
@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_written_by_ngcodec_reads_the_same_in_tensorstore(
    channels, quality, plane, shape, volumes
):
    chunk = image_chunk(channels, shape)
    encoder = ce.JpegChunkEncoder("uint8", channels, jpeg_quality=quality, jpeg_plane=plane)
    encoded = encoder.encode(chunk)
    theirs = volumes.read(encoded, "uint8", channels, size_of(chunk), "jpeg")
    assert_same_chunk(encoder.decode(encoded, size_of(chunk)), theirs)
    agreed(TENSORSTORE, "jpeg: decodes ngcodec's file (same pixels)")


@pytest.mark.parametrize("shape", [(6, 10, 12), (1, 1, 1), (9, 17, 5)], ids=str)
@pytest.mark.parametrize("plane", ["xy", "xz"])
@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_matches_the_reference(channels, plane, shape):
    chunk = image_chunk(channels, shape)
    ours = ce.JpegChunkEncoder("uint8", channels, jpeg_quality=80, jpeg_plane=plane)
    theirs = reference.JpegChunkEncoder("uint8", channels, jpeg_quality=80, jpeg_plane=plane)
    encoded = ours.encode(chunk)
    assert encoded == theirs.encode(chunk)  # the same Pillow call with the same options
    agreed(REFERENCE, "jpeg: same bytes as ngcodec")
    assert_same_chunk(ours.decode(encoded, size_of(chunk)), theirs.decode(encoded, size_of(chunk)))
    agreed(REFERENCE, "jpeg: decodes ngcodec's file (same pixels)")


# --- 2. cross-decoding: compressed_segmentation with the reference ------------------------------

# Only blocks with x == z: the reference crashes or writes wrong data otherwise, and its decoder
# fails on the 0-bit blocks of such files.
REFERENCE_BLOCKS = [[8, 8, 8], [4, 8, 4], [2, 16, 2], [3, 5, 3], [1, 1, 1], [16, 16, 16]]


def check_reference_compressed_segmentation(chunk: np.ndarray, block) -> None:
    channels, data_type, size = chunk.shape[0], chunk.dtype.name, size_of(chunk)
    ours = ce.CompressedSegmentationEncoder(data_type, channels, block)
    theirs = reference.CompressedSegmentationEncoder(data_type, channels, block)
    # The reference's file is laid out differently (tables first, padding with the most frequent
    # value) but must decode to the same chunk.
    assert_same_chunk(ours.decode(theirs.encode(chunk), size), chunk)
    agreed(REFERENCE, "compressed_segmentation: ngcodec decodes its file")
    assert_same_chunk(theirs.decode(ours.encode(chunk), size), chunk)
    agreed(REFERENCE, "compressed_segmentation: decodes ngcodec's file")


@pytest.mark.parametrize("block", REFERENCE_BLOCKS, ids=str)
@pytest.mark.parametrize(
    "field",
    [
        "voronoi-uint32",
        "voronoi-uint64",
        "constant-uint64-max",
        "noise-uint32-17",
        "noise-uint64-257",
        "distinct-uint32",
        "partial-uint32-1x9x13",
        "partial-uint64-7x1x5",
    ],
)
def test_reference_and_ngcodec_decode_each_other(field, block):
    check_reference_compressed_segmentation(synthetic_field(field), block)


@pytest.mark.parametrize("block", [[8, 8, 8], [4, 8, 4]], ids=str)
def test_reference_and_ngcodec_decode_each_others_real_chunks(fib25, pinky40_64, block):
    for volume in (fib25, pinky40_64):
        for _, chunk in synthetic.chunks(volume, (24, 20, 28)):
            check_reference_compressed_segmentation(chunk, block)


@pytest.mark.parametrize("channels", [2, 3])
def test_reference_and_ngcodec_decode_each_others_channels(channels):
    chunk = np.stack(
        [synthetic.voronoi((9, 14, 11), 4 + c, "uint64", seed=c) for c in range(channels)]
    )
    for block in ([8, 8, 8], [4, 2, 4]):
        check_reference_compressed_segmentation(chunk, block)


# --- 1 and 2, explored at random ----------------------------------------------------------------


@st.composite
def label_chunks(draw, max_channels=1, max_side=20, max_distinct=300):
    """(C, Z, Y, X) label chunks with 1 to `max_distinct` labels, noisy or in runs."""
    data_type = draw(st.sampled_from(["uint32", "uint64"]))
    channels = draw(st.integers(1, max_channels))
    shape = (channels, *draw(st.tuples(*[st.integers(1, max_side)] * 3)))
    distinct = draw(st.integers(1, max_distinct))
    run = draw(st.integers(1, 6))
    return synthetic.runs(shape, distinct, run, data_type, seed=draw(st.integers(0, 2**32 - 1)))


blocks = st.tuples(*[st.integers(1, 12)] * 3).map(list)


@settings(max_examples=200, deadline=None)
@given(chunk=label_chunks(), block=blocks)
def test_random_chunks_match_compressed_segmentation(chunk, block):
    # At most 300 labels: blocks never reach the 32-bit width that this oracle cannot handle.
    check_compressed_segmentation(chunk, block, None, tensorstore=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunk=label_chunks(max_channels=3), block=blocks)
def test_random_chunks_match_tensorstore(chunk, block):
    with tempfile.TemporaryDirectory() as folder:
        check_compressed_segmentation(
            chunk, block, OneChunkVolumes(Path(folder)), cseg_encoder=False
        )


@settings(max_examples=60, deadline=None)
@given(
    chunk=label_chunks(max_channels=2, max_side=14),
    block=st.tuples(st.integers(1, 8), st.integers(1, 8)).map(lambda xy: [xy[0], xy[1], xy[0]]),
)
def test_random_chunks_cross_decode_with_the_reference(chunk, block):
    check_reference_compressed_segmentation(chunk, block)
