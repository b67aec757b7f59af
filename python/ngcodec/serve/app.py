"""The HTTP server behind ``ngcodec serve``: dataset files as Neuroglancer reads them.

- ``name.gz`` is sent for ``name`` with ``Content-Encoding: gzip`` (decompressed for the rare
  client that does not accept gzip), as nginx's ``gzip_static`` would;
- byte ranges (206) for every file, so that sharded datasets work; many requests at once;
- CORS, so that a viewer served from anywhere may read the files;
- with the ``neuroglancer`` package installed, its bundled web client under ``/v/<token>/``, and
  the two endpoints that client asks its Python server for (a state stream that stays quiet, so
  the state in the link rules), so that the viewer works with no other server at all.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path, PurePosixPath
from typing import Any

from aiohttp import web

from ngcodec.precomputed.store.compression import gzip_decompress

__all__ = ["make_app", "neuroglancer_client"]

_CLIENT_FILE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.@-]*$")
_EXPOSED_HEADERS = "Content-Range, Content-Length, Content-Encoding, Accept-Ranges, ETag"
_KEEP_ALIVE_SECONDS = 20.0


def neuroglancer_client() -> Path | None:
    """The folder of the web client that the ``neuroglancer`` package ships, if it is installed."""
    try:
        from importlib.resources import files

        folder = Path(str(files("neuroglancer.static") / "client"))
    except (ImportError, TypeError):
        return None
    return folder if (folder / "index.html").is_file() else None


@web.middleware
async def _cors(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.method == "OPTIONS":  # a preflight, e.g. for a Range header
        response: web.StreamResponse = web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
                "Access-Control-Allow-Headers": request.headers.get(
                    "Access-Control-Request-Headers", "*"
                ),
                "Access-Control-Max-Age": "86400",
            },
        )
    else:
        response = await handler(request)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = _EXPOSED_HEADERS
    return response


def make_app(
    root: Path, client_token: str | None = None, home: str | None = None
) -> web.Application:
    """The application serving the files under ``root``.

    :param client_token: host Neuroglancer's client under ``/v/<client_token>/`` (needs the
        ``neuroglancer`` package)
    :param home: where ``/`` redirects to (the viewer's link)
    """
    root = Path(root)
    app = web.Application(middlewares=[_cors])
    if client_token is not None:
        client = neuroglancer_client()
        if client is None:
            raise ValueError("hosting the viewer needs the neuroglancer package (ngcodec[view])")
        _add_client_routes(app, client, client_token)

    async def dataset_file(request: web.Request) -> web.StreamResponse:
        if home is not None and request.path == "/":
            raise web.HTTPFound(home)
        parts = PurePosixPath(request.match_info["path"]).parts
        # Only plain names: no "..", no hidden files (the .tmp files of writers at work).
        if any(part.startswith(".") or part == "/" for part in parts):
            return web.Response(status=404)
        path = root.joinpath(*parts)
        gzipped = path.with_name(path.name + ".gz") if parts else path
        if not path.is_file() and gzipped.is_file():
            if "gzip" not in request.headers.get("Accept-Encoding", "").lower():
                return web.Response(body=gzip_decompress(gzipped.read_bytes()))
            # FileResponse picks name.gz itself and says Content-Encoding: gzip.
        elif not path.is_file():
            return web.Response(status=404)
        return web.FileResponse(path)

    app.router.add_get("/{path:.*}", dataset_file)
    app.router.add_route("OPTIONS", "/{path:.*}", dataset_file)  # answered by _cors
    return app


def _add_client_routes(app: web.Application, client: Path, token: str) -> None:
    """Neuroglancer's client, and the endpoints it expects from its Python server."""
    stopping = asyncio.Event()
    generation = 0

    async def client_file(request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name") or "index.html"
        if not _CLIENT_FILE.match(name) or not (client / name).is_file():
            return web.Response(status=404)
        return web.FileResponse(client / name)

    async def state_events(request: web.Request) -> web.StreamResponse:
        # The client follows its Python server's state here; this server has none to send, so
        # the state in the link stays. Comments keep the stream open.
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        try:
            await response.write(b": ngcodec serve\n\n")
            while not stopping.is_set():
                try:
                    await asyncio.wait_for(stopping.wait(), _KEEP_ALIVE_SECONDS)
                except asyncio.TimeoutError:
                    await response.write(b": keep-alive\n\n")
        except ConnectionResetError:
            pass  # the page was closed
        return response

    async def state_update(request: web.Request) -> web.StreamResponse:
        nonlocal generation
        await request.read()
        generation += 1
        return web.json_response({"g": str(generation)})

    async def action(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.Response()

    async def stop_streams(app: web.Application) -> None:
        stopping.set()

    async def no_icon(request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)  # the browser asks; a 404 would be a console error

    app.on_shutdown.append(stop_streams)
    app.router.add_get("/favicon.ico", no_icon)
    app.router.add_get(f"/v/{token}/", client_file)
    app.router.add_get(f"/v/{token}/{{name}}", client_file)
    app.router.add_get(f"/events/{token}", state_events)
    app.router.add_post(f"/state/{token}", state_update)
    app.router.add_post(f"/action/{token}", action)
