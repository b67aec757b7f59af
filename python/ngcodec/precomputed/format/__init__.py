"""The precomputed format: the info file and its scales, the chunk grid and chunk names."""

from ngcodec.precomputed.format.grid import Box, ChunkGrid, Vec3, is_chunk_name, vec3
from ngcodec.precomputed.format.info import (
    ENCODINGS,
    GZIP_ENCODINGS,
    dump_info,
    make_info,
    parse_info,
    scale_grid,
    select_scale,
    stored_gzip_level,
)

__all__ = [
    "ENCODINGS",
    "GZIP_ENCODINGS",
    "Box",
    "ChunkGrid",
    "Vec3",
    "dump_info",
    "is_chunk_name",
    "make_info",
    "parse_info",
    "scale_grid",
    "select_scale",
    "stored_gzip_level",
    "vec3",
]
