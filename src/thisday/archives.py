"""Monthly archives of every feed (RFC 5005, Feed Paging and Archiving): ``archive/NAME-YYYY-MM.atom``.

A feed keeps a rolling window of days; its archive documents keep everything, one Atom document per month
from the month of the first published day, with the same items and ids as the feed. They are chained:

- the feed (the "subscription document") links ``prev-archive`` to the current month's archive;
- each archive links ``current`` to the feed, ``prev-archive`` to the month before (but the first), and,
  once its month is over, ``next-archive`` to the month after; it carries ``<fh:archive/>``.

A reader that follows ``prev-archive`` from the feed back to the first month rebuilds the whole history. The
current month's archive grows with each build; a closed month's archive is written once, at the first build
after its month ends (with its ``next-archive`` link), and never again: :func:`is_closed` tells a build
which files to leave alone. An archive's ``updated`` is its newest item's time (the first of the month when
it has none), never the publish time, so a closed month's bytes depend on its days alone.
"""

from __future__ import annotations

import datetime

from lxml import etree  # type: ignore[import-untyped]  # no stubs; lxml comes with feedgen

from .config import FeedSettings, Settings
from .feeds import ItemHtml, build_feed, feed_items, utc_now
from .views import DayView, base_url

ATOM = "{http://www.w3.org/2005/Atom}"


def archive_path(feed: FeedSettings, year: int, month: int) -> str:
    """``archive/onthisday-2026-07.atom``: a month's archive document, relative to the site root."""
    return f"archive/{feed.name}-{year:04d}-{month:02d}.atom"


def archive_url(settings: Settings, feed: FeedSettings, year: int, month: int) -> str:
    return base_url(settings) + archive_path(feed, year, month)


def months(first: datetime.date, last: datetime.date) -> list[tuple[int, int]]:
    """The (year, month) pairs from ``first``'s month to ``last``'s, oldest first."""
    found = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        found.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def month_days(year: int, month: int, first: datetime.date, last: datetime.date) -> list[datetime.date]:
    """The days of a month between ``first`` and ``last`` (inclusive), oldest first."""
    day = max(datetime.date(year, month, 1), first)
    found = []
    while day.month == month and day <= last:
        found.append(day)
        if day == datetime.date.max:
            break
        day += datetime.timedelta(days=1)
    return found


def is_closed(data: bytes) -> bool:
    """Whether an archive document already written is final: its month was over (it links ``next-archive``)."""
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        return False
    return any(link.get("rel") == "next-archive" for link in root.findall(ATOM + "link"))


def archive_links(
    settings: Settings, feed: FeedSettings, year: int, month: int, chain: list[tuple[int, int]]
) -> list[tuple[str, str]]:
    """The RFC 5005 links of a month's archive document within ``chain`` (every archived month, oldest first)."""
    at = chain.index((year, month))
    links = [("current", settings.site.base_url.rstrip("/") + f"/{feed.name}.atom")]
    if at > 0:
        links.append(("prev-archive", archive_url(settings, feed, *chain[at - 1])))
    if at < len(chain) - 1:
        links.append(("next-archive", archive_url(settings, feed, *chain[at + 1])))
    return links


def build_archive(
    settings: Settings,
    feed: FeedSettings,
    year: int,
    month: int,
    days: list[DayView],
    chain: list[tuple[int, int]],
    now: datetime.datetime,
    renderer: ItemHtml,
) -> bytes:
    """One month's archive document: ``days`` (the feed's views of the month's published days) as Atom."""
    now = utc_now(now)
    month_start = datetime.datetime(year, month, 1, tzinfo=datetime.UTC)
    items = feed_items(settings, feed, days, now, renderer)
    updated = max((item.when for item in items), default=min(month_start, now))
    return build_feed(
        settings,
        feed,
        days,
        updated,
        "atom",
        renderer,
        items=items,
        links=archive_links(settings, feed, year, month, chain),
        archive_url=archive_url(settings, feed, year, month),
    )

