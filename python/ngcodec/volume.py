"""Write arrays to Neuroglancer precomputed datasets, read them back and verify them.

The public names of the dataset layers (:mod:`ngcodec.precomputed`), in one place. A dataset is an
``info`` file and, for each scale, a directory named after the scale's ``key`` whose files are
chunks named ``x0-x1_y0-y1_z0-z1`` (global voxel coordinates, ends exclusive), plain or gzipped
(``.gz``). Arrays are (C, Z, Y, X) or (Z, Y, X); sizes, offsets, resolutions and boxes are
(X, Y, Z).

:func:`write_volume` converts any sliceable array-like one slab of chunks at a time and resumes
where an interrupted job stopped; :func:`read_volume` reads any bounding box back;
:func:`verify_volume` decodes every chunk; :class:`PrecomputedVolume` gives chunk-level access;
:mod:`ngcodec.distributed` writes dask arrays.
"""

from ngcodec.precomputed.format import ENCODINGS, Box, make_info
from ngcodec.precomputed.pipeline.arrays import UnrepresentableValuesError
from ngcodec.precomputed.pipeline.convert import write_volume
from ngcodec.precomputed.pipeline.verify import VerifyReport, verify_volume
from ngcodec.precomputed.pipeline.write import (
    DEFAULT_MAX_SLAB_BYTES,
    WriteStats,
    plan_slabs,
    write_block,
)
from ngcodec.precomputed.volume import (
    ChunkError,
    DatasetExistsError,
    MissingChunkError,
    PrecomputedVolume,
    read_volume,
)

__all__ = [
    "DEFAULT_MAX_SLAB_BYTES",
    "ENCODINGS",
    "Box",
    "ChunkError",
    "DatasetExistsError",
    "MissingChunkError",
    "PrecomputedVolume",
    "UnrepresentableValuesError",
    "VerifyReport",
    "WriteStats",
    "make_info",
    "plan_slabs",
    "read_volume",
    "verify_volume",
    "write_block",
    "write_volume",
]
