"""Hostile input: every decoder, given any bytes, returns the requested chunk or raises
InvalidFormatError naming the problem, within memory and time bounded by the requested output.

Crafted compressed_segmentation files break one structural rule each; truncation and bit-flip
sweeps run over the real golden files of tests/data; huge chunk sizes fail before anything
big is allocated, which a subprocess proves under an address-space limit; encoders refuse bad
arguments with a clear error.
"""

import io
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

import ngcodec.chunk_encoding as ce


def words(*values: int) -> bytes:
    return np.array(values, "<u4").tobytes()


def assert_decodes_or_invalid(encoder: ce.ChunkEncoder, buf: bytes, chunk_size) -> bool:
    """The contract of every decoder; True if the buffer decoded."""
    try:
        chunk = encoder.decode(buf, chunk_size)
    except ce.InvalidFormatError as error:
        assert str(error), "an InvalidFormatError must say what is wrong"
        return False
    x, y, z = chunk_size
    assert chunk.shape == (encoder.num_channels, z, y, x)
    assert chunk.dtype == encoder.dtype.newbyteorder("=")
    return True


# --- compressed_segmentation: one crafted file per structural rule -------------------------------

# One channel of 2x2x1 voxels in one 2x2x1 block: 2-bit indices [1, 0, 2, 1] over the table
# [3, 4, 5], so the chunk is [4, 3, 5, 4]. Word 0 is the channel offset, words 1-2 the block header
# (table at channel word 3, 2 bits; values at channel word 2), word 3 the values, then the table.
SAMPLE = [1, 3 | 2 << 24, 2, 0b01_10_00_01, 3, 4, 5]
BLOCK = [2, 2, 1]


def sample(*, cut: int | None = None, **changes: int) -> bytes:
    file = list(SAMPLE)
    for index, value in changes.items():
        file[int(index.removeprefix("w"))] = value
    return words(*file[:cut])


CRAFTED = {
    # name: (file bytes, chunk_size, num_channels, data_type, message)
    "partial word": (sample()[:-1], (2, 2, 1), 1, "uint32", "not a whole number of 32-bit words"),
    "empty file": (b"", (2, 2, 1), 1, "uint32", "too short"),
    "no room for channel offsets": (words(2), (2, 2, 1), 2, "uint32", "offsets of 2 channel"),
    "channel offset past the end": (
        sample(w0=9),
        (2, 2, 1),
        1,
        "uint32",
        "channel 0 starts at word 9",
    ),
    "channel offset in the offset table": (
        sample(w0=0),
        (2, 2, 1),
        1,
        "uint32",
        "channel 0 starts at word 0",
    ),
    "decreasing channel offsets": (
        words(3, 2, 3 | 2 << 24, 2, 0b01_10_00_01, 3, 4, 5),
        (2, 2, 1),
        2,
        "uint32",
        "channel offsets must increase",
    ),
    "equal channel offsets": (
        words(2, 2, 2, 0, 7),
        (2, 2, 1),
        2,
        "uint32",
        "channel 0 has 0 words",
    ),
    "channel too short for its block headers": (
        words(1, 2, 0),
        (4, 2, 1),
        1,
        "uint32",
        "2 block headers need 4",
    ),
    "table offset in the block headers": (
        sample(w1=1 | 2 << 24),
        (2, 2, 1),
        1,
        "uint32",
        "lookup table offset 1 is outside",
    ),
    "table offset past the channel": (
        sample(w1=9 | 2 << 24),
        (2, 2, 1),
        1,
        "uint32",
        "lookup table offset 9 is outside",
    ),
    "uint64 table cut in half": (
        words(1, 2, 0, 7),
        (2, 2, 1),
        1,
        "uint64",
        "lookup table runs past the end",
    ),
    "values offset in the block headers": (
        sample(w2=0),
        (2, 2, 1),
        1,
        "uint32",
        "encoded values at word 0",
    ),
    "values running past the channel": (
        sample(w2=6),
        (2, 2, 1),
        1,
        "uint32",
        "encoded values at word 6",
    ),
    "values offset beyond 2^32 words": (
        sample(w2=0xFFFF_FFFF),
        (2, 2, 1),
        1,
        "uint32",
        "encoded values at word 4294967295",
    ),
    "index outside the table": (sample(cut=6), (2, 2, 1), 1, "uint32", "index 2 is out of range"),
    "padding index outside a table cut by the channel end": (
        # Indices [1, 0, 1, 2]: the 1x2x1 chunk reads voxels 0 and 2; voxel 3 is padding.
        sample(w3=0b10_01_00_01, cut=6),
        (1, 2, 1),
        1,
        "uint32",
        "index 2 is out of range",
    ),
    "second channel's table outside that channel": (
        # Channel offsets are per channel: channel 1 (words 5-7) has no word 3.
        words(2, 5, 2, 0, 9, 3, 0, 7),
        (2, 2, 1),
        2,
        "uint32",
        "channel 1: lookup table offset 3 is outside",
    ),
}

