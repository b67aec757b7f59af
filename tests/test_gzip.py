"""ngcodec's gzip (libdeflate in Rust): round trips, interoperability with Python's gzip and zlib
and the gzip program, determinism, argument checks, and hostile streams (truncated, corrupt,
wrong CRC or size, trailing bytes, decompression bombs) refused with InvalidFormatError within
memory bounded by ``max_size``.
"""

import functools
import gzip
import io
import shutil
import subprocess
import sys
import textwrap
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ngcodec.chunk_encoding import CompressedSegmentationEncoder, InvalidFormatError
from ngcodec.precomputed.store.compression import (
    DEFAULT_GZIP_LEVEL,
    GZIP_LEVELS,
    gzip_compress,
    gzip_decompress,
    is_gzip,
    zlib_decompress,
)

LEVELS = list(GZIP_LEVELS)


def chunk_bytes(seed: int = 0) -> bytes:
    """A compressed_segmentation chunk of blocky labels: what a store gzips."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2**32, 40, dtype=np.uint32)[rng.integers(0, 40, (1, 8, 8, 8))]
    chunk = np.kron(labels, np.ones((1, 4, 4, 4), np.uint32))
    return bytes(CompressedSegmentationEncoder("uint32", 1, [8, 8, 8]).encode(chunk))


def python_gzip(data: bytes, level: int = 6, **fields) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=level, **fields) as writer:
        writer.write(data)
    return out.getvalue()


# --- round trips and interoperability --------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=5000), level=st.sampled_from(LEVELS))
def test_any_bytes_round_trip_and_python_reads_them(data, level):
    packed = gzip_compress(data, level)
    assert gzip_decompress(packed, len(data)) == data
    assert gzip.decompress(packed) == data
    assert zlib.decompress(packed, 16 + zlib.MAX_WBITS) == data


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=5000), level=st.integers(0, 9))
def test_python_gzip_and_zlib_output_is_read(data, level):
    assert gzip_decompress(gzip.compress(data, level, mtime=0), len(data)) == data
    assert zlib_decompress(zlib.compress(data, level), len(data)) == data
    # zlib's own gzip wrapper, as ngcodec wrote chunks before.
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    assert gzip_decompress(compressor.compress(data) + compressor.flush(), len(data)) == data


def test_every_level_round_trips():
    chunk = chunk_bytes()
    sizes = {}
    for level in LEVELS:
        packed = gzip_compress(chunk, level)
        assert gzip.decompress(packed) == chunk
        assert gzip_decompress(packed, len(chunk)) == chunk
        sizes[level] = len(packed)
    assert sizes[12] < sizes[1]
    assert gzip_compress(chunk) == gzip_compress(chunk, DEFAULT_GZIP_LEVEL)


def test_the_default_level_writes_real_chunks_no_larger_than_zlib_6(pinky40_64):
    # The rule that chose the default (benches/bench_gzip.py): never larger files than before.
    chunk = bytes(CompressedSegmentationEncoder("uint32", 1, [8, 8, 8]).encode(pinky40_64[None]))
    assert len(gzip_compress(chunk)) <= len(gzip.compress(chunk, 6))


def test_header_fields_that_writers_set_are_accepted():
    data = chunk_bytes(1)
    # GzipFile writes the file name (FNAME) and a timestamp.
    named = python_gzip(data, filename="0-64_0-64_0-64", mtime=1_700_000_000)
    assert named[3] == 0x08
    assert gzip_decompress(named, len(data)) == data


@pytest.mark.skipif(shutil.which("gzip") is None, reason="needs the gzip program")
def test_the_gzip_program_reads_ours_and_we_read_its(tmp_path):
    data = chunk_bytes(2)
    path = tmp_path / "chunk.gz"
    path.write_bytes(gzip_compress(data))
    assert subprocess.run(["gzip", "-dc", path], capture_output=True, check=True).stdout == data
    # Compressing a file stores its name and time in the header.
    (tmp_path / "chunk").write_bytes(data)
    subprocess.run(["gzip", "-9", "-f", "-N", tmp_path / "chunk"], check=True)
    packed = path.read_bytes()
    assert packed[3] & 0x08, "the gzip program stores the file name"
    assert gzip_decompress(packed, len(data)) == data


def test_compression_is_deterministic_with_a_zero_timestamp():
    data = chunk_bytes(3)
    for level in (1, DEFAULT_GZIP_LEVEL, 12):
        packed = gzip_compress(data, level)
        assert packed == gzip_compress(bytearray(data), level)
        assert packed[:8] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00"  # no flags, MTIME 0


def test_any_bytes_like_input_is_read_in_place():
    data = chunk_bytes(4)
    packed = gzip_compress(data)
    array = np.frombuffer(packed, np.uint8)
    strided = memoryview(packed + packed)[::2]  # not contiguous: copied once
    for buf in (bytearray(packed), memoryview(packed), array, array.copy()):
        assert gzip_decompress(buf, len(data)) == data
        assert is_gzip(buf)
    assert gzip_compress(np.frombuffer(data, np.uint8)) == packed
    assert gzip_compress(memoryview(data)) == packed
    assert gzip_compress(np.frombuffer(data, "<u4")) == packed
    assert gzip_compress(strided) == gzip_compress(bytes(strided))
    zlibbed = zlib.compress(data)
    assert zlib_decompress(bytearray(zlibbed), len(data)) == data


def test_threads_share_nothing_but_get_the_same_bytes():
    chunks = [chunk_bytes(seed) for seed in range(12)]
    serial = [gzip_compress(chunk, 1 + seed % 12) for seed, chunk in enumerate(chunks)]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda i: gzip_compress(chunks[i], 1 + i % 12), range(12)))
        back = list(pool.map(lambda i: gzip_decompress(serial[i], len(chunks[i])), range(12)))
    assert parallel == serial
    assert back == chunks


def test_is_gzip_looks_at_the_magic_bytes():
    assert is_gzip(gzip_compress(b"x"))
    assert is_gzip(gzip.compress(b"x"))
    assert not is_gzip(zlib.compress(b"x"))
    assert not is_gzip(b"")
    assert not is_gzip(b"\x1f")
    assert not is_gzip(b"\x8b\x1f")


def test_empty_data_round_trips():
    assert gzip_decompress(gzip_compress(b""), 0) == b""
    assert zlib_decompress(zlib.compress(b""), 0) == b""


# --- arguments -----------------------------------------------------------------------------


@pytest.mark.parametrize("level", [0, 13, -1, 2**70])
def test_levels_outside_1_to_12_are_refused(level):
    with pytest.raises(ValueError, match="gzip_level"):
        gzip_compress(b"data", level)


@pytest.mark.parametrize("level", ["6", 6.0, None, True])
def test_levels_that_are_not_ints_are_refused(level):
    with pytest.raises(TypeError, match="gzip_level"):
        gzip_compress(b"data", level)


def test_bad_max_sizes_and_data_are_refused():
    packed = gzip_compress(b"data")
    for decompress in (gzip_decompress, zlib_decompress):
        with pytest.raises(ValueError, match="max_size"):
            decompress(packed, -1)
        with pytest.raises(TypeError, match="max_size"):
            decompress(packed, 4.0)
        with pytest.raises(TypeError, match="data"):
            decompress("text", 10)
    with pytest.raises(TypeError, match="data"):
        gzip_compress(["not", "bytes"])
    # A bound beyond memory is no bound.
    assert gzip_decompress(packed, 2**80) == b"data"
    assert zlib_decompress(zlib.compress(b"data"), 2**80) == b"data"


# --- hostile streams ------------------------------------------------------------------------


def refused(decompress, buf, max_size, match: str | None = None) -> str:
    with pytest.raises(InvalidFormatError, match=match) as error:
        decompress(buf, max_size)
    assert str(error.value)
    return str(error.value)


def test_every_truncation_of_a_stream_is_refused():
    data = chunk_bytes(5)[:3000]
    for packed in (gzip_compress(data), python_gzip(data, filename="name", mtime=1)):
        for length in range(len(packed)):
            refused(gzip_decompress, packed[:length], len(data))
            refused(gzip_decompress, packed[:length], 2**40)
    zlibbed = zlib.compress(data)
    for length in range(len(zlibbed)):
        refused(zlib_decompress, zlibbed[:length], len(data))


def test_a_flipped_crc_or_adler_is_refused():
    data = chunk_bytes(6)
    packed = bytearray(gzip_compress(data))
    packed[-8] ^= 1
    refused(gzip_decompress, packed, len(data), "CRC-32 mismatch")
    zlibbed = bytearray(zlib.compress(data))
    zlibbed[-1] ^= 1
    refused(zlib_decompress, zlibbed, len(data), "Adler-32 mismatch")


def test_a_wrong_size_in_the_trailer_is_refused():
    data = chunk_bytes(7)
    packed = gzip_compress(data)
    for size in (len(data) - 1, 0):
        refused(
            gzip_decompress,
            packed[:-4] + size.to_bytes(4, "little"),
            len(data),
            f"more than the {size} bytes its trailer gives",
        )
    refused(
        gzip_decompress,
        packed[:-4] + (len(data) + 1).to_bytes(4, "little"),
        len(data) + 1,
        f"inflates to {len(data)} bytes, not the {len(data) + 1}",
    )


def test_a_stream_larger_than_max_size_is_refused():
    data = chunk_bytes(8)
    refused(gzip_decompress, gzip_compress(data), len(data) - 1, "more than the")
    refused(zlib_decompress, zlib.compress(data), len(data) - 1, "more than the")


def test_anything_after_the_member_is_refused():
    data = b"the chunk's bytes" * 10
    packed = gzip_compress(data)
    for tail in (b"\0", b"\0" * 8, b"garbage", gzip_compress(b"another member")):
        refused(gzip_decompress, packed + tail, 10_000)
    # Python reads a second member on; ngcodec reads chunk files, which have one.
    assert gzip.decompress(packed + gzip_compress(b"!")) == data + b"!"


def test_other_formats_are_refused_with_what_they_are_not():
    data = chunk_bytes(9)
    refused(gzip_decompress, zlib.compress(data), len(data), "not gzip data")
    refused(gzip_decompress, data, len(data), "not gzip data")
    refused(gzip_decompress, b"", 10, "not gzip data")
    refused(zlib_decompress, gzip_compress(data), len(data), "not zlib data")
    packed = bytearray(gzip_compress(data))
    packed[2] = 0
    refused(gzip_decompress, packed, len(data), "compression method 0")
    packed[2], packed[3] = 8, 0x80
    refused(gzip_decompress, packed, len(data), "reserved flag bits")


def test_corrupt_deflate_data_is_refused():
    data = chunk_bytes(10)
    packed = bytearray(gzip_compress(data))
    packed[10] |= 0b110  # the first block's type: 3 is reserved
    refused(gzip_decompress, packed, len(data), "corrupt or truncated")
    rng = np.random.default_rng(0)
    clean = gzip_compress(data)
    for _ in range(200):
        flipped = bytearray(clean)
        flipped[rng.integers(10, len(clean))] ^= 1 << rng.integers(8)
        try:
            assert gzip_decompress(flipped, len(data)) == data
        except InvalidFormatError:
            pass


@functools.cache
def zeros_bomb(mebibytes: int = 1024) -> bytes:
    """A valid gzip member of 1 GiB of zeros in about 1 MB: one self-contained deflate block of
    1 MiB of zeros, repeated."""
    block = bytes(2**20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    deflate = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(block, crc)
    trailer = crc.to_bytes(4, "little") + (mebibytes * 2**20 % 2**32).to_bytes(4, "little")
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + deflate * mebibytes + compressor.flush() + trailer


def test_the_bomb_is_a_valid_gzip_member():
    # The 1 GiB bomb is made the same way: any number of blocks gives a valid member.
    assert gzip.decompress(zeros_bomb(16)) == bytes(16 * 2**20)
    assert gzip_decompress(zeros_bomb(16), 16 * 2**20) == bytes(16 * 2**20)
    assert len(zeros_bomb()) < 2**30 // 1000


def test_a_bomb_is_refused_at_once():
    bomb = zeros_bomb()
    start = time.perf_counter()
    refused(gzip_decompress, bomb, 2**20, "1073741824 bytes, more than the 1048576")
    # Its trailer lying about the size: inflation stops when 1 MiB is written.
    refused(gzip_decompress, bomb[:-4] + (2**20).to_bytes(4, "little"), 2**20, "more than the")
    assert time.perf_counter() - start < 5


BOMB_SCRIPT = """
import resource, sys, zlib
from pathlib import Path
from ngcodec.chunk_encoding import InvalidFormatError
from ngcodec.precomputed.store.compression import gzip_decompress, zlib_decompress

