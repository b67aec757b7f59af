"""Converting to sharded datasets: pinky40 -> compressed_segmentation + gzip, one scale.

Side by side in one run (wall time, median of rounds in which the implementations take turns;
read the ratios, the machines are shared): ngcodec's unsharded conversion (a file per chunk),
ngcodec's sharded conversion, tensorstore writing the same sharded volume (the same sharding
spec, its own thread pool), and cloud-volume writing it (if installed). Every output is read back
and checked equal to the input before anything is timed. Then one chunk read through
``PrecomputedVolume.read_chunk`` from the sharded dataset (indexes cached) against the same chunk
from its own file; and the shard parameters ``choose_sharding`` gives for the sample, for 512³
and for 20000x20000x1000 in 64³ chunks, with the file counts unsharded and sharded.

    python benches/bench_sharded_convert.py [--size 512] [--rounds 3] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorstore as ts
from bench_pyramid import CHUNK, ngcodec_job, pinky40, tensorstore_job
from harness import DEFAULT_DATA, Row, interleaved, machine, table

from ngcodec.precomputed.format import sharding as sh
from ngcodec.precomputed.volume import PrecomputedVolume

MiB = 2**20


def cloudvolume_job(labels: np.ndarray, out: Path, info: dict) -> None:
    """The same sharded scale, written by cloud-volume (a shard at a time)."""
    from cloudvolume import CloudVolume

    volume = CloudVolume(f"file://{out}", info=info, progress=False, parallel=1)
    volume.commit_info()
    volume[:, :, :] = labels.T[..., None]


def rounds_of(
    jobs: dict[str, Callable[[Path], None]], rounds: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall seconds and CPU seconds (all threads) of each job, on a fresh output each
    time, the jobs taking turns."""
    wall: dict[str, list[float]] = {name: [] for name in jobs}
    cpu: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(rounds):
        for name, job in jobs.items():
            out = Path(tempfile.mkdtemp(prefix="bench-sharded-"))
            try:
                started, used = time.perf_counter(), time.process_time()
                job(out)
                wall[name].append(time.perf_counter() - started)
                cpu[name].append(time.process_time() - used)
            finally:
                shutil.rmtree(out)
    return (
        {name: statistics.median(values) for name, values in wall.items()},
        {name: statistics.median(values) for name, values in cpu.items()},
    )


def file_count(root: Path) -> int:
    return sum(1 for path in root.rglob("*") if path.is_file() and path.name != "info")


