"""The whole job against the peers: pinky40 -> compressed_segmentation, one scale, a file a chunk.

Side by side in one run (wall time, median of rounds in which the tools take turns; read the
ratios, the machines are shared): ngcodec's ``convert`` (gzip, its default), tensorstore (which
cannot gzip the files of an unsharded scale), cloud-volume (gzip, its default) and
neuroglancer-scripts (its own encoder, gzip at its default level 9, flat file names, a chunk at a
time through ``PrecomputedIO``). neuroglancer-scripts encodes in Python: it runs once, on a
smaller crop, and MB/s (of input voxels) compare the tools across sizes. Every tool's output is
read back by ngcodec (and by tensorstore where the files are plain) and checked equal to the
input before anything is timed.

    python benches/bench_peers.py [--size 512] [--ngs-size 256] [--rounds 3] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorstore as ts
from bench_pyramid import CHUNK, ngcodec_job, pinky40, tensorstore_job
from bench_sharded_convert import cloudvolume_job, rounds_of
from harness import DEFAULT_DATA, machine

from ngcodec.precomputed.format import ChunkGrid
from ngcodec.precomputed.volume import PrecomputedVolume

CHUNK_SIZE = (CHUNK, CHUNK, CHUNK)
TARGETS = {"tensorstore": 5.0, "cloud-volume": 6.0, "neuroglancer-scripts": 20.0}


def neuroglancer_scripts_job(labels: np.ndarray, out: Path, info: dict) -> None:
    """The scale written chunk by chunk through neuroglancer-scripts' own I/O and encoder."""
    from neuroglancer_scripts.file_accessor import FileAccessor
    from neuroglancer_scripts.precomputed_io import get_IO_for_new_dataset

    io = get_IO_for_new_dataset(info, FileAccessor(str(out), flat=True))
    scale = info["scales"][0]
    grid = ChunkGrid(*(tuple(scale[k]) for k in ("size", "voxel_offset")), tuple(CHUNK_SIZE))
    for box in grid.chunk_boxes():
        (x0, y0, z0), (x1, y1, z1) = box.start, box.stop
        chunk = labels[np.newaxis, z0:z1, y0:y1, x0:x1]
        io.write_chunk(np.ascontiguousarray(chunk), scale["key"], (x0, x1, y0, y1, z0, z1))


def read_back_equal(root: Path, labels: np.ndarray) -> None:
    """The dataset read whole by ngcodec and by tensorstore equals the input."""
    np.testing.assert_array_equal(PrecomputedVolume.open(root).read()[0], labels)
    if not any(root.rglob("*.gz")):  # tensorstore reads plain files from disk, not `.gz` ones
        store = ts.open({"driver": "neuroglancer_precomputed", "kvstore": f"file://{root}"})
        np.testing.assert_array_equal(store.result().read().result()[..., 0].T, labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--size", type=int, default=512, help="side of the pinky40 crop")
    parser.add_argument("--ngs-size", type=int, default=256, help="crop for neuroglancer-scripts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    print(f"Machine: {machine()}\n", flush=True)
    labels = pinky40(args.data, args.size)
    small = pinky40(args.data, args.ngs_size)  # central crops, both

    with tempfile.TemporaryDirectory() as work:
        ngcodec_job(labels, Path(work, "ngcodec"), jobs=args.jobs)
        ngcodec_job(small, Path(work, "ngcodec-small"), jobs=args.jobs)
        info = json.loads(Path(work, "ngcodec", "info").read_text())
        small_info = json.loads(Path(work, "ngcodec-small", "info").read_text())
    scale = info["scales"][0]
    jobs: dict[str, Callable[[Path], None]] = {
        "ngcodec": lambda out: ngcodec_job(labels, out, jobs=args.jobs),
        # The bytes tensorstore writes, which it cannot gzip.
        "ngcodec, no gzip": lambda out: ngcodec_job(labels, out, gzip=False, jobs=args.jobs),
        "tensorstore": lambda out: tensorstore_job(labels, out, [scale]),
        "cloud-volume": lambda out: cloudvolume_job(labels, out, info),
    }
    small_jobs: dict[str, Callable[[Path], None]] = {
        "neuroglancer-scripts": lambda out: neuroglancer_scripts_job(small, out, small_info),
    }
    sizes = {}
    with tempfile.TemporaryDirectory() as work:
        for group, volume in ((jobs, labels), (small_jobs, small)):
            for name, job in group.items():
                root = Path(work, f"{name}-{volume.shape[0]}")
                job(root)
                read_back_equal(root, volume)
                sizes[name, volume.shape[0]] = sum(p.stat().st_size for p in root.rglob("*"))
    print(
        f"pinky40 uint32, {CHUNK}³ chunks, compressed_segmentation, one scale, {args.jobs} jobs "
        "for ngcodec (tensorstore its own thread pool, the others one thread); every output read "
        "back equal by ngcodec and, where the files are plain, tensorstore\n"
    )
    print("| conversion | crop | seconds | MB/s | CPU seconds | MB stored | ngcodec faster by |")
    print("|---|---|---|---|---|---|---|")
    # neuroglancer-scripts runs once, on the small crop: throughputs compare the tools.
    seconds, cpu = rounds_of(jobs, args.rounds)
    small_seconds, small_cpu = rounds_of(small_jobs, 1)
    ours = labels.nbytes / seconds["ngcodec"]
    speedups = {}
    for volume, times, cpus in ((labels, seconds, cpu), (small, small_seconds, small_cpu)):
        for name, value in times.items():
            speedups[name] = ours / (volume.nbytes / value)
            print(
                f"| {name} | {volume.shape[0]}³ | {value:.2f} | {volume.nbytes / 1e6 / value:,.0f}"
                f" | {cpus[name]:.2f} | {sizes[name, volume.shape[0]] / 1e6:.1f} | "
                f"{speedups[name]:.2f}x |"
            )
    print("\n| target | measured | needed | met |\n|---|---|---|---|")
    for peer, needed in TARGETS.items():
        met = "yes" if speedups[peer] >= needed else "NO"
        print(f"| ngcodec vs {peer} | {speedups[peer]:.2f}x | {needed:.0f}x | {met} |")
    same_bytes = seconds["tensorstore"] / seconds["ngcodec, no gzip"]
    print(f"| ngcodec without gzip vs tensorstore (the same bytes) | {same_bytes:.2f}x | | |")


if __name__ == "__main__":
    main()
