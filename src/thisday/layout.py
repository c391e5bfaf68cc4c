"""The site's layout: which files a build writes, where (paths and absolute URLs below ``site.base_url``), and
what each feed is called. Shared by the renderers (pages, feeds, JSON Feed, calendars) and the channels, so none
of them imports another for it. Pure: settings in, strings out.
"""

from __future__ import annotations

import functools

from . import i18n
from .config import FeedSettings, Settings
from .model import Kind
from .views import base_url

FEED_FORMATS = ("atom", "rss")


MEDIA_TYPES = {
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "json": "application/feed+json",
    "ics": "text/calendar",
    "html": "text/html",
}


LINKED_FORMATS = ("atom", "rss", "json")
"""The feed formats the pages announce with autodiscovery links (the calendar is linked, not autodiscovered)."""


FORMAT_NAMES = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed", "ics": "calendar"}


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


def feed_language(settings: Settings, feed: FeedSettings) -> str:
    """The language a feed is written in: its own ``language``, else ``site.language``."""
    return feed.language or settings.site.language


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
    lang = i18n.language(feed_language(settings, feed))
    names = {
        Kind.EVENT: lang.gettext("events"),
        Kind.BIRTH: lang.gettext("births"),
        Kind.DEATH: lang.gettext("deaths"),
        Kind.OBSERVANCE: lang.gettext("observances"),
    }
    what = (
        functools.reduce(
            lambda a, b: lang.gettext("{a} and {b}").format(a=a, b=b), (names[k] for k in feed.kinds)
        )
        if feed.kinds
        else lang.gettext("entries")
    )
    if feed.tags:
        tags = functools.reduce(lambda a, b: lang.gettext("{a} or {b}").format(a=a, b=b), feed.tags)
        what = lang.gettext("{what} tagged {tags}").format(what=what, tags=tags)
    return lang.gettext("{description} Only {what}.").format(description=settings.site.description, what=what)


def month_path(year: int, month: int) -> str:
    """A month's page, relative to the site root: ``months/2026-07.html``."""
    return f"months/{year:04d}-{month:02d}.html"
