"""RSS 2.0 and Atom feeds from day selections (feedgen). Pure: the publish time and the days arrive as arguments.

What a feed holds:

- one item per day (``items = "day"``, the default): the day's whole selection, lead story first; or one item
  per entry (``items = "entry"``), in the day's publishing order;
- the rolling window: the N days ending at the build date, newest first. A day with nothing to show (after
  the feed's kind and tag filters) has no item: readers are not sent empty days. A feed with no items at
  all is still a valid feed.

Ids are stable and never depend on file paths: ``tag:<host>,<day>:<feed>`` for a day's item and
``tag:<host>,<day>:<feed>/<entry id>`` for an entry's (entry ids come from date and title). Re-building a day
therefore never makes a duplicate item, and renaming an entry file changes nothing. An item's time is the
start of its day in the configured timezone (never later than the publish time), so re-building does not
move items either; the feed's ``updated`` / ``lastBuildDate`` is the publish time. Same selections and same
publish time give byte-identical feeds.
"""

from __future__ import annotations

import datetime
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from feedgen.feed import FeedGenerator
from lxml import etree  # type: ignore[import-untyped]  # no stubs; lxml comes with feedgen

from . import i18n
from .config import FeedSettings, Settings
from .layout import MEDIA_TYPES, feed_description, feed_language, feed_title, feed_url
from .views import DayView, base_url, language_folder

GENERATOR = "thisday"


class ItemHtml(Protocol):
    """What gives a feed item its HTML (the site's renderer, :class:`thisday.site.SiteRenderer`): the feed writer
    only wraps it, so that a day's page and its feed item show the same thing."""

    def day_item_html(self, day: DayView) -> str: ...

    def entry_items_html(self, day: DayView) -> list[str]: ...


def window(on: datetime.date, days: int) -> list[datetime.date]:
    """The ``days`` days ending at ``on``, newest first (fewer near 1 January AD 1, where the calendar starts)."""
    return [on - datetime.timedelta(days=i) for i in range(min(days, on.toordinal()))]


def item_time(day: datetime.date, now: datetime.datetime, offset: int = 0) -> datetime.datetime:
    """When a day's items are dated: the start of the day in UTC (plus ``offset`` seconds), never after ``now``.

    UTC, not a local zone: a feed's bytes depend on the day and the publish moment alone, never on the zone of
    the machine that built it."""
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=now.tzinfo)
    return min(start + datetime.timedelta(seconds=offset), now)


def tag_authority(settings: Settings) -> str:
    """The host of ``site.base_url`` as a tag: URI authority (lowercase, no port)."""
    host = urllib.parse.urlsplit(base_url(settings)).hostname or ""
    return host if re.fullmatch(r"[a-z0-9.-]+", host) else "localhost"


def item_id(settings: Settings, feed: FeedSettings, day: datetime.date, entry_id: str | None = None) -> str:
    """A stable, unique id (Atom ``id``, RSS ``guid``) for a day's item, or an entry's item on that day."""
    specific = feed.name if entry_id is None else f"{feed.name}/{entry_id}"
    return f"tag:{tag_authority(settings)},{day.isoformat()}:{specific}"


