"""Writes the committed seed corpus of the fuzz targets into fuzz/corpus/<target>/.

The seeds are the real files of tests/data (the golden .cseg chunks, the tensorstore
edge chunks, the hand-computed vectors), a few crafted files that each break one structural rule,
and small raw and round-trip inputs. Each compressed_segmentation seed starts with the 8-byte
request header that fuzz_targets/common.rs reads (mode 0, x, y, z, block - 1, channels - 1).

    python fuzz/seeds.py
"""

import gzip
import hashlib
import json
import struct
import zlib
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
TESTDATA = FUZZ.parent / "tests" / "data"


def request(chunk, block, channels, body: bytes) -> bytes:
    """A compressed_segmentation seed: the small-mode request header, then the file."""
    assert all(0 <= n <= 64 for n in chunk) and all(1 <= b <= 16 for b in block)
    return bytes([0, *chunk, *(b - 1 for b in block), channels - 1]) + body


def words(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}I", *values)


def write(target: str, seed: bytes, name: str = "") -> None:
    folder = FUZZ / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    name = name or hashlib.sha1(seed).hexdigest()
    (folder / name).write_bytes(seed)


def testdata_seeds() -> None:
    golden = [
        ("cseg_decode_u32", "pinky40_crop192_64cube_uint32_b888.cseg", (64, 64, 64), 1),
        ("cseg_decode_u32", "partial_10x20x30_uint32_b888.cseg", (10, 20, 30), 1),
        ("cseg_decode_u32", "multichannel_16cube_2ch_uint32_b888_tensorstore.cseg", (16,) * 3, 2),
        ("cseg_decode_u64", "fib25_64cube_uint64_b888.cseg", (64, 64, 64), 1),
    ]
    for target, name, chunk, channels in golden:
        body = (TESTDATA / name).read_bytes()
        write(target, request(chunk, (8, 8, 8), channels, body), name)
    # tensorstore's chunks of a 100³ volume in 64³ chunks: full, and clipped to 36 voxels.
    for path in sorted(
        (TESTDATA / "precomputed_pinky40_100cube_uint32_cseg" / "32_32_40").iterdir()
    ):
        chunk = tuple(
            int(end) - int(start)
            for start, end in (axis.split("-") for axis in path.name.split("_"))
        )
        write(
            "cseg_decode_u32",
            request(chunk, (8, 8, 8), 1, path.read_bytes()),
            f"precomputed_{path.name}",
        )
    vectors = json.loads((TESTDATA / "handmade_vectors.json").read_text())["vectors"]
    for vector in vectors:
        target = "cseg_decode_u64" if vector["dtype"] == "uint64" else "cseg_decode_u32"
        body = words(*vector["encoded_uint32le_words"])
        write(target, request(vector["shape_xyz"], vector["block_xyz"], 1, body), vector["name"])


# One 2x2x1 block, 2 bits over the table [3, 4, 5] (the unit tests' sample), and variants that
# each break one rule of the format.
SAMPLE = [1, 0x0200_0003, 2, 0b0110_0001, 3, 4, 5]


