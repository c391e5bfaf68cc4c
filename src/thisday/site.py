"""The static site in ``feeds/``: today's page, one permalink page per day, and the HTML that feed items carry.

Pages are rendered with Jinja2 (autoescaping on) from ``templates/site/``; a file of the same name under the
``templates`` folder of ``thisday.toml`` (``my-templates/site/day.html``) replaces the shipped one. Entry bodies
are Markdown rendered and sanitized by :mod:`thisday.markup`. Rendering is pure: values in, text or bytes out;
the only files read are the templates.

The site's layout is fixed here and nowhere else: ``index.html``, ``days/YYYY-MM-DD.html`` and
``<feed>.atom`` / ``<feed>.rss``, all below ``site.base_url``.
"""

from __future__ import annotations

import calendar
import datetime
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2

from . import i18n, templates
from .config import Settings
from .dates import MONTHS, WEEKDAYS
from .layout import (
    FORMAT_NAMES,
    LINKED_FORMATS,
    MEDIA_TYPES,
    feed_title,
    feed_url,
    month_path,
    published_feeds,
)
from .views import DayView, Views, base_url, day_path, day_url, language_folder, site_languages

# ---------------------------------------------------------------------------------------------
# Where things are










@dataclass(frozen=True)
class Alternate:
    """A page in another language (``<link rel="alternate" hreflang>``)."""

    language: str
    url: str


def alternates(settings: Settings, day: datetime.date | None) -> tuple[Alternate, ...]:
    """The same page in every site language (a day's page, or the index for ``None``), then ``x-default`` (the
    default language's); empty with one language."""
    codes = site_languages(settings)
    if len(codes) < 2:
        return ()
    if day is None:
        found = tuple(Alternate(c, base_url(settings) + language_folder(settings, c)) for c in codes)
    else:
        found = tuple(Alternate(c, day_url(settings, day, language=c)) for c in codes)
    return (*found, Alternate("x-default", found[0].url))  # readers of any other language get the default






def subscribe_languages(settings: Settings) -> list[tuple[str, str]]:
    """The languages a reader may choose for the digest on the subscribe form: (code, the language's own name)."""
    from babel import Locale

    return [(code, Locale.parse(code).get_display_name(code) or code) for code in site_languages(settings)]


# ---------------------------------------------------------------------------------------------
# What the pages announce


@dataclass(frozen=True)
class FeedLink:
    """A feed as the pages announce it (autodiscovery ``<link rel="alternate">`` and the subscribe list)."""

    title: str
    url: str
    media_type: str
    format: str


def feed_links(settings: Settings, formats: Sequence[str] = LINKED_FORMATS) -> tuple[FeedLink, ...]:
    """Every configured feed in each of ``formats``, in configuration order (Atom, RSS, then JSON Feed)."""
    return tuple(
        FeedLink(
            title=f"{feed_title(settings, feed)} · {FORMAT_NAMES[fmt]}",
            url=feed_url(settings, feed, fmt),
            media_type=MEDIA_TYPES[fmt],
            format=fmt,
        )
        for feed in published_feeds(settings)
        for fmt in formats
    )




@dataclass(frozen=True)
class MonthCell:
    """One day of a month page's calendar grid: its number, and its page's path when it was published."""

    day: int
    path: str | None
    today: bool = False


def month_grid(
    year: int, month: int, published: Callable[[datetime.date], bool], on: datetime.date
) -> list[list[MonthCell | None]]:
    """The weeks (Monday first) of a month, each day linked when ``published`` says its page exists."""
    weeks: list[list[MonthCell | None]] = []
    for week in calendar.Calendar(firstweekday=0).monthdayscalendar(year, month):
        row: list[MonthCell | None] = []
        for number in week:
            if number == 0:
                row.append(None)
                continue
            day = datetime.date(year, month, number)
            row.append(MonthCell(number, day_path(day) if published(day) else None, day == on))
        weeks.append(row)
    return weeks


# ---------------------------------------------------------------------------------------------
# Rendering

_NOT_HTML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def page_bytes(html: str) -> bytes:
    """A page as UTF-8, without the characters HTML cannot hold (controls, lone surrogates an entry file may carry)."""
    return _NOT_HTML.sub("", html).encode("utf-8")


