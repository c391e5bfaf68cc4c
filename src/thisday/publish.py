"""Everything that writes: files go to a temporary file in the same folder, then ``os.replace``.

A reader (or a feed reader polling ``thisday serve``) therefore sees the old file or the new one, never half
of one, even if the process is killed mid-write.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from .config import Settings
from .errors import PublishError
from .feeds import build_feed, window
from .index import CalendarIndex
from .selection import day_selection
from .site import FEED_FORMATS, SiteRenderer, feed_language, feed_path, published_feeds
from .views import Views, day_path, language_folder, site_languages


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename).

    Raises :class:`PublishError` naming the path when the folder cannot be made or written.
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
    selections = {d: day_selection(index, d, settings) for d in site_days}
    pages = {d: views.day(selections[d]) for d in site_days}
    # each other site language: the same pages in its folder (de/days/..., de/index.html)
    translated = {
        code: (Views(settings, code), language_folder(settings, code)) for code in site_languages(settings)[1:]
    }
    for d in reversed(site_days):
        if only in (None, day_path(d)):
            yield day_path(d), renderer.day_page(pages[d], site_days)
        for lang_views, folder in translated.values():
            if only in (None, folder + day_path(d)):
                yield folder + day_path(d), renderer.day_page(lang_views.day(selections[d]), site_days)
    feed_views: dict[tuple[str, str], Views] = {}
    for feed in published_feeds(settings):
        if only is not None and only not in (feed_path(feed, fmt) for fmt in FEED_FORMATS):
            continue
        feed_days = window(on, days or feed.days)
        code = feed_language(settings, feed)
        if code == settings.site.language:
            fviews = views
        else:
            fviews = feed_views.setdefault(
                (code, feed.untranslated), Views(settings, code, untranslated=feed.untranslated)
            )
        if not feed.kinds and not feed.tags and fviews is views:
            selected = [pages[d] for d in feed_days]
        else:
            selected = [
                fviews.day(day_selection(index, d, settings, kinds=feed.kinds, tags=feed.tags)) for d in feed_days
            ]
        for fmt in FEED_FORMATS:
            if only in (None, feed_path(feed, fmt)):
                yield feed_path(feed, fmt), build_feed(settings, feed, selected, now, fmt, renderer)
    if only in (None, "index.html"):
        yield "index.html", renderer.index_page(pages[on], site_days)
    for lang_views, folder in translated.values():
        if only in (None, folder + "index.html"):
            yield folder + "index.html", renderer.index_page(lang_views.day(selections[on]), site_days)


def build_site(
    settings: Settings,
    index: CalendarIndex,
    on: datetime.date,
    now: datetime.datetime,
    days: int | None = None,
    progress: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Render the site (:func:`render_site`) and write it into ``settings.feeds_dir``, each file atomically.

    Returns the paths written, in order. ``progress`` is called after each file is in place (the CLI uses it
    for its test switch THISDAY_TEST_STALL_AFTER, see the README). Day pages that fall out of the window
    are kept: their permalinks stay valid.
    """
    written: list[Path] = []
    for rel, data in render_site(settings, index, on, now, days):
        path = settings.feeds_dir / rel
        atomic_write(path, data)
        written.append(path)
        if progress is not None:
            progress(path)
    return written
