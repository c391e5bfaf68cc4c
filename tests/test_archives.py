"""Monthly archives (RFC 5005) as a feed reader rebuilding history uses them: from the feed, prev-archive links
lead month by month back to the first published month, each archive marked fh:archive and linking current,
together holding every published day's item with the feed's ids; a closed month's archive never changes.
Also the site as an archive: day pages link the days before and after and their month, month pages link days."""

from __future__ import annotations

import dataclasses
import datetime
import html.parser
import re
import shutil
from pathlib import Path

import pytest
from lxml import etree  # type: ignore[import-untyped]

from test_feeds import ATOM, FIXTURES, assert_parses, index_of, settings_for, w3c_problems
from thisday.config import FeedSettings, Settings
from thisday.feeds import item_id
from thisday.publish import build_site, render_site
from thisday.selection import day_selection

FH = "{http://purl.org/syndication/history/1.0}"
BASE = "https://history.example.org/daily/"
SINCE = datetime.date(2026, 4, 20)
ON = datetime.date(2026, 7, 12)
NOW = datetime.datetime(2026, 7, 12, 4, tzinfo=datetime.UTC)


def links(document: bytes) -> dict[str, str]:
    root = etree.fromstring(document)
    found: dict[str, str] = {}
    for link in root.findall(ATOM + "link"):
        assert link.get("rel") not in found, f"two {link.get('rel')} links"
        found[link.get("rel")] = link.get("href")
    return found


def site(settings: Settings, on: datetime.date = ON, now: datetime.datetime = NOW) -> dict[str, bytes]:
    return dict(render_site(settings, index_of(), on, now, since=SINCE))


@pytest.mark.parametrize("items", ["day", "entry"])
def test_the_archive_chain_leads_from_the_feed_back_to_the_first_month(items: str) -> None:
    """Following prev-archive from onthisday.atom visits July, June, May and April 2026 and stops; together the
    archives hold an item for every published day with entries, with the same ids the feed uses."""
    feed = FeedSettings(items=items)
    settings = dataclasses.replace(settings_for(), feeds=(feed,))
    files = site(settings)
    by_url = {BASE + path: data for path, data in files.items()}
    visited = []
    current = links(files["onthisday.atom"]).get("prev-archive")
    while current is not None:
        document = by_url[current]
        visited.append(current.removeprefix(BASE))
        found = links(document)
        assert found["self"] == current
        assert found["current"] == BASE + "onthisday.atom"
        assert etree.fromstring(document).find(FH + "archive") is not None
        assert_parses(document)
        current = found.get("prev-archive")
    assert visited == [f"archive/onthisday-2026-{m:02d}.atom" for m in (7, 6, 5, 4)]
    ids = {
        entry.findtext(ATOM + "id")
        for path in visited
        for entry in etree.fromstring(files[path]).iter(ATOM + "entry")
    }
    expected = set()
    day = SINCE
    while day <= ON:
        selection = day_selection(index_of(), day, settings)
        if items == "day" and selection.occurrences:
            expected.add(item_id(settings, feed, day))
        if items == "entry":
            expected |= {item_id(settings, feed, day, o.entry.id) for o in selection.occurrences}
        day += datetime.timedelta(days=1)
    assert ids == expected and expected
    feed_ids = {e.findtext(ATOM + "id") for e in etree.fromstring(files["onthisday.atom"]).iter(ATOM + "entry")}
    assert feed_ids <= ids


def test_archives_link_forward_once_their_month_is_over() -> None:
    """April, May and June link next-archive to the month after; July, still open, does not."""
    files = site(settings_for())
    for month, following in ((4, 5), (5, 6), (6, 7)):
        found = links(files[f"archive/onthisday-2026-{month:02d}.atom"])
        assert found["next-archive"] == f"{BASE}archive/onthisday-2026-{following:02d}.atom"
    assert "next-archive" not in links(files["archive/onthisday-2026-07.atom"])
    assert "prev-archive" not in links(files["archive/onthisday-2026-04.atom"])


def test_feeds_with_archive_links_stay_valid() -> None:
    """The feed with its prev-archive link, and every archive (its own self link), pass the W3C rules."""
    settings = settings_for()
    files = site(settings)
    feed = FeedSettings()
    assert w3c_problems(files["onthisday.atom"], settings, feed, "atom") == []
    assert w3c_problems(files["onthisday.rss"], settings, feed, "rss") == []
    for path, data in files.items():
        if path.startswith("archive/"):
            renamed = dataclasses.replace(feed, name=path.removesuffix(".atom"))  # its self link is its own URL
            assert w3c_problems(data, settings, renamed, "atom") == [], path


