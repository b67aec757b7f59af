"""``ngcodec info`` and ``ngcodec verify``: describe a dataset, and check every chunk of it."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ngcodec.cli.common import (
    EXIT_INPUT,
    EXIT_OK,
    EXIT_VERIFY_FAILED,
    CommandError,
    Progress,
    megabytes,
    open_dataset,
    open_location,
)
from ngcodec.cli.inputs import open_source
from ngcodec.precomputed.pipeline.verify import VerifyReport, verify_pyramid
from ngcodec.precomputed.volume import ChunkError, PrecomputedVolume

__all__ = ["run_info", "run_verify"]

MAX_LISTED = 20
"""How many failing chunks ``verify`` names before it only counts."""


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


def run_info(args: argparse.Namespace) -> int:
    store = open_location(args, args.dataset)
    first = open_dataset(store, args.key)
    keys = [args.key] if args.key else [s.get("key") for s in first.info["scales"]]
    scales = []
    for key in keys:
        volume = open_dataset(store, key)
        scale: dict[str, Any] = {
            "key": volume.key,
            "size": list(volume.size),
            "chunk_size": list(volume.chunk_size),
            "encoding": volume.scale["encoding"],
            "chunks_expected": volume.num_chunks,
            **_sharding(volume, store.listable),
        }
        if store.listable:
            scale.update(_storage_statistics(volume))
        scales.append(scale)
    if args.json:
        print(json.dumps({"info": first.info, "scales": scales}))
        return EXIT_OK
    print(_pretty_json(first.info))
    for s in scales:
        x, y, z = s["size"]
        print(
            f"scale {s['key']}: {x}x{y}x{z} voxels in {s['chunks_expected']} chunks of "
            f"{'x'.join(map(str, s['chunk_size']))}, {s['encoding']}"
        )
        if s["sharding"] is not None:
            spec, present = s["sharding"], s["shards_present"]
            print(
                f"  sharded: {'?' if present is None else present} of {s['shards_expected']} "
                f"shard files; {spec['hash']} hash, preshift {spec['preshift_bits']}, minishard "
                f"{spec['minishard_bits']}, shard {spec['shard_bits']} bits; chunks "
                f"{spec.get('data_encoding', 'raw')}, minishard indexes "
                f"{spec.get('minishard_index_encoding', 'raw')}"
            )
        if "chunks_present" not in s:
            print(f"  chunks not counted: {store.location} cannot list its files")
            continue
        gzipped, ratio = s["chunks_gzipped"], s["compression_ratio"]
        print(
            f"  {s['chunks_present']} present"
            + (f" ({gzipped} gzipped)" if gzipped is not None else "")
            + f", {s['chunks_missing']} missing; {megabytes(s['bytes_stored'])} stored for "
            f"{megabytes(s['bytes_decoded'])} of data" + (f" (ratio {ratio:.1f})" if ratio else "")
        )
        if s["unexpected_files"]:
            print(f"  {len(s['unexpected_files'])} chunk files outside the grid")
    return EXIT_OK


def _sharding(volume: PrecomputedVolume, listable: bool) -> dict[str, Any]:
    """A scale's sharding and its count of shard files, expected and (if listed) present."""
    if not volume.sharded:
        return {"sharding": None}
    return {
        "sharding": volume.scale["sharding"],
        "shards_expected": volume.shards.expected_shards(),
        "shards_present": len(volume.shards.stored_shards()) if listable else None,
    }


