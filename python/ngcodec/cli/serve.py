"""``ngcodec serve``: serve a folder of datasets over HTTP and print a Neuroglancer link to them."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from ngcodec.cli.common import EXIT_INPUT, EXIT_OK, EXIT_USAGE, CommandError

if TYPE_CHECKING:
    from ngcodec.serve import Dataset

__all__ = ["run_serve"]


def run_serve(args: argparse.Namespace) -> int:
    from ngcodec.serve import find_datasets, neuroglancer_client

    root = Path(args.directory)
    if not root.is_dir():
        raise CommandError(f"{root} is not a directory", EXIT_INPUT)
    datasets = find_datasets(root)
    try:
        server = socket.create_server((args.host, args.port))
    except OSError as exc:
        raise CommandError(
            f"cannot listen on {args.host} port {args.port}: {exc.strerror} (--port 0 picks a "
            "free port)",
            EXIT_USAGE,
        ) from exc
    token = secrets.token_hex(12) if neuroglancer_client() is not None else None
    try:
        asyncio.run(_serve(root, server, datasets, token))
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        server.close()
    return EXIT_OK


def _base_url(server: socket.socket) -> str:
    host, port = server.getsockname()[:2]
    if host in ("0.0.0.0", "::"):  # every interface: name the machine
        host = socket.getfqdn()
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


async def _serve(
    root: Path, server: socket.socket, datasets: list[Dataset], token: str | None
) -> None:
    from aiohttp import web

    from ngcodec.serve import make_app, viewer_link, viewer_state

    base = _base_url(server)
    state = viewer_state(datasets, base, root.resolve().name)
    link = viewer_link(state, f"{base}/v/{token}/") if token else viewer_link(state)
    runner = web.AppRunner(make_app(root, token, home=link), access_log=None)
    await runner.setup()
    try:
        await web.SockSite(runner, server).start()
        print(f"Serving {root} at {base}/ (Ctrl-C to stop)", flush=True)
        if datasets:
            names = ", ".join(f"{d.path or '.'} ({d.layer_type})" for d in datasets)
            print(f"{len(datasets)} datasets: {names}", flush=True)
        else:
            print(f"no precomputed datasets (folders with an info file) under {root}", flush=True)
        if token is None:
            print(
                "Neuroglancer (its public client; pip install 'ngcodec[view]' hosts it here):",
                flush=True,
            )
        else:
            print("Neuroglancer (hosted here, works offline):", flush=True)
        print(link, flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