def status(field):
    with open("/proc/self/status") as lines:
        line = next(line for line in lines if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024

bomb = Path(sys.argv[1]).read_bytes()
lying = bomb[:-4] + (2**20).to_bytes(4, "little")
compressor = zlib.compressobj(9)
zlib_bomb = b"".join(compressor.compress(bytes(2**20)) for _ in range(16)) + compressor.flush()

# 64 MiB of address space to spare: the 1 GiB of output cannot be allocated, even lazily.
limit = status("VmSize") + 64 * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    bytearray(2**30)
    sys.exit("the address-space limit is not enforced")
except MemoryError:
    pass

rss_before = status("VmHWM")
bombs = [(gzip_decompress, bomb), (gzip_decompress, lying), (zlib_decompress, zlib_bomb)]
for decompress, buf in bombs:
    try:
        decompress(buf, 2**20)
    except InvalidFormatError:
        continue
    sys.exit(f"{decompress.__name__} inflated a bomb")
print("ok", status("VmHWM") - rss_before)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="needs /proc and RLIMIT_AS")
def test_bombs_are_refused_within_bounded_memory(tmp_path):
    path = tmp_path / "bomb.gz"
    path.write_bytes(zeros_bomb())
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(BOMB_SCRIPT), path],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    word, growth = done.stdout.split()
    assert word == "ok"
    # The largest buffer is the 1 MiB output bound (the zlib bomb's, doubled up to it).
    assert int(growth) < 16 * 2**20