def day_title(day: DayView) -> str:
    """'12 July 2026: on this day in 1942, Andrey Vlasov is captured by German forces, and 4 more'.

    The day's date never stands alone beside a past event, which would read as if it happened this year.
    """
    lang = i18n.language(day.language)
    lead = day.entries[0]
    when = lang.gettext("on this day in {year}").format(year=lead.year) if lead.year else lang.gettext("on this day")
    title = lang.gettext("{day}: {when}, {title}").format(day=day.heading, when=when, title=lead.title)
    if len(day.entries) > 1:
        more = len(day.entries) - 1
        title += lang.ngettext(", and {n} more", ", and {n} more", more).format(n=lang.number(more))
    return title


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (control characters a Markdown file may carry)."""
    return _NOT_XML.sub("", text)


def _generator(
    settings: Settings, feed: FeedSettings, fmt: str, now: datetime.datetime, self_url: str | None = None
) -> FeedGenerator:
    site = settings.site
    fg = FeedGenerator()
    fg.id(feed_url(settings, feed, "atom"))
    fg.title(xml_text(feed_title(settings, feed)))
    fg.description(xml_text(feed_description(settings, feed)))
    author = {"name": site.author or "thisday"}
    if site.author_email:
        author["email"] = site.author_email
        fg.managingEditor(f"{site.author_email} ({author['name']})")
    fg.author(author)
    # RSS takes its channel <link> from the last link added: the self link first, the site last.
    fg.link(href=self_url or feed_url(settings, feed, fmt), rel="self", type=MEDIA_TYPES[fmt])
    if site.websub_hub:
        fg.link(href=site.websub_hub, rel="hub")
    language = feed_language(settings, feed)
    fg.link(href=base_url(settings) + language_folder(settings, language), rel="alternate", type="text/html")
    fg.language(language)
    fg.generator(GENERATOR)
    fg.updated(now)
    return fg


@dataclass(frozen=True)
class FeedItem:
    """One item of a feed, as every format writes it (Atom, RSS, JSON Feed, the monthly archives)."""

    id: str
    title: str
    link: str
    html: str
    when: datetime.datetime
    tags: tuple[str, ...] = ()


def utc_now(now: datetime.datetime) -> datetime.datetime:
    """The publish time as feeds write it: aware, in UTC, whole seconds."""
    if now.tzinfo is None:
        raise ValueError("the publish time must be an aware datetime")
    return now.astimezone(datetime.UTC).replace(microsecond=0)


def feed_items(
    settings: Settings,
    feed: FeedSettings,
    days: Sequence[DayView],
    now: datetime.datetime,
    renderer: ItemHtml,
) -> list[FeedItem]:
    """The items of a feed from its day views, newest day first (the item HTML rendered once for every format).

    ``days`` are views of the selections already filtered for this feed (``selection.day_selection`` with the
    feed's kinds and tags); a day with no entries has no item.
    """
    now = utc_now(now)
    items: list[FeedItem] = []
    for day in sorted(days, key=lambda d: d.on, reverse=True):
        if not day.entries:
            continue
        if feed.items == "entry":
            count = len(day.entries)
            htmls = renderer.entry_items_html(day)
            for index, (view, html) in enumerate(zip(day.entries, htmls, strict=True)):
                # One second apart, lead story latest: readers that sort by time show publishing order.
                items.append(
                    FeedItem(
                        id=item_id(settings, feed, day.on, view.id),
                        title=view.title if view.entry.rule else f"{view.date_display}: {view.title}",
                        link=view.url,
                        html=html,
                        when=item_time(day.on, now, offset=count - 1 - index),
                        tags=view.tags,
                    )
                )
        else:
            items.append(
                FeedItem(
                    id=item_id(settings, feed, day.on),
                    title=day_title(day),
                    link=day.url,
                    html=renderer.day_item_html(day),
                    when=item_time(day.on, now),
                )
            )
    return items


def _add_item(fg: FeedGenerator, item: FeedItem) -> None:
    fe = fg.add_entry(order="append")
    fe.id(item.id)
    fe.title(xml_text(item.title))
    fe.link(href=item.link, rel="alternate", type="text/html")
    fe.content(xml_text(item.html), type="html")
    fe.published(item.when)
    fe.updated(item.when)
    for tag in item.tags:
        fe.category(term=tag)


HISTORY_NS = "http://purl.org/syndication/history/1.0"
"""RFC 5005 (Feed Paging and Archiving): the ``fh:archive`` marker of an archive document."""


def build_feed(
    settings: Settings,
    feed: FeedSettings,
    days: Sequence[DayView],
    now: datetime.datetime,
    fmt: str,
    renderer: ItemHtml,
    *,
    items: Sequence[FeedItem] | None = None,
    links: Sequence[tuple[str, str]] = (),
    archive_url: str | None = None,
) -> bytes:
    """One feed file (``fmt`` is ``"atom"`` or ``"rss"``) from the feed's day views, newest day first.

    ``days`` are views of the window's selections already filtered for this feed (``selection.day_selection``
    with the feed's kinds and tags); ``now`` is the publish time, an aware datetime (written in UTC). ``items``
    (from :func:`feed_items`) saves rendering them again for each format. ``links`` are extra Atom links
    (``rel``, ``href``), the RFC 5005 archive chain; ``archive_url`` makes the document an archive document
    (``fh:archive``, that URL as its self link).
    """
    if fmt not in MEDIA_TYPES or fmt in ("html", "json", "ics"):
        raise ValueError(f"unknown feed format {fmt!r}")
    now = utc_now(now)
    if items is None:
        items = feed_items(settings, feed, days, now, renderer)
    fg = _generator(settings, feed, fmt, now, archive_url)
    if fmt == "atom":
        for rel, href in links:
            fg.link(href=href, rel=rel, type=MEDIA_TYPES["atom"])
    for item in items:
        _add_item(fg, item)
    if fmt == "atom":
        out: bytes = fg.atom_str(pretty=True)
        if archive_url is not None:
            out = _mark_archive(out)
        return out
    out = fg.rss_str(pretty=True)
    return _rss_hub(out, settings.site.websub_hub) if settings.site.websub_hub else out


def _reserialize(root: etree._Element) -> bytes:
    out: bytes = etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")
    return out


def _parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(remove_blank_text=True, resolve_entities=False))


def _mark_archive(data: bytes) -> bytes:
    """Add RFC 5005's ``<fh:archive/>`` to an Atom document (feedgen has no extension for it)."""
    root = _parse(data)
    nsmap = dict(root.nsmap)
    nsmap["fh"] = HISTORY_NS
    marked = etree.Element(root.tag, attrib=dict(root.attrib), nsmap=nsmap)
    marked.text = root.text
    for child in root:
        marked.append(child)
    first_entry = marked.find("{http://www.w3.org/2005/Atom}entry")
    marker = etree.Element(f"{{{HISTORY_NS}}}archive")
    if first_entry is None:
        marked.append(marker)
    else:
        first_entry.addprevious(marker)
    return _reserialize(marked)


def _rss_hub(data: bytes, hub: str) -> bytes:
    """Add ``<atom:link rel="hub">`` beside the RSS channel's self link (feedgen writes only the self link)."""
    root = _parse(data)
    channel = root.find("channel")
    assert channel is not None
    atom_link = "{http://www.w3.org/2005/Atom}link"
    self_link = next(ln for ln in channel.findall(atom_link) if ln.get("rel") == "self")
    hub_link = etree.Element(atom_link, href=hub, rel="hub")
    self_link.addnext(hub_link)
    return _reserialize(root)
