"""Downsampling kernels side by side, one thread, in one run: ngcodec against tinybrain (igneous's
kernels), tensorstore's ``downsample`` driver and neuroglancer-scripts' downscalers. Needs
``pip install -e '.[test,bench]'`` (tinybrain, tensorstore, neuroglancer-scripts, crackle-codec).

Rows: ``mean`` of a uint8 EM-like image and ``mode`` of the real pinky40 labels as uint64, by
(2, 2, 2) and (2, 2, 1), on a central crop of the 512³ volume (256³ by default). Every output is
first checked against tensorstore's, voxel for voxel, and tinybrain's agreement with it is
reported. neuroglancer-scripts' ``MajorityDownscaler`` loops in Python over output voxels: it is
timed on a 64³ crop, and MB/s (of input voxels) compare throughputs across sizes.
"""

from __future__ import annotations

import argparse
import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
from bench_images import em_like
from harness import DEFAULT_DATA, Row, interleaved, machine, table

import ngcodec

TARGETS = {"tinybrain": 1.0, "tensorstore": 10.0, "neuroglancer-scripts": 100.0}
NGS_CROP = 64  # neuroglancer-scripts' majority vote runs in Python per output voxel


def load_pinky40(data: Path, size: int) -> np.ndarray:
    """A central size³ crop of the pinky40 labels, (Z, Y, X) C-order uint64."""
    import crackle

    blob = (data / "cc3d_connectomics_512cube.npy.ckl.gz").read_bytes()
    volume = np.asarray(crackle.decompress(gzip.decompress(blob))).T
    start = (volume.shape[0] - size) // 2
    crop = volume[start : start + size, start : start + size, start : start + size]
    return np.ascontiguousarray(crop, dtype=np.uint64)


def candidates(volume: np.ndarray, factors: tuple[int, int, int], method: str, context):
    """Each library's call on `volume` (Z, Y, X), returning (Z, Y, X); its own layout as input."""
    import tensorstore as ts
    import tinybrain
    from neuroglancer_scripts.downscaling import AveragingDownscaler, MajorityDownscaler

    fortran = volume.T  # tinybrain takes (X, Y, Z) in Fortran order: the same memory
    store = ts.array(volume, context=context)
    ts_factors = list(factors[::-1])
    if method == "mean":
        ngs = AveragingDownscaler()

        def tinybrain_call():
            return tinybrain.downsample_with_averaging(fortran, factors)[0].T
    else:
        ngs = MajorityDownscaler()

        def tinybrain_call():
            return tinybrain.downsample_segmentation(fortran, factors)[0].T

    runs: dict[str, Callable[[], np.ndarray]] = {
        "ngcodec": lambda: ngcodec.downsample(volume, factors, method),
        "tinybrain": tinybrain_call,
        "tensorstore": lambda: ts.downsample(store, ts_factors, method).read().result(),
        "neuroglancer-scripts": lambda: ngs.downscale(volume[np.newaxis], factors)[0],
    }
    return runs


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Percentage of voxels equal (of the overlap, for a tool that pads odd edges)."""
    overlap = tuple(slice(0, min(m, n)) for m, n in zip(a.shape, b.shape, strict=True))
    return 100.0 * float(np.mean(a[overlap] == b[overlap]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="test data folder")
    parser.add_argument("--size", type=int, default=256, help="crop side (512 for all of it)")
    parser.add_argument("--rounds", type=int, default=7, help="samples per library (median)")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 0.05 s")
    args = parser.parse_args()
    import tensorstore as ts

    rounds, min_seconds = (3, 0.05) if args.quick else (args.rounds, 0.3)
    context = ts.Context({"data_copy_concurrency": {"limit": 1}})
    labels = load_pinky40(args.data, args.size)
    image = em_like(labels, seed=0)
    print(f"{machine()}\n")

    rows = []
    notes = []
    for method, volume, name in [("mean", image, "EM-like u8"), ("mode", labels, "pinky40 u64")]:
        for factors in [(2, 2, 2), (2, 2, 1)]:
            runs = candidates(volume, factors, method, context)
            reference = runs["tensorstore"]()
            if not np.array_equal(runs["ngcodec"](), reference):
                raise SystemExit(f"ngcodec differs from tensorstore: {method} {factors}")
            label = f"{method} {name} {args.size}³ {factors}"
            notes.append(
                f"{label}: tinybrain agrees with tensorstore on "
                f"{agreement(runs['tinybrain'](), reference):.1f}% of voxels"
            )
            small = volume[:NGS_CROP, :NGS_CROP, :NGS_CROP]
            ngs_volume = volume if method == "mean" else small
            ngs_run = candidates(ngs_volume, factors, method, context)["neuroglancer-scripts"]
            ngs_reference = ngcodec.downsample(ngs_volume, factors, method)
            notes.append(
                f"{label}: neuroglancer-scripts agrees with ngcodec on "
                f"{agreement(ngs_run(), ngs_reference):.1f}% of voxels"
                + ("" if method == "mean" else f" (of a {NGS_CROP}³ crop)")
            )
            fast = {name: run for name, run in runs.items() if name != "neuroglancer-scripts"}
            mbps = interleaved(fast, volume.nbytes, rounds, min_seconds)
            mbps |= interleaved(
                {"neuroglancer-scripts": ngs_run}, ngs_volume.nbytes, min(rounds, 3), min_seconds
            )
            rows.append(Row(label, mbps))

    print(table("one thread, MB/s of input voxels", rows))
    print()
    for note in notes:
        print(f"- {note}")
    print()
    for row in rows:
        misses = [
            f"{other} x{row.mbps['ngcodec'] / row.mbps[other]:.2f} < {target}"
            for other, target in TARGETS.items()
            if row.mbps["ngcodec"] / row.mbps[other] < target
        ]
        verdict = "all targets met" if not misses else "MISSED " + "; ".join(misses)
        print(f"{row.label}: {verdict}")


if __name__ == "__main__":
    main()
