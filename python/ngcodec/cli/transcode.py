"""``ngcodec transcode``: a jpeg dataset re-encoded as jxl, losslessly, every scale."""

from __future__ import annotations

import argparse
import json

from ngcodec.chunk_encoding import InvalidFormatError
from ngcodec.cli.common import (
    EXIT_INPUT,
    EXIT_OK,
    EXIT_OUTPUT,
    CommandError,
    Progress,
    open_dataset,
    open_location,
)
from ngcodec.cli.convert import summary
from ngcodec.precomputed.pipeline.transcode import transcode_to_jxl
from ngcodec.precomputed.volume import ChunkError, DatasetExistsError, PrecomputedVolume

__all__ = ["run_transcode"]


def run_transcode(args: argparse.Namespace) -> int:
    first = open_dataset(open_location(args, args.dataset))
    target = open_location(args, args.output)
    keys = [scale["key"] for scale in first.info["scales"]]
    total = sum(PrecomputedVolume(first.store, first.info, key).num_chunks for key in keys)
    progress = Progress(args.progress, total, args.output)
    try:
        results = transcode_to_jxl(
            first.store, target, jobs=args.jobs, overwrite=args.overwrite, progress=progress
        )
    except DatasetExistsError as exc:
        raise CommandError(f"{exc} (--overwrite replaces it)", EXIT_OUTPUT) from exc
    except (ChunkError, InvalidFormatError, ValueError, OSError) as exc:
        raise CommandError(str(exc), EXIT_INPUT) from exc
    finally:
        progress.close()
    if args.json:
        print(json.dumps([{"key": key, **s.as_dict()} for key, s in results.items()]))
    else:
        for key, stats in results.items():
            print(summary(f"{args.output} scale {key}", stats))
    return EXIT_OK
