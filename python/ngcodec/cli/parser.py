"""The ``ngcodec`` command line: its commands and options."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ngcodec.chunk_encoding import add_argparse_options
from ngcodec.cli.inputs import add_input_options
from ngcodec.precomputed.format import ENCODINGS
from ngcodec.precomputed.format.scales import DOWNSAMPLING_METHODS
from ngcodec.precomputed.store.compression import DEFAULT_GZIP_LEVEL, GZIP_LEVELS

__all__ = ["build_parser"]


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


_BYTE_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def _byte_size(text: str) -> int:
    """A number of bytes: ``1000000``, ``512M``, ``2G``, ``1.5GiB`` (units are powers of 1024)."""
    number = text.strip().lower().removesuffix("b").removesuffix("i")
    unit = number[-1:] if number[-1:] in _BYTE_UNITS else ""
    try:
        value = float(number.removesuffix(unit)) * _BYTE_UNITS[unit]
    except ValueError:
        value = -1
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be a size like 1000000, 512M or 2G, got {text!r}")
    return int(value)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number (0: any free one), got {text!r}")
    return value


def _gzip_level(text: str) -> int:
    value = _positive_int(text)
    if value > GZIP_LEVELS.stop - 1:
        raise argparse.ArgumentTypeError(f"must be between 1 and 12, got {text!r}")
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
        help="write a volume (.npy, TIFF, zarr, OME-Zarr, HDF5, NIfTI, N5, a directory of "
        "slices) to a precomputed dataset",
        usage="ngcodec convert [options] INPUT OUTPUT_DIR\n       ngcodec convert [options] "
        "--sample OUTPUT_DIR",
        description="Write a volume to a precomputed dataset: an info file and one file per "
        "chunk, for the volume and for each coarser scale of its pyramid. Chunks already written "
        "are skipped, so running the same command again after an interruption finishes the job. "
        "OUTPUT_DIR is a directory or a URL: s3://BUCKET/PATH, gs://BUCKET/PATH, file://PATH.",
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
        choices=ENCODINGS,
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
        help="voxel size in nanometres (default: the input's, if its format declares one, else "
        "1; the sample's is 8)",
    )
    layout.add_argument(
        "--voxel-offset",
        type=_vec3_arg(int, "voxel offset"),
        metavar="X,Y,Z",
        help="global coordinates of the first voxel (default: the input's, if its format "
        "declares one, else 0,0,0)",
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
    _add_gzip_options(layout)
    layout.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a different dataset at OUTPUT_DIR and rewrite every chunk",
    )
    _add_sharding_options(layout)
    add_input_options(convert)
    add_argparse_options(convert, allow_lossy=True)
    pyramid = convert.add_argument_group("pyramid")
    pyramid.add_argument(
        "--single-scale",
        dest="pyramid",
        action="store_false",
        help="write only the volume's own scale, no coarser ones",
    )
    _add_pyramid_options(pyramid)
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
    _add_store_options(convert)
    convert.set_defaults(subparser=convert)

    downsample = commands.add_parser(
        "downsample",
        help="add the missing coarser scales to a dataset",
        description="Add the coarser scales of a pyramid to an existing dataset (written by "
        "ngcodec or any other tool), each made from the one before it, and write their missing "
        "chunks. Running it again after an interruption finishes the job.",
    )
    downsample.add_argument("dataset", metavar="DATASET")
    _add_pyramid_options(downsample)
    _add_gzip_options(downsample)
    downsample.add_argument(
        "--jobs", "-j", type=_positive_int, metavar="N", help="encoding threads"
    )
    _add_sharding_options(downsample, new_scales=True)
    _add_store_options(downsample)
    _add_output_options(downsample)
    downsample.set_defaults(subparser=downsample)

    transcode = commands.add_parser(
        "transcode",
        help="re-encode a jpeg dataset as jxl, losslessly (the same DCT coefficients)",
        description="Recompress every chunk of every scale of a jpeg dataset as JPEG XL, keeping "
        "its DCT coefficients: the same image in fewer bytes. Needs ngcodec[jxl].",
    )
    transcode.add_argument("dataset", metavar="DATASET")
    transcode.add_argument("output", metavar="OUTPUT_DIR")
    transcode.add_argument("--encoding", choices=("jxl",), default="jxl", help="the new encoding")
    transcode.add_argument(
        "--overwrite", action="store_true", help="replace a different dataset at OUTPUT_DIR"
    )
    transcode.add_argument("--jobs", "-j", type=_positive_int, metavar="N", help="threads")
    _add_store_options(transcode)
    _add_output_options(transcode)
    transcode.set_defaults(subparser=transcode)

    info = commands.add_parser("info", help="print a dataset's info and storage statistics")
    info.add_argument("dataset", metavar="DATASET")
    info.add_argument("--key", help="only this scale")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    _add_store_options(info)
    info.set_defaults(subparser=info)

    verify = commands.add_parser(
        "verify",
        help="decode every chunk of a dataset, and compare with the input if given",
        description="Decode every chunk; report missing and undecodable chunks and, given the "
        "input, chunks that differ from it. Exit code 1 if any.",
    )
    verify.add_argument("dataset", metavar="DATASET")
    verify.add_argument("input", metavar="INPUT", nargs="?")
    verify.add_argument("--key", help="the scale to verify (default: every scale)")
    verify.add_argument("--axes", help="axis order of INPUT, as for convert")
    add_input_options(verify)
    verify.add_argument(
        "--tolerance",
        type=float,
        help="largest absolute difference accepted (default: 0, or none for jpeg: the largest "
        "difference is only reported)",
    )
    verify.add_argument(
        "--downsample-method",
        choices=DOWNSAMPLING_METHODS,
        help="how the coarser scales were made, to check them against the finer ones (default: "
        "mode for segmentation, mean for images)",
    )
    verify.add_argument("--jobs", "-j", type=_positive_int, metavar="N", help="decoding threads")
    _add_output_options(verify)
    _add_store_options(verify)
    verify.set_defaults(subparser=verify)

    serve = commands.add_parser(
        "serve",
        help="serve a folder of datasets over HTTP and print a Neuroglancer link to them",
        description="Serve DIR over HTTP as Neuroglancer reads it (name.gz sent for name with "
        "Content-Encoding: gzip, byte ranges, CORS) and print a link that opens every dataset "
        "under DIR as a layer. With the neuroglancer package installed (ngcodec[view]), the "
        "viewer itself is served too, so the link works offline (e.g. through an SSH tunnel: "
        "ssh -L 8000:127.0.0.1:8000 HOST, and --port 8000 here).",
    )
    serve.add_argument("directory", metavar="DIR")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 for all)",
    )
    serve.add_argument(
        "--port", type=_port, default=0, help="the port to listen on (default: a free one)"
    )
    serve.set_defaults(subparser=serve)
    return parser


def _add_gzip_options(group: Any) -> None:
    group.add_argument(
        "--no-gzip",
        dest="gzip",
        action="store_false",
        help="write raw, compressed_segmentation and compresso chunks as plain files, not gzipped",
    )
    group.add_argument(
        "--gzip-level",
        type=_gzip_level,
        default=DEFAULT_GZIP_LEVEL,
        metavar="1-12",
        help=f"gzip level: 1 fastest, 9 as zlib's 9, 10-12 a few percent smaller and much slower "
        f"(default: {DEFAULT_GZIP_LEVEL})",
    )


def _add_pyramid_options(group: Any) -> None:
    group.add_argument(
        "--max-scales",
        type=_positive_int,
        metavar="N",
        help="at most N scales in all (default: until one chunk holds the coarsest)",
    )
    group.add_argument(
        "--factors",
        type=_vec3_arg(int, "factors"),
        nargs="+",
        metavar="X,Y,Z",
        help="the factors of each coarser scale over the one before (default: 2 on every axis, "
        "later on the axes of coarser resolution, until the voxels are near-isotropic)",
    )
    group.add_argument(
        "--downsample-method",
        choices=DOWNSAMPLING_METHODS,
        help="how a block of voxels becomes one (default: mode for segmentation, mean for images)",
    )
    group.add_argument(
        "--ignore-zero",
        action="store_true",
        help="with mode: 0 wins a block only if the whole block is 0 (keeps thin objects)",
    )


def _add_sharding_options(group: Any, new_scales: bool = False) -> None:
    which = "the new scales" if new_scales else "every scale"
    group.add_argument(
        "--sharded",
        action="store_true",
        help=f"write {which} in the sharded format: a few .shard files holding many chunks each, "
        "instead of a file per chunk"
        + (" (the default when the base scale is sharded)" if new_scales else ""),
    )
    group.add_argument(
        "--sharded-above",
        type=_byte_size,
        metavar="SIZE",
        help=f"shard only those of {which} holding more than SIZE bytes of uncompressed data "
        "(e.g. 4G); the others keep a file per chunk",
    )
    group.add_argument(
        "--shard-bytes",
        type=_byte_size,
        metavar="SIZE",
        help="uncompressed data per shard, about (default: 2G); a shard is held in memory "
        "compressed while it is written",
    )


def _add_output_options(parser: Any) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar on standard error (default: when it is a terminal)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def _add_store_options(parser: Any) -> None:
    parser.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="the S3-compatible server of s3:// datasets, e.g. http://127.0.0.1:9000 for MinIO "
        "(default: $AWS_ENDPOINT_URL, else AWS)",
    )
