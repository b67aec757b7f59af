"""``ngcodec convert``: write volumes (or the built-in sample) to precomputed datasets."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import numpy as np

from ngcodec.chunk_encoding import ENCODER_OPTIONS, InvalidInfoError
from ngcodec.cli.common import (
    EXIT_INPUT,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
    CommandError,
    Progress,
    is_within,
    megabytes,
    open_location,
    usage_error,
)
from ngcodec.cli.inputs import geometry_from, open_source
from ngcodec.precomputed.format.sharding import DEFAULT_SHARD_BYTES
from ngcodec.precomputed.parallel import job_count
from ngcodec.precomputed.pipeline.arrays import (
    AxisOrderView,
    UnrepresentableValuesError,
)
from ngcodec.precomputed.pipeline.convert import write_volume
from ngcodec.precomputed.pipeline.distributed import aligned_block_shape, to_precomputed
from ngcodec.precomputed.pipeline.write import WriteStats, dataset_info
from ngcodec.precomputed.store import Store
from ngcodec.precomputed.volume import DatasetExistsError, PrecomputedVolume

__all__ = ["run_convert", "sharding_options", "summary"]

LAYOUT_OPTIONS = (
    "encoding",
    "chunk_size",
    "block_size",
    "resolution",
    "voxel_offset",
    "layer_type",
    "key",
    "data_type",
    "pyramid",
    "max_scales",
    "factors",
    "sharded",
    "sharded_above",
    "shard_bytes",
    "gzip",
)
"""The options of :func:`write_volume` that shape the dataset's info."""


def summary(label: str, stats: WriteStats) -> str:
    ratio = stats.compression_ratio
    rate = stats.megabytes_per_second
    return (
        f"{label}: {stats.chunks_written} chunks written, {stats.chunks_skipped} already there; "
        f"{megabytes(stats.bytes_in)} in, {megabytes(stats.bytes_out)} out"
        + (f" (ratio {ratio:.1f})" if not math.isnan(ratio) else "")
        + f"; {stats.seconds:.2f} s"
        + (f", {rate:.0f} MB/s" if stats.chunks_written and not math.isnan(rate) else "")
    )


def sharding_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, Any]:
    """``sharded``, ``sharded_above`` and ``shard_bytes`` from ``--sharded``, ``--sharded-above``
    and ``--shard-bytes``."""
    sharded = args.sharded or args.sharded_above is not None
    if args.shard_bytes is not None and not sharded:
        usage_error(parser, args, "--shard-bytes goes with --sharded or --sharded-above")
    return {
        "sharded": sharded,
        "sharded_above": args.sharded_above or 0,
        "shard_bytes": DEFAULT_SHARD_BYTES if args.shard_bytes is None else args.shard_bytes,
    }