BAD_BIT_WIDTHS = [3, 5, 6, 7, 9, 12, 15, 17, 24, 31, 33, 64, 255]


@pytest.mark.parametrize("case", CRAFTED, ids=str)
def test_each_structural_fault_is_named(case):
    buf, chunk_size, channels, data_type, message = CRAFTED[case]
    encoder = ce.CompressedSegmentationEncoder(data_type, channels, BLOCK)
    with pytest.raises(ce.InvalidFormatError, match=message):
        encoder.decode(buf, chunk_size)


@pytest.mark.parametrize("bits", BAD_BIT_WIDTHS)
@pytest.mark.parametrize("data_type", ["uint32", "uint64"])
def test_bit_widths_outside_the_format_are_refused(bits, data_type):
    encoder = ce.CompressedSegmentationEncoder(data_type, 1, BLOCK)
    with pytest.raises(ce.InvalidFormatError, match=f"invalid number of encoding bits {bits}"):
        encoder.decode(sample(w1=3 | bits << 24), (2, 2, 1))


def test_the_crafted_sample_itself_is_valid():
    encoder = ce.CompressedSegmentationEncoder("uint32", 1, BLOCK)
    np.testing.assert_array_equal(encoder.decode(sample(), (2, 2, 1)).ravel(), [4, 3, 5, 4])
    # A partial chunk with a table cut by the channel end still decodes when every index,
    # padding included, resolves.
    np.testing.assert_array_equal(
        encoder.decode(sample(w3=0b00_01_00_01, cut=6), (1, 2, 1)).ravel(), [4, 4]
    )


WELL_FORMED_NONSENSE = {
    # The format cannot tell these from real data: they decode to some chunk of the right shape.
    "table read from the encoded values": (sample(w1=2 | 2 << 24), [3, 0x61, 4, 3]),
    "values read from the table": (sample(w2=4), [3, 4, 3, 3]),
    "one word serving as values and table": (words(1, 2 | 1 << 24, 2, 0), [0, 0, 0, 0]),
    "zero-bit block with values offset at the end": (words(1, 2, 3, 42), [42] * 4),
}


@pytest.mark.parametrize("case", WELL_FORMED_NONSENSE, ids=str)
def test_well_formed_nonsense_decodes_to_the_right_shape(case):
    buf, expected = WELL_FORMED_NONSENSE[case]
    encoder = ce.CompressedSegmentationEncoder("uint32", 1, BLOCK)
    np.testing.assert_array_equal(encoder.decode(buf, (2, 2, 1)).ravel(), expected)


def test_blocks_may_share_values_and_tables():
    # Two 2x2x1 blocks whose headers point at the same values and the same table.
    buf = words(1, 5 | 2 << 24, 4, 5 | 2 << 24, 4, 0b01_10_00_01, 3, 4, 5)
    encoder = ce.CompressedSegmentationEncoder("uint32", 1, BLOCK)
    np.testing.assert_array_equal(
        encoder.decode(buf, (4, 2, 1)).reshape(2, 4), [[4, 3, 4, 3], [5, 4, 5, 4]]
    )


# --- sweeps over the real golden files ----------------------------------------------------------

