"""The feeds a subscriber's reader gets: valid RSS 2.0 and Atom, stable ids, dates in the site's timezone,
safe content, and byte-identical output for the same inputs. Every feed here is parsed by feedparser with
no bozo flag, and checked against the W3C Feed Validation Service's rules as this project knows them."""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import html.parser
import re
import shutil
import zoneinfo
from pathlib import Path

import feedparser
import pytest
from lxml import etree  # type: ignore[import-untyped]  # no stubs; lxml comes with feedgen

from golden_files import check_golden
from thisday.config import FeedSettings, Settings, SiteSettings
from thisday.entries import load_tree
from thisday.feeds import build_feed, item_id, window
from thisday.index import CalendarIndex
from thisday.model import Kind
from thisday.selection import day_selection
from thisday.views import Views

FIXTURES = Path(__file__).parent / "fixtures" / "entries"
GOLDEN = Path(__file__).parent / "golden"
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NOW = datetime.datetime(2026, 7, 12, 6, 0, tzinfo=BERLIN)
ON = datetime.date(2026, 7, 12)
ATOM = "{http://www.w3.org/2005/Atom}"

HOSTILE = """\
- title: "Ada <b>Lovelace</b> & <script>alert(1)</script> is born"
  date: "1815-07-12"
  kind: birth
  tags: [science]
  sources:
    - title: A source with <i>markup</i>
      url: https://example.com/ada?x=1&y=2
  body: |
    ## Early life

    Relative [about page](/about.html) and [a sibling](notes/ada.html), an [anchor](#top).
    <script>alert("script")</script>
    <a href="javascript:alert(1)">js link</a> and [md js](javascript:alert(2)).
    <img src="/pic.png" alt="x" onerror="alert(3)"> <b onclick="alert(4)" style="color:red">bold</b>
    <iframe src="https://evil.example/"></iframe>
- title: A printing press is set up, roughly then
  date: "~1450-07-12"
  tags: [technology]
  body: "Approximate day."
"""


def settings_for(entries: Path = FIXTURES, **site: str) -> Settings:
    site_settings = SiteSettings(
        title="History Daily",
        description="What happened on this day.",
        base_url="https://history.example.org/daily/",
        author="The Example History Society",
        author_email="editor@history.example.org",
        language="en",
    )
    return Settings(
        entries=entries,
        timezone="Europe/Berlin",
        site=dataclasses.replace(site_settings, **site),
    )


def index_of(entries: Path = FIXTURES) -> CalendarIndex:
    return CalendarIndex.build(load_tree(entries).entries)


def feed_bytes(
    settings: Settings,
    index: CalendarIndex,
    feed: FeedSettings,
    fmt: str,
    on: datetime.date = ON,
    now: datetime.datetime = NOW,
) -> bytes:
    views = Views(settings)
    days = [
        views.day(day_selection(index, d, settings, kinds=feed.kinds, tags=feed.tags))
        for d in window(on, feed.days)
    ]
    data = build_feed(settings, feed, days, now, fmt)
    assert_parses(data)
    assert w3c_problems(data, settings, feed, fmt) == []
    return data


def assert_parses(data: bytes) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


@pytest.fixture
def hostile_tree(tmp_path: Path) -> Path:
    root = tmp_path / "entries"
    shutil.copytree(FIXTURES, root)
    (root / "days" / "hostile.yaml").write_text(HOSTILE, encoding="utf-8")
    return root


# ---------------------------------------------------------------------------------------------
# The W3C Feed Validation Service's rules (https://validator.w3.org/feed/docs/), as far as they apply here


RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*)?(Z|[+-]\d\d:\d\d)$")
RFC2822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d? (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    r"\d\d:\d\d:\d\d [+-]\d\d[03]0$"
)
TAG_URI = re.compile(
    r"^tag:([a-z0-9\-._]+?@)?[a-z0-9.\-]+?,\d{4}(-\d{2}(-\d{2})?)?:[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,]*"
    r"(#[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,]*)?$"
)
FULL_URI = re.compile(r"^https?://[^/][0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,#]*$")
# The validator's "acceptable" HTML, restricted to what entry bodies and templates may produce.
SAFE_ELEMENTS = {
    "a", "abbr", "article", "b", "blockquote", "br", "code", "del", "div", "em", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "li", "ol", "p", "pre", "q", "s", "section", "small", "span", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
SAFE_ATTRIBUTES = {"href", "title", "src", "alt", "width", "height", "rel", "class", "id"}
VOID = {"br", "hr", "img"}
RELATIVE_REF = [
    re.compile(r"<a\s+href=(?:\"(.*?)\"|'(.*?)'|([\w-]+))[\s>]", re.IGNORECASE),
    re.compile(r"<img\s+[^>]*src=(?:\"(.*?)\"|'(.*?)'|([\w-]+))[\s>]", re.IGNORECASE),
]


class _HtmlCheck(html.parser.HTMLParser):
    """Safe, balanced HTML: only acceptable elements and attributes, no script URLs, every tag closed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SAFE_ELEMENTS:
            self.problems.append(f"unsafe element <{tag}>")
        for name, value in attrs:
            if name not in SAFE_ATTRIBUTES:
                self.problems.append(f"unsafe attribute {name} on <{tag}>")
            if name in ("href", "src") and (value or "").strip().lower().startswith(("javascript:", "data:")):
                self.problems.append(f"script URL in {name}")
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"unbalanced </{tag}> (open: {self.open})")
        else:
            self.open.pop()


def html_problems(fragment: str) -> list[str]:
    checker = _HtmlCheck()
    checker.feed(fragment)
    checker.close()
    problems = checker.problems + ([f"unclosed {checker.open}"] if checker.open else [])
    for pattern in RELATIVE_REF:
        for groups in pattern.findall(fragment):
            ref = next(g for g in groups if g) if any(groups) else ""
            if not re.match(r"\w+:", ref):
                problems.append(f"relative reference {ref!r}")
    return problems


def _rfc2822_problems(value: str | None, where: str) -> list[str]:
    if value is None or not RFC2822.match(value):
        return [f"{where}: not an RFC 822 date: {value!r}"]
    parsed = email.utils.parsedate_to_datetime(value)
    if parsed.strftime("%a") != value[:3]:
        return [f"{where}: wrong day of the week in {value!r}"]
    return []


def w3c_problems(data: bytes, settings: Settings, feed: FeedSettings, fmt: str) -> list[str]:
    """Errors and warnings the W3C validator would give this feed (those that can arise here)."""
    root = etree.fromstring(data)
    self_url = settings.site.base_url.rstrip("/") + f"/{feed.name}.{fmt}"
    problems: list[str] = []
    if fmt == "atom":
        if root.get("{http://www.w3.org/XML/1998/namespace}lang") != settings.site.language:
            problems.append("feed: no xml:lang")
        for name in ("id", "title", "updated"):
            if not root.findtext(ATOM + name):
                problems.append(f"feed: missing {name}")
        if not RFC3339.match(root.findtext(ATOM + "updated") or ""):
            problems.append("feed: updated is not RFC 3339")
        if not root.findtext(f"{ATOM}author/{ATOM}name"):
            problems.append("feed: missing author")
        selfs = [ln for ln in root.findall(ATOM + "link") if ln.get("rel") == "self"]
        if [(ln.get("href"), ln.get("type")) for ln in selfs] != [(self_url, "application/atom+xml")]:
            problems.append(f"feed: self link is not {self_url}")
        ids: set[str] = set()
        for entry in root.findall(ATOM + "entry"):
            id_ = entry.findtext(ATOM + "id") or ""
            if not TAG_URI.match(id_) or id_ in ids:
                problems.append(f"entry: bad or duplicate id {id_!r}")
            ids.add(id_)
            for name in ("title", "updated", "published"):
                value = entry.findtext(ATOM + name) or ""
                if not value.strip() or (name != "title" and not RFC3339.match(value)):
                    problems.append(f"entry {id_}: bad {name} {value!r}")
            if (entry.findtext(ATOM + "updated") or "") > (root.findtext(ATOM + "updated") or ""):
                problems.append(f"entry {id_}: updated after the feed")
            for link in entry.findall(ATOM + "link"):
                if not FULL_URI.match(link.get("href") or ""):
                    problems.append(f"entry {id_}: link not absolute")
            content = entry.find(ATOM + "content")
            if content is None or content.get("type") != "html":
                problems.append(f"entry {id_}: no html content")
            else:
                problems += [f"entry {id_}: {p}" for p in html_problems(content.text or "")]
        return problems
    channel = root.find("channel")
    assert channel is not None
    for name in ("title", "link", "description", "language"):
        if not channel.findtext(name):
            problems.append(f"channel: missing {name}")
    problems += _rfc2822_problems(channel.findtext("lastBuildDate"), "lastBuildDate")
    editor = channel.findtext("managingEditor")
    if editor is not None and not re.match(r"^\S+@\S+ \(.+\)$", editor):
        problems.append("managingEditor is not 'email (Name)'")
    selfs = [ln for ln in channel.findall(ATOM + "link") if ln.get("rel") == "self"]
    if [(ln.get("href"), ln.get("type")) for ln in selfs] != [(self_url, "application/rss+xml")]:
        problems.append(f"channel: atom:link rel=self is not {self_url}")
    seen_item = False
    guids: set[str] = set()
    for child in channel:
        if child.tag == "item":
            seen_item = True
        elif seen_item:
            problems.append(f"channel: <{child.tag}> after the items")
    for item in channel.findall("item"):
        guid = item.find("guid")
        if guid is None or guid.get("isPermaLink") != "false" or not TAG_URI.match(guid.text or ""):
            problems.append("item: guid missing, not a tag: URI or not isPermaLink=false")
        elif guid.text in guids:
            problems.append(f"item: duplicate guid {guid.text}")
        else:
            guids.add(guid.text or "")
        if not (item.findtext("title") or "").strip():
            problems.append("item: no title")
        if not FULL_URI.match(item.findtext("link") or ""):
            problems.append("item: link not absolute")
        problems += _rfc2822_problems(item.findtext("pubDate"), "item pubDate")
        problems += [f"item: {p}" for p in html_problems(item.findtext("description") or "")]
    return problems


# ---------------------------------------------------------------------------------------------
# Tests


@pytest.mark.parametrize("fmt", ["atom", "rss"])
@pytest.mark.parametrize("items", ["day", "entry"])
def test_feeds_are_valid_for_every_format_and_item_kind(fmt: str, items: str) -> None:
    """Atom and RSS, one item per day or per entry: no feedparser bozo, no W3C validator problem."""
    settings = settings_for()
    feed = FeedSettings(items=items)
    parsed = assert_parses(feed_bytes(settings, index_of(), feed, fmt))
    assert parsed.entries, "the fixture window has entries"


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_golden_feeds(fmt: str) -> None:
    """The default feed for 12 July 2026 is exactly the golden file (THISDAY_REGEN_GOLDEN=1 rewrites it)."""
    data = feed_bytes(settings_for(), index_of(), FeedSettings(days=3), fmt)
    check_golden(GOLDEN / f"feed.{fmt}", data)


def test_golden_entry_feed() -> None:
    """A filtered feed with one item per entry (births, as RSS) is exactly the golden file."""
    feed = FeedSettings(name="births", kinds=(Kind.BIRTH,), items="entry", days=3)
    check_golden(GOLDEN / "feed.births.rss", feed_bytes(settings_for(), index_of(), feed, "rss"))


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_same_inputs_give_identical_bytes(fmt: str) -> None:
    """Building twice from the same entries and publish time gives byte-identical feeds."""
    settings = settings_for()
    first = feed_bytes(settings, index_of(), FeedSettings(), fmt)
    second = feed_bytes(settings, index_of(), FeedSettings(), fmt)
    assert first == second


def test_feed_metadata_as_a_reader_sees_it() -> None:
    """Self link with the feed's real URL, site link, author, language, title and description from settings."""
    settings = settings_for()
    atom = assert_parses(feed_bytes(settings, index_of(), FeedSettings(), "atom"))
    assert atom.feed.title == "History Daily"
    assert atom.feed.subtitle == "What happened on this day."
    assert atom.feed.author_detail == {
        "name": "The Example History Society",
        "email": "editor@history.example.org",
    }
    assert atom.feed.language == "en"
    links = {(ln["rel"], ln["href"]) for ln in atom.feed.links}
    assert ("self", "https://history.example.org/daily/onthisday.atom") in links
    assert ("alternate", "https://history.example.org/daily/") in links
    rss = assert_parses(feed_bytes(settings, index_of(), FeedSettings(), "rss"))
    assert rss.feed.language == "en"
    assert any(ln["rel"] == "self" and ln["href"].endswith("/onthisday.rss") for ln in rss.feed.links)


def test_dates_are_written_in_utc_whatever_the_zone() -> None:
    """The feed's updated / lastBuildDate is the publish instant and items the start of their day, written in UTC:
    the same instant given in any zone, and any configured zone, gives the same bytes."""
    settings = settings_for()
    index = index_of()
    atom = etree.fromstring(feed_bytes(settings, index, FeedSettings(days=2), "atom"))
    assert atom.findtext(ATOM + "updated") == "2026-07-12T04:00:00+00:00"
    assert atom.findtext(f"{ATOM}entry/{ATOM}updated") == "2026-07-12T00:00:00+00:00"
    utc_now = NOW.astimezone(datetime.UTC)
    rss = feed_bytes(settings, index, FeedSettings(days=2), "rss", now=utc_now)
    assert rss == feed_bytes(settings, index, FeedSettings(days=2), "rss")
    tree = etree.fromstring(rss)
    assert tree.findtext("channel/lastBuildDate") == "Sun, 12 Jul 2026 04:00:00 +0000"
    assert tree.findtext("channel/item/pubDate") == "Sun, 12 Jul 2026 00:00:00 +0000"
    ny = dataclasses.replace(settings, timezone="America/New_York")
    assert feed_bytes(ny, index, FeedSettings(days=2), "rss") == rss


def test_rolling_window_keeps_the_last_n_days() -> None:
    """A feed keeps the N days ending at the build date, newest first; days with nothing to show have no item."""
    settings = settings_for()
    index = index_of()
    on = datetime.date(2026, 11, 10)  # the October Revolution is on 7 November, nothing else near it
    parsed = assert_parses(feed_bytes(settings, index, FeedSettings(days=5), "atom", on=on, now=NOW))
    assert [e.id for e in parsed.entries] == [item_id(settings, FeedSettings(), datetime.date(2026, 11, 7))]
    parsed = assert_parses(feed_bytes(settings, index, FeedSettings(days=3), "atom", on=on, now=NOW))
    assert parsed.entries == []


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_a_day_with_no_entries_still_gives_a_valid_feed(fmt: str) -> None:
    """An empty window (a day nobody wrote about yet) is a valid feed with no items."""
    parsed = assert_parses(
        feed_bytes(settings_for(), index_of(), FeedSettings(days=1), fmt, on=datetime.date(2026, 3, 3))
    )
    assert parsed.entries == []
    assert parsed.feed.title == "History Daily"


def test_ids_are_stable_unique_and_independent_of_files(tmp_path: Path) -> None:
    """Re-building the next day keeps every overlapping item's id; renaming entry files changes no id."""
    settings = settings_for()
    feed = FeedSettings(items="entry", days=14)
    index = index_of()
    today = assert_parses(feed_bytes(settings, index, feed, "rss"))
    ids = [e.id for e in today.entries]
    assert len(ids) == len(set(ids))
    tomorrow = datetime.date(2026, 7, 13)
    later = datetime.datetime(2026, 7, 13, 6, 0, tzinfo=BERLIN)
    next_day = assert_parses(feed_bytes(settings, index, feed, "rss", on=tomorrow, now=later))
    assert set(ids) <= {e.id for e in next_day.entries}
    moved = tmp_path / "moved"
    shutil.copytree(FIXTURES, moved)
    (moved / "days" / "july.yaml").rename(moved / "renamed-july.yaml")
    (moved / "stories" / "1942-07-12-capture.md").rename(moved / "stories" / "vlasov.md")
    renamed = assert_parses(feed_bytes(settings, index_of(moved), feed, "rss"))
    assert [e.id for e in renamed.entries] == ids
    assert all("july" not in i and ".md" not in i for i in ids)
    assert (
        ids[0]
        == "tag:history.example.org,2026-07-12:onthisday/1942-07-12-andrey-vlasov-is-captured-by-german-forces"
    )


def test_per_entry_items_keep_the_publishing_order() -> None:
    """One item per entry: the lead story first and latest, then the rest one second apart."""
    settings = settings_for()
    feed = FeedSettings(items="entry", days=1)
    parsed = assert_parses(feed_bytes(settings, index_of(), feed, "atom"))
    titles = [e.title for e in parsed.entries]
    assert titles[0] == "12 July 1942: Andrey Vlasov is captured by German forces"
    times = [e.updated for e in parsed.entries]
    assert times == sorted(times, reverse=True) and len(set(times)) == len(times)
    assert parsed.entries[0].link == (
        "https://history.example.org/daily/days/2026-07-12.html#1942-07-12-andrey-vlasov-is-captured-by-german-forces"
    )


def test_filtered_feeds_hold_only_their_kinds_and_tags() -> None:
    """A feed defined by kind or tag only carries matching entries; its title names it."""
    settings = settings_for()
    births = FeedSettings(name="births", kinds=(Kind.BIRTH,), items="entry", days=1)
    parsed = assert_parses(feed_bytes(settings, index_of(), births, "atom"))
    assert {e.title.split(": ", 1)[1] for e in parsed.entries} == {
        "Julius Caesar is born",
        "Henry David Thoreau is born",
    }
    assert parsed.feed.title == "History Daily (births)"
    ww2 = FeedSettings(name="ww2", tags=("world-war-ii",), days=1)
    parsed = assert_parses(feed_bytes(settings, index_of(), ww2, "rss"))
    assert [e.title for e in parsed.entries] == ["12 July 2026: on this day in 1942, Andrey Vlasov is captured by German forces"]


def test_content_shows_dates_years_ago_and_sources(hostile_tree: Path) -> None:
    """An item shows the day, each entry's date as the core displays it (BC, approximate), N years ago, sources."""
    settings = settings_for(hostile_tree)
    data = feed_bytes(settings, index_of(hostile_tree), FeedSettings(days=1), "atom")
    content = etree.fromstring(data).findtext(f"{ATOM}entry/{ATOM}content") or ""
    assert "On this day, Sunday 12 July 2026:" in content
    assert "12 July 100 BC (Julian calendar)" in content and "2125 years ago (a round anniversary)" in content
    assert "c. 12 July 1450" in content and "576 years ago" in content
    assert "84 years ago" in content
    assert '<a href="https://en.wikipedia.org/wiki/Andrey_Vlasov">Andrey Vlasov (Wikipedia)</a>' in content
    assert (
        '<a href="https://example.com/ada?x=1&amp;y=2">A source with &lt;i&gt;markup&lt;/i&gt;</a>' in content
    )
    old_style = feed_bytes(
        settings, index_of(hostile_tree), FeedSettings(days=1), "rss", on=datetime.date(2026, 11, 7)
    )
    assert "7 November 1917 (O.S. 25 October)" in (
        etree.fromstring(old_style).findtext("channel/item/description") or ""
    )


def test_control_characters_that_reach_a_feed_are_dropped(hostile_tree: Path) -> None:
    """The loader refuses control characters; should one reach the feed writer anyway, it is dropped (XML cannot
    hold it) and the feed still parses."""
    entries = [
        dataclasses.replace(e, body="a stray control character: \x0c.")
        if e.title.startswith("A printing")
        else e
        for e in load_tree(hostile_tree).entries
    ]
    data = feed_bytes(settings_for(hostile_tree), CalendarIndex.build(entries), FeedSettings(days=1), "atom")
    content = etree.fromstring(data).findtext(f"{ATOM}entry/{ATOM}content") or ""
    assert "a stray control character: ." in content


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_hostile_markup_does_not_survive(hostile_tree: Path, fmt: str) -> None:
    """No script, event handler, style, iframe or javascript: URL reaches a feed; relative links become absolute."""
    settings = settings_for(hostile_tree)
    data = feed_bytes(settings, index_of(hostile_tree), FeedSettings(items="entry", days=1), fmt)
    root = etree.fromstring(data)
    texts = root.xpath("//*[local-name()='content' or local-name()='description']/text()")
    body = "".join(str(t) for t in texts)
    for bad in ("<script", "onerror", "onclick", '="javascript:', "<iframe", "style="):
        assert bad not in body.lower()
    assert "[md js](javascript:alert(2))" in body  # Markdown refuses the link: it stays harmless text
    assert 'href="https://history.example.org/about.html"' in body
    assert 'href="https://history.example.org/daily/notes/ada.html"' in body
    assert 'src="https://history.example.org/pic.png"' in body
    assert 'href="https://history.example.org/daily/days/2026-07-12.html#top"' in body
    titles = [t for t in root.xpath("//*[local-name()='title']/text()") if "Lovelace" in t]
    assert titles and all(
        "<b>" in t for t in titles
    )  # titles are plain text: escaped by XML, shown literally


def test_relative_links_become_absolute() -> None:
    """Paths resolve against the site's base URL, a bare #anchor against the page shown; absolute URLs stay."""
    from thisday.views import absolute_links

    html = (
        '<p><a href="#top">up</a> <a href="x.html" title="a &gt; b">x</a> <img src="/i.png" alt="i">'
        ' <a href="mailto:a@b.example">m</a> <a href="https://o.example/">o</a> href="text.html"</p>'
    )
    assert absolute_links(html, "https://h.example/site/", "https://h.example/site/days/d.html") == (
        '<p><a href="https://h.example/site/days/d.html#top">up</a> '
        '<a href="https://h.example/site/x.html" title="a &gt; b">x</a> <img src="https://h.example/i.png" alt="i">'
        ' <a href="mailto:a@b.example">m</a> <a href="https://o.example/">o</a> href="text.html"</p>'
    )


def test_feed_ids_use_the_base_url_host() -> None:
    """Ids are tag: URIs on the site's host (lowercased, without port), valid for the W3C validator."""
    settings = settings_for(base_url="http://LOCALHOST:8080/")
    feed = FeedSettings()
    assert item_id(settings, feed, ON) == "tag:localhost,2026-07-12:onthisday"
    assert TAG_URI.match(item_id(settings, feed, ON, "-0099-07-12-julius-caesar-is-born"))


def test_default_settings_build_valid_feeds() -> None:
    """With no configuration at all (defaults for the site), both feeds are valid."""
    settings = Settings(entries=FIXTURES, timezone="UTC")
    for fmt in ("atom", "rss"):
        parsed = assert_parses(feed_bytes(settings, index_of(), FeedSettings(), fmt))
        assert parsed.feed.title == "On this day"
