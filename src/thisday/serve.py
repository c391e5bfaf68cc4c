"""``thisday serve``: the feeds/ folder over HTTP, the way feed readers expect it.

Starlette's :class:`~starlette.staticfiles.StaticFiles` under uvicorn does the HTTP: ``ETag`` and
``Last-Modified`` with ``304 Not Modified`` for conditional requests, ``HEAD``, ranges, and no way out of the
folder (``..``, encoded slashes and symlinks that lead outside all end in 404). On top of it, this module only:

- gives feeds their media types (``application/atom+xml``, ``application/rss+xml``; pages ``text/html``),
  all with ``charset=utf-8``;
- refuses dotfiles (``.onthisday.atom.123.tmp`` left by a killed build, ``.git``);
- makes each ``ETag`` follow the file's content (a hash of its bytes, not its modification time), so a
  byte-identical rebuild keeps every ETag and readers get ``304`` instead of downloading every feed again;
- sends ``X-Content-Type-Options: nosniff`` and a short ``Cache-Control`` (with revalidation by ETag);
- compresses with gzip when the client asks (Starlette's ``GZipMiddleware``), and sends ``ETag`` values
  weak (as nginx does for compressed answers), since the compressed bytes differ from the file's.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import socket
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import FileResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import NotModifiedResponse, PathLike, StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import Settings
from .errors import PublishError

CONTENT_TYPES = {
    ".atom": "application/atom+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
}


CACHE_CONTROL = "public, max-age=300"
"""Readers and proxies may reuse an answer for five minutes, then revalidate it with its ETag."""


class FeedFiles(StaticFiles):
    """StaticFiles with feed media types, content ETags and no dotfiles."""

    def __init__(self, *, directory: PathLike, html: bool = False) -> None:
        super().__init__(directory=directory, html=html)
        self._digests: dict[tuple[str, int, int, int], str] = {}

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if any(part.startswith(".") for part in Path(path).parts if part not in (".",)):
            return "", None
        return super().lookup_path(path)

    def content_etag(self, full_path: PathLike, stat_result: os.stat_result) -> str:
        """A strong validator from the file's bytes (remembered while the file is unchanged on disk)."""
        key = (str(full_path), stat_result.st_ino, stat_result.st_mtime_ns, stat_result.st_size)
        digest = self._digests.get(key)
        if digest is None:
            sha = hashlib.sha256()
            with open(full_path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 16), b""):
                    sha.update(block)
            digest = sha.hexdigest()[:32]
            if len(self._digests) > 10_000:
                self._digests.clear()
            self._digests[key] = digest
        return f'"{digest}"'

    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = FileResponse(full_path, status_code=status_code, stat_result=stat_result)
        response.headers["etag"] = self.content_etag(full_path, stat_result)
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["cache-control"] = CACHE_CONTROL
        content_type = CONTENT_TYPES.get(Path(full_path).suffix.lower())
        if content_type:
            response.headers["content-type"] = content_type
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response


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


def create_app(feeds_dir: Path, settings: Settings | None = None) -> Starlette:
    """The ASGI app serving ``feeds_dir`` (``/`` is ``index.html``); with ``settings`` whose ``digest.subscribe``
    is on, also ``/subscribe``, ``/confirm/<token>`` and ``/unsubscribe/<token>`` (:mod:`thisday.newsletter_http`)."""
    if not feeds_dir.is_dir():
        raise PublishError(f"{feeds_dir}: feeds folder not found; run `thisday build` first")
    from .newsletter_http import subscription_routes

    routes = subscription_routes(settings) if settings is not None and settings.digest.subscribe else []
    return Starlette(
        routes=[*routes, Mount("/", app=FeedFiles(directory=feeds_dir, html=True))],
        middleware=[Middleware(WeakETags), Middleware(GZipMiddleware, minimum_size=500)],
    )


class LoopbackOnly:
    """Answer only requests whose ``Host`` is a loopback name (127.0.0.1, localhost, [::1]): the editor's
    preview shows drafts, so a web page elsewhere must not reach it by pointing its own name at 127.0.0.1."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from .editor import host_allowed

        if scope["type"] == "http" and not host_allowed(Headers(scope=scope).get("host", "")):
            response = Response("the editor's preview answers only on 127.0.0.1\n", status_code=421)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_preview_app(settings: Settings, today: datetime.date | None = None) -> Starlette:
    """``serve --preview``: the editor's view under ``/_editor/`` and, once built, the site in feeds/.

    ``today`` fixes the day ``/_editor/`` opens (tests); by default it is today in the configured zone.
    """
    from starlette.responses import RedirectResponse
    from starlette.routing import BaseRoute, Route

    from .editor import PREFIX, Editor

    routes: list[BaseRoute] = list(Editor(settings, today).routes())
    if settings.feeds_dir.is_dir():
        routes.append(Mount("/", app=FeedFiles(directory=settings.feeds_dir, html=True)))
    else:

        async def to_editor(request: object) -> Response:
            return RedirectResponse(f"{PREFIX}/", status_code=303)

        routes.append(Route("/", to_editor))
    return Starlette(
        routes=routes,
        middleware=[Middleware(LoopbackOnly), Middleware(WeakETags), Middleware(GZipMiddleware, minimum_size=500)],
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
