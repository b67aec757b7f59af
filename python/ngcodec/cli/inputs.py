"""What ``convert`` and ``verify`` share about inputs: the input options, opening an input with
them, and the voxel size and offset an input declares."""

from __future__ import annotations

import argparse
from typing import Any

from ngcodec.cli.common import EXIT_INPUT, EXIT_USAGE, CommandError

__all__ = ["add_input_options", "geometry_from", "open_source"]


def add_input_options(parser: Any) -> None:
    group = parser.add_argument_group("input")
    group.add_argument(
        "--level",
        type=int,
        metavar="N",
        help="the level of a multiscale input (OME-Zarr, N5 s0, s1, ...) to read (default: 0)",
    )
    group.add_argument(
        "--glob",
        metavar="PATTERN",
        help="the files of a directory of slices to read, e.g. '*.png' (default: every .tif, "
        ".tiff, .png, .jpg and .jpeg file), in natural order",
    )


def open_source(path: str, args: argparse.Namespace) -> Any:
    """Open an input with the --level and --glob options; errors as exit codes 2 and 3."""
    from ngcodec.sources import InputOptionError, UnreadableInputError, open_input

    options = {name: getattr(args, name) for name in ("level", "glob")}
    try:
        return open_input(path, **{k: v for k, v in options.items() if v is not None})
    except InputOptionError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    except UnreadableInputError as exc:
        raise CommandError(str(exc), EXIT_INPUT) from exc


def geometry_from(source: Any, args: argparse.Namespace) -> tuple[list[Any], list[int], str]:
    """The resolution and voxel offset: the options', else the input's, else the defaults; and
    what was taken from the input, to tell the user."""
    resolution, offset, taken = args.resolution, args.voxel_offset, []
    if resolution is None and source.voxel_size is not None:
        resolution = list(source.voxel_size)
        given = f" (given in {source.voxel_unit})" if source.voxel_unit not in (None, "nm") else ""
        taken.append(f"resolution {','.join(f'{r:g}' for r in resolution)} nm{given}")
    if offset is None and source.voxel_offset is not None and any(source.voxel_offset):
        offset = list(source.voxel_offset)
        taken.append(f"voxel offset {','.join(map(str, offset))}")
    note = f"{' and '.join(taken)} from {source.metadata_source}" if taken else ""
    return resolution or [1, 1, 1], offset or [0, 0, 0], note