@dataclass(frozen=True)
class SiteRenderer:
    """Renders the site's pages and the feed items' HTML from day views, with one template environment."""

    settings: Settings
    env: jinja2.Environment
    views: Views

    @classmethod
    def create(cls, settings: Settings, views: Views | None = None) -> SiteRenderer:
        """With the one template environment: the user's folder first, then the shipped templates."""
        return cls(settings, templates.environment(settings.templates, settings.source), views or Views(settings))

    def _render(self, name: str, **context: Any) -> str:
        day = context.get("day")
        code = day.language if isinstance(day, DayView) else self.settings.site.language
        values = {
            "site": self.settings.site,
            "subscribe": self.settings.digest.subscribe,
            "subscribe_languages": subscribe_languages(self.settings),
            **i18n.language(code).template_values(),
            **context,
        }
        return templates.render(self.env, f"site/{name}", values)

    def day_item_html(self, day: DayView) -> str:
        """The HTML of a feed item for a whole day (absolute links only)."""
        return self._render("feed_day.html", day=day).strip()

    def entry_items_html(self, day: DayView) -> list[str]:
        """The HTML of the feed items for each entry of a day, in order (absolute links only)."""
        return [self._render("feed_entry.html", day=day, entry=entry).strip() for entry in day.entries]

    def _page(
        self,
        name: str,
        day: DayView,
        window: Sequence[datetime.date],
        root: str,
        published: tuple[datetime.date, datetime.date] | None = None,
    ) -> bytes:
        days = sorted(window, reverse=True)
        lang = i18n.language(day.language)
        if published is not None:
            # every day from the first published to the build date has its page (kept when out of the window)
            first, last = published
            previous = day.on - datetime.timedelta(days=1) if first < day.on <= last else None
            following = day.on + datetime.timedelta(days=1) if first <= day.on < last else None
        else:
            # neighbours from the window itself (no date arithmetic, so 1 January AD 1 and 31 December 9999 work)
            at = days.index(day.on) if day.on in days else -1
            previous = days[at + 1] if 0 <= at < len(days) - 1 and (day.on - days[at + 1]).days == 1 else None
            following = days[at - 1] if at > 0 and (days[at - 1] - day.on).days == 1 else None
        html = self._render(
            name,
            day=day,
            root=root,
            base_url=base_url(self.settings) + language_folder(self.settings, day.language),
            feeds=feed_links(self.settings),
            alternates=alternates(self.settings, day.on if name == "day.html" else None),
            calendars=feed_links(self.settings, ("ics",)),
            recent=[(d, day_path(d), lang.day(d)) for d in days],
            previous=(day_path(previous), lang.day(previous)) if previous else None,
            following=(day_path(following), lang.day(following)) if following else None,
            # absolute: the month pages are the site's root's (a translated page in de/ links to the same one)
            month=(
                base_url(self.settings) + month_path(day.on.year, day.on.month),
                lang.plain_date(day.on.year, day.on.month),
            )
            if published is not None
            else None,
        )
        return page_bytes(html)

    def day_page(
        self,
        day: DayView,
        window: Sequence[datetime.date],
        published: tuple[datetime.date, datetime.date] | None = None,
    ) -> bytes:
        """``days/YYYY-MM-DD.html``: a day's permalink page. ``window`` lists the days the site has; with
        ``published`` (the first and last published day) it links the days before and after and its month."""
        return self._page("day.html", day, window, root="../", published=published)

    def index_page(
        self,
        day: DayView,
        window: Sequence[datetime.date],
        published: tuple[datetime.date, datetime.date] | None = None,
    ) -> bytes:
        """``index.html``: the build date's page, with feed autodiscovery and the recent days."""
        return self._page("index.html", day, window, root="", published=published)

    def month_page(self, year: int, month: int, published: tuple[datetime.date, datetime.date]) -> bytes:
        """``months/YYYY-MM.html``: a calendar grid of the month, each published day linked to its page."""
        first, last = published

        def has_page(day: datetime.date) -> bool:
            return first <= day <= last

        start = datetime.date(year, month, 1)
        before = start - datetime.timedelta(days=1) if start.toordinal() > 1 else None
        after = datetime.date(year + (month == 12), month % 12 + 1, 1) if (year, month) < (9999, 12) else None
        html = self._render(
            "month.html",
            root="../",
            base_url=base_url(self.settings),
            canonical=base_url(self.settings) + month_path(year, month),
            feeds=feed_links(self.settings),
            heading=f"{MONTHS[month - 1]} {year}",
            weekdays=[name[:3] for name in WEEKDAYS],
            weeks=month_grid(year, month, has_page, last),
            previous=(month_path(before.year, before.month), f"{MONTHS[before.month - 1]} {before.year}")
            if before is not None and before >= first.replace(day=1)
            else None,
            following=(month_path(after.year, after.month), f"{MONTHS[after.month - 1]} {after.year}")
            if after is not None and after <= last
            else None,
        )
        return page_bytes(html)