def crafted_seeds() -> None:
    def variant(name, changes=None, cut=None, chunk=(2, 2, 1), channels=1, file=None):
        file = list(file or SAMPLE)
        for index, value in (changes or {}).items():
            file[index] = value
        body = words(*file[:cut])
        for target in ("cseg_decode_u32", "cseg_decode_u64"):
            write(target, request(chunk, (2, 2, 1), channels, body), f"crafted_{name}")

    variant("valid")
    variant("partial_chunk", chunk=(1, 2, 1))
    variant("bits_3", {1: 0x0300_0003})
    variant("bits_32", {1: 0x2000_0003, 2: 2}, file=[*SAMPLE[:3], 0, 1, 2, 3, 4, 5, 6])
    variant("table_in_headers", {1: 0x0200_0001})
    variant("table_past_end", {1: 0x0200_0009})
    variant("values_past_end", {2: 6})
    variant("values_in_headers", {2: 0})
    variant("short_table", cut=6)
    variant("channel_outside", {0: 9})
    variant("channel_in_table", {0: 0})
    variant("zero_bits_empty_table", {1: 0x0000_0007})
    variant(
        "two_channels_decreasing", file=[3, 2, 0x0200_0003, 2, 0b0110_0001, 3, 4, 5], channels=2
    )
    variant("two_channels", file=[2, 5, 0x0000_0002, 0, 9, 0x0000_0002, 0, 7], channels=2)
    write(
        "cseg_decode_u32",
        request((2, 2, 1), (2, 2, 1), 1, words(*SAMPLE)[:-1]),
        "crafted_partial_word",
    )
    write("cseg_decode_u32", request((0, 4, 4), (2, 2, 1), 1, words(1)), "crafted_empty_chunk")
    # 64 blocks of 4x4x4 voxels sharing one run of 2-bit values and one table that the channel
    # end cuts to 3 entries: checking every block's indices one by one would read the values 64
    # times, so the decoder's sliding-window maxima answer. Valid, then with an index 3.
    for name, last_word in (
        ("shared_values_short_table", 0x9999_9999),
        ("shared_values_index_3", 3),
    ):
        headers = [132 | 2 << 24, 128] * 64
        body = words(1, *headers, 0x1111_1111, 0x2222_2222, 0, last_word, 7, 8, 9)
        write("cseg_decode_u32", request((16, 16, 16), (4, 4, 4), 1, body), f"crafted_{name}")
    # The huge mode: any chunk and block size as u64, here a 2^20-cube chunk over a 12-byte file.
    huge = struct.pack("<6Q", 1 << 20, 1 << 20, 1 << 20, 8, 8, 8) + bytes([1])
    for target in ("cseg_decode_u32", "cseg_decode_u64"):
        write(target, b"\x01" + huge + words(1, 2, 0), "crafted_huge_chunk")
        # A 3-voxel chunk in one 2^16-voxel block: 1-bit indices, padding included, then a
        # table cut to one entry by the channel end.
        big_block = struct.pack("<6Q", 3, 1, 1, 1 << 16, 1, 1) + bytes([1])
        table = [9] if target.endswith("u32") else [9, 0]
        body = words(1, 0x0100_0000 | 2050, 2, *[0] * 2048, *table)
        write(target, b"\x01" + big_block + body, "crafted_big_block_short_table")


def raw_seeds() -> None:
    for size_bits in range(4):
        write("raw_decode", bytes([size_bits]) + bytes(range(16)), f"exact_{8 << size_bits}bit")
        write(
            "raw_decode", bytes([4 | size_bits, 3]) + bytes(range(13)), f"wrong_{8 << size_bits}bit"
        )


def round_trip_seeds() -> None:
    configs = {
        "cube_few_labels": (bytes([8, 8, 8, 3, 3, 3, 0, 4 * 3]), bytes(range(7)) * 8),
        "partial_blocks": (bytes([10, 7, 5, 7, 7, 7, 1, 1]), bytes(range(0, 256, 3))),
        "non_cubic_blocks": (bytes([9, 6, 4, 7, 3, 1, 2, 2]), bytes(range(256)) * 2),
        "empty_axis": (bytes([0, 4, 4, 7, 7, 7, 0, 0]), b""),
        "one_label": (bytes([16, 16, 2, 7, 7, 7, 0, 0]), b"\x05"),
    }
    for name, (config, values) in configs.items():
        write("round_trip", config + values, name)


def shard_seed(preshift: int, minishard_bits: int, shard_bits: int, chunks: dict[int, bytes]):
    """A shard_index seed: the spec header (identity hash), then a shard file of ``chunks``,
    all of shard 0, laid out as ngcodec and tensorstore write them."""
    minishards: dict[int, list[int]] = {}
    for chunk_id in sorted(chunks):
        hashed = chunk_id >> preshift
        assert (hashed >> minishard_bits) & ((1 << shard_bits) - 1) == 0
        minishards.setdefault(hashed & ((1 << minishard_bits) - 1), []).append(chunk_id)
    data, indexes, offset = b"", {}, 0
    for minishard, ids in sorted(minishards.items()):
        sizes = [len(chunks[i]) for i in ids]
        deltas = [ids[0]] + [b - a for a, b in zip(ids, ids[1:])]
        offsets = [offset] + [0] * (len(ids) - 1)
        indexes[minishard] = struct.pack(f"<{3 * len(ids)}Q", *deltas, *offsets, *sizes)
        data += b"".join(chunks[i] for i in ids)
        offset += sum(sizes)
    shard_index, position, tail = b"", len(data), b""
    for minishard in range(1 << minishard_bits):
        index = indexes.get(minishard, b"")
        shard_index += struct.pack("<2Q", position, position + len(index))
        position += len(index)
        tail += index
    header = bytes([preshift, 0, minishard_bits, shard_bits, 0])
    return header + shard_index + data + tail


