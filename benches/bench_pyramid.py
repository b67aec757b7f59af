"""The whole job with its pyramid: pinky40 -> compressed_segmentation + gzip, every scale.

Side by side in one run (wall time, median of repeats; read the ratios, the machines are shared):
ngcodec's single-scale conversion, ngcodec with its pyramid, tensorstore's own loop (write the
base, then ``ts.downsample`` + write per scale), and neuroglancer-scripts' ``compute-scales`` (on
a smaller crop: it loops in Python per output voxel). Every output is checked against ngcodec's
before it is timed.

    python benches/bench_pyramid.py [--size 512] [--repeats 3] [--ngs-size 128]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorstore as ts
from harness import DEFAULT_DATA, machine

from ngcodec.precomputed.pipeline.convert import write_volume
from ngcodec.precomputed.pipeline.write import create_dataset_for, write_scale
from ngcodec.precomputed.volume import PrecomputedVolume

CHUNK = 64
RESOLUTION = (8, 8, 8)


def pinky40(data: Path, size: int) -> np.ndarray:
    """The central ``size``³ crop of the 512³ pinky40 labels, (Z, Y, X) C order."""
    import crackle

    volume = crackle.decompress(
        gzip.decompress((data / "cc3d_connectomics_512cube.npy.ckl.gz").read_bytes())
    )
    start = (512 - size) // 2
    crop = np.asarray(volume)[tuple(slice(start, start + size) for _ in range(3))]
    return np.ascontiguousarray(crop.T)


def ngcodec_job(
    labels: np.ndarray,
    out: Path,
    pyramid: bool = False,
    gzip: bool = True,
    *,
    sharded: bool = False,
    jobs: int | None = None,
) -> None:
    write_volume(
        labels,
        out,
        encoding="compressed_segmentation",
        chunk_size=CHUNK,
        resolution=RESOLUTION,
        pyramid=pyramid,
        gzip=gzip,
        sharded=sharded,
        jobs=jobs,
    )


def tensorstore_job(labels: np.ndarray, out: Path, scales: list[dict]) -> None:
    """tensorstore's own way: write the base, then each scale from ``ts.downsample`` of the last
    (sharded where the scale says so)."""
    previous = None
    for index, scale in enumerate(scales):
        finer = scales[index - 1]
        store = ts.open(
            {
                "driver": "neuroglancer_precomputed",
                "kvstore": f"file://{out}",
                "multiscale_metadata": {
                    "type": "segmentation",
                    "data_type": "uint32",
                    "num_channels": 1,
                },
                "scale_metadata": {
                    "size": scale["size"],
                    "voxel_offset": scale["voxel_offset"],
                    "resolution": scale["resolution"],
                    "chunk_size": scale["chunk_sizes"][0],
                    "encoding": "compressed_segmentation",
                    "compressed_segmentation_block_size": [8, 8, 8],
                    **({"sharding": scale["sharding"]} if "sharding" in scale else {}),
                },
                "create": True,
            }
        ).result()
        if previous is None:
            store.write(labels.T[..., None]).result()
        else:
            factors = [
                round(c / f) for c, f in zip(scale["resolution"], finer["resolution"], strict=True)
            ]
            store.write(ts.downsample(previous, [*factors, 1], "mode")).result()
        previous = store


def ngs_compute_scales(out: Path) -> None:
    from neuroglancer_scripts.scripts.compute_scales import compute_scales

    compute_scales(str(out), "majority", {})


def timed(job: Callable[[Path], None], repeats: int) -> tuple[float, float, int]:
    """Median wall time and median CPU time (all threads) of ``job`` on a fresh output directory
    each time, and the bytes it wrote."""
    times, cpu_times = [], []
    for _ in range(repeats):
        out = Path(tempfile.mkdtemp(prefix="bench-pyramid-"))
        try:
            started, cpu_started = time.perf_counter(), time.process_time()
            job(out)
            times.append(time.perf_counter() - started)
            cpu_times.append(time.process_time() - cpu_started)
            written = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        finally:
            shutil.rmtree(out)
    return statistics.median(times), statistics.median(cpu_times), written


def check_scales_equal(expected: Path, actual: Path, keys: list[str]) -> None:
    for key in keys:
        np.testing.assert_array_equal(
            PrecomputedVolume.open(actual, key).read(), PrecomputedVolume.open(expected, key).read()
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--size", type=int, default=512, help="side of the pinky40 crop")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ngs-size", type=int, default=128, help="crop for neuroglancer-scripts")
    args = parser.parse_args()
    print(f"Machine: {machine()}\n", flush=True)
    labels = pinky40(args.data, args.size)

    # Check every implementation's scales against ngcodec's before timing anything.
    with tempfile.TemporaryDirectory() as work:
        ours, theirs = Path(work, "ngcodec"), Path(work, "tensorstore")
        ngcodec_job(labels, ours, pyramid=True)
        scales = json.loads((ours / "info").read_text())["scales"]
        tensorstore_job(labels, theirs, scales)
        check_scales_equal(ours, theirs, [s["key"] for s in scales])
    keys = ", ".join(f"{s['key']} ({'x'.join(map(str, s['size']))})" for s in scales)
    print(f"{args.size}³ pinky40, {len(scales)} scales: {keys}; outputs checked equal\n")

    # tensorstore cannot gzip the chunk files of an unsharded scale: ngcodec without gzip writes
    # the same bytes, ngcodec with gzip (its default) a third of them.
    single, single_cpu, single_bytes = timed(
        lambda out: ngcodec_job(labels, out, False), args.repeats
    )
    pyramid, pyramid_cpu, pyramid_bytes = timed(
        lambda out: ngcodec_job(labels, out, True), args.repeats
    )
    plain, plain_cpu, plain_bytes = timed(
        lambda out: ngcodec_job(labels, out, True, False), args.repeats
    )
    loop, loop_cpu, loop_bytes = timed(
        lambda out: tensorstore_job(labels, out, scales), args.repeats
    )
    print("| whole job | wall seconds | CPU seconds | MB written | tensorstore's time over this |")
    print("|---|---|---|---|---|")
    for name, seconds, cpu, written in [
        ("ngcodec, single scale, gzip", single, single_cpu, single_bytes),
        ("ngcodec, with pyramid, gzip", pyramid, pyramid_cpu, pyramid_bytes),
        ("ngcodec, with pyramid, no gzip", plain, plain_cpu, plain_bytes),
        ("tensorstore, write + downsample loop (no gzip)", loop, loop_cpu, loop_bytes),
    ]:
        print(
            f"| {name} | {seconds:.2f} | {cpu:.2f} | {written / 1e6:.1f} | {loop / seconds:.2f}x |"
        )
    # The coarser scales' work is CPU time the single-scale job does not have: spread over every
    # core at best, it bounds from below what the pyramid can add to the wall time.
    cores = os.cpu_count() or 1
    floor = (pyramid_cpu - single_cpu) / cores / single
    print(
        f"\nThe pyramid adds {100 * (pyramid / single - 1):.0f}% to the single-scale job's wall "
        f"time and {100 * (pyramid_cpu / single_cpu - 1):.0f}% to its CPU time; that CPU time "
        f"spread over {cores} cores would add {100 * floor:.0f}%.\n"
    )

    # neuroglancer-scripts: compute-scales over the same base, on a smaller crop.
    crop = labels[: args.ngs_size, : args.ngs_size, : args.ngs_size]
    with tempfile.TemporaryDirectory() as work:
        reference = Path(work, "ngcodec")
        ngcodec_job(crop, reference, pyramid=True)
        crop_scales = json.loads((reference / "info").read_text())["scales"]

        def base_only(out: Path) -> PrecomputedVolume:
            volume = create_dataset_for(
                crop.dtype,
                (1, *crop.shape),
                out,
                encoding="compressed_segmentation",
                chunk_size=CHUNK,
                block_size=8,
                resolution=RESOLUTION,
                voxel_offset=0,
                layer_type=None,
                key=None,
                data_type=None,
                pyramid=True,
                gzip_level=6,
                encoder_options=None,
                overwrite=False,
            )
            write_scale(volume, crop[None])
            return volume

        def ngs(out: Path) -> None:
            base_only(out)
            ngs_compute_scales(out)

        def ours_downsample(out: Path) -> None:
            from ngcodec.precomputed.pipeline.downsample import write_pyramid

            write_pyramid(base_only(out))

        ngs_seconds, _, _ = timed(ngs, 1)
        ours_seconds, _, _ = timed(ours_downsample, args.repeats)
    print(f"| {args.ngs_size}³ crop, base + {len(crop_scales) - 1} scales | seconds | x |")
    print("|---|---|---|")
    print(f"| ngcodec write_pyramid | {ours_seconds:.2f} | |")
    print(
        f"| neuroglancer-scripts compute-scales | {ngs_seconds:.2f} | "
        f"{ngs_seconds / ours_seconds:.1f}x |"
    )


if __name__ == "__main__":
    main()
