"""ngcodec: fast, safe codecs for Neuroglancer precomputed chunks.

The API is that of :mod:`neuroglancer_scripts.chunk_encoding`, in :mod:`ngcodec.chunk_encoding`
and here; :mod:`ngcodec.volume` and :mod:`ngcodec.distributed` convert whole volumes;
:func:`downsample` (from :mod:`ngcodec.downsampling`) builds the coarser scales.
"""

from ngcodec import chunk_encoding
from ngcodec._native import __version__ as __version__
from ngcodec.chunk_encoding import *  # noqa: F403 (the documented API, listed in its __all__)
from ngcodec.downsampling import downsample

__all__ = [*chunk_encoding.__all__, "downsample"]