def bench_convert(labels: np.ndarray, rounds: int, jobs: int) -> None:
    peers: dict[str, Callable[[Path], None]] = {}
    with tempfile.TemporaryDirectory() as work:
        ours, plain = Path(work, "sharded"), Path(work, "plain")
        ngcodec_job(labels, ours, sharded=True, jobs=jobs)
        ngcodec_job(labels, plain, sharded=False, jobs=jobs)
        info = json.loads((ours / "info").read_text())
        scale = info["scales"][0]
        peers["tensorstore"] = lambda out: tensorstore_job(labels, out, [scale])
        try:
            import cloudvolume  # noqa: F401

            peers["cloud-volume"] = lambda out: cloudvolume_job(labels, out, info)
        except ImportError:
            print("cloud-volume is not installed: its row is left out\n")
        # Every output read back whole, by tensorstore and by ngcodec, before any timing.
        for name, job in peers.items():
            job(Path(work, name))
            np.testing.assert_array_equal(
                PrecomputedVolume.open(Path(work, name)).read()[0], labels
            )
        for root in (ours, plain):
            np.testing.assert_array_equal(PrecomputedVolume.open(root).read()[0], labels)
        tensorstore_read = ts.open(
            {"driver": "neuroglancer_precomputed", "kvstore": f"file://{ours}"}
        ).result()
        np.testing.assert_array_equal(tensorstore_read.read().result()[..., 0].T, labels)
        counts = {"ngcodec unsharded": file_count(plain), "ngcodec sharded": file_count(ours)}
        counts.update({name: file_count(Path(work, name)) for name in peers})
        sizes = {"ngcodec unsharded": sum(p.stat().st_size for p in plain.rglob("*"))}
        sizes["ngcodec sharded"] = sum(p.stat().st_size for p in ours.rglob("*"))
        sizes.update({n: sum(p.stat().st_size for p in Path(work, n).rglob("*")) for n in peers})

    spec = sh.ShardingSpec.from_json(scale["sharding"])
    print(
        f"{'x'.join(map(str, scale['size']))} pinky40 uint32, {CHUNK}³ chunks, "
        f"compressed_segmentation + gzip, {jobs} jobs; sharding: preshift {spec.preshift_bits}, "
        f"minishard {spec.minishard_bits}, shard {spec.shard_bits} bits, identity hash; "
        "every output checked equal to the input\n"
    )
    jobs_by_name: dict[str, Callable[[Path], None]] = {
        "ngcodec sharded": lambda out: ngcodec_job(labels, out, sharded=True, jobs=jobs),
        "ngcodec unsharded": lambda out: ngcodec_job(labels, out, sharded=False, jobs=jobs),
        **peers,
    }
    seconds, cpu = rounds_of(jobs_by_name, rounds)
    reference = seconds["ngcodec sharded"]
    print(
        "| conversion | seconds | MB/s | CPU seconds | files | MB stored | "
        "ngcodec sharded faster by | ngcodec sharded CPU less by |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, value in seconds.items():
        print(
            f"| {name} | {value:.2f} | {labels.nbytes / 1e6 / value:,.0f} | {cpu[name]:.2f} | "
            f"{counts[name]} | {sizes[name] / 1e6:.1f} | {value / reference:.2f}x | "
            f"{cpu[name] / cpu['ngcodec sharded']:.2f}x |"
        )
    print()
    targets = [("unsharded", 1.0), ("tensorstore", 2.0), ("cloud-volume", 5.0)]
    print("| target | measured | needed | met |\n|---|---|---|---|")
    for peer, needed in targets:
        name = peer if peer in seconds else f"ngcodec {peer}"
        if name in seconds:
            measured = seconds[name] / reference
            print(
                f"| sharded conversion vs {peer} | {measured:.2f}x | {needed:.2f}x | "
                f"{'yes' if measured >= needed else 'NO'} |"
            )


def bench_read_chunk(labels: np.ndarray, rounds: int) -> None:
    """One chunk through PrecomputedVolume.read_chunk: sharded (indexes cached) and unsharded."""
    with tempfile.TemporaryDirectory() as work:
        sharded, plain = Path(work, "sharded"), Path(work, "plain")
        ngcodec_job(labels, sharded, sharded=True, jobs=2)
        ngcodec_job(labels, plain, sharded=False, jobs=2)
        volumes = {
            "ngcodec unsharded": PrecomputedVolume.open(plain),
            "ngcodec sharded, indexes cached": PrecomputedVolume.open(sharded),
        }
        store = ts.open(
            {
                "driver": "neuroglancer_precomputed",
                "kvstore": f"file://{sharded}",
                "context": {"cache_pool": {"total_bytes_limit": 64 * MiB}},
            }
        ).result()
        boxes = list(volumes["ngcodec unsharded"].chunk_boxes())
        for volume in volumes.values():  # the indexes read once, and every chunk checked
            for box in boxes:
                expected = labels[box.slices_within(volume.bounds)]
                np.testing.assert_array_equal(volume.read_chunk(box)[0], expected)
        position = iter(range(1 << 62))

        def reader(volume: PrecomputedVolume) -> Callable[[], object]:
            return lambda: volume.read_chunk(boxes[next(position) % len(boxes)])

        def tensorstore_chunk() -> object:
            box = boxes[next(position) % len(boxes)]
            (x0, y0, z0), (x1, y1, z1) = box.start, box.stop
            return store[x0:x1, y0:y1, z0:z1].read().result()

        candidates = {name: reader(volume) for name, volume in volumes.items()}
        candidates["tensorstore sharded, cached"] = tensorstore_chunk
        nbytes = CHUNK**3 * labels.itemsize
        mbps = interleaved(candidates, nbytes, rounds=max(5, rounds * 3), min_seconds=0.2)
    row = Row(f"one {CHUNK}³ uint32 chunk (compressed_segmentation + gzip)", mbps)
    print()
    print(table("read one chunk", [row], reference="ngcodec sharded, indexes cached"))
    ratio = mbps["ngcodec unsharded"] / mbps["ngcodec sharded, indexes cached"]
    print(
        f"\n| target | measured | needed | met |\n|---|---|---|---|\n"
        f"| sharded chunk read within 2x of unsharded | {ratio:.2f}x slower | 2.00x | "
        f"{'yes' if ratio <= 2 else 'NO'} |"
    )


def print_parameters() -> None:
    """The sharding choose_sharding gives, and the files it makes, for the volumes of note."""
    cases = [
        ("sample segmentation 250x220x100 uint32", (250, 220, 100), 4),
        ("pinky40 512³ uint32", (512, 512, 512), 4),
        ("20000x20000x1000 uint8 image", (20000, 20000, 1000), 1),
        ("20000x20000x1000 uint64 segmentation", (20000, 20000, 1000), 8),
    ]
    print(f"\nShard parameters ({CHUNK}³ chunks, 2 GiB of uncompressed data a shard):\n")
    print("| volume | grid | preshift, minishard, shard bits | chunks a shard | shard box | "
          "files unsharded | files sharded |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for label, size, itemsize in cases:
        grid = tuple(-(-n // CHUNK) for n in size)
        spec = sh.choose_sharding(grid, CHUNK**3 * itemsize)
        boxes = sh.shard_boxes(spec, grid)
        side = [b - a for a, b in zip(boxes[0].start, boxes[0].stop, strict=True)]
        per_shard = 1 << (spec.preshift_bits + spec.minishard_bits)
        print(
            f"| {label} | {'x'.join(map(str, grid))} | {spec.preshift_bits}, "
            f"{spec.minishard_bits}, {spec.shard_bits} | {per_shard} | "
            f"{'x'.join(map(str, side))} | {math.prod(grid):,} | {len(boxes):,} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--size", type=int, default=512, help="side of the pinky40 crop")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2, help="threads for ngcodec")
    args = parser.parse_args()
    print(f"Machine: {machine()}\n", flush=True)
    labels = pinky40(args.data, args.size)
    bench_convert(labels, args.rounds, args.jobs)
    bench_read_chunk(labels, args.rounds)
    print_parameters()


if __name__ == "__main__":
    main()
