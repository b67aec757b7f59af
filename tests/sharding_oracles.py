"""The sharded volumes that other tools write, and helpers for sharded test volumes: shared by
test_sharding.py (the format's core) and test_sharded_volumes.py (the dataset layers)."""

import itertools
import json
from pathlib import Path

import numpy as np

from ngcodec.chunk_encoding import get_encoder
from ngcodec.precomputed.format import sharding as sh


def grid_of(size, chunk):
    return tuple(-(-s // c) for s, c in zip(size, chunk, strict=True))


def grid_positions(grid):
    return np.array(list(itertools.product(*(range(n) for n in grid))), np.uint64).reshape(-1, 3)


def chunk_box(position, chunk, size):
    start = [p * c for p, c in zip(position, chunk, strict=True)]
    stop = [min(s + c, n) for s, c, n in zip(start, chunk, size, strict=True)]
    return start, stop


def volume_data(size, channels, dtype, seed=0):
    """(C, Z, Y, X) values with no zero, so tensorstore stores every chunk."""
    rng = np.random.default_rng(seed)
    shape = (channels, size[2], size[1], size[0])
    if np.dtype(dtype).kind == "u" and np.dtype(dtype).itemsize == 1:
        return rng.integers(1, 255, shape, dtype=dtype)
    labels = rng.integers(1, 1000, (channels, -(-size[2] // 4), -(-size[1] // 4), -(-size[0] // 4)))
    return (
        labels.repeat(4, 1)
        .repeat(4, 2)
        .repeat(4, 3)[:, : size[2], : size[1], : size[0]]
        .astype(dtype)
    )


def tensorstore_spec(root: Path, size, chunk, dtype, channels, encoding, sharding):
    scale = {
        "size": list(size),
        "chunk_size": list(chunk),
        "encoding": encoding,
        "resolution": [4, 5, 6],
        "key": "s0",
    }
    if sharding is not None:
        scale["sharding"] = sharding
    if encoding == "compressed_segmentation":
        scale["compressed_segmentation_block_size"] = [8, 8, 8]
    return {
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "file", "path": str(root)},
        "scale_metadata": scale,
        "multiscale_metadata": {
            "data_type": dtype,
            "num_channels": channels,
            "type": "segmentation" if encoding == "compressed_segmentation" else "image",
        },
    }


def write_with_tensorstore(root: Path, data, chunk, encoding, sharding):
    channels, z, y, x = data.shape
    spec = tensorstore_spec(root, (x, y, z), chunk, str(data.dtype), channels, encoding, sharding)
    import tensorstore as ts

    store = ts.open(spec, create=True).result()
    store.write(data.transpose(3, 2, 1, 0)).result()
    return json.loads((root / "info").read_text())["scales"][0]


def encoder_for(dtype, channels, scale):
    return get_encoder({"data_type": str(np.dtype(dtype)), "num_channels": channels}, scale)


def write_with_neuroglancer_scripts(root: Path, data, chunk, sharding, only=None):
    """neuroglancer-scripts' sharded writer on (C, Z, Y, X) ``data``, and the dataset's info;
    ``only`` the chunks of these ids if given."""
    from neuroglancer_scripts.sharded_file_accessor import ShardedFileAccessor

    _, z, y, x = data.shape
    info = {
        "type": "image",
        "data_type": str(data.dtype),
        "num_channels": 1,
        "scales": [
            {"key": "s0", "size": [x, y, z], "resolution": [1, 1, 1], "voxel_offset": [0, 0, 0],
             "chunk_sizes": [list(chunk)], "encoding": "raw", "sharding": dict(sharding)}
        ],
    }  # fmt: skip
    accessor = ShardedFileAccessor(str(root), strategy="in memory")
    accessor.info = json.loads(json.dumps(info))
    encoder = encoder_for(data.dtype, 1, {"encoding": "raw"})
    grid = grid_of((x, y, z), chunk)
    for position in grid_positions(grid):
        if only is not None and int(sh.chunk_ids([position], grid)[0]) not in only:
            continue
        start, stop = chunk_box(position, chunk, (x, y, z))
        block = data[:, start[2] : stop[2], start[1] : stop[1], start[0] : stop[0]]
        coords = (start[0], stop[0], start[1], stop[1], start[2], stop[2])
        accessor.store_chunk(encoder.encode(block), "s0", coords)
    accessor.close()
    (root / "info").write_text(json.dumps(info))  # as its scripts write it, apart from the chunks