GOLDEN = {
    # file: (data_type, num_channels, chunk_size)
    "fib25_64cube_uint64_b888.cseg": ("uint64", 1, (64, 64, 64)),
    "pinky40_crop192_64cube_uint32_b888.cseg": ("uint32", 1, (64, 64, 64)),
    "partial_10x20x30_uint32_b888.cseg": ("uint32", 1, (10, 20, 30)),
    "multichannel_16cube_2ch_uint32_b888_tensorstore.cseg": ("uint32", 2, (16, 16, 16)),
}


@pytest.fixture(params=GOLDEN, ids=str)
def golden(request, testdata: Path):
    data_type, channels, chunk_size = GOLDEN[request.param]
    encoder = ce.CompressedSegmentationEncoder(data_type, channels, [8, 8, 8])
    return encoder, (testdata / request.param).read_bytes(), chunk_size


def test_every_truncation_of_a_golden_file_is_refused(golden):
    encoder, buf, chunk_size = golden
    assert assert_decodes_or_invalid(encoder, buf, chunk_size)
    # Every length in the channel table and the first block headers, then a spread to the end.
    lengths = sorted({*range(0, 64), *np.linspace(64, len(buf) - 1, 300, dtype=int)})
    for length in lengths:
        # Canonical files end with a lookup table every index of which is used, so no cut
        # goes unnoticed.
        with pytest.raises(ce.InvalidFormatError):
            encoder.decode(buf[:length], chunk_size)


def test_bit_flips_in_golden_files_decode_or_are_refused(golden):
    encoder, buf, chunk_size = golden
    rng = np.random.default_rng(len(buf))
    header_bytes = 4 * encoder.num_channels + 8 * 64
    positions = np.concatenate(
        [rng.integers(0, min(header_bytes, len(buf)), 300), rng.integers(0, len(buf), 300)]
    )
    refused = 0
    for position in positions:
        flipped = bytearray(buf)
        flipped[position] ^= 1 << int(rng.integers(0, 8))
        refused += not assert_decodes_or_invalid(encoder, bytes(flipped), chunk_size)
    assert refused > 0, "some flips in the headers must be caught"


def test_random_garbage_after_a_valid_channel_table(golden):
    encoder, buf, chunk_size = golden
    rng = np.random.default_rng(0)
    table = 4 * encoder.num_channels
    for _ in range(100):
        garbage = rng.integers(0, 256, len(buf) - table, dtype=np.uint8).tobytes()
        assert_decodes_or_invalid(encoder, buf[:table] + garbage, chunk_size)


def image_encoders() -> list[ce.ChunkEncoder]:
    encoders: list[ce.ChunkEncoder] = [
        ce.JpegChunkEncoder("uint8", 1),
        ce.JpegChunkEncoder("uint8", 3, jpeg_quality=50, jpeg_plane="xz"),
    ]
    png = getattr(ce, "PngChunkEncoder", None)
    if png is not None:
        encoders += [png("uint8", 1), png("uint16", 1), png("uint8", 3)]
    return encoders


@pytest.mark.parametrize("encoder", image_encoders(), ids=repr)
def test_image_truncations_and_flips_decode_or_are_refused(encoder):
    rng = np.random.default_rng(1)
    shape = (encoder.num_channels, 3, 5, 7)
    info = np.iinfo(encoder.dtype)
    chunk = rng.integers(0, info.max, shape, dtype=encoder.dtype, endpoint=True)
    buf = bytes(encoder.encode(chunk))
    assert assert_decodes_or_invalid(encoder, buf, (7, 5, 3))
    for length in range(len(buf)):
        assert_decodes_or_invalid(encoder, buf[:length], (7, 5, 3))
    for position in rng.integers(0, len(buf), 400):
        flipped = bytearray(buf)
        flipped[position] ^= 1 << int(rng.integers(0, 8))
        assert_decodes_or_invalid(encoder, bytes(flipped), (7, 5, 3))


