"""The static site a visitor and a feed reader see: today's page with feed autodiscovery, one permalink page
per day, escaped text and sanitized bodies, and templates a user can override."""

from __future__ import annotations

import dataclasses
import datetime
import html.parser
from pathlib import Path

import pytest

from golden_files import check_golden
from thisday.config import FeedSettings, Settings, SiteSettings
from thisday.entries import load_tree
from thisday.errors import TemplateError
from thisday.feeds import window
from thisday.index import CalendarIndex
from thisday.model import Kind
from thisday.selection import day_selection
from thisday.site import SiteRenderer, feed_links
from thisday.views import demote_headings

FIXTURES = Path(__file__).parent / "fixtures" / "entries"
GOLDEN = Path(__file__).parent / "golden"
ON = datetime.date(2026, 7, 12)

SETTINGS = Settings(
    entries=FIXTURES,
    timezone="Europe/Berlin",
    site=SiteSettings(
        title="History Daily",
        description="What happened on this day.",
        base_url="https://history.example.org/daily/",
        author="The Example History Society",
        language="en",
    ),
    feeds=(FeedSettings(), FeedSettings(name="births", kinds=(Kind.BIRTH,), items="entry")),
)


def index_of(entries: Path = FIXTURES) -> CalendarIndex:
    return CalendarIndex.build(load_tree(entries).entries)


class _Links(html.parser.HTMLParser):
    """Collects <link> and <a> elements, and the ids on the page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []
        self.anchors: list[dict[str, str | None]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "link":
            self.links.append(attributes)
        if tag == "a":
            self.anchors.append(attributes)
        if attributes.get("id"):
            self.ids.add(attributes["id"] or "")


def parse(page: bytes) -> _Links:
    parser = _Links()
    parser.feed(page.decode("utf-8"))
    return parser


def pages(settings: Settings = SETTINGS, on: datetime.date = ON, days: int = 3) -> tuple[bytes, bytes]:
    """(index.html, the day's page) for a build on ``on``."""
    renderer = SiteRenderer.create(settings)
    index = index_of(settings.entries)
    day = renderer.views.day(day_selection(index, on, settings))
    site_days = window(on, days)
    return renderer.index_page(day, site_days), renderer.day_page(day, site_days)


def test_golden_pages() -> None:
    """index.html and the day's permalink page for 12 July 2026 are exactly the golden files."""
    index_page, day_page = pages()
    check_golden(GOLDEN / "site.index.html", index_page)
    check_golden(GOLDEN / "site.day.html", day_page)


def test_index_announces_every_feed_for_autodiscovery() -> None:
    """index.html has a <link rel="alternate"> with type and absolute URL for every feed, Atom and RSS."""
    index_page, day_page = pages()
    for page in (index_page, day_page):
        found = {
            (ln["type"], ln["href"])
            for ln in parse(page).links
            if ln.get("rel") == "alternate" and ln.get("title")
        }
        assert found == {
            ("application/atom+xml", "https://history.example.org/daily/onthisday.atom"),
            ("application/rss+xml", "https://history.example.org/daily/onthisday.rss"),
            ("application/atom+xml", "https://history.example.org/daily/births.atom"),
            ("application/rss+xml", "https://history.example.org/daily/births.rss"),
        }
    assert [f.title for f in feed_links(SETTINGS)][:2] == ["History Daily · Atom", "History Daily · RSS"]


def test_day_page_is_a_permalink_with_entry_anchors() -> None:
    """A day page says its canonical URL and carries an anchor per entry, which per-entry feed items link to."""
    _, day_page = pages()
    parsed = parse(day_page)
    canonical = [ln["href"] for ln in parsed.links if ln.get("rel") == "canonical"]
    assert canonical == ["https://history.example.org/daily/days/2026-07-12.html"]
    assert "1942-07-12-andrey-vlasov-is-captured-by-german-forces" in parsed.ids
    assert "-0099-07-12-julius-caesar-is-born" in parsed.ids
    nav = {a.get("rel"): a["href"] for a in parsed.anchors if a.get("rel") in ("prev", "next")}
    assert nav == {"prev": "../days/2026-07-11.html"}  # no next page: 13 July is not published yet


def test_pages_show_dates_as_the_core_displays_them() -> None:
    """Old Style dates with both calendars, BC years and N years ago appear on the pages."""
    _, day_page = pages(on=datetime.date(2026, 11, 7))
    text = day_page.decode("utf-8")
    assert "7 November 1917 (O.S. 25 October)" in text and "109 years ago" in text
    _, july = pages()
    assert "12 July 100 BC (Julian calendar)" in july.decode("utf-8")


def test_text_is_escaped_and_bodies_sanitized(tmp_path: Path) -> None:
    """Titles and sources are escaped (autoescape); bodies keep safe Markdown only."""
    root = tmp_path / "entries"
    root.mkdir()
    (root / "x.yaml").write_text(
        '- title: "<script>alert(1)</script> & co"\n'
        '  date: "1900-07-12"\n'
        "  sources:\n"
        '    - title: "<b>bold</b>"\n'
        '      url: "https://example.com/?a=1&b=2"\n'
        "  body: |\n"
        '    **Strong** <img src=x onerror="alert(2)"> <a href="javascript:alert(3)">js</a>\n',
        encoding="utf-8",
    )
    settings = dataclasses.replace(SETTINGS, entries=root)
    _, day_page = pages(settings)
    text = day_page.decode("utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text and 'href="https://example.com/?a=1&amp;b=2"' in text
    assert "<strong>Strong</strong>" in text
    for bad in ("<script", "onerror", "javascript:"):
        assert bad not in text


def test_an_empty_day_has_a_page_that_says_so() -> None:
    """A day nobody wrote about yet still gets a page (and index.html), saying there is nothing yet."""
    index_page, day_page = pages(on=datetime.date(2026, 3, 3))
    for page in (index_page, day_page):
        assert b"Nothing on this day yet." in page


def test_templates_can_be_overridden(tmp_path: Path) -> None:
    """A file in the configured templates folder (site/NAME) replaces the shipped template of that name."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "day.html").write_text(
        "custom {{ day.heading }} {{ day.entries|length }}\n", encoding="utf-8"
    )
    settings = dataclasses.replace(SETTINGS, templates=tmp_path)
    index_page, day_page = pages(settings)
    assert day_page == b"custom 12 July 2026 4\n"
    assert b"<h1>" in index_page  # not overridden: the shipped one


def test_a_broken_template_is_a_one_line_error(tmp_path: Path) -> None:
    """A template with a syntax error stops the build with its file and line, and how to fix it."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "day.html").write_text("ok\n{% if %}\n", encoding="utf-8")
    settings = dataclasses.replace(SETTINGS, templates=tmp_path)
    with pytest.raises(
        TemplateError, match=r"day\.html:2: template error: .*delete it to use the shipped one"
    ):
        pages(settings)


def test_body_headings_sit_below_the_entry_title() -> None:
    """Markdown headings in a body are demoted one level under the entry's <h2> title."""
    assert demote_headings("<h2>A</h2><h3>B</h3><h4>C</h4>") == "<h3>A</h3><h4>B</h4><h5>C</h5>"
