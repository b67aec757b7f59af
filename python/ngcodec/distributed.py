"""Write dask arrays to precomputed datasets, one task per group of chunks, on any dask scheduler.

The public names of :mod:`ngcodec.precomputed.pipeline.distributed`, where the work is done.
"""

from ngcodec.precomputed.pipeline.distributed import (
    DEFAULT_TASK_BYTES,
    aligned_block_shape,
    to_precomputed,
)

__all__ = ["DEFAULT_TASK_BYTES", "aligned_block_shape", "to_precomputed"]