@pytest.mark.parametrize("data_type", ["uint8", "uint16", "float32", "uint64"])
def test_every_raw_truncation_is_refused(data_type):
    encoder = ce.RawChunkEncoder(data_type, 2)
    buf = encoder.encode(np.ones((2, 3, 4, 5), data_type))
    for length in range(len(buf)):
        with pytest.raises(ce.InvalidFormatError, match="bytes"):
            encoder.decode(buf[:length], (5, 4, 3))
    with pytest.raises(ce.InvalidFormatError):
        encoder.decode(buf + b"\0", (5, 4, 3))


# --- huge chunk sizes: fast refusals, nothing allocated ----------------------------------------


def all_encoders() -> list[ce.ChunkEncoder]:
    return [
        ce.RawChunkEncoder("uint8", 1),
        ce.RawChunkEncoder("uint64", 3),
        ce.CompressedSegmentationEncoder("uint32", 1, [8, 8, 8]),
        ce.CompressedSegmentationEncoder("uint64", 2, [64, 64, 64]),
        *image_encoders(),
    ]


HUGE_CHUNK_SIZES = [
    (2**20, 2**20, 2**20),
    (2**32, 1, 1),
    (1, 2**40, 2**40),
    (2**63 - 1, 2**63 - 1, 2**63 - 1),
    (2**64, 1, 1),
    (2**70, 2**70, 2**70),
]
TINY_BUFFERS = [b"", words(1), sample(), words(1, 2, 0, 7), b"\xff\xd8\xff" + bytes(20)]


@pytest.mark.parametrize("encoder", all_encoders(), ids=repr)
def test_huge_chunk_sizes_fail_fast(encoder):
    start = time.perf_counter()
    for chunk_size in HUGE_CHUNK_SIZES:
        for buf in TINY_BUFFERS:
            with pytest.raises(ValueError):  # InvalidFormatError is a ValueError
                encoder.decode(buf, chunk_size)
    assert time.perf_counter() - start < 5


def test_huge_chunk_sizes_over_a_golden_file_fail_fast(testdata: Path):
    buf = (testdata / "pinky40_crop192_64cube_uint32_b888.cseg").read_bytes()
    encoder = ce.CompressedSegmentationEncoder("uint32", 1, [8, 8, 8])
    for chunk_size in HUGE_CHUNK_SIZES:
        with pytest.raises(ValueError):
            encoder.decode(buf, chunk_size)


def test_a_header_describing_an_impossible_chunk_is_a_python_error_not_a_panic():
    # One 0-bit block covers any chunk: the 16-byte file is well formed, but no array can hold the
    # (2^20)^3 chunk it describes. The allocation fails as a Python exception.
    encoder = ce.CompressedSegmentationEncoder("uint32", 1, [2**20, 2**20, 2**20])
    with pytest.raises((ValueError, MemoryError)):
        encoder.decode(words(1, 2, 0, 7), (2**20, 2**20, 2**20))
    encoder = ce.CompressedSegmentationEncoder("uint64", 1, [2**62, 1, 1])
    with pytest.raises(ValueError, match="too large"):
        encoder.decode(words(1, 2, 0, 7, 0), (2**62, 1, 1))
    np.testing.assert_array_equal(encoder.decode(words(1, 2, 0, 7, 0), (3, 1, 1)), 7)


def test_channel_counts_no_array_can_hold_are_a_value_error():
    # Found by the hypothesis run: these escaped as OverflowError from the binding.
    with pytest.raises(ValueError, match=r"num_channels \d+ is too large"):
        ce.CompressedSegmentationEncoder("uint32", 2**70, [8, 8, 8])
    with pytest.raises(ValueError, match="too large"):
        ce.CompressedSegmentationEncoder("uint32", 1, [8, 8, 8]).decode(b"", (2**64, 1, 1))


def test_a_one_pixel_rgb_jpeg_decodes_to_a_writable_array():
    # Found by the hypothesis run: moving the channel axis of a 1x1 RGB image needs no copy, and
    # the chunk came back as a read-only view of Pillow's pixels.
    encoder = ce.JpegChunkEncoder("uint8", 3)
    chunk = encoder.decode(encoder.encode(np.full((3, 1, 1, 1), 200, np.uint8)), (1, 1, 1))
    assert chunk.flags.writeable and chunk.flags.c_contiguous and chunk.flags.owndata


