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

import os
import sys
from collections.abc import Sequence

from ngcodec.cli.common import (
    EXIT_BROKEN_PIPE,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
    EXIT_VERIFY_FAILED,
    CommandError,
)
from ngcodec.cli.convert import run_convert
from ngcodec.cli.downsample import run_downsample
from ngcodec.cli.inspect import run_info, run_verify
from ngcodec.cli.parser import build_parser
from ngcodec.cli.transcode import run_transcode

__all__ = ["EXIT_INPUT", "EXIT_OK", "EXIT_OUTPUT", "EXIT_USAGE", "EXIT_VERIFY_FAILED", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "convert":
            return run_convert(parser, args)
        if args.command == "downsample":
            return run_downsample(parser, args)
        if args.command == "transcode":
            return run_transcode(args)
        if args.command == "info":
            return run_info(args)
        if args.command == "serve":
            from ngcodec.cli.serve import run_serve

            return run_serve(args)
        return run_verify(args)
    except CommandError as exc:
        print(f"ngcodec {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        resumable = args.command in ("convert", "downsample")
        hint = "; run the same command again to resume" if resumable else ""
        print(f"ngcodec {args.command}: interrupted{hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (``ngcodec info ... | head``): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
