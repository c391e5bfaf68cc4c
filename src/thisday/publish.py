"""Everything that writes: files go to a temporary file in the same folder, then ``os.replace``.

A reader (or a feed reader polling ``thisday serve``) therefore sees the old file or the new one, never half
of one, even if the process is killed mid-write. A build killed mid-write leaves its temporary file
(``.NAME.XXXXXXXX.tmp``); the next build removes those, under a lock that keeps two builds of one folder apart.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import gc
import hashlib
import json
import logging
import os
import re
import stat
import tempfile
from collections.abc import Callable, Container, Iterator
from pathlib import Path

from .archives import archive_path, archive_url, build_archive, is_closed, month_days
from .archives import months as archive_months
from .calendarfeed import build_calendar
from .config import FeedSettings, Settings
from .dayapi import LEAP_YEAR, build_day_document, day_api_path, evergreen_documents
from .errors import PublishError
from .feeds import build_feed, feed_items, window
from .index import CalendarIndex
from .jsonfeed import build_json_feed
from .layout import FEED_FORMATS, feed_language, feed_path, month_path, published_feeds
from .selection import day_selection
from .site import SiteRenderer
from .views import DayView, Views, day_path, language_folder, site_languages

log = logging.getLogger("thisday")

TEMP_NAME = re.compile(r"\A\..+\.[a-z0-9_]{8}\.tmp\Z")
"""The names :func:`atomic_write` gives its temporary files (``tempfile.mkstemp``'s eight random characters)."""

LOCK_NAME = "build.lock"
"""The lock file in the state folder that a build holds while it writes feeds/ (released by the system when the
build dies). In the state folder, so that nothing but the site is ever in feeds/."""


def atomic_write(
    path: Path, data: bytes, mode: int = 0o644, *, midway: Callable[[Path], None] | None = None
) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename).

    Raises :class:`PublishError` naming the path when the folder cannot be made or written. ``midway`` is
    called with ``path`` when half the bytes are in the temporary file (the test switch
    THISDAY_TEST_STALL_MID_WRITE uses it to kill a build in the middle of a write).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise PublishError(
            f"cannot write {path}: {exc.strerror or exc}; check that its folder is writable"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            if midway is not None:
                half = len(data) // 2
                handle.write(data[:half])
                handle.flush()
                midway(path)
                handle.write(data[half:])
            else:
                handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise PublishError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


@contextlib.contextmanager
def build_lock(path: Path) -> Iterator[None]:
    """Hold the lock file ``path`` (waiting while another build holds it): one build writes feeds/ at a time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise PublishError(
            f"cannot create the build lock {path}: {exc.strerror or exc}; check state_dir and its permissions"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Remove the temporary files a killed build left in ``folder`` (and its sub-folders); call it only while
    holding :func:`build_lock`, so that no live build's file is taken. Only regular files named like
    :data:`TEMP_NAME`; symbolic links and hidden folders are not followed."""
    removed: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not TEMP_NAME.match(name):
                continue
            path = Path(root) / name
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISREG(os.lstat(path).st_mode):
                    os.unlink(path)
                    removed.append(path)
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted build in %s", len(removed), folder)
    return removed


# ---------------------------------------------------------------------------------------------
# The site in feeds/


def site_window(settings: Settings, on: datetime.date, days: int | None = None) -> list[datetime.date]:
    """The days the site publishes for a build on ``on``: the longest feed window (or ``days``), newest first."""
    longest = days or max(feed.days for feed in published_feeds(settings))
    return window(on, longest)


def index_days() -> list[datetime.date]:
    """The days whose entries a whole build needs: every day of a leap year, so every (month, day) of the index
    (the evergreen API, the calendars and the monthly archives reach past the window)."""
    first = datetime.date(LEAP_YEAR, 1, 1)
    return [first + datetime.timedelta(days=n) for n in range(366)]


def first_published(settings: Settings, first_build: datetime.date, days: int | None = None) -> datetime.date:
    """The first day the site ever published, given the day of its first build: that build's window start."""
    return site_window(settings, first_build, days)[-1]


def render_site(
    settings: Settings,
    index: CalendarIndex,
    on: datetime.date,
    now: datetime.datetime,
    days: int | None = None,
    *,
    only: str | None = None,
    since: datetime.date | None = None,
    closed: Container[str] = (),
    views: Views | None = None,
    evergreen: bool = True,
) -> Iterator[tuple[str, bytes]]:
    """Every file of the site for a build on ``on`` at publish time ``now``, as (path in feeds/, bytes).

    In writing order, so that whatever a file links to is already there when the link appears: the day pages
    (oldest first), the month pages, the day API files of the window's days, each feed's monthly archives (oldest
    first), then the feeds themselves (Atom, RSS, JSON Feed) and their calendars, the 366 evergreen API files,
    and ``index.html`` last. ``days`` overrides every feed's window (``--days``); ``only`` renders just the file
    at that path (``thisday preview``). ``since`` is the first day ever published (default: the window's first
    day): pages link back to it and the archives start at its month. Archive paths in ``closed`` (final
    documents of months that are over, already written) are not rendered again.
    Pure: nothing is written. A generator, so that a build holds one file's bytes at a time, however big the
    corpus. One :class:`~thisday.views.Views` serves the whole build (``views``, or a new one): each body is
    rendered once. Each other language of ``site.languages`` gets the day pages and ``index.html`` in its folder
    (``de/days/...``); a feed with its own ``language`` is written in it. With ``evergreen`` False the calendars
    and the 366 evergreen API files are left out (they are on disk and current: :func:`evergreen_current`).
    """

    def wanted(path: str) -> bool:
        return only is None or only == path

    views = views or Views(settings)
    renderer = SiteRenderer.create(settings, views)
    # the outputs that list every day at once never show a held entry
    public = index.published(on) if evergreen else index
    site_days = site_window(settings, on, days)
    first = min(since, site_days[-1]) if since is not None else site_days[-1]
    published = (first, on)
    selections = {d: day_selection(index, d, settings) for d in site_days}
    pages = {d: views.day(selections[d]) for d in site_days}
    # each other site language: the same pages in its folder (de/days/..., de/index.html)
    translated = [
        (Views(settings, code), language_folder(settings, code)) for code in site_languages(settings)[1:]
    ]
    for d in reversed(site_days):
        if wanted(day_path(d)):
            yield day_path(d), renderer.day_page(pages[d], site_days, published)
        for lang_views, folder in translated:
            if wanted(folder + day_path(d)):
                yield folder + day_path(d), renderer.day_page(lang_views.day(selections[d]), site_days, published)
    for year, month in archive_months(site_days[-1], on):
        if wanted(month_path(year, month)):
            yield month_path(year, month), renderer.month_page(year, month, published)
    for d in reversed(site_days):
        if wanted(day_api_path(d)):
            yield day_api_path(d), build_day_document(pages[d])
    chain = archive_months(first, on)
    feed_views: dict[tuple[str, str], Views] = {}
    for feed in published_feeds(settings):
        code = feed_language(settings, feed)
        fviews = (
            views
            if code == settings.site.language
            else feed_views.setdefault((code, feed.untranslated), Views(settings, code, untranslated=feed.untranslated))
        )

        def view(d: datetime.date, feed: FeedSettings = feed, fviews: Views = fviews) -> DayView:
            if not feed.kinds and not feed.tags and d in pages and fviews is views:
                return pages[d]
            return fviews.day(day_selection(index, d, settings, kinds=feed.kinds, tags=feed.tags))

        for year, month in chain:
            path = archive_path(feed, year, month)
            if path not in closed and wanted(path):
                month_views = [view(d) for d in month_days(year, month, first, on)]
                yield path, build_archive(settings, feed, year, month, month_views, chain, now, renderer)
        paths = [feed_path(feed, fmt) for fmt in (*FEED_FORMATS, "json", "ics")]
        if only is not None and only not in paths:
            continue
        feed_days = window(on, days or feed.days)
        selected = [view(d) for d in feed_days]
        items = feed_items(settings, feed, selected, now, renderer)
        latest = [("prev-archive", archive_url(settings, feed, on.year, on.month))]
        for fmt in FEED_FORMATS:
            if wanted(feed_path(feed, fmt)):
                data = build_feed(settings, feed, selected, now, fmt, renderer, items=items, links=latest)
                yield feed_path(feed, fmt), data
        if wanted(feed_path(feed, "json")):
            yield feed_path(feed, "json"), build_json_feed(settings, feed, items, now)
        if evergreen and wanted(feed_path(feed, "ics")):
            yield feed_path(feed, "ics"), build_calendar(settings, feed, public, now, on.year)
    if evergreen and (only is None or only.startswith("api/onthisday/")):
        for path, data in evergreen_documents(settings, public, on.year):
            if wanted(path):
                yield path, data
    if wanted("index.html"):
        yield "index.html", renderer.index_page(pages[on], site_days, published)
    for lang_views, folder in translated:
        if wanted(folder + "index.html"):
            yield folder + "index.html", renderer.index_page(lang_views.day(selections[on]), site_days, published)


def closed_archives(feeds_dir: Path) -> set[str]:
    """The archive documents in ``feeds_dir`` that are final (their month was over when written): never rewritten."""
    folder = feeds_dir / "archive"
    if not folder.is_dir():
        return set()
    found = set()
    for path in sorted(folder.glob("*.atom")):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if is_closed(data):
            found.add(f"archive/{path.name}")
    return found


def _unchanged(path: Path, data: bytes) -> bool:
    """Whether ``path`` already holds exactly ``data``."""
    try:
        if path.stat().st_size != len(data):
            return False
        return path.read_bytes() == data
    except OSError:
        return False


def build_site(
    settings: Settings,
    index: CalendarIndex,
    on: datetime.date,
    now: datetime.datetime,
    days: int | None = None,
    progress: Callable[[Path], None] | None = None,
    midway: Callable[[Path], None] | None = None,
    *,
    since: datetime.date | None = None,
    evergreen: bool = True,
) -> list[Path]:
    """Render the site (:func:`render_site`) and write it into ``settings.feeds_dir``, each file atomically.

    Returns the paths written, in order. ``progress`` is called after each file is in place (the CLI uses it
    for its test switch THISDAY_TEST_STALL_AFTER, see the README), ``midway`` in the middle of each write.
    The build holds :func:`build_lock` and first removes temporary files a killed build left. A file whose bytes
    are already those on disk is left as it is (most of the 366 evergreen API files, day by day): its
    modification time, and so the ``Last-Modified`` a reader revalidates against, stays. Day pages that fall out
    of the window are kept: their permalinks stay valid; so are the archives of months that are over, never
    written again. ``index`` must hold every day's entries (:func:`index_days`) for the API, calendars and
    archives. With ``evergreen`` False (see :func:`evergreen_current`) the calendars and evergreen API files on
    disk are kept as they are and listed as written; ``index`` then needs only :func:`build_days`.
    """
    written: list[Path] = []
    made: dict[str, int] = {}
    with build_lock(settings.state_dir / LOCK_NAME):
        remove_stale_temp_files(settings.feeds_dir)
        closed = closed_archives(settings.feeds_dir)
        # The index (every entry, for the API and calendars) lives through the whole build: keep the cyclic
        # garbage collector from walking it again and again while the build allocates (half the time on 133,000
        # entries).
        gc.freeze()
        try:
            kept = [] if evergreen else [settings.feeds_dir / rel for rel in _evergreen_files(settings)]
            for rel, data in render_site(
                settings, index, on, now, days, since=since, closed=closed, evergreen=evergreen
            ):
                path = settings.feeds_dir / rel
                if not _unchanged(path, data):
                    atomic_write(path, data, midway=midway)
                written.append(path)
                if evergreen and _is_evergreen(settings, rel):
                    made[rel] = len(data)
                if progress is not None:
                    progress(path)
            written.extend(kept)
            if evergreen:
                _record_evergreen(settings, index, on, made)
        finally:
            gc.unfreeze()
    return written


# ---------------------------------------------------------------------------------------------
# The evergreen files (366 day API files, the calendars): rebuilt only when what they show changed

EVERGREEN_STATE = "evergreen.json"
"""In the state folder: the fingerprint of the entries and settings the evergreen files were last built from."""


def _is_evergreen(settings: Settings, rel: str) -> bool:
    return rel.startswith("api/onthisday/") or rel in {feed_path(f, "ics") for f in published_feeds(settings)}


def evergreen_key(settings: Settings, on: datetime.date) -> str:
    """What the evergreen files depend on: thisday's version, the settings, the year of ``on`` (moveable feasts
    are placed from it) and every file of the entries folder (path, size, modification time), which a walk of the
    folder gives in milliseconds where loading 133,000 entries takes seconds."""
    from . import __version__

    digest = hashlib.sha256(f"{__version__}\n{settings!r}\n{on.year}\n".encode())
    root = settings.entries
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            try:
                info = os.stat(path)
            except OSError:
                continue
            digest.update(f"{os.path.relpath(path, root)}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _evergreen_state(settings: Settings) -> dict[str, object]:
    try:
        found = json.loads((settings.state_dir / EVERGREEN_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"files": {}}
    return found if isinstance(found, dict) and isinstance(found.get("files"), dict) else {"files": {}}


def _evergreen_files(settings: Settings) -> dict[str, int]:
    """The evergreen files of the last full build (path in feeds/ -> size), in writing order."""
    files = _evergreen_state(settings)["files"]
    return {str(k): v for k, v in files.items() if isinstance(v, int)} if isinstance(files, dict) else {}


def evergreen_current(settings: Settings, on: datetime.date) -> bool:
    """Whether the calendars and evergreen API files in feeds/ are what a build on ``on`` would write: built from
    the same entries files and settings in the same year, no embargo ending in between, and still on disk with
    the sizes written. When True, a build need not load every entry (:func:`build_days`)."""
    state = _evergreen_state(settings)
    files = _evergreen_files(settings)
    if not files or state.get("key") != evergreen_key(settings, on):
        return False
    try:
        built = datetime.date.fromisoformat(str(state.get("on")))
        until = state.get("until")
        if on < built or (until is not None and on > datetime.date.fromisoformat(str(until))):
            return False
    except ValueError:
        return False
    for rel, size in files.items():
        try:
            if (settings.feeds_dir / rel).stat().st_size != size:
                return False
        except OSError:
            return False
    return True


def _record_evergreen(settings: Settings, index: CalendarIndex, on: datetime.date, files: dict[str, int]) -> None:
    """Remember what the evergreen files were built from, and until when they stay right: the last day before an
    embargo that is still running on ``on`` ends (an entry held until D appears on D + 1)."""
    everything = [*(e for group in index.by_day.values() for e in group), *index.moveable]
    ends = [e.publish_after for e in everything if e.publish_after is not None and e.publish_after >= on]
    state = {
        "key": evergreen_key(settings, on),
        "on": on.isoformat(),
        "until": min(ends).isoformat() if ends else None,
        "files": files,
    }
    atomic_write(settings.state_dir / EVERGREEN_STATE, json.dumps(state, indent=1, sort_keys=True).encode())


def build_days(
    settings: Settings, on: datetime.date, days: int | None, since: datetime.date | None, evergreen: bool
) -> list[datetime.date]:
    """The days whose entries a build on ``on`` needs: every day of the year (:func:`index_days`) when the evergreen
    files are rebuilt, else the window's days and those of the monthly archives not yet final."""
    site_days = site_window(settings, on, days)
    if evergreen:
        return sorted({*index_days(), *site_days})
    first = min(since, site_days[-1]) if since is not None else site_days[-1]
    closed = closed_archives(settings.feeds_dir)
    needed = set(site_days)
    for year, month in archive_months(first, on):
        if any(archive_path(feed, year, month) not in closed for feed in published_feeds(settings)):
            needed.update(month_days(year, month, first, on))
    return sorted(needed)