RLIMIT_SCRIPT = """
import resource, sys
import numpy as np
import ngcodec.chunk_encoding as ce

def address_space():
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmSize:"))
    return int(line.split()[1]) * 1024

limit = address_space() + 256 * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    np.ones(2**30, np.uint8)
    sys.exit("the address-space limit is not enforced")
except MemoryError:
    pass

cases = [
    # A header-only uint64 chunk claiming 2^60 voxels in 8^3 blocks (8 EiB of output).
    (ce.CompressedSegmentationEncoder("uint64", 1, [8, 8, 8]), (2**20,) * 3),
    # The same for a 4096^3 chunk (512 GiB), and a 2-channel uint32 one.
    (ce.CompressedSegmentationEncoder("uint64", 1, [8, 8, 8]), (4096,) * 3),
    (ce.CompressedSegmentationEncoder("uint32", 2, [64, 64, 64]), (4096,) * 3),
    (ce.RawChunkEncoder("uint64", 1), (2**20,) * 3),
    (ce.RawChunkEncoder("uint8", 1), (4096,) * 3),
    # The JPEG claims 65500 x 65500 pixels: not the chunk's, so refused before any pixel.
    (ce.JpegChunkEncoder("uint8", 1), (4096,) * 3),
    (ce.JpegChunkEncoder("uint8", 3), (65500, 65500, 2)),
]
if hasattr(ce, "PngChunkEncoder"):
    cases += [(ce.PngChunkEncoder("uint8", 1), (4096,) * 3)]
crafted = [
    np.array([1, 2, 0, 7, 0], "<u4").tobytes(),
    np.array([2, 5, 2, 0, 7, 2, 0, 7], "<u4").tobytes(),
    JPEG_BYTES,
    PNG_BYTES,
]
for encoder, chunk_size in cases:
    for buf in crafted:
        try:
            encoder.decode(buf, chunk_size)
        except ce.InvalidFormatError:
            continue
        sys.exit(f"{encoder!r} decoded {chunk_size}")
print("ok")
"""


