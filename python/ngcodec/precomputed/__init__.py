"""Precomputed datasets, in layers; each imports only the ones below it.

- :mod:`~ngcodec.precomputed.pipeline`: plans work and moves arrays (write, verify, dask)
- :mod:`~ngcodec.precomputed.volume`: one scale read and written as (C, Z, Y, X) arrays
- :mod:`~ngcodec.precomputed.format`: the format itself (info and scales, chunk grid and names)
- :mod:`~ngcodec.precomputed.store`: bytes at keys; knows nothing of volumes

Below them all, :mod:`ngcodec.chunk_encoding` turns arrays into chunk bytes.
"""
