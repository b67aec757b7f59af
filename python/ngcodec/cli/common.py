"""What every command shares: exit codes, one-line errors, progress bars, sizes for people."""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from ngcodec.precomputed.store import Store, UnsupportedLocationError, open_store
from ngcodec.precomputed.volume import PrecomputedVolume

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_OUTPUT",
    "EXIT_USAGE",
    "EXIT_VERIFY_FAILED",
    "CommandError",
    "Progress",
    "is_within",
    "megabytes",
    "open_dataset",
    "open_location",
    "usage_error",
]

EXIT_OK = 0
EXIT_VERIFY_FAILED = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_OUTPUT = 4
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a process killed by it


class CommandError(Exception):
    """An error to report in one line, with the exit code it maps to."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def usage_error(parser: argparse.ArgumentParser, args: argparse.Namespace, text: str) -> NoReturn:
    """Print the command's usage and the error, and exit with code 2, as argparse does."""
    subparser: argparse.ArgumentParser = getattr(args, "subparser", parser)
    subparser.error(text)


class Progress:
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


def megabytes(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def open_location(args: argparse.Namespace, location: str) -> Store:
    """The store a dataset argument names (a path or a URL), with the command's store options;
    an unknown scheme or a missing extra is a usage error (exit 2)."""
    try:
        return open_store(location, endpoint_url=getattr(args, "endpoint_url", None))
    except UnsupportedLocationError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc


def is_within(filename: str | os.PathLike[str] | None, store: Store) -> bool:
    """Whether the file or URL an OSError names is in the store."""
    if filename is None:
        return False
    text, root = os.fspath(filename), store.location.rstrip("/")
    return text == root or text.startswith(root + "/")


def open_dataset(store: Store, key: str | None = None) -> PrecomputedVolume:
    """The dataset (one scale of it), or a :class:`CommandError` saying why it cannot be read."""
    path = store.location
    try:
        return PrecomputedVolume.open(store, key)
    except FileNotFoundError as exc:
        raise CommandError(
            f"{path} is not a precomputed dataset (no info file)", EXIT_INPUT
        ) from exc
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read {path}: {exc}", EXIT_INPUT) from exc