def png_claiming(width: int, height: int) -> bytes:
    """A real 8x8 greyscale PNG whose header (with a matching checksum) says width x height."""
    out = io.BytesIO()
    PIL.Image.new("L", (8, 8), 5).save(out, format="png")
    data = bytearray(out.getvalue())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[ihdr + 17 : ihdr + 21] = zlib.crc32(data[ihdr : ihdr + 17]).to_bytes(4, "big")
    return bytes(data)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real 8x8 RGB JPEG whose frame header says width x height."""
    out = io.BytesIO()
    PIL.Image.new("RGB", (8, 8), (1, 2, 3)).save(out, format="jpeg")
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


@pytest.mark.skipif(sys.platform != "linux", reason="needs /proc and RLIMIT_AS")
def test_huge_chunk_sizes_allocate_nothing_under_a_memory_limit():
    script = RLIMIT_SCRIPT.replace("JPEG_BYTES", repr(jpeg_claiming(65500, 65500)))
    script = script.replace("PNG_BYTES", repr(png_claiming(2**20, 2**20)))
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# --- time: decode is linear in the output, whatever the file says -----------------------------


def test_blocks_much_larger_than_the_chunk_decode_in_linear_time():
    # 20,000 one-voxel blocks of a chunk (1, 1, 20000) in blocks of (2^20, 1, 1): every header
    # points at the same 1-bit values (2^20 indices, padding included) and at a one-entry table
    # cut short by the channel end. Scanning each block's padding would take 2 * 10^10 steps.
    blocks, block_x = 20_000, 2**20
    headers = 2 * blocks
    packed = block_x // 32
    file = [1] + [(headers + packed) | 1 << 24, headers] * blocks + [0] * packed + [9]
    encoder = ce.CompressedSegmentationEncoder("uint32", 1, [block_x, 1, 1])
    start = time.perf_counter()
    chunk = encoder.decode(words(*file), (1, 1, blocks))
    assert time.perf_counter() - start < 5
    assert chunk.shape == (1, blocks, 1, 1) and (chunk == 9).all()

    # The same with 32-bit values whose windows overlap: each block starts one word later.
    blocks = 4_000
    headers = 2 * blocks
    values = [0] * (block_x + blocks)
    file = [1] + [
        v for b in range(blocks) for v in ((headers + len(values)) | 32 << 24, headers + b)
    ]
    file += [*values, 5]
    start = time.perf_counter()
    chunk = encoder.decode(words(*file), (1, 1, blocks))
    assert time.perf_counter() - start < 5
    assert (chunk == 5).all()


# --- encoders refuse bad arguments --------------------------------------------------------------


@pytest.mark.parametrize(
    "block_size",
    [[0, 8, 8], [8, -1, 8], [8, 8], [8, 8, 8, 8], [], [8.0, 8, 8], "888", None, [2**64, 1, 1]],
    ids=repr,
)
def test_absurd_block_sizes_are_refused(block_size):
    with pytest.raises(ValueError, match="block_size"):
        ce.CompressedSegmentationEncoder("uint32", 1, block_size)
    info = {"data_type": "uint32", "num_channels": 1}
    scale = {
        "encoding": "compressed_segmentation",
        "compressed_segmentation_block_size": block_size,
    }
    with pytest.raises(ce.InvalidInfoError):
        ce.get_encoder(info, scale)


def test_block_sizes_the_format_cannot_hold_are_refused_on_encode():
    # Two labels in a (2^20, 2^20, 1) block need 2^35 words of 1-bit indices.
    encoder = ce.CompressedSegmentationEncoder("uint32", 1, [2**20, 2**20, 1])
    with pytest.raises(ValueError, match="2\\^24 words"):
        encoder.encode(np.array([[[[1, 2]]]], np.uint32))


def test_chunks_with_too_many_blocks_for_24_bit_offsets_are_refused():
    # 2^23 + 1 one-voxel blocks need more than 2^24 header words.
    encoder = ce.CompressedSegmentationEncoder("uint32", 1, [1, 1, 1])
    start = time.perf_counter()
    with pytest.raises(ValueError, match="2\\^24 words"):
        encoder.encode(np.zeros((1, 1, 1, 2**23 + 1), np.uint32))
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("encoder", all_encoders(), ids=repr)
def test_chunks_of_the_wrong_shape_are_refused(encoder):
    channels = encoder.num_channels
    for shape in [(4, 4, 4), (channels, 2, 2, 2, 1), (channels + 1, 2, 2, 2), ()]:
        with pytest.raises(ValueError, match="4-D array"):
            encoder.encode(np.zeros(shape, encoder.dtype))


@pytest.mark.parametrize("encoder", all_encoders(), ids=repr)
def test_unsafe_casts_and_unsupported_types_are_refused(encoder):
    shape = (encoder.num_channels, 2, 2, 2)
    for dtype in ["complex64", "float64", "int64", "object", "U1"]:
        if np.can_cast(dtype, encoder.dtype, "safe"):
            continue
        with pytest.raises(TypeError):
            encoder.encode(np.zeros(shape, dtype))


@pytest.mark.parametrize("data_type", ["complex64", "bool", "U4", "object", "V8", "foo"])
def test_unsupported_data_types_are_refused(data_type):
    with pytest.raises(ce.IncompatibleEncoderError):
        ce.RawChunkEncoder(data_type, 1)


@pytest.mark.parametrize("num_channels", [0, -1, 1.5, "2", None])
def test_bad_channel_counts_are_refused(num_channels):
    with pytest.raises((ValueError, TypeError)):
        ce.RawChunkEncoder("uint8", num_channels)


@pytest.mark.parametrize("encoder", all_encoders(), ids=repr)
def test_decode_refuses_what_is_not_bytes_like_or_not_a_chunk_size(encoder):
    for buf in ["text", 12, None, [1, 2, 3]]:
        with pytest.raises(TypeError, match="bytes-like"):
            encoder.decode(buf, (1, 1, 1))
    for chunk_size in [(1, 1), (-1, 1, 1), (1.5, 1, 1), None, "abc"]:
        with pytest.raises(ValueError, match="chunk_size"):
            encoder.decode(b"", chunk_size)
