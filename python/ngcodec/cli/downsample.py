"""``ngcodec downsample``: add the missing coarser scales to an existing dataset."""

from __future__ import annotations

import argparse
import json

from ngcodec.chunk_encoding import InvalidInfoError
from ngcodec.cli.common import (
    EXIT_INPUT,
    EXIT_OK,
    CommandError,
    Progress,
    open_dataset,
    open_location,
    usage_error,
)
from ngcodec.cli.convert import sharding_options, summary
from ngcodec.precomputed.format import dump_info
from ngcodec.precomputed.format.scales import shard_scales
from ngcodec.precomputed.pipeline.downsample import extend_pyramid, write_pyramid
from ngcodec.precomputed.volume import ChunkError, PrecomputedVolume

__all__ = ["run_downsample"]


def run_downsample(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    base = open_dataset(open_location(args, args.dataset))
    sharding = sharding_options(parser, args)
    try:
        info, keys = extend_pyramid(base.info, max_scales=args.max_scales, factors=args.factors)
        if sharding["sharded"] or base.sharded:
            old_keys = {scale.get("key") for scale in base.info["scales"]}
            info = shard_scales(
                info,
                shard_bytes=sharding["shard_bytes"],
                above=sharding["sharded_above"],
                gzip=args.gzip,
                keys=[key for key in keys if key not in old_keys],
            )
        scales = [PrecomputedVolume(base.store, info, key) for key in keys]
        if args.downsample_method == "mode" and base.dtype.kind == "f":
            raise ValueError("--downsample-method mode is for labels, not float32 images")
    except (InvalidInfoError, ValueError) as exc:
        usage_error(parser, args, str(exc))
    if not base.existing_chunk_names():
        raise CommandError(
            f"{args.dataset}: scale {base.key} has no chunks to downsample", EXIT_INPUT
        )
    if info != base.info:
        base.store.write("info", dump_info(info))
    base = PrecomputedVolume(base.store, info, base.key)
    progress = Progress(args.progress, sum(s.num_chunks for s in scales), base.key)
    try:
        results = write_pyramid(
            base,
            method=args.downsample_method,
            ignore_zero=args.ignore_zero,
            keys=keys,
            gzip_level=args.gzip_level if args.gzip else None,
            jobs=args.jobs,
            progress=progress,
        )
    except (ChunkError, OSError) as exc:
        raise CommandError(str(exc), EXIT_INPUT) from exc
    finally:
        progress.close()
    if args.json:
        print(json.dumps([{"key": key, **s.as_dict()} for key, s in results.items()]))
    else:
        for key, stats in results.items():
            print(summary(f"{args.dataset} scale {key}", stats))
        if not results:
            print(f"{args.dataset}: the pyramid is complete")
    return EXIT_OK
