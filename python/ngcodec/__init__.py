"""ngcodec: fast, safe codecs for Neuroglancer precomputed chunks.

The API is that of :mod:`neuroglancer_scripts.chunk_encoding`; see :mod:`ngcodec.chunk_encoding`.
"""

from ngcodec.chunk_encoding import (
    ChunkEncoder,
    CompressedSegmentationEncoder,
    IncompatibleEncoderError,
    InvalidFormatError,
    InvalidInfoError,
    JpegChunkEncoder,
    PngChunkEncoder,
    RawChunkEncoder,
    add_argparse_options,
    get_encoder,
)

__all__ = [
    "ChunkEncoder",
    "CompressedSegmentationEncoder",
    "IncompatibleEncoderError",
    "InvalidFormatError",
    "InvalidInfoError",
    "JpegChunkEncoder",
    "PngChunkEncoder",
    "RawChunkEncoder",
    "add_argparse_options",
    "get_encoder",
]
