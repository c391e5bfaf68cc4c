"""``thisday serve``: the feeds/ folder over HTTP, the way feed readers expect it.

Starlette's :class:`~starlette.staticfiles.StaticFiles` under uvicorn does the HTTP: ``ETag`` and
``Last-Modified`` with ``304 Not Modified`` for conditional requests, ``HEAD``, ranges, and no way out of the
folder (``..``, encoded slashes and symlinks that lead outside all end in 404). On top of it, this module only:

- gives feeds their media types (``application/atom+xml``, ``application/rss+xml``, JSON Feeds
  ``application/feed+json``, calendars ``text/calendar``, the day API ``application/json``; pages
  ``text/html``), all with ``charset=utf-8``;
- refuses dotfiles (``.onthisday.atom.123.tmp`` left by a killed build, ``.git``);
- compresses with gzip when the client asks (Starlette's ``GZipMiddleware``), and sends ``ETag`` values
  weak (as nginx does for compressed answers), since the compressed bytes differ from the file's.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import FileResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import PublishError

CONTENT_TYPES = {
    ".atom": "application/atom+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".ics": "text/calendar; charset=utf-8",
}
API_CONTENT_TYPE = "application/json; charset=utf-8"
"""The day API's files (``api/...json``); other ``.json`` files are JSON Feeds."""


class FeedFiles(StaticFiles):
    """StaticFiles with feed media types and no dotfiles."""

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if any(part.startswith(".") for part in Path(path).parts if part not in (".",)):
            return "", None
        return super().lookup_path(path)

    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        content_type = CONTENT_TYPES.get(Path(full_path).suffix.lower())
        if content_type and Path(full_path).suffix.lower() == ".json" and _in_api(full_path, self.directory):
            content_type = API_CONTENT_TYPE
        if content_type and isinstance(response, FileResponse):
            response.headers["content-type"] = content_type
        return response


def _in_api(full_path: PathLike, directory: PathLike | None) -> bool:
    """Whether a served file lies in the day API folder (``api/``) of the served folder."""
    if directory is None:
        return False
    try:
        relative = Path(os.path.realpath(full_path)).relative_to(os.path.realpath(directory))
    except ValueError:
        return False
    return relative.parts[:1] == ("api",)


class WeakETags:
    """Send every ``ETag`` weak (``W/"..."``): the gzip and the plain body of a file share one validator.

    Conditional requests keep working (StaticFiles compares ``If-None-Match`` weakly), and 200 and 304
    answers carry the same value whatever the encoding.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_weak_etag(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=message["headers"])
                etag = headers.get("etag")
                if etag and not etag.startswith("W/"):
                    headers["etag"] = f"W/{etag}"
            await send(message)

        await self.app(scope, receive, send_with_weak_etag)


def create_app(feeds_dir: Path) -> Starlette:
    """The ASGI app serving ``feeds_dir`` (``/`` is ``index.html``)."""
    if not feeds_dir.is_dir():
        raise PublishError(f"{feeds_dir}: feeds folder not found; run `thisday build` first")
    return Starlette(
        routes=[Mount("/", app=FeedFiles(directory=feeds_dir, html=True))],
        middleware=[Middleware(WeakETags), Middleware(GZipMiddleware, minimum_size=500)],
    )


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free port); a ThisdayError when that is impossible."""
    try:
        return socket.create_server((host, port), family=_family(host), reuse_port=False)
    except OSError as exc:
        raise PublishError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port or --host"
        ) from None


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def run(app: Starlette, sock: socket.socket, *, access_log: bool = True) -> None:
    """Serve ``app`` (:func:`create_app`) on the listening ``sock`` until interrupted (Ctrl-C, SIGTERM)."""
    config = uvicorn.Config(app, log_level="info", access_log=access_log, server_header=False)
    uvicorn.Server(config).run(sockets=[sock])
