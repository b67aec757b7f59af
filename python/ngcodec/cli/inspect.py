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
    open_location,
)
from ngcodec.cli.inputs import open_source
from ngcodec.precomputed.pipeline.verify import verify_volume
from ngcodec.precomputed.store import Store
from ngcodec.precomputed.volume import ChunkError, PrecomputedVolume

__all__ = ["run_info", "run_verify"]

MAX_LISTED = 20
"""How many failing chunks ``verify`` names before it only counts."""


def _open_dataset(store: Store, key: str | None = None) -> PrecomputedVolume:
    path = store.location
    try:
        return PrecomputedVolume.open(store, key)
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


def run_info(args: argparse.Namespace) -> int:
    store = open_location(args, args.dataset)
    first = _open_dataset(store, args.key)
    keys = [args.key] if args.key else [s.get("key") for s in first.info["scales"]]
    scales = []
    for key in keys:
        volume = _open_dataset(store, key)
        scale: dict[str, Any] = {
            "key": volume.key,
            "size": list(volume.size),
            "chunk_size": list(volume.chunk_size),
            "encoding": volume.scale["encoding"],
            "chunks_expected": volume.num_chunks,
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


def _storage_statistics(volume: PrecomputedVolume) -> dict[str, Any]:
    """What one listing of a scale tells: chunks present and missing, bytes stored."""
    stored_chunks = volume.stored_chunks()
    expected = {box.name: box for box in volume.chunk_boxes()}
    present = set(stored_chunks)
    stored = sum(chunk.size for chunk in stored_chunks.values())
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

    volume = _open_dataset(open_location(args, args.dataset), args.key)
    reference = None
    if args.input is not None:
        reference = open_source(args.input, args)
    progress = Progress(args.progress, volume.num_chunks, volume.store.location.rpartition("/")[2])
    try:
        report = verify_volume(
            volume.store,
            reference,
            key=volume.key,
            axes=args.axes or getattr(reference, "axes", None),
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