def test_a_closed_months_archive_does_not_depend_on_when_it_is_built() -> None:
    """June's archive built on 12 July and on 20 July at other times is the same bytes (updated is its last
    item's time, not the publish time)."""
    first = site(settings_for())["archive/onthisday-2026-06.atom"]
    later = site(settings_for(), datetime.date(2026, 7, 20), datetime.datetime(2026, 7, 20, 9, 30, tzinfo=datetime.UTC))
    assert later["archive/onthisday-2026-06.atom"] == first


def test_a_closed_month_is_written_once_and_never_again(tmp_path: Path) -> None:
    """Built on 30 June, June's archive is open; on 1 July it is closed (next-archive); an entry added to June
    afterwards changes nothing in it on later builds, while July's archive keeps growing."""
    entries = tmp_path / "entries"
    shutil.copytree(FIXTURES, entries)
    settings = dataclasses.replace(settings_for(entries), feeds_dir=tmp_path / "feeds")
    june = settings.feeds_dir / "archive" / "onthisday-2026-06.atom"
    july = settings.feeds_dir / "archive" / "onthisday-2026-07.atom"

    def build(day: int, month: int) -> None:
        on = datetime.date(2026, month, day)
        now = datetime.datetime.combine(on, datetime.time(4), tzinfo=datetime.UTC)
        build_site(settings, index_of(entries), on, now, since=datetime.date(2026, 6, 1))

    build(30, 6)
    assert "next-archive" not in links(june.read_bytes())
    build(1, 7)
    closed = june.read_bytes()
    stamp = june.stat().st_mtime_ns
    assert links(closed)["next-archive"].endswith("onthisday-2026-07.atom")
    (entries / "days" / "late.yaml").write_text('- title: A late June entry\n  date: "1900-06-25"\n', encoding="utf-8")
    build(2, 7)
    build(15, 7)
    assert june.read_bytes() == closed and june.stat().st_mtime_ns == stamp
    assert b"A late June entry" not in july.read_bytes()
    assert len(etree.fromstring(july.read_bytes()).findall(ATOM + "entry")) == len(
        [d for d in range(1, 16) if day_selection(index_of(entries), datetime.date(2026, 7, d), settings).occurrences]
    )


class _Anchors(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))


def anchors(page: bytes) -> list[dict[str, str | None]]:
    parser = _Anchors()
    parser.feed(page.decode("utf-8"))
    return parser.anchors


def test_day_pages_link_the_days_around_them_and_their_month() -> None:
    """The oldest page of the window links back to the day before (published earlier, still on disk), the build
    day's page has no next link, each links its month page; the first published day has no previous link."""
    files = site(settings_for())
    oldest = anchors(files["days/2026-06-29.html"])
    assert {"href": "../days/2026-06-28.html", "rel": "prev"} in oldest
    assert {"href": "../days/2026-06-30.html", "rel": "next"} in oldest
    assert {"href": "https://history.example.org/daily/months/2026-06.html", "rel": "up"} in oldest
    newest = anchors(files["days/2026-07-12.html"])
    assert not any(a.get("rel") == "next" for a in newest)
    first = dict(render_site(settings_for(), index_of(), ON, NOW))  # a first build: the window is all there is
    assert not any(a.get("rel") == "prev" for a in anchors(first["days/2026-06-29.html"]))


def test_a_month_page_is_a_calendar_of_its_days() -> None:
    """months/2026-07.html is a grid of the month, Monday first, linking each published day (1 to 12 July) and
    nothing later; it links June before it."""
    files = site(settings_for())
    page = files["months/2026-07.html"]
    hrefs = [a["href"] for a in anchors(page) if a.get("href", "").startswith("../days/")]
    assert hrefs == [f"../days/2026-07-{d:02d}.html" for d in range(1, 13)]
    text = page.decode("utf-8")
    assert re.search(r"<th scope=\"col\">Mon</th>.*<th scope=\"col\">Sun</th>", text)
    # 1 July 2026 is a Wednesday: the first row starts with two empty cells
    assert re.search(r"<tr><td></td><td></td><td><a href=\"\.\./days/2026-07-01\.html\"", text)
    assert {"href": "../months/2026-06.html", "rel": "prev"} in anchors(page)
    assert not any(a.get("rel") == "next" for a in anchors(page))
