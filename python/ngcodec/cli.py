"""The ``ngcodec`` command: convert volumes to precomputed datasets, describe and verify them.

Exit codes, for scripts:

==== ================================================================================
0    success
1    ``verify`` found missing, undecodable or differing chunks
2    bad command line (unknown option, bad value, options that do not go together, a
     scheduler that cannot be reached)
3    the input or dataset cannot be read, or its values do not fit the data type
4    the output cannot be written (a different dataset is there, permissions, disk)
130  interrupted (Ctrl-C); ``convert`` resumes where it stopped when run again
==== ================================================================================
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ngcodec import volume as nv
from ngcodec.chunk_encoding import InvalidInfoError, add_argparse_options

__all__ = ["EXIT_INPUT", "EXIT_OK", "EXIT_OUTPUT", "EXIT_USAGE", "EXIT_VERIFY_FAILED", "main"]

EXIT_OK = 0
EXIT_VERIFY_FAILED = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_OUTPUT = 4
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a process killed by it

MAX_LISTED = 20
"""How many failing chunks ``verify`` names before it only counts."""


class CommandError(Exception):
    """An error to report in one line, with the exit code it maps to."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _vec3_arg(kind: Callable[[str], Any], name: str) -> Callable[[str], list[Any]]:
    """An argparse type for ``N`` (the same on every axis) or ``X,Y,Z``."""

    def parse(text: str) -> list[Any]:
        parts = [p for p in text.replace("x", ",").split(",") if p.strip()]
        try:
            values = [kind(p) for p in parts]
        except ValueError:
            values = []
        if len(values) == 1:
            values *= 3
        if len(values) != 3:
            raise argparse.ArgumentTypeError(f"{name} must be N or X,Y,Z, got {text!r}")
        return values

    parse.__name__ = name  # argparse names the type in its messages
    return parse


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _gzip_level(text: str) -> int:
    value = _positive_int(text)
    if value > 9:
        raise argparse.ArgumentTypeError(f"must be between 1 and 9, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from importlib.metadata import PackageNotFoundError, version

    try:
        __version__ = version("ngcodec")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        __version__ = "unknown"

    parser = argparse.ArgumentParser(
        prog="ngcodec",
        description="Convert volumes to Neuroglancer precomputed datasets, and check them.",
        epilog="Exit codes: 0 ok, 1 verification failed, 2 bad arguments, 3 unreadable input, "
        "4 output not writable, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"ngcodec {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    convert = commands.add_parser(
        "convert",
        help="write a volume (.npy, .tif/.tiff, zarr) to a precomputed dataset",
        usage="ngcodec convert [options] INPUT OUTPUT_DIR\n       ngcodec convert [options] "
        "--sample OUTPUT_DIR",
        description="Write a volume to a single-scale precomputed dataset: an info file and one "
        "file per chunk. Chunks already written are skipped, so running the same command again "
        "after an interruption finishes the job.",
    )
    convert.add_argument("paths", nargs="+", metavar="INPUT OUTPUT_DIR", help=argparse.SUPPRESS)
    convert.add_argument(
        "--sample",
        action="store_true",
        help="write a built-in synthetic sample instead of an input: OUTPUT_DIR/segmentation "
        "(compressed_segmentation) and OUTPUT_DIR/image (jpeg)",
    )
    layout = convert.add_argument_group("dataset")
    layout.add_argument(
        "--encoding",
        choices=nv.ENCODINGS,
        help="chunk encoding (default: raw)",
    )
    layout.add_argument(
        "--chunk-size",
        type=_vec3_arg(int, "chunk size"),
        default=[64, 64, 64],
        metavar="N|X,Y,Z",
        help="chunk size in voxels (default: 64)",
    )
    layout.add_argument(
        "--block-size",
        type=_vec3_arg(int, "block size"),
        default=[8, 8, 8],
        metavar="N|X,Y,Z",
        help="compressed_segmentation block size (default: 8)",
    )
    layout.add_argument(
        "--resolution",
        type=_vec3_arg(float, "resolution"),
        metavar="R|X,Y,Z",
        help="voxel size in nanometres (default: 1; the sample's is 8)",
    )
    layout.add_argument(
        "--voxel-offset",
        type=_vec3_arg(int, "voxel offset"),
        default=[0, 0, 0],
        metavar="X,Y,Z",
        help="global coordinates of the first voxel (default: 0,0,0)",
    )
    layout.add_argument(
        "--type",
        dest="layer_type",
        choices=("image", "segmentation"),
        help="layer type (default: segmentation for compressed_segmentation, else image)",
    )
    layout.add_argument("--key", help="scale directory name (default: the resolution, e.g. 8_8_40)")
    layout.add_argument(
        "--data-type",
        help="data type of the dataset (default: the input's); integer values are checked to fit",
    )
    layout.add_argument(
        "--axes",
        help="axis order of the input, e.g. xyz or zyxc (default: zyx for 3-D, czyx for 4-D, or "
        "what a TIFF file declares)",
    )
    layout.add_argument(
        "--no-gzip",
        dest="gzip",
        action="store_false",
        help="write raw and compressed_segmentation chunks as plain files, not gzipped .gz files",
    )
    layout.add_argument(
        "--gzip-level",
        type=_gzip_level,
        default=nv.DEFAULT_GZIP_LEVEL,
        metavar="1-9",
        help=f"gzip level (default: {nv.DEFAULT_GZIP_LEVEL})",
    )
    layout.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a different dataset at OUTPUT_DIR and rewrite every chunk",
    )
    add_argparse_options(convert, allow_lossy=True)
    running = convert.add_argument_group("running")
    running.add_argument(
        "--jobs",
        "-j",
        type=_positive_int,
        metavar="N",
        help="encoding threads, or workers with --scheduler local (default: one per CPU)",
    )
    running.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on a dask.distributed scheduler (tcp://host:8786), or 'local' for a local "
        "cluster of --jobs worker processes; needs ngcodec[dask]",
    )
    _add_output_options(running)
    convert.set_defaults(subparser=convert)

    info = commands.add_parser("info", help="print a dataset's info and storage statistics")
    info.add_argument("dataset", metavar="DATASET")
    info.add_argument("--key", help="only this scale")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(subparser=info)

    verify = commands.add_parser(
        "verify",
        help="decode every chunk of a dataset, and compare with the input if given",
        description="Decode every chunk; report missing and undecodable chunks and, given the "
        "input, chunks that differ from it. Exit code 1 if any.",
    )
    verify.add_argument("dataset", metavar="DATASET")
    verify.add_argument("input", metavar="INPUT", nargs="?")
    verify.add_argument("--key", help="the scale to verify (default: the first)")
    verify.add_argument("--axes", help="axis order of INPUT, as for convert")
    verify.add_argument(
        "--tolerance",
        type=float,
        help="largest absolute difference accepted (default: 0, or none for jpeg: the largest "
        "difference is only reported)",
    )
    verify.add_argument("--jobs", "-j", type=_positive_int, metavar="N", help="decoding threads")
    _add_output_options(verify)
    verify.set_defaults(subparser=verify)
    return parser


def _add_output_options(parser: Any) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar on standard error (default: when it is a terminal)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "convert":
            return _convert(parser, args)
        if args.command == "info":
            return _info(args)
        return _verify(args)
    except CommandError as exc:
        print(f"ngcodec {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        hint = "; run the same command again to resume" if args.command == "convert" else ""
        print(f"ngcodec {args.command}: interrupted{hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (``ngcodec info ... | head``): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _usage_error(parser: argparse.ArgumentParser, args: argparse.Namespace, text: str) -> NoReturn:
    """Print the command's usage and the error, and exit with code 2, as argparse does."""
    subparser: argparse.ArgumentParser = getattr(args, "subparser", parser)
    subparser.error(text)


class _Progress:
    """A tqdm bar of chunks, or nothing; usable as a progress callback."""

    def __init__(self, enabled: bool | None, total: int, label: str) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="chunk", desc=label, file=sys.stderr, leave=False)

    def __call__(self, count: int) -> None:
        if self.bar is not None:
            self.bar.update(count)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _megabytes(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def _summary(label: str, stats: nv.WriteStats) -> str:
    ratio = stats.compression_ratio
    rate = stats.megabytes_per_second
    return (
        f"{label}: {stats.chunks_written} chunks written, {stats.chunks_skipped} already there; "
        f"{_megabytes(stats.bytes_in)} in, {_megabytes(stats.bytes_out)} out"
        + (f" (ratio {ratio:.1f})" if not math.isnan(ratio) else "")
        + f"; {stats.seconds:.2f} s"
        + (f", {rate:.0f} MB/s" if stats.chunks_written and not math.isnan(rate) else "")
    )


def _convert(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    paths = args.paths
    if args.sample:
        if len(paths) != 1:
            _usage_error(parser, args, "with --sample, give only OUTPUT_DIR")
        if args.encoding is not None or args.data_type is not None or args.axes is not None:
            _usage_error(
                parser, args, "--sample chooses its own --encoding, --data-type and --axes"
            )
    elif len(paths) != 2:
        _usage_error(parser, args, "give INPUT and OUTPUT_DIR (or --sample OUTPUT_DIR)")
    if args.jobs is not None and args.scheduler not in (None, "local"):
        _usage_error(
            parser,
            args,
            "--jobs sets local threads or workers; a remote scheduler has its own workers",
        )
    output = Path(paths[-1])

    jobs: list[tuple[str, Any, Path, dict[str, Any]]] = []
    common = {
        "chunk_size": args.chunk_size,
        "block_size": args.block_size,
        "voxel_offset": args.voxel_offset,
        "layer_type": args.layer_type,
        "key": args.key,
        "gzip": args.gzip,
        "gzip_level": args.gzip_level,
        "overwrite": args.overwrite,
        "encoder_options": {
            name: getattr(args, name)
            for name in ("jpeg_quality", "jpeg_plane", "png_level")
            if getattr(args, name, None) is not None
        },
    }
    if args.sample:
        from ngcodec.sample import SAMPLE_RESOLUTION, make_sample

        if args.layer_type is not None:
            _usage_error(parser, args, "--sample chooses its own --type")
        segmentation, image = make_sample()
        resolution = args.resolution or list(SAMPLE_RESOLUTION)
        jobs.append(
            (
                "segmentation",
                segmentation,
                output / "segmentation",
                {**common, "encoding": "compressed_segmentation", "resolution": resolution},
            )
        )
        jobs.append(
            (
                "image",
                image,
                output / "image",
                {**common, "encoding": "jpeg", "resolution": resolution},
            )
        )
    else:
        from ngcodec.sources import UnreadableInputError, open_input

        try:
            source = open_input(paths[0])
        except UnreadableInputError as exc:
            raise CommandError(str(exc), EXIT_INPUT) from exc
        options = {
            **common,
            "encoding": args.encoding or "raw",
            "resolution": args.resolution or [1, 1, 1],
            "data_type": args.data_type,
            "axes": args.axes or source.axes,
        }
        jobs.append((str(paths[0]), source, output, options))

    results = []
    for label, array, path, options in jobs:
        try:
            stats = _convert_one(parser, args, label, array, path, options)
        finally:
            if hasattr(array, "close"):
                array.close()
        results.append((label, path, stats))
        if not args.json:
            print(_summary(str(path), stats))
    if args.json:
        print(
            json.dumps(
                [{"input": label, "output": str(path), **s.as_dict()} for label, path, s in results]
            )
        )
    return EXIT_OK


def _convert_one(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    label: str,
    array: Any,
    path: Path,
    options: dict[str, Any],
) -> nv.WriteStats:
    from ngcodec.sources import UnreadableInputError

    # Check the options before any work, so that a bad combination is a usage error (exit 2).
    try:
        view = nv.AxisOrderView(array, options.get("axes"))
        data_type = options.get("data_type") or nv.default_data_type(view.dtype)
        info = nv.make_info(
            data_type=data_type,
            num_channels=view.shape[0],
            size=view.shape[:0:-1],
            **{
                k: options[k]
                for k in ("encoding", "chunk_size", "resolution", "voxel_offset", "block_size")
            },
            layer_type=options["layer_type"],
            key=options["key"],
        )
        nv.check_castable(view.dtype, data_type)
        nv.PrecomputedVolume(path, info, encoder_options=options["encoder_options"])
    except (InvalidInfoError, ValueError, TypeError) as exc:
        _usage_error(parser, args, f"{label}: {exc}")
    total = nv.PrecomputedVolume(path, info).num_chunks
    progress = _Progress(args.progress, total, path.name)
    try:
        if args.scheduler is not None:
            return _convert_distributed(args, array, path, options, progress)
        return nv.write_volume(array, path, jobs=args.jobs, progress=progress, **options)
    except nv.DatasetExistsError as exc:
        raise CommandError(f"{exc} (--overwrite replaces it)", EXIT_OUTPUT) from exc
    except (UnreadableInputError, nv.UnrepresentableValuesError) as exc:
        raise CommandError(str(exc), EXIT_INPUT) from exc
    except OSError as exc:
        if exc.filename is not None and Path(exc.filename).resolve().is_relative_to(path.resolve()):
            raise CommandError(f"cannot write {exc.filename}: {exc.strerror}", EXIT_OUTPUT) from exc
        raise CommandError(f"{label}: {exc}", EXIT_INPUT) from exc
    finally:
        progress.close()


def _convert_distributed(
    args: argparse.Namespace,
    array: Any,
    path: Path,
    options: dict[str, Any],
    progress: _Progress,
) -> nv.WriteStats:
    try:
        import dask.array as da
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise CommandError(
            f"--scheduler needs dask.distributed: pip install 'ngcodec[dask]' ({exc})", EXIT_USAGE
        ) from exc
    from ngcodec.distributed import aligned_block_shape, to_precomputed

    # Blocks on the chunk grid from the start, so that each task reads its own part of the file.
    view = nv.AxisOrderView(array, options.get("axes"))
    data_type = options.get("data_type") or nv.default_data_type(view.dtype)
    info = nv.make_info(
        data_type=data_type,
        num_channels=view.shape[0],
        size=view.shape[:0:-1],
        encoding=options["encoding"],
        chunk_size=options["chunk_size"],
    )
    block = aligned_block_shape(nv.PrecomputedVolume(path, info))
    darr = da.from_array(
        view,
        chunks=block,
        name=False,
        asarray=True,
        lock=False,
        meta=np.empty((0,) * 4, view.dtype),
    )
    options = {**options, "axes": None}
    if args.scheduler == "local":
        workers = args.jobs or nv._job_count(None)
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, dashboard_address=None
            ) as cluster,
            Client(cluster),
        ):
            return to_precomputed(darr, path, progress=progress, **options)  # type: ignore[no-any-return]
    try:
        client = Client(args.scheduler, timeout="10s")
    except OSError as exc:
        raise CommandError(
            f"cannot reach the scheduler {args.scheduler}: {exc}", EXIT_USAGE
        ) from exc
    with client:
        return to_precomputed(darr, path, progress=progress, **options)  # type: ignore[no-any-return]


def _open_dataset(path: str, key: str | None = None) -> nv.PrecomputedVolume:
    try:
        return nv.PrecomputedVolume.open(path, key)
    except FileNotFoundError as exc:
        raise CommandError(
            f"{path} is not a precomputed dataset (no info file)", EXIT_INPUT
        ) from exc
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read {path}: {exc}", EXIT_INPUT) from exc


def _pretty_json(value: Any, indent: str = "") -> str:
    """JSON with one member per line, but lists of numbers on one line, as people write info."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        members = [f"{inner}{json.dumps(k)}: {_pretty_json(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(members) + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        if all(isinstance(v, list) for v in value):
            return "[" + ", ".join(_pretty_json(v, inner) for v in value) + "]"
        items = [inner + _pretty_json(v, inner) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    return json.dumps(value)


def _info(args: argparse.Namespace) -> int:
    first = _open_dataset(args.dataset, args.key)
    keys = [args.key] if args.key else [s.get("key") for s in first.info["scales"]]
    scales = []
    for key in keys:
        volume = _open_dataset(args.dataset, key)
        files = volume.chunk_files()
        expected = {box.name: box for box in volume.chunk_boxes()}
        present = {name.removesuffix(nv.GZIP_SUFFIX) for name in files}
        stored = sum(files.values())
        decoded = sum(volume.chunk_nbytes(expected[n]) for n in present if n in expected)
        scales.append(
            {
                "key": volume.key,
                "size": list(volume.size),
                "chunk_size": list(volume.chunk_size),
                "encoding": volume.scale["encoding"],
                "chunks_expected": len(expected),
                "chunks_present": len(present & expected.keys()),
                "chunks_missing": len(expected.keys() - present),
                "chunks_gzipped": sum(1 for n in files if n.endswith(nv.GZIP_SUFFIX)),
                "unexpected_files": sorted(n for n in present if n not in expected),
                "bytes_stored": stored,
                "bytes_decoded": decoded,
                "compression_ratio": decoded / stored if stored else None,
            }
        )
    if args.json:
        print(json.dumps({"info": first.info, "scales": scales}))
        return EXIT_OK
    print(_pretty_json(first.info))
    for s in scales:
        x, y, z = s["size"]
        ratio = s["compression_ratio"]
        print(
            f"scale {s['key']}: {x}x{y}x{z} voxels in {s['chunks_expected']} chunks of "
            f"{'x'.join(map(str, s['chunk_size']))}, {s['encoding']}\n"
            f"  {s['chunks_present']} present ({s['chunks_gzipped']} gzipped), "
            f"{s['chunks_missing']} missing; {_megabytes(s['bytes_stored'])} stored for "
            f"{_megabytes(s['bytes_decoded'])} of data" + (f" (ratio {ratio:.1f})" if ratio else "")
        )
        if s["unexpected_files"]:
            print(f"  {len(s['unexpected_files'])} chunk files outside the grid")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    volume = _open_dataset(args.dataset, args.key)
    reference = None
    if args.input is not None:
        from ngcodec.sources import UnreadableInputError, open_input

        try:
            reference = open_input(args.input)
        except UnreadableInputError as exc:
            raise CommandError(str(exc), EXIT_INPUT) from exc
    progress = _Progress(args.progress, volume.num_chunks, Path(args.dataset).name)
    try:
        report = nv.verify_volume(
            args.dataset,
            reference,
            key=volume.key,
            axes=args.axes or getattr(reference, "axes", None),
            tolerance=args.tolerance,
            jobs=args.jobs,
            progress=progress,
        )
    except (nv.ChunkError, OSError) as exc:
        raise CommandError(str(exc), EXIT_INPUT) from exc
    except ValueError as exc:  # the input's shape differs from the dataset's
        raise CommandError(str(exc), EXIT_VERIFY_FAILED) from exc
    finally:
        progress.close()
        if reference is not None:
            reference.close()
    if args.json:
        print(json.dumps(report.as_dict()))
        return EXIT_OK if report.ok else EXIT_VERIFY_FAILED
    for title, items in (
        ("missing", report.missing),
        ("cannot be decoded", [f"{name}: {why}" for name, why in report.corrupt]),
        ("differ from the input", [f"{n} (max difference {e:g})" for n, e in report.mismatched]),
    ):
        if items:
            print(f"{len(items)} chunks {title}:")
            for line in items[:MAX_LISTED]:
                print(f"  {line}")
            if len(items) > MAX_LISTED:
                print(f"  ... and {len(items) - MAX_LISTED} more")
    compared = ""
    if report.compared:
        compared = (
            "; identical to the input"
            if report.max_abs_error == 0
            else f"; largest difference from the input {report.max_abs_error:g}"
        )
    status = "ok" if report.ok else "FAILED"
    print(
        f"{args.dataset}: {status}: {report.chunks_ok} of {report.chunks_total} chunks decoded"
        f"{compared if report.ok or report.mismatched else ''} ({report.seconds:.2f} s)"
    )
    return EXIT_OK if report.ok else EXIT_VERIFY_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
