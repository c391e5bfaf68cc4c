"""Everything that writes: files go to a temporary file in the same folder, then ``os.replace``.

A reader (or a feed reader polling ``thisday serve``) therefore sees the old file or the new one, never half
of one, even if the process is killed mid-write. A build killed mid-write leaves its temporary file
(``.NAME.XXXXXXXX.tmp``); the next build removes those, under a lock that keeps two builds of one folder apart.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import logging
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from .config import Settings
from .errors import PublishError
from .feeds import build_feed, window
from .index import CalendarIndex
from .selection import day_selection
from .site import FEED_FORMATS, SiteRenderer, feed_path, published_feeds
from .views import Views, day_path

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


def render_site(
    settings: Settings,
    index: CalendarIndex,
    on: datetime.date,
    now: datetime.datetime,
    days: int | None = None,
    *,
    only: str | None = None,
    views: Views | None = None,
) -> Iterator[tuple[str, bytes]]:
    """Every file of the site for a build on ``on`` at publish time ``now``, as (path in feeds/, bytes).

    In writing order: the day pages first (oldest first), then the feeds, then ``index.html``, so that
    whatever a feed item or the index links to is already there when the link appears. ``days`` overrides
    every feed's window (``--days``); ``only`` renders just the file at that path (``thisday preview``).
    Pure: nothing is written. A generator, so that a build holds one file's bytes at a time, however big the
    corpus. One :class:`~thisday.views.Views` serves the whole build: each body is rendered once.
    """
    views = views or Views(settings)
    renderer = SiteRenderer.create(settings, views)
    site_days = site_window(settings, on, days)
    pages = {d: views.day(day_selection(index, d, settings)) for d in site_days}
    for d in reversed(site_days):
        if only in (None, day_path(d)):
            yield day_path(d), renderer.day_page(pages[d], site_days)
    for feed in published_feeds(settings):
        if only is not None and only not in (feed_path(feed, fmt) for fmt in FEED_FORMATS):
            continue
        feed_days = window(on, days or feed.days)
        if not feed.kinds and not feed.tags:
            selected = [pages[d] for d in feed_days]
        else:
            selected = [
                views.day(day_selection(index, d, settings, kinds=feed.kinds, tags=feed.tags)) for d in feed_days
            ]
        for fmt in FEED_FORMATS:
            if only in (None, feed_path(feed, fmt)):
                yield feed_path(feed, fmt), build_feed(settings, feed, selected, now, fmt, renderer)
    if only in (None, "index.html"):
        yield "index.html", renderer.index_page(pages[on], site_days)


def build_site(
    settings: Settings,
    index: CalendarIndex,
    on: datetime.date,
    now: datetime.datetime,
    days: int | None = None,
    progress: Callable[[Path], None] | None = None,
    midway: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Render the site (:func:`render_site`) and write it into ``settings.feeds_dir``, each file atomically.

    Returns the paths written, in order. ``progress`` is called after each file is in place (the CLI uses it
    for its test switch THISDAY_TEST_STALL_AFTER, see the README), ``midway`` in the middle of each write.
    The build holds :func:`build_lock` and first removes temporary files a killed build left. Day pages that
    fall out of the window
    are kept: their permalinks stay valid.
    """
    written: list[Path] = []
    with build_lock(settings.state_dir / LOCK_NAME):
        remove_stale_temp_files(settings.feeds_dir)
        for rel, data in render_site(settings, index, on, now, days):
            path = settings.feeds_dir / rel
            atomic_write(path, data, midway=midway)
            written.append(path)
            if progress is not None:
                progress(path)
    return written
