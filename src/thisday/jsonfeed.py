"""JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/): the JSON twin of each Atom and RSS feed.

Same items as the Atom and RSS files of the feed (the same ids, titles, links, HTML and times, from
:func:`thisday.feeds.feed_items`), the same window, and the feed's ``language``, ``authors``,
``home_page_url``, ``feed_url`` and, with ``site.websub_hub`` set, ``hubs``. Pure: items in, bytes out.

Text that JSON cannot carry in UTF-8 (lone surrogates) and the control characters XML refuses are dropped, as
in the Atom twin, so every file is valid UTF-8 JSON whatever an entry holds. Keys keep a fixed order, so the same inputs give byte-identical files.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from typing import Any

from .config import FeedSettings, Settings
from .feeds import FeedItem, utc_now, xml_text
from .layout import feed_description, feed_title, feed_url
from .views import base_url

VERSION = "https://jsonfeed.org/version/1.1"


def clean(value: Any) -> Any:
    """``value`` with every string stripped of characters that no output format may carry (recursively)."""
    if isinstance(value, str):
        return xml_text(value)
    if isinstance(value, dict):
        return {key: clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean(item) for item in value]
    return value


def json_bytes(document: Any, *, cleaned: bool = False) -> bytes:
    """A JSON document as compact UTF-8 bytes with a final newline, keys in a fixed order.

    Strings are cleaned (:func:`clean`) unless the caller says it did so already (``cleaned``)."""
    text = json.dumps(document if cleaned else clean(document), ensure_ascii=False, separators=(",", ":"))
    return (text + "\n").encode("utf-8")


def _time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def feed_document(
    settings: Settings, feed: FeedSettings, items: Sequence[FeedItem], now: datetime.datetime
) -> dict[str, Any]:
    """The JSON Feed object of ``feed`` with ``items`` (newest first), as a dict."""
    site = settings.site
    utc_now(now)  # an aware publish time, as for the Atom and RSS twins
    author: dict[str, str] = {"name": site.author or "thisday"}
    if site.author_email:
        author["url"] = f"mailto:{site.author_email}"
    document: dict[str, Any] = {
        "version": VERSION,
        "title": feed_title(settings, feed),
        "home_page_url": base_url(settings),
        "feed_url": feed_url(settings, feed, "json"),
        "description": feed_description(settings, feed),
        "language": site.language,
        "authors": [author],
    }
    if site.websub_hub:
        document["hubs"] = [{"type": "WebSub", "url": site.websub_hub}]
    document["items"] = [
        {
            "id": item.id,
            "url": item.link,
            "title": item.title,
            "content_html": item.html,
            "date_published": _time(item.when),
            "date_modified": _time(item.when),
            **({"tags": list(item.tags)} if item.tags else {}),
        }
        for item in items
    ]
    return document


def build_json_feed(
    settings: Settings, feed: FeedSettings, items: Sequence[FeedItem], now: datetime.datetime
) -> bytes:
    """``NAME.json``: the feed as JSON Feed 1.1 bytes (``application/feed+json``)."""
    return json_bytes(feed_document(settings, feed, items, now))
