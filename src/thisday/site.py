"""The static site in ``feeds/``: today's page, one permalink page per day, and the HTML that feed items carry.

Pages are rendered with Jinja2 (autoescaping on) from ``templates/site/``; a file of the same name under the
``templates`` folder of ``thisday.toml`` (``my-templates/site/day.html``) replaces the shipped one. Entry bodies
are Markdown rendered and sanitized by :mod:`thisday.markup`. Rendering is pure: values in, text or bytes out;
the only files read are the templates.

The site's layout is fixed here and nowhere else: ``index.html``, ``days/YYYY-MM-DD.html`` and
``<feed>.atom`` / ``<feed>.rss``, all below ``site.base_url``.
"""

from __future__ import annotations

import datetime
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
from markupsafe import Markup

from . import templates
from .config import FeedSettings, Settings
from .dates import format_years_ago
from .digest import template_environment
from .markup import render_markdown
from .model import DaySelection, Occurrence
from .selection import describe_day

FEED_FORMATS = ("atom", "rss")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MEDIA_TYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml", "html": "text/html"}

# ---------------------------------------------------------------------------------------------
# Where things are


def published_feeds(settings: Settings) -> tuple[FeedSettings, ...]:
    """The feeds a build writes: the default feed (every entry) first, then the configured ones.

    ``[[feeds]]`` tables add feeds; one named like the default (``onthisday``) changes the default instead.
    """
    if any(feed.name == FeedSettings.name for feed in settings.feeds):
        return settings.feeds
    return (FeedSettings(), *settings.feeds)


def base_url(settings: Settings) -> str:
    """``site.base_url`` with exactly one trailing slash, so relative paths join below it."""
    return settings.site.base_url.rstrip("/") + "/"


def day_path(day: datetime.date) -> str:
    """A day's permalink page, relative to the site root: ``days/2026-07-12.html``."""
    return f"days/{day.isoformat()}.html"


def day_url(settings: Settings, day: datetime.date, anchor: str = "") -> str:
    """The absolute permalink of a day (and of one entry on it, with ``anchor``)."""
    url = base_url(settings) + day_path(day)
    return f"{url}#{anchor}" if anchor else url


def feed_path(feed: FeedSettings, fmt: str) -> str:
    """``onthisday.atom``: a feed file, relative to the site root."""
    return f"{feed.name}.{fmt}"


def feed_url(settings: Settings, feed: FeedSettings, fmt: str) -> str:
    return base_url(settings) + feed_path(feed, fmt)


def feed_title(settings: Settings, feed: FeedSettings) -> str:
    """The feed's own title, else the site's (with the feed's name when the feed is filtered)."""
    if feed.title:
        return feed.title
    if feed.kinds or feed.tags or feed.name != FeedSettings.name:
        return f"{settings.site.title} ({feed.name})"
    return settings.site.title


def feed_description(settings: Settings, feed: FeedSettings) -> str:
    if feed.description:
        return feed.description
    if not feed.kinds and not feed.tags:
        return settings.site.description
    kinds = " and ".join(f"{k.value}s" for k in feed.kinds) or "entries"
    tags = f" tagged {' or '.join(feed.tags)}" if feed.tags else ""
    return f"{settings.site.description} Only {kinds}{tags}."


# ---------------------------------------------------------------------------------------------
# What the templates see: plain values, already formatted


@dataclass(frozen=True)
class SourceView:
    title: str
    url: str | None


@dataclass(frozen=True)
class EntryView:
    """One entry as a page or a feed item shows it."""

    anchor: str
    title: str
    kind: str
    date_display: str
    years_ago: str
    round_anniversary: bool
    note: str | None
    tags: tuple[str, ...]
    featured: bool
    body: Markup
    sources: tuple[SourceView, ...]


@dataclass(frozen=True)
class DayView:
    """One day's selection, with its permalink."""

    on: datetime.date
    heading: str
    weekday: str
    path: str
    url: str
    entries: tuple[EntryView, ...]
    left_out: int


@dataclass(frozen=True)
class FeedLink:
    """A feed as the pages announce it (autodiscovery ``<link rel="alternate">`` and the subscribe list)."""

    title: str
    url: str
    media_type: str
    format: str


_TAG_WITH_URL = re.compile(r"<(?:a|img)\s[^>]*>")
_URL_ATTR = re.compile(r'(\s(?:href|src)=")([^"]*)(")')
_HEADING = re.compile(r"<(/?)h([2-5])>")


