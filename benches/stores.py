"""Converting to an S3 bucket against converting to the local disk, in one run.

The input is the 512³ uint32 pinky40 volume of the test data (decoded with crackle-codec),
written as compressed_segmentation (64³ chunks, gzip level 6) with 1 and 2 jobs, to a local
directory and to a bucket of moto's S3 server on 127.0.0.1 (in its own process, as in the tests),
the two taking turns, medians of the repeats. Then the libraries behind the S3 store side by
side on the same server: obstore (chosen) and s3fs, whole-object puts and gets of chunk-sized
objects from 1 and 32 threads, and how each pickles.

    python benches/stores.py [--data DIR] [--repeats N]

Needs the test extras (moto, obstore, crackle-codec) and, for the library comparison, s3fs (the
bench extra). The machine is shared: read the ratios; absolute times drift.
"""

from __future__ import annotations

import argparse
import gzip
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness import DEFAULT_DATA, MB, machine
from s3_server import CREDENTIALS, MotoServer

from ngcodec.precomputed.store import open_store
from ngcodec.volume import WriteStats, write_volume

TARGET_RATIO = 1.5


def pinky40(data: Path) -> np.ndarray:
    import crackle

    compressed = (data / "cc3d_connectomics_512cube.npy.ckl.gz").read_bytes()
    return np.ascontiguousarray(np.asarray(crackle.decompress(gzip.decompress(compressed))).T)


def convert(volume: np.ndarray, target: object, jobs: int) -> WriteStats:
    return write_volume(volume, target, encoding="compressed_segmentation", jobs=jobs)  # type: ignore[arg-type]


def conversions(volume: np.ndarray, server: MotoServer, repeats: int) -> None:
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    server.create_bucket(bucket)
    print(
        f"## Converting pinky40 512³ uint32 ({volume.nbytes / MB:.0f} MB) to "
        "compressed_segmentation, 64³ chunks, gzip 6: local disk against moto's S3 server on "
        "127.0.0.1\n"
    )
    print(
        "| jobs | local s | S3 s | S3/local | S3 puts/s | S3 MB/s in | S3 MB/s stored "
        f"| within {TARGET_RATIO}x |"
    )
    print("|---|---|---|---|---|---|---|---|")
    scratch = Path(tempfile.mkdtemp(prefix="ngcodec-bench-"))
    try:
        for jobs in (1, 2):
            local, remote = [], []
            for repeat in range(repeats):
                order = ("local", "s3") if repeat % 2 == 0 else ("s3", "local")
                for where in order:
                    if where == "local":
                        path = scratch / f"j{jobs}r{repeat}"
                        local.append(convert(volume, path, jobs))
                        shutil.rmtree(path)
                    else:
                        url = f"s3://{bucket}/j{jobs}r{repeat}"
                        store = open_store(url, endpoint_url=server.endpoint)
                        remote.append(convert(volume, store, jobs))
            assert all(s.chunks_written == 512 for s in local + remote)
            t_local = statistics.median(s.seconds for s in local)
            s3 = sorted(remote, key=lambda s: s.seconds)[len(remote) // 2]
            ratio = s3.seconds / t_local
            met = "yes" if ratio <= TARGET_RATIO else "NO"
            print(
                f"| {jobs} | {t_local:.2f} | {s3.seconds:.2f} | {ratio:.2f} "
                f"| {(s3.chunks_written + 1) / s3.seconds:.0f} | {s3.megabytes_per_second:.0f} "
                f"| {s3.bytes_out / MB / s3.seconds:.1f} | {met} |"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def libraries(server: MotoServer, n: int = 512, size: int = 14_000) -> None:
    """obstore and s3fs on the same server: the requests a conversion makes."""
    import obstore
    from obstore.store import S3Store

    try:
        import s3fs
    except ImportError:
        print("\n(s3fs is not installed: pip install 'ngcodec[bench]' for the library comparison)")
        return
    bucket = f"libs-{uuid.uuid4().hex[:8]}"
    server.create_bucket(bucket)
    rng = np.random.default_rng(0)
    payloads = [rng.integers(0, 255, size, dtype=np.uint8).tobytes() for _ in range(n)]
    ob = S3Store(bucket, endpoint=server.endpoint, client_options={"allow_http": True})
    fs = s3fs.S3FileSystem(endpoint_url=server.endpoint)

    def timed(function, threads: int) -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(function, range(n)))
        return n / (time.perf_counter() - started)

    print(
        f"\n## The S3 library: {n} objects of {size / 1e3:.0f} kB (a gzipped 64³ pinky40 chunk), "
        "whole-object puts and gets on the same server\n"
    )
    print("| request | threads | obstore req/s | s3fs req/s | obstore/s3fs |")
    print("|---|---|---|---|---|")
    for threads in (1, 32):
        rows = {
            "put": (
                lambda i: obstore.put(ob, f"o/{i}", payloads[i]),
                lambda i: fs.pipe_file(f"{bucket}/s/{i}", payloads[i]),
            ),
            "get": (
                lambda i: obstore.get(ob, f"o/{i}").bytes(),
                lambda i: fs.cat_file(f"{bucket}/s/{i}"),
            ),
        }
        for request, (with_obstore, with_s3fs) in rows.items():
            a, b = timed(with_obstore, threads), timed(with_s3fs, threads)
            print(f"| {request} | {threads} | {a:.0f} | {b:.0f} | {a / b:.2f} |")
    idle = spin_rate(lambda: time.sleep(1.0))
    for name, put in (
        ("obstore", lambda i: obstore.put(ob, f"o/{i}", payloads[i])),
        ("s3fs", lambda i: fs.pipe_file(f"{bucket}/s/{i}", payloads[i])),
    ):
        busy = spin_rate(lambda put=put: timed(put, 8))
        print(
            f"\nA Python thread kept {busy / idle:.0%} of its speed while 8 threads put objects "
            f"through {name} (the GIL released during requests, or not)."
        )
    store = open_store(f"s3://{bucket}/x", endpoint_url=server.endpoint)
    print(
        f"\nPickled for a dask task: ngcodec's S3 store {len(pickle.dumps(store))} bytes (its URL "
        f"and options; each worker connects with its own credentials), obstore's S3Store "
        f"{len(pickle.dumps(ob))} bytes, s3fs's S3FileSystem {len(pickle.dumps(fs))} bytes."
    )


def spin_rate(work) -> float:  # type: ignore[no-untyped-def]
    """Loop iterations per second of a pure-Python thread while ``work()`` runs."""
    stop = threading.Event()
    count = [0]

    def spin() -> None:
        while not stop.is_set():
            count[0] += 1

    thread = threading.Thread(target=spin)
    started = time.perf_counter()
    thread.start()
    work()
    stop.set()
    thread.join()
    return count[0] / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the test data folder")
    parser.add_argument("--repeats", type=int, default=3, help="conversions of each kind")
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    volume = pinky40(args.data)
    print(machine() + "\n")
    server = MotoServer()
    try:
        conversions(volume, server, args.repeats)
        libraries(server)
    finally:
        server.close()


if __name__ == "__main__":
    main()
