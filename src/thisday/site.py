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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jinja2

from . import templates
from .config import FeedSettings, Settings
from .dates import format_day
from .views import DayView, Views, base_url, day_path

FEED_FORMATS = ("atom", "rss")
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
# What the pages announce


@dataclass(frozen=True)
class FeedLink:
    """A feed as the pages announce it (autodiscovery ``<link rel="alternate">`` and the subscribe list)."""

    title: str
    url: str
    media_type: str
    format: str


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
    """Renders the site's pages and the feed items' HTML from day views, with one template environment."""

    settings: Settings
    env: jinja2.Environment
    views: Views

    @classmethod
    def create(cls, settings: Settings, views: Views | None = None) -> SiteRenderer:
        """With the one template environment: the user's folder first, then the shipped templates."""
        return cls(settings, templates.environment(settings.templates, settings.source), views or Views(settings))

    def _render(self, name: str, **context: Any) -> str:
        return templates.render(
            self.env, f"site/{name}", {"site": self.settings.site, "subscribe": self.settings.digest.subscribe, **context}
        )

    def day_item_html(self, day: DayView) -> str:
        """The HTML of a feed item for a whole day (absolute links only)."""
        return self._render("feed_day.html", day=day).strip()

    def entry_items_html(self, day: DayView) -> list[str]:
        """The HTML of the feed items for each entry of a day, in order (absolute links only)."""
        return [self._render("feed_entry.html", day=day, entry=entry).strip() for entry in day.entries]

    def _page(self, name: str, day: DayView, window: Sequence[datetime.date], root: str) -> bytes:
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
            recent=[(d, day_path(d), format_day(d)) for d in days],
            previous=(day_path(previous), format_day(previous)) if previous else None,
            following=(day_path(following), format_day(following)) if following else None,
        )
        return html.encode("utf-8")

    def day_page(self, day: DayView, window: Sequence[datetime.date]) -> bytes:
        """``days/YYYY-MM-DD.html``: a day's permalink page. ``window`` lists the days the site has."""
        return self._page("day.html", day, window, root="../")

    def index_page(self, day: DayView, window: Sequence[datetime.date]) -> bytes:
        """``index.html``: the build date's page, with feed autodiscovery and the recent days."""
        return self._page("index.html", day, window, root="")
