"""The editor's view of ``thisday serve --preview``: any day as every output would publish it, the year's
coverage as an SVG heatmap, and the problems ``thisday check`` finds.

Plain server-rendered HTML (Jinja2, autoescaped) from ``templates/site/editor*.html``; one small inline script
reloads a page when an entry file changes. Each page is rendered with the same selection, views and renderers
as ``thisday build`` and ``thisday digest``: the site page and the digest are the bytes they would publish,
shown in sandboxed frames (no script runs in them). Drafts and embargoed entries are added to the site page,
marked, unless the editor hides them.

Only ``serve --preview`` mounts these routes, on 127.0.0.1, and they answer only requests addressed to a
loopback name (a page elsewhere cannot reach them through DNS rebinding).
"""

from __future__ import annotations

import datetime
import hashlib
import os
import secrets
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from . import templates
from .channels import social
from .config import Settings
from .dates import MONTHS, format_day
from .digest import Digest
from .entries import scan_entry_files
from .errors import ThisdayError
from .feeds import day_title
from .indexcache import Loaded, load_days
from .model import Problem
from .publish import site_window
from .selection import day_selection
from .site import SiteRenderer, published_feeds
from .views import Views

PREFIX = "/_editor"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")

CELL = 13
"""Side of a heatmap day, in SVG user units (a gap of 2 between days)."""
STEP = CELL + 2


# ---------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class HeatCell:
    """One day of the heatmap."""

    iso: str
    x: int
    y: int
    count: int
    held: int
    level: int
    """0 (no entry) to 4 (many)."""
    label: str


def level(count: int) -> int:
    """The heatmap shade of a day with ``count`` published entries: 0 empty, then 1, 2-3, 4-6, 7 or more."""
    if count <= 0:
        return 0
    if count == 1:
        return 1
    if count <= 3:
        return 2
    return 3 if count <= 6 else 4


def heatmap(settings: Settings, loaded: Loaded, year: int) -> tuple[list[HeatCell], list[tuple[int, str]], int]:
    """The cells of ``year`` (one column a week, Monday on top), the month labels (x, name) and the width."""
    first = datetime.date(year, 1, 1)
    cells: list[HeatCell] = []
    months: list[tuple[int, str]] = []
    day = first
    offset = first.weekday()
    while day.year == year:
        week = (day.toordinal() - first.toordinal() + offset) // 7
        selection = day_selection(loaded.index, day, settings, drafts=True)
        held = sum(1 for o in selection.occurrences if o.held)
        count = len(selection.occurrences) - held
        label = f"{format_day(day)}: {count} {'entry' if count == 1 else 'entries'}"
        if held:
            label += f" and {held} held back (draft or embargo)"
        x, y = 30 + week * STEP, 20 + day.weekday() * STEP
        cells.append(HeatCell(day.isoformat(), x, y, count, held, level(count), label))
        if day.day == 1:
            months.append((x, MONTHS[day.month - 1][:3]))
        day += datetime.timedelta(days=1)
    width = 30 + (cells[-1].x - 30 + STEP) + 10
    return cells, months, width


def entries_version(settings: Settings) -> str:
    """A token that changes whenever an entry file (or the settings file) is added, removed or changed."""
    digest = hashlib.sha256()
    files: list[tuple[str, str]] = []
    if settings.entries.is_dir():
        files = scan_entry_files(settings.entries)
    if settings.source is not None:
        files.append(("thisday.toml", str(settings.source)))
    for rel, path in files:
        try:
            stat = os.stat(path)
        except OSError:
            continue
        digest.update(f"{rel}\0{stat.st_mtime_ns}\0{stat.st_size}\0{stat.st_ino}\n".encode())
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Pages