def run_convert(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    paths = args.paths
    if args.sample:
        if len(paths) != 1:
            usage_error(parser, args, "with --sample, give only OUTPUT_DIR")
        if args.encoding is not None or args.data_type is not None or args.axes is not None:
            usage_error(parser, args, "--sample chooses its own --encoding, --data-type and --axes")
    elif len(paths) != 2:
        usage_error(parser, args, "give INPUT and OUTPUT_DIR (or --sample OUTPUT_DIR)")
    if args.jobs is not None and args.scheduler not in (None, "local"):
        usage_error(
            parser,
            args,
            "--jobs sets local threads or workers; a remote scheduler has its own workers",
        )
    output = str(paths[-1]).rstrip("/") or "/"
    sharding = sharding_options(parser, args)
    jobs: list[tuple[str, Any, Store, dict[str, Any]]] = []
    common = {
        "chunk_size": args.chunk_size,
        "block_size": args.block_size,
        "voxel_offset": args.voxel_offset or [0, 0, 0],
        "layer_type": args.layer_type,
        "key": args.key,
        "gzip": args.gzip,
        "gzip_level": args.gzip_level,
        "overwrite": args.overwrite,
        "pyramid": args.pyramid,
        "max_scales": args.max_scales,
        "factors": args.factors,
        "downsample_method": args.downsample_method,
        "ignore_zero": args.ignore_zero,
        **sharding,
        "encoder_options": {
            name: getattr(args, name)
            for name in ENCODER_OPTIONS
            if getattr(args, name, None) is not None
        },
    }
    if args.sample:
        from ngcodec.sample import SAMPLE_RESOLUTION, make_sample

        if args.layer_type is not None:
            usage_error(parser, args, "--sample chooses its own --type")
        segmentation, image = make_sample()
        resolution = args.resolution or list(SAMPLE_RESOLUTION)
        jobs.append(
            (
                "segmentation",
                segmentation,
                open_location(args, f"{output}/segmentation"),
                {**common, "encoding": "compressed_segmentation", "resolution": resolution},
            )
        )
        jobs.append(
            (
                "image",
                image,
                open_location(args, f"{output}/image"),
                {**common, "encoding": "jpeg", "resolution": resolution},
            )
        )
    else:
        target = open_location(args, output)
        source = open_source(paths[0], args)
        resolution, voxel_offset, taken = geometry_from(source, args)
        if taken and not args.json:
            print(f"{paths[0]}: {taken}", flush=True)
        options = {
            **common,
            "encoding": args.encoding or "raw",
            "resolution": resolution,
            "voxel_offset": voxel_offset,
            "data_type": args.data_type,
            "axes": args.axes or source.axes,
        }
        jobs.append((str(paths[0]), source, target, options))

    results = []
    for label, array, path, options in jobs:
        try:
            stats = _convert_one(parser, args, label, array, path, options)
        finally:
            if hasattr(array, "close"):
                array.close()
        results.append((label, path, stats))
        if not args.json:
            print(summary(path.location, stats))
    if args.json:
        print(
            json.dumps(
                [
                    {"input": label, "output": path.location, **s.as_dict()}
                    for label, path, s in results
                ]
            )
        )
    return EXIT_OK


def _convert_one(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    label: str,
    array: Any,
    path: Store,
    options: dict[str, Any],
) -> WriteStats:
    from ngcodec.sources import UnreadableInputError

    # Check the options before any work, so that a bad combination is a usage error (exit 2).
    try:
        view = AxisOrderView(array, options.get("axes"))
        info = dataset_info(view.dtype, view.shape, **_layout(options))
        volumes = [
            PrecomputedVolume(path, info, scale["key"], options["encoder_options"])
            for scale in info["scales"]
        ]
        if options["downsample_method"] == "mode" and volumes[0].dtype.kind == "f":
            raise ValueError("--downsample-method mode is for labels, not float32 images")
    except (InvalidInfoError, ValueError, TypeError) as exc:
        usage_error(parser, args, f"{label}: {exc}")
    total = sum(volume.num_chunks for volume in volumes)
    progress = Progress(args.progress, total, path.location.rpartition("/")[2])
    try:
        if args.scheduler is not None:
            return _convert_distributed(args, array, path, options, progress)
        return write_volume(array, path, jobs=args.jobs, progress=progress, **options)
    except DatasetExistsError as exc:
        raise CommandError(f"{exc} (--overwrite replaces it)", EXIT_OUTPUT) from exc
    except (UnreadableInputError, UnrepresentableValuesError) as exc:
        raise CommandError(str(exc), EXIT_INPUT) from exc
    except OSError as exc:
        if is_within(exc.filename, path):
            raise CommandError(f"cannot write {exc.filename}: {exc.strerror}", EXIT_OUTPUT) from exc
        raise CommandError(f"{label}: {exc}", EXIT_INPUT) from exc
    finally:
        progress.close()


def _layout(options: dict[str, Any]) -> dict[str, Any]:
    return {name: options.get(name) for name in LAYOUT_OPTIONS}


def _convert_distributed(
    args: argparse.Namespace,
    array: Any,
    path: Store,
    options: dict[str, Any],
    progress: Progress,
) -> WriteStats:
    try:
        import dask.array as da
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise CommandError(
            f"--scheduler needs dask.distributed: pip install 'ngcodec[dask]' ({exc})", EXIT_USAGE
        ) from exc

    # Blocks on the chunk grid from the start, so that each task reads its own part of the file.
    view = AxisOrderView(array, options.get("axes"))
    info = dataset_info(view.dtype, view.shape, **_layout(options))
    darr = da.from_array(
        view,
        chunks=aligned_block_shape(PrecomputedVolume(path, info)),
        name=False,
        asarray=True,
        lock=False,
        meta=np.empty((0,) * 4, view.dtype),
    )
    options = {**options, "axes": None}
    if args.scheduler == "local":
        workers = args.jobs or job_count(None)
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, dashboard_address="127.0.0.1:0"
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
