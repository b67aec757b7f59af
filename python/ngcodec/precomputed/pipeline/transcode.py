"""Re-encode a jpeg dataset as JPEG XL without decoding it: every chunk's DCT coefficients are
kept (libjxl's lossless JPEG recompression), every scale, in fewer bytes."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import numpy as np

from ngcodec.chunk_encoding import InvalidFormatError, get_encoder
from ngcodec.jxl_codec import transcode_jpeg
from ngcodec.precomputed.format import Box
from ngcodec.precomputed.parallel import run_all
from ngcodec.precomputed.pipeline.write import ProgressCallback, WriteStats
from ngcodec.precomputed.store import Store
from ngcodec.precomputed.volume import PrecomputedVolume

__all__ = ["TRANSCODE_TOLERANCE", "transcode_to_jxl"]

TRANSCODE_TOLERANCE = 2
"""The most libjxl's pixels of a recompressed JPEG differ from libjpeg's."""


def transcode_to_jxl(
    source: str | os.PathLike[str] | Store,
    target: str | os.PathLike[str] | Store,
    *,
    jobs: int | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> dict[str, WriteStats]:
    """Write every scale of a jpeg dataset to ``target`` as jxl, chunk for chunk.

    Each chunk is checked after it is recompressed: it must decode, as jxl, to the pixels of the
    jpeg within :data:`TRANSCODE_TOLERANCE`. Chunks already in ``target`` are skipped (resuming).

    :raises ValueError: if a scale is not jpeg or is sharded, or its chunks are not laid out in
        the xy plane
    :returns: the :class:`WriteStats` of each scale, by key
    """
    first = PrecomputedVolume.open(source)
    scales = [dict(scale) for scale in first.info["scales"]]
    not_jpeg = [s.get("key") for s in scales if s.get("encoding") != "jpeg"]
    if not_jpeg:
        raise ValueError(f"only jpeg scales can be transcoded to jxl; not {not_jpeg}")
    sharded = [s.get("key") for s in scales if "sharding" in s]
    if sharded:
        raise ValueError(f"sharded scales cannot be transcoded yet: {sharded}")
    info = {**first.info, "scales": [{**s, "encoding": "jxl"} for s in scales]}
    PrecomputedVolume.create(target, info, overwrite=overwrite)
    results = {}
    for scale in scales:
        started = time.perf_counter()
        reader = PrecomputedVolume(first.store, first.info, scale["key"])
        writer = PrecomputedVolume(target, info, scale["key"])
        results[reader.key] = _transcode_scale(reader, writer, jobs, overwrite, progress)
        results[reader.key].seconds = time.perf_counter() - started
    return results


def _transcode_scale(
    reader: PrecomputedVolume,
    writer: PrecomputedVolume,
    jobs: int | None,
    overwrite: bool,
    progress: ProgressCallback | None,
) -> WriteStats:
    present = reader.existing_chunk_names()
    done = set() if overwrite else writer.existing_chunk_names()
    boxes = [box for box in reader.chunk_boxes() if box.name in present]
    stats = WriteStats(chunks_total=len(boxes), chunks_skipped=sum(b.name in done for b in boxes))
    lock = threading.Lock()
    jxl = get_encoder(writer.info, writer.scale)

    def transcode(box: Box) -> None:
        jpeg = reader.read_chunk_bytes(box)
        recompressed = transcode_jpeg(jpeg)
        _check_same_pixels(reader.encoder.decode(jpeg, box.size), recompressed, jxl, box)
        written = writer.store.write(writer.chunk_key(box), recompressed)
        with lock:
            stats.chunks_written += 1
            stats.bytes_in += len(jpeg)
            stats.bytes_out += written
        if progress is not None:
            progress(1)

    if progress is not None and stats.chunks_skipped:
        progress(stats.chunks_skipped)
    run_all(transcode, [box for box in boxes if box.name not in done], jobs)
    return stats


def _check_same_pixels(jpeg: np.ndarray, recompressed: bytes, jxl: Any, box: Box) -> None:
    """Raise ValueError unless the jxl chunk decodes to the jpeg's pixels, as Neuroglancer reads
    a jxl chunk (X wide): a jpeg laid out in the xz plane does not."""
    try:
        pixels = jxl.decode(recompressed, box.size)
    except InvalidFormatError:
        difference = None
    else:
        difference = np.abs(jpeg.astype(np.int16) - pixels.astype(np.int16)).max(initial=0)
    if difference is None or difference > TRANSCODE_TOLERANCE:
        raise ValueError(
            f"chunk {box.name} does not decode to the same pixels as jxl: is the dataset laid out "
            "in the xz plane? Only xy-plane jpeg chunks can be transcoded"
        )