class Editor:
    """The editor's routes for one settings."""

    def __init__(self, settings: Settings, today: datetime.date | None = None) -> None:
        self.settings = settings
        self.today = today
        """The day ``/_editor/`` opens (None: today in the configured zone, read when asked)."""
        self.env = templates.environment(settings.templates, settings.source)

    def routes(self) -> list[BaseRoute]:
        return [
            Route(f"{PREFIX}/", self.home),
            Route(PREFIX, self.home),
            Route(f"{PREFIX}/day", self.pick_day),
            Route(f"{PREFIX}/day/{{iso}}", self.day),
            Route(f"{PREFIX}/year/{{year}}", self.year),
            Route(f"{PREFIX}/problems", self.problems),
            Route(f"{PREFIX}/version", self.version),
        ]

    # -- helpers

    def _today(self) -> datetime.date:
        return self.today or datetime.datetime.now(self.settings.zone).date()

    def _load(self, days: list[datetime.date] | None, *, check: bool = False) -> Loaded:
        return load_days(
            self.settings.entries, self.settings.state_dir, days, self.settings.selection.feb29, check=check
        )

    def _problems(self) -> list[tuple[str, Problem]]:
        loaded = self._load(None, check=True)
        root = self.settings.entries
        return [(f"{root / p.location.path}:{p.location.line}", p) for p in loaded.problems]

    def _page(self, request: Request, name: str, status: int = 200, **values: Any) -> Response:
        nonce = secrets.token_urlsafe(12)
        html = templates.render(
            self.env,
            f"site/{name}",
            {
                "site": self.settings.site,
                "prefix": PREFIX,
                "nonce": nonce,
                "version": entries_version(self.settings),
                "today": self._today().isoformat(),
                **values,
            },
        )
        response = HTMLResponse(html, status_code=status)
        response.headers["content-security-policy"] = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; img-src * data:; "
            "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'"
        )
        response.headers["cache-control"] = "no-store"
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["referrer-policy"] = "no-referrer"
        return response

    def _not_found(self, request: Request, message: str) -> Response:
        return self._page(request, "editor_error.html", status=404, message=message, problem_count=None)

    # -- routes

    async def home(self, request: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/day/{self._today().isoformat()}", status_code=303)

    async def pick_day(self, request: Request) -> Response:
        """The date picker's form: ``/_editor/day?date=YYYY-MM-DD`` goes to that day's page."""
        text = request.query_params.get("date", "")
        try:
            on = datetime.date.fromisoformat(text)
        except ValueError:
            return self._not_found(request, f"{text[:40]!r} is not a date: pick one, or write YYYY-MM-DD")
        return RedirectResponse(f"{PREFIX}/day/{on.isoformat()}", status_code=303)

    def day(self, request: Request) -> Response:
        iso = request.path_params["iso"]
        try:
            on = datetime.date.fromisoformat(iso)
        except ValueError:
            return self._not_found(request, f"{iso[:40]!r} is not a date: write YYYY-MM-DD")
        show_drafts = request.query_params.get("drafts", "1") != "0"
        settings = self.settings
        site_days = site_window(settings, on)
        feeds = published_feeds(settings)
        days = sorted({on, *site_days})
        try:
            loaded = self._load(days)
            views = Views(settings)
            renderer = SiteRenderer.create(settings, views)
            published = day_selection(loaded.index, on, settings)
            shown = day_selection(loaded.index, on, settings, drafts=show_drafts)
            page = renderer.day_page(views.day(shown), site_days).decode("utf-8")
            digest = Digest.render(published, settings)
            channels = []
            for feed in feeds:
                selection = day_selection(loaded.index, on, settings, kinds=feed.kinds, tags=feed.tags)
                view = views.day(selection)
                if not view.entries:
                    items: list[tuple[str, str]] = []
                elif feed.items == "entry":
                    htmls = renderer.entry_items_html(view)
                    items = [
                        (e.title if e.entry.rule else f"{e.date_display}: {e.title}", html)
                        for e, html in zip(view.entries, htmls, strict=True)
                    ]
                else:
                    items = [(day_title(view), renderer.day_item_html(view))]
                channels.append({"name": feed.name, "items": items, "filters": _filters(feed.kinds, feed.tags)})
            posts = [(c.name, social.preview(settings, published, c.name)) for c in social.enabled_channels(settings)]
        except ThisdayError as exc:
            return self._page(request, "editor_error.html", status=500, message=str(exc), problem_count=None)
        held = [o for o in shown.occurrences if o.held]
        return self._page(
            request,
            "editor_day.html",
            on=on,
            heading=format_day(on),
            iso=on.isoformat(),
            previous=(on - datetime.timedelta(days=1)).isoformat() if on > datetime.date.min else None,
            following=(on + datetime.timedelta(days=1)).isoformat() if on < datetime.date.max else None,
            published=published,
            held=held,
            show_drafts=show_drafts,
            page_html=page,
            digest=digest.parts_for(""),
            channels=channels,
            posts=posts,
            problem_count=len(loaded.problems),
        )

    def year(self, request: Request) -> Response:
        text = request.path_params["year"]
        if not text.isdigit() or not 1 <= int(text) <= 9998:
            return self._not_found(request, f"{text[:12]!r} is not a year between 1 and 9998")
        year = int(text)
        days = [datetime.date(year, 1, 1) + datetime.timedelta(days=n) for n in range(366)]
        loaded = self._load([d for d in days if d.year == year])
        cells, months, width = heatmap(self.settings, loaded, year)
        empty = [c for c in cells if c.count == 0]
        return self._page(
            request,
            "editor_year.html",
            year=year,
            cells=cells,
            months=months,
            width=width,
            height=20 + 7 * STEP + 10,
            weekdays=[(20 + n * STEP + CELL - 2, name) for n, name in ((0, "Mon"), (2, "Wed"), (4, "Fri"))],
            empty=empty,
            covered=len(cells) - len(empty),
            problem_count=len(loaded.problems),
        )

    def problems(self, request: Request) -> Response:
        found = self._problems()
        return self._page(request, "editor_problems.html", problems=found, problem_count=len(found))

    async def version(self, request: Request) -> Response:
        return PlainTextResponse(entries_version(self.settings), headers={"cache-control": "no-store"})


def _filters(kinds: tuple[Any, ...], tags: tuple[str, ...]) -> str:
    parts = []
    if kinds:
        parts.append("kinds: " + ", ".join(k.value for k in kinds))
    if tags:
        parts.append("tags: " + ", ".join(tags))
    return "; ".join(parts) or "every entry"


def host_allowed(host: str) -> bool:
    """Whether a request's ``Host`` names this machine's loopback (with any port)."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name.lower() in LOOPBACK_HOSTS
