"""Conversion throughput of each input format, on the same volume.

Run from the repository root (not part of the test suite):

    python benches/bench_inputs.py              # the 512³ pinky40 segmentation (uint32, 512 MiB)
    python benches/bench_inputs.py --size 256   # a 256³ crop of it, quicker
    python benches/bench_inputs.py --formats npy,hdf5 --data DIR

The volume is written once in every format by that format's own library (``tests/input_files.py``:
OME-TIFF with zlib, zarr v2 and v3 and OME-Zarr with 64³ chunks and zarr's default compressor,
uncompressed TIFF slices, PNG slices, HDF5 with gzip 64³ chunks, NIfTI gzipped, N5 gzip 64³ blocks
through tensorstore). Then, per format, in one process:

- *read*: the whole volume read in the slabs ``write_volume`` asks for (64 sections at a time),
  the faster of two rounds;
- *convert*: ``write_volume`` to compressed_segmentation with gzip, as ``ngcodec convert`` does,
  on ``--jobs`` threads;

in MB/s (10^6 bytes) of the uint32 volume, and the ratio to ``.npy`` in the same run. PNG holds at
most 16 bits, so the PNG slices hold the same segmentation renumbered into uint16, converted back to
uint32 (their rate counts the same voxels as the others').
The last table is what each format told the converter: axes, voxel size and offset, levels.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import input_files
from harness import DEFAULT_DATA, MB, machine

import ngcodec.volume as nv
from ngcodec.precomputed.pipeline.arrays import AxisOrderView
from ngcodec.sources import open_input

VOXEL_SIZE = (32.0, 32.0, 40.0)  # pinky40's, as the cc3d benchmark README gives it
SLAB = 64
READ_ROUNDS = 2


def pinky40(data: Path, size: int) -> np.ndarray:
    """The first ``size``³ of the pinky40 segmentation, (Z, Y, X) C order."""
    import crackle

    compressed = gzip.decompress((data / "cc3d_connectomics_512cube.npy.ckl.gz").read_bytes())
    return np.ascontiguousarray(np.asarray(crackle.decompress(compressed)).T[:size, :size, :size])


def write_png_slices(directory, data, voxel_size):
    _, renumbered = np.unique(data, return_inverse=True)
    labels = renumbered.reshape(data.shape).astype(np.uint16)
    return input_files.write_png_slices(directory, labels, voxel_size)


WRITERS = {**input_files.WRITERS, "slices (png)": write_png_slices}


def disk_bytes(path: Path) -> int:
    path = Path(str(path).split(":")[0])
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def time_read(source) -> float:
    """Seconds to read every slab into memory (a copy: a memory map's slice reads nothing)."""
    view = AxisOrderView(source, source.axes)
    started = time.perf_counter()
    for z in range(0, view.shape[1], SLAB):
        np.array(view[:, z : z + SLAB, :, :], copy=True)
    return time.perf_counter() - started


def time_convert(source, out: Path, jobs: int | None) -> float:
    started = time.perf_counter()
    nv.write_volume(
        source,
        out,
        encoding="compressed_segmentation",
        data_type="uint32",  # the PNG slices' uint16 too
        resolution=source.voxel_size or VOXEL_SIZE,
        axes=source.axes,
        jobs=jobs,
        overwrite=True,
    )
    return time.perf_counter() - started


def describe(source) -> list[str]:
    size = "-" if source.voxel_size is None else ",".join(f"{v:g}" for v in source.voxel_size)
    unit = f" ({source.voxel_unit})" if source.voxel_unit not in (None, "nm") else ""
    offset = "-" if source.voxel_offset is None else ",".join(map(str, source.voxel_offset))
    return [
        source.axes or "(default zyx)",
        size + unit,
        offset,
        str(len(source.levels) or "-"),
        source.metadata_source or "-",
    ]


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=512, help="edge of the cube (default 512)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the test data folder")
    parser.add_argument("--formats", help="comma-separated writer names (default: all)")
    parser.add_argument("--jobs", type=int, default=None, help="encoding threads for convert")
    parser.add_argument("--workdir", type=Path, help="where to write the inputs (default: /tmp)")
    args = parser.parse_args()
    names = args.formats.split(",") if args.formats else list(WRITERS)

    data = pinky40(args.data, args.size)[np.newaxis]
    print(machine())
    print(
        f"pinky40 {'x'.join(map(str, data.shape[1:]))} uint32, {data.nbytes / MB:.0f} MB; "
        f"convert jobs={args.jobs or 'default'}",
        flush=True,
    )
    results, described = [], []
    with tempfile.TemporaryDirectory(dir=args.workdir) as scratch:
        for name in names:
            directory = Path(scratch) / name.replace(" ", "_")
            directory.mkdir()
            started = time.perf_counter()
            path, options = WRITERS[name](directory, data, VOXEL_SIZE)
            written = time.perf_counter() - started
            source = open_input(path, **options)
            nbytes = data.nbytes
            read = min(time_read(source) for _ in range(READ_ROUNDS))
            source.close()
            convert = time_convert(open_input(path, **options), directory / "out", args.jobs)
            results.append((name, nbytes, disk_bytes(path), written, read, convert))
            described.append([name, *describe(source)])
            print(
                f"  {name}: written in {written:.1f} s, read {nbytes / read / MB:.0f} MB/s, "
                f"convert {nbytes / convert / MB:.0f} MB/s",
                flush=True,
            )
            shutil.rmtree(directory)

    base = {r[0]: r for r in results}.get("npy")
    rows = []
    for name, nbytes, on_disk, written, read, convert in results:
        read_rate, convert_rate = nbytes / read / MB, nbytes / convert / MB
        relative = ["-", "-"]
        if base is not None:
            relative = [
                f"{read_rate / (base[1] / base[4] / MB):.2f}",
                f"{convert_rate / (base[1] / base[5] / MB):.2f}",
            ]
        rows.append(
            [
                name,
                f"{on_disk / MB:.1f}",
                f"{written:.1f}",
                f"{read_rate:.0f}",
                relative[0],
                f"{convert_rate:.0f}",
                relative[1],
            ]
        )
    print()
    header = ["input", "on disk MB", "write s", "read MB/s", "vs npy", "convert MB/s", "vs npy"]
    # npy is memory-mapped and freshly written: its read is a copy from the page cache.
    print(table(header, rows))
    print()
    print(table(["input", "axes", "voxel size nm", "offset", "levels", "from"], described))


if __name__ == "__main__":
    main()