def _storage_statistics(volume: PrecomputedVolume) -> dict[str, Any]:
    """What one listing of a scale (and, if sharded, its shard indexes) tells: chunks present and
    missing, bytes stored."""
    try:
        stored_chunks = volume.stored_chunks()
    except ChunkError as exc:
        raise CommandError(f"{exc} (ngcodec verify checks every shard)", EXIT_INPUT) from exc
    expected = {box.name: box for box in volume.chunk_boxes()}
    present = set(stored_chunks)
    stored = sum(chunk.size for chunk in stored_chunks.values())
    if volume.sharded:  # the shard files, indexes included
        stored = sum(shard.size for shard in volume.shards.stored_shards().values())
    decoded = sum(volume.chunk_nbytes(expected[n]) for n in present if n in expected)
    gzip_known = all(chunk.gzipped is not None for chunk in stored_chunks.values())
    return {
        "chunks_present": len(present & expected.keys()),
        "chunks_missing": len(expected.keys() - present),
        # Object stores keep Content-Encoding with each object; a listing does not show it.
        "chunks_gzipped": sum(1 for chunk in stored_chunks.values() if chunk.gzipped)
        if gzip_known
        else None,
        "unexpected_files": sorted(n for n in present if n not in expected),
        "bytes_stored": stored,
        "bytes_decoded": decoded,
        "compression_ratio": decoded / stored if stored else None,
    }


def run_verify(args: argparse.Namespace) -> int:
    from ngcodec.sources import UnreadableInputError

    store = open_location(args, args.dataset)
    first = open_dataset(store, args.key)
    keys = [first.key] if args.key else [scale["key"] for scale in first.info["scales"]]
    total = sum(open_dataset(store, key).num_chunks for key in keys)
    reference = None
    if args.input is not None:
        reference = open_source(args.input, args)
    progress = Progress(args.progress, total, store.location.rpartition("/")[2])
    try:
        reports = verify_pyramid(
            store,
            reference,
            keys=keys,
            axes=args.axes or getattr(reference, "axes", None),
            method=args.downsample_method,
            tolerance=args.tolerance,
            jobs=args.jobs,
            progress=progress,
        )
    except (ChunkError, OSError, UnreadableInputError) as exc:
        raise CommandError(str(exc), EXIT_INPUT) from exc
    except ValueError as exc:  # the input's shape differs from the dataset's
        raise CommandError(str(exc), EXIT_VERIFY_FAILED) from exc
    finally:
        progress.close()
        if reference is not None:
            reference.close()
    ok = all(report.ok for report in reports.values())
    if args.json:
        print(
            json.dumps(
                {
                    "ok": ok,
                    "chunks_total": sum(r.chunks_total for r in reports.values()),
                    "chunks_ok": sum(r.chunks_ok for r in reports.values()),
                    "scales": {key: report.as_dict() for key, report in reports.items()},
                }
            )
        )
        return EXIT_OK if ok else EXIT_VERIFY_FAILED
    for position, (key, report) in enumerate(reports.items()):
        # The first scale's reference is the input; a coarser scale's, the finer one downsampled.
        against = "the input" if position == 0 and not args.key else "the finer scale downsampled"
        label = args.dataset if len(reports) == 1 else f"{args.dataset} scale {key}"
        _print_report(label, report, against)
    return EXIT_OK if ok else EXIT_VERIFY_FAILED


def _print_report(label: str, report: VerifyReport, against: str) -> None:
    for title, items in (
        ("missing", report.missing),
        ("cannot be decoded", [f"{name}: {why}" for name, why in report.corrupt]),
        (f"differ from {against}", [f"{n} (max difference {e:g})" for n, e in report.mismatched]),
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
            f"; identical to {against}"
            if report.max_abs_error == 0
            else f"; largest difference from {against} {report.max_abs_error:g}"
        )
    if report.nonstandard_streams:
        print(
            f"warning: {report.nonstandard_streams} zlib streams where the sharded format says "
            "gzip (as neuroglancer-scripts 1.2.0 writes them): ngcodec reads them, tensorstore "
            "and Neuroglancer cannot; rewrite the dataset with ngcodec to fix it"
        )
    status = "ok" if report.ok else "FAILED"
    print(
        f"{label}: {status}: {report.chunks_ok} of {report.chunks_total} chunks decoded"
        f"{compared if report.ok or report.mismatched else ''} ({report.seconds:.2f} s)"
    )
