"""Threads: shared encoders give, from many threads at once, exactly the results of a serial run,
and the codecs release the GIL while they work.

The GIL test is a progress counter: a pure-Python thread counts while the main thread is inside
one long codec call. If the call held the GIL the counter could not move during it; it does. The
test asks for progress spread over the middle of the call, so a burst of the counter thread just
before the call starts (a GIL hand-over, or the thread being descheduled) cannot pass for it, and
it retries, so a busy 2-core machine does not make it flaky.
"""

import random
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import ngcodec.chunk_encoding as ce

THREADS = 8


def shared_encoders() -> list[ce.ChunkEncoder]:
    encoders: list[ce.ChunkEncoder] = [
        ce.RawChunkEncoder("uint16", 2),
        ce.RawChunkEncoder("float32", 1),
        ce.CompressedSegmentationEncoder("uint32", 1, [8, 8, 8]),
        ce.CompressedSegmentationEncoder("uint64", 2, [4, 8, 2]),
        ce.JpegChunkEncoder("uint8", 1),
        ce.JpegChunkEncoder("uint8", 3, jpeg_quality=70, jpeg_plane="xz"),
    ]
    png = getattr(ce, "PngChunkEncoder", None)
    if png is not None:
        encoders += [png("uint8", 3), png("uint16", 1)]
    return encoders


def sample_chunk(encoder: ce.ChunkEncoder, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (encoder.num_channels, 9 + seed, 20, 17 + 2 * seed)
    if encoder.dtype.kind == "f":
        return rng.normal(size=shape).astype(encoder.dtype)
    palette = rng.integers(0, np.iinfo(encoder.dtype).max, 3 + 40 * seed, dtype=encoder.dtype)
    return palette[rng.integers(0, len(palette), shape)]


def run(encoder: ce.ChunkEncoder, chunk: np.ndarray, damaged: bytes):
    """Everything one task does with a shared encoder; the result must not depend on threads."""
    encoded = bytes(encoder.encode(chunk))
    _, z, y, x = chunk.shape
    decoded = encoder.decode(encoded, (x, y, z))
    try:
        encoder.decode(damaged, (x, y, z))
        error = None
    except ce.InvalidFormatError as exc:
        error = str(exc)
    return encoded, decoded, error


def test_shared_encoders_in_many_threads_match_a_serial_run():
    cases = []
    for encoder in shared_encoders():
        for seed in range(4):
            chunk = sample_chunk(encoder, seed)
            encoded = bytes(encoder.encode(chunk))
            damaged = encoded[: len(encoded) // 2] + bytes(len(encoded) - len(encoded) // 2)
            cases.append((encoder, chunk, damaged))
    serial = [run(*case) for case in cases]

    start = threading.Barrier(THREADS)

    def worker(seed: int) -> list[tuple[int, tuple]]:
        order = list(range(len(cases))) * 3
        random.Random(seed).shuffle(order)
        start.wait()
        return [(i, run(*cases[i])) for i in order]

    with ThreadPoolExecutor(THREADS) as pool:
        results = [result for batch in pool.map(worker, range(THREADS)) for result in batch]
    assert len(results) == THREADS * 3 * len(cases)
    for i, (encoded, decoded, error) in results:
        want_encoded, want_decoded, want_error = serial[i]
        assert encoded == want_encoded, f"case {i}: encoded bytes differ"
        np.testing.assert_array_equal(decoded, want_decoded)
        assert decoded.dtype == want_decoded.dtype
        assert error == want_error


def progress_during(call: Callable[[], object], margin: float) -> tuple[float, float]:
    """(how long the call took, the time span of a Python thread's progress inside it, less
    `margin` at each end)."""
    stamps: list[float] = []
    stop = threading.Event()
    counting = threading.Event()

    def count() -> None:
        n = 0
        counting.set()
        while not stop.is_set():
            n += 1
            if n % 32 == 0:
                stamps.append(time.perf_counter())

    counter = threading.Thread(target=count)
    counter.start()
    counting.wait()
    time.sleep(0.005)
    start = time.perf_counter()
    call()
    end = time.perf_counter()
    stop.set()
    counter.join()
    inside = [t for t in stamps if start + margin < t < end - margin]
    return end - start, (inside[-1] - inside[0]) if len(inside) > 1 else 0.0


def assert_releases_the_gil(make_call: Callable[[int], Callable[[], object]]) -> None:
    """`make_call(scale)` returns a codec call whose work grows with `scale`."""
    margin = 0.005
    interval = sys.getswitchinterval()
    # A short switch interval bounds how long the counter can keep the GIL once the main thread
    # wants it, so a burst at the start of the call stays far shorter than the spans asked for.
    sys.setswitchinterval(1e-4)
    try:
        scale, spans = 1, []
        for _ in range(8):
            call = make_call(scale)
            duration, span = progress_during(call, margin)
            if duration < 0.04:
                scale *= 2  # too quick to tell: more work
                continue
            spans.append((duration, span))
            if span > 0.3 * (duration - 2 * margin):
                return
        pytest.fail(f"no Python progress during the codec calls: (duration, span) = {spans}")
    finally:
        sys.setswitchinterval(interval)


def cseg_chunk(voxels: int, distinct: int, dtype: str, channels: int = 1) -> np.ndarray:
    side = round(voxels ** (1 / 3))
    rng = np.random.default_rng(0)
    return rng.integers(0, distinct, (channels, side, side, side), dtype=dtype)


def test_compressed_segmentation_encode_releases_the_gil():
    encoder = ce.CompressedSegmentationEncoder("uint64", 1, [8, 8, 8])

    def make_call(scale: int) -> Callable[[], object]:
        chunk = cseg_chunk(2**20 * scale, 200, "uint64")
        return lambda: encoder.encode(chunk)

    assert_releases_the_gil(make_call)


def test_compressed_segmentation_decode_releases_the_gil():
    def make_call(scale: int) -> Callable[[], object]:
        # More channels, not larger ones, as a channel is limited to 2^24 words.
        chunk = cseg_chunk(2**23, 5, "uint32", channels=scale)
        encoder = ce.CompressedSegmentationEncoder("uint32", scale, [8, 8, 8])
        encoded = encoder.encode(chunk)
        x = chunk.shape[3]
        return lambda: encoder.decode(encoded, (x, x, x))

    assert_releases_the_gil(make_call)


def test_raw_encode_of_a_strided_chunk_releases_the_gil():
    encoder = ce.RawChunkEncoder("uint16", 1)

    def make_call(scale: int) -> Callable[[], object]:
        side = round((2**24 * scale) ** (1 / 3))
        chunk = np.asfortranarray(np.ones((1, side, side, side), ">u2"))
        return lambda: encoder.encode(chunk)

    assert_releases_the_gil(make_call)
