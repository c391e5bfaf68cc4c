"""JSON Feed 1.1 (NAME.json), as a JSON Feed reader meets it: the spec's required fields and types, the same
items as the Atom twin (read by feedparser), hubs with WebSub, valid JSON whatever an entry holds, and an
autodiscovery link on every page. (feedparser's released versions read Atom and RSS only, so the JSON Feed is
checked against the 1.1 spec's rules written out below, and item by item against its Atom twin.)"""

from __future__ import annotations

import dataclasses
import datetime
import html.parser
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from lxml import etree  # type: ignore[import-untyped]

from test_feeds import ATOM, NOW, ON, assert_parses, hostile_tree, index_of, settings_for, w3c_problems
from thisday.config import FeedSettings, Settings
from thisday.feeds import feed_items, window
from thisday.index import CalendarIndex
from thisday.jsonfeed import build_json_feed
from thisday.model import Kind
from thisday.publish import render_site
from thisday.selection import day_selection
from thisday.site import SiteRenderer
from thisday.views import Views

__all__ = ["hostile_tree"]  # a fixture, imported for its use here

# The JSON Feed 1.1 spec (https://www.jsonfeed.org/version/1.1/), its required fields and types, as a schema.
JSON_FEED_1_1: dict[str, Any] = {
    "type": "object",
    "required": ["version", "title", "items"],
    "properties": {
        "version": {"const": "https://jsonfeed.org/version/1.1"},
        "title": {"type": "string"},
        "home_page_url": {"type": "string", "format": "uri"},
        "feed_url": {"type": "string", "format": "uri"},
        "description": {"type": "string"},
        "language": {"type": "string", "pattern": "^[a-zA-Z]{2,3}(-[a-zA-Z0-9]+)*$"},
        "authors": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "object", "anyOf": [{"required": ["name"]}, {"required": ["url"]}]},
        },
        "hubs": {
            "type": "array",
            "items": {"type": "object", "required": ["type", "url"]},
        },
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "anyOf": [{"required": ["content_html"]}, {"required": ["content_text"]}],
                "properties": {
                    "id": {"type": "string", "minLength": 1},
                    "url": {"type": "string", "format": "uri"},
                    "title": {"type": "string"},
                    "content_html": {"type": "string"},
                    "date_published": {"type": "string", "format": "date-time"},
                    "date_modified": {"type": "string", "format": "date-time"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}
BROKEN = '[{"title": "Bell\\u0007 and a lone \\ud800 half", "date": "1900-07-12", "body": "nul \\u0000 here"}]'
"""An entry (a JSON data file can hold them) with a control character, a lone surrogate and a NUL."""


def with_broken_entry(tree: Path) -> CalendarIndex:
    """The tree's index plus an entry carrying a control character, a lone surrogate and a NUL: the loader refuses
    such a file (see test_entries), so the entry is made directly, as an importer or template bug might."""
    from thisday.entries import load_tree
    from thisday.model import HistoricDate

    loaded = list(load_tree(tree).entries)
    broken = dataclasses.replace(
        loaded[0],
        id="broken",
        title="Bell\x07 and a lone \ud800 half",
        body="nul \x00 here",
        date=HistoricDate(1900, 7, 12),
        rule=None,
        kind=Kind.EVENT,
    )
    return CalendarIndex.build([*loaded, broken])
CHECKER = jsonschema.Draft202012Validator(JSON_FEED_1_1, format_checker=jsonschema.FormatChecker())


def json_feed(settings: Settings, index: CalendarIndex, feed: FeedSettings) -> dict[str, Any]:
    views = Views(settings)
    days = [
        views.day(day_selection(index, d, settings, kinds=feed.kinds, tags=feed.tags)) for d in window(ON, feed.days)
    ]
    data = build_json_feed(settings, feed, feed_items(settings, feed, days, NOW, SiteRenderer.create(settings, views)), NOW)
    document: dict[str, Any] = json.loads(data.decode("utf-8"))
    assert list(CHECKER.iter_errors(document)) == []
    return document


@pytest.mark.parametrize("items", ["day", "entry"])
def test_json_feed_has_the_atom_twins_items(items: str) -> None:
    """Every item of the JSON Feed is the Atom feed's item: same id, title, link, HTML and time, same order."""
    settings = dataclasses.replace(settings_for(), feeds=(FeedSettings(items=items),))
    site = dict(render_site(settings, index_of(), ON, NOW))
    atom = assert_parses(site["onthisday.atom"])
    contents = [e.findtext(ATOM + "content") for e in etree.fromstring(site["onthisday.atom"]).iter(ATOM + "entry")]
    document = json.loads(site["onthisday.json"])
    assert list(CHECKER.iter_errors(document)) == []
    assert len(document["items"]) == len(atom.entries) > 0
    for item, entry, content in zip(document["items"], atom.entries, contents, strict=True):
        assert item["id"] == entry.id
        assert item["title"] == entry.title
        assert item["url"] == entry.link
        assert item["content_html"] == content
        published = datetime.datetime.fromisoformat(item["date_published"])
        assert published.utctimetuple() == entry.published_parsed


def test_json_feed_metadata() -> None:
    """language, authors, home_page_url and feed_url come from the settings; no hubs without a hub."""
    document = json_feed(settings_for(), index_of(), FeedSettings())
    assert document["language"] == "en"
    assert document["authors"] == [
        {"name": "The Example History Society", "url": "mailto:editor@history.example.org"}
    ]
    assert document["home_page_url"] == "https://history.example.org/daily/"
    assert document["feed_url"] == "https://history.example.org/daily/onthisday.json"
    assert document["title"] == "History Daily"
    assert "hubs" not in document


def test_json_feed_names_the_websub_hub() -> None:
    """With site.websub_hub set, the JSON Feed lists it under hubs (type WebSub)."""
    settings = settings_for(websub_hub="https://hub.example.net/")
    document = json_feed(settings, index_of(), FeedSettings())
    assert document["hubs"] == [{"type": "WebSub", "url": "https://hub.example.net/"}]


def test_a_feed_whose_filters_select_nothing_is_still_valid() -> None:
    """A feed of deaths over a fixture with none: a valid JSON Feed with no items, as its Atom twin has none."""
    settings = dataclasses.replace(settings_for(), feeds=(FeedSettings(name="deaths", kinds=(Kind.DEATH,)),))
    document = json_feed(settings, index_of(), settings.feeds[0])
    assert document["items"] == []
    site = dict(render_site(settings, index_of(), ON, NOW))
    assert json.loads(site["deaths.json"])["items"] == []
    assert w3c_problems(site["deaths.atom"], settings, settings.feeds[0], "atom") == []


def test_characters_json_and_xml_cannot_carry_are_dropped(hostile_tree: Path) -> None:
    """A control character and a lone surrogate in an entry leave the JSON Feed valid UTF-8 JSON."""
    settings = settings_for(hostile_tree)
    site = dict(render_site(settings, with_broken_entry(hostile_tree), ON, NOW))
    document = json.loads(site["onthisday.json"].decode("utf-8", errors="strict"))
    assert list(CHECKER.iter_errors(document)) == []
    text = json.dumps(document, ensure_ascii=False)
    assert "Bell and a lone  half" in text
    assert "\x07" not in text and "\ud800" not in text


def test_same_inputs_give_identical_json_feeds() -> None:
    """Two builds from the same entries and publish time give byte-identical JSON Feeds."""
    first = dict(render_site(settings_for(), index_of(), ON, NOW))["onthisday.json"]
    second = dict(render_site(settings_for(), index_of(), ON, NOW))["onthisday.json"]
    assert first == second


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.alternates: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "link" and found.get("rel") == "alternate":
            self.alternates.append(found)


def test_every_page_announces_the_json_feeds() -> None:
    """index.html, each day page and each month page carry <link rel="alternate" type="application/feed+json">
    for every configured feed, pointing at its JSON Feed."""
    settings = dataclasses.replace(settings_for(), feeds=(FeedSettings(), FeedSettings(name="births")))
    site = dict(render_site(settings, index_of(), ON, NOW))
    pages = [path for path in site if path.endswith(".html")]
    assert "index.html" in pages and any(p.startswith("months/") for p in pages)
    for path in pages:
        parser = _Links()
        parser.feed(site[path].decode("utf-8"))
        found = [link["href"] for link in parser.alternates if link.get("type") == "application/feed+json"]
        assert found == [
            "https://history.example.org/daily/onthisday.json",
            "https://history.example.org/daily/births.json",
        ], path