def absolute_links(html: str, base: str, page: str) -> str:
    """Make every ``href``/``src`` in sanitized HTML absolute (feed readers show it away from the site).

    Paths resolve against the site's ``base`` URL (``notes/x.html``, ``/about.html``); a bare ``#anchor``
    against ``page``, the permalink the HTML is shown on.
    """

    def fix_attr(match: re.Match[str]) -> str:
        value = match.group(2)
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", value):
            return match.group(0)
        resolved = urllib.parse.urljoin(page if value.startswith("#") else base, value)
        return f"{match.group(1)}{resolved}{match.group(3)}"

    return _TAG_WITH_URL.sub(lambda tag: _URL_ATTR.sub(fix_attr, tag.group(0)), html)


def demote_headings(html: str) -> str:
    """Body headings sit below the entry's title: ``<h2>`` becomes ``<h3>`` and so on."""
    return _HEADING.sub(lambda m: f"<{m.group(1)}h{int(m.group(2)) + 1}>", html)


def entry_view(occ: Occurrence, base: str, page: str) -> EntryView:
    entry = occ.entry
    body = demote_headings(absolute_links(render_markdown(entry.body), base, page)) if entry.body else ""
    return EntryView(
        anchor=entry.id,
        title=entry.title,
        kind=entry.kind.value,
        date_display=occ.date_display,
        years_ago=format_years_ago(occ.years_ago),
        round_anniversary=occ.round_anniversary,
        note=occ.note,
        tags=entry.tags,
        featured=entry.featured,
        body=Markup(body),  # sanitized by markup.render_markdown: the one place HTML is trusted
        sources=tuple(SourceView(s.title, s.url) for s in entry.sources),
    )


def day_view(settings: Settings, selection: DaySelection) -> DayView:
    on = selection.on
    base = base_url(settings)
    return DayView(
        on=on,
        heading=describe_day(on),
        weekday=WEEKDAYS[on.weekday()],
        path=day_path(on),
        url=day_url(settings, on),
        entries=tuple(entry_view(o, base, day_url(settings, on)) for o in selection.occurrences),
        left_out=selection.left_out,
    )


def feed_links(settings: Settings) -> tuple[FeedLink, ...]:
    """Every configured feed in both formats, in configuration order (Atom first)."""
    return tuple(
        FeedLink(
            title=f"{feed_title(settings, feed)} · {'RSS' if fmt == 'rss' else 'Atom'}",
            url=feed_url(settings, feed, fmt),
            media_type=MEDIA_TYPES[fmt],
            format=fmt,
        )
        for feed in published_feeds(settings)
        for fmt in FEED_FORMATS
    )


# ---------------------------------------------------------------------------------------------
# Rendering


@dataclass(frozen=True)
class SiteRenderer:
    """Renders the site's pages and the feed items' HTML with one template environment."""

    settings: Settings
    env: jinja2.Environment

    @classmethod
    def create(cls, settings: Settings) -> SiteRenderer:
        """With the digest's template environment: the user's folder first, then the project's templates/."""
        return cls(settings, template_environment(settings))

    def _render(self, name: str, **context: Any) -> str:
        return templates.render(
            self.env, f"site/{name}", {"site": self.settings.site, "subscribe": self.settings.digest.subscribe, **context}
        )

    def day_item_html(self, selection: DaySelection) -> str:
        """The HTML of a feed item for a whole day (absolute links only)."""
        return self._render("feed_day.html", day=day_view(self.settings, selection)).strip()

    def entry_items_html(self, selection: DaySelection) -> list[str]:
        """The HTML of the feed items for each entry of a day, in order (absolute links only)."""
        day = day_view(self.settings, selection)
        return [self._render("feed_entry.html", day=day, entry=entry).strip() for entry in day.entries]

    def _page(self, name: str, selection: DaySelection, window: Sequence[datetime.date], root: str) -> bytes:
        day = day_view(self.settings, selection)
        days = sorted(window, reverse=True)
        # neighbours from the window itself (no date arithmetic, so 1 January AD 1 and 31 December 9999 work)
        at = days.index(day.on) if day.on in days else -1
        previous = days[at + 1] if 0 <= at < len(days) - 1 and (day.on - days[at + 1]).days == 1 else None
        following = days[at - 1] if at > 0 and (days[at - 1] - day.on).days == 1 else None
        html = self._render(
            name,
            day=day,
            root=root,
            base_url=base_url(self.settings),
            feeds=feed_links(self.settings),
            recent=[(d, day_path(d), describe_day(d)) for d in days],
            previous=(day_path(previous), describe_day(previous)) if previous else None,
            following=(day_path(following), describe_day(following)) if following else None,
        )
        return html.encode("utf-8")

    def day_page(self, selection: DaySelection, window: Sequence[datetime.date]) -> bytes:
        """``days/YYYY-MM-DD.html``: a day's permalink page. ``window`` lists the days the site has."""
        return self._page("day.html", selection, window, root="../")

    def index_page(self, selection: DaySelection, window: Sequence[datetime.date]) -> bytes:
        """``index.html``: the build date's page, with feed autodiscovery and the recent days."""
        return self._page("index.html", selection, window, root="")