def shard_index_seeds() -> None:
    write("shard_index", shard_seed(0, 0, 0, {0: b"only"}), "one_chunk")
    write("shard_index", shard_seed(2, 2, 3, {i: bytes([i]) * i for i in range(16)}), "sixteen")
    write("shard_index", shard_seed(0, 2, 0, {0: b"ab", 2: b"cd"}), "empty_minishards")
    write("shard_index", shard_seed(1, 3, 60, {i: b"x" for i in range(0, 16, 3)}), "sparse")


def gzip_seeds() -> None:
    """Selector (bit 0: zlib), the output bound (u16), then a stream: real chunk files gzipped
    as Python writes them, every optional header field, a zlib stream, and a small bomb."""
    chunk = (TESTDATA / "partial_10x20x30_uint32_b888.cseg").read_bytes()
    bound = struct.pack("<H", len(chunk))
    write("gzip_decompress", b"\x00" + bound + gzip.compress(chunk, mtime=0), "python_gzip_cseg")
    write("gzip_decompress", b"\x01" + bound + zlib.compress(chunk), "python_zlib_cseg")
    body = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    deflate = body.compress(b"header fields" * 20) + body.flush()
    header = b"\x1f\x8b\x08\x1e\0\0\0\0\0\x03" + b"\x03\0abc" + b"name\0" + b"comment\0"
    header += struct.pack("<H", zlib.crc32(header) & 0xFFFF)
    trailer = struct.pack("<II", zlib.crc32(b"header fields" * 20), 260)
    write("gzip_decompress", b"\x00\x04\x01" + header + deflate + trailer, "every_header_field")
    bomb = gzip.compress(bytes(1 << 20), mtime=0)
    write("gzip_decompress", b"\x00\xff\xff" + bomb, "bomb_1MiB_zeros")


def image_seeds() -> None:
    """jpeg, png and compresso files as ngcodec and the compresso package write them, from a crop
    of the pinky40 labels (needs ngcodec and compresso installed)."""
    import compresso
    import numpy as np

    import ngcodec.chunk_encoding as ce

    raw = np.fromfile(TESTDATA / "pinky40_crop192_64cube_uint32_F.dat", "<u4")
    labels = np.ascontiguousarray(raw.reshape((64,) * 3, order="F").T[:4, :12, :16])  # (Z, Y, X)
    grain = np.random.default_rng(0).integers(0, 24, labels.shape)
    grey = (labels * 37 % 200 + 30 + grain).astype(np.uint8)[None]
    rgb = np.concatenate([grey, grey // 2, 255 - grey])
    for channels, chunk in ((1, grey), (3, rgb)):
        pixels = struct.pack("<I", grey.size)[:3]
        for mode in ("progressive", "baseline"):
            encoder = ce.JpegChunkEncoder("uint8", channels, jpeg_quality=80, jpeg_mode=mode)
            seed = bytes([2 | (channels == 3)]) + pixels + encoder.encode(chunk)
            write("jpeg_decode", seed, f"{mode}_{channels}ch")
    for channels in (1, 2, 3, 4):
        for data_type, depth in (("uint8", 0), ("uint16", 4)):
            chunk = np.concatenate([grey, rgb])[:channels].astype(data_type) * (1 + depth * 64)
            encoded = ce.PngChunkEncoder(data_type, channels).encode(chunk)
            seed = bytes([8 | depth | (channels - 1)]) + encoded
            write("png_decode", seed, f"{data_type}_{channels}ch")
    for dtype in ("uint8", "uint16", "uint32", "uint64"):
        small = (labels % 251).astype(dtype)
        write("compresso_decode", bytes(compresso.compress(small.T)), f"pinky40_{dtype}")
    write("compresso_decode", bytes(compresso.compress(labels.T, connectivity=6)), "connectivity_6")
    version_0 = compresso.compress(labels.T, random_access_z_index=False)
    write("compresso_decode", bytes(version_0), "version_0")


if __name__ == "__main__":
    testdata_seeds()
    crafted_seeds()
    raw_seeds()
    round_trip_seeds()
    shard_index_seeds()
    gzip_seeds()
    image_seeds()
    total = sum(p.stat().st_size for p in (FUZZ / "corpus").rglob("*") if p.is_file())
    print(f"seed corpus: {total} bytes")
