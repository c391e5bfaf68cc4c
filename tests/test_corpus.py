"""The shipped corpus in entries/: clean, something on every day, and every date checked against real data."""

from __future__ import annotations

import datetime
import functools
import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from thisday.dates import format_date, gregorian_ymd
from thisday.entries import load_tree
from thisday.index import CalendarIndex
from thisday.model import Calendar, Entry, Kind, Precision
from thisday.selection import select

ROOT = Path(__file__).parent.parent
ENTRIES = ROOT / "entries"
DATA = ROOT.parent / "shared" / "data" / "wikipedia-onthisday" / "days"
SECTIONS = {
    Kind.EVENT: ("Events",),
    Kind.BIRTH: ("Births",),
    Kind.DEATH: ("Deaths",),
    Kind.OBSERVANCE: ("Events",),
}
_YEAR = re.compile(r"^\s*(?:AD\s*)?(\d{1,4})\s*(BCE?)?", re.IGNORECASE)


@functools.cache
def corpus() -> tuple[Entry, ...]:
    result = load_tree(ENTRIES)
    assert result.problems == (), "\n".join(str(p) for p in result.problems)
    return result.entries


@functools.cache
def day_file(month: int, day: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / f"{month:02d}-{day:02d}.json").read_text(encoding="utf-8"))
    return data


def data_year(text: str) -> int | None:
    """The data set's year strings ('1942', '44 BC', '0475 BC', '27 BCE', 'AD 70') as astronomical years."""
    match = _YEAR.match(text or "")
    if match is None:
        return None
    year = int(match[1])
    return 1 - year if match[2] else year


def article(url: str) -> str:
    return urllib.parse.unquote(url.rsplit("/wiki/", 1)[-1]).replace(" ", "_").lower()


_STOPWORDS = frozenset({
    "about",
    "after",
    "against",
    "also",
    "among",
    "before",
    "being",
    "between",
    "born",
    "called",
    "dies",
    "during",
    "first",
    "from",
    "have",
    "held",
    "into",
    "its",
    "later",
    "last",
    "more",
    "most",
    "only",
    "other",
    "over",
    "since",
    "some",
    "than",
    "that",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "under",
    "upon",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "with",
})  # fmt: skip


def significant_words(text: str) -> set[str]:
    """Words of four letters or more, lower case, without the common ones: what a title says of its subject."""
    return {w.lower() for w in re.findall(r"[^\W\d_]{4,}", text)} - _STOPWORDS


def same_subject(entry: Entry, item: dict[str, Any]) -> bool:
    """The item is about the entry's subject: it links the article the entry cites, or it has at least half
    of the entry title's significant words (a single shared word such as "International" is not enough)."""
    sources = {article(s.url) for s in entry.sources if s.url and "/wiki/" in s.url}
    links = item.get("links") or []
    if sources & {article(link["link"]) for link in links if isinstance(link.get("link"), str)}:
        return True
    wanted = significant_words(entry.title)
    link_titles = " ".join(str(link.get("title", "")) for link in links)
    found = significant_words(f"{item.get('text') or ''} {link_titles}")
    return bool(wanted) and len(wanted & found) * 2 >= len(wanted)


def confirmed(entry: Entry) -> bool:
    """Same day (as written, or its Gregorian equivalent), same year, matching section, same subject."""
    date = entry.date
    assert date is not None and date.month is not None and date.day is not None
    candidates = {(date.year, date.month, date.day)}
    if date.calendar is Calendar.JULIAN:
        candidates.add(gregorian_ymd(date))
    for year, month, day in candidates:
        data = day_file(month, day)["data"]
        for section in SECTIONS[entry.kind]:
            for item in data.get(section, []):
                if data_year(item.get("year", "")) == year and same_subject(entry, item):
                    return True
    return False


def entry_titled(title: str) -> Entry:
    return next(e for e in corpus() if e.title == title)


def test_corpus_is_clean() -> None:
    """`thisday check` finds no problem in the shipped entries."""
    assert len(corpus()) > 0


def test_every_day_of_the_year_has_an_entry() -> None:
    """All 366 days (29 February included) have at least one day-precise entry: coverage shows no empty day."""
    index = CalendarIndex.build(corpus())
    empty = [
        f"{m:02d}-{d:02d}"
        for m in range(1, 13)
        for d in range(1, 32)
        if d <= (29 if m == 2 else 30 if m in (4, 6, 9, 11) else 31) and not index.by_day.get((m, d))
    ]
    assert empty == []


def test_every_entry_has_a_source() -> None:
    """Every shipped entry names at least one source, and day-precise ones a source with a link."""
    missing = [str(e.location) for e in corpus() if not e.sources]
    unlinked = [
        str(e.location)
        for e in corpus()
        if e.date is not None and e.date.precision is Precision.DAY and not any(s.url for s in e.sources)
    ]
    assert missing == [] and unlinked == []


def test_calendar_showcase_is_present() -> None:
    """The corpus shows every calendar rule: Old Style, BC, approximate, month-only, a leap day, moveable feasts."""
    entries = corpus()
    assert any(e.date and e.date.calendar is Calendar.JULIAN and not e.observe_julian for e in entries)
    assert any(e.observe_julian for e in entries)
    assert any(e.date and e.date.year <= 0 for e in entries)
    assert any(e.date and e.date.approximate for e in entries)
    assert any(e.date and e.date.precision is Precision.MONTH for e in entries)
    assert any(e.date and (e.date.month, e.date.day) == (2, 29) for e in entries)
    rules = {e.rule for e in entries if e.rule}
    assert {"easter", "orthodox-easter", "easter+49"} <= rules
    assert any(r.startswith("FREQ=YEARLY") and "BYDAY=+4TH" in r for r in rules)


@pytest.mark.skipif(not DATA.is_dir(), reason="the shared Wikipedia data set is not beside the repository")
def test_confirmation_needs_the_same_subject() -> None:
    """An entry is confirmed only by an item about its subject: "International Women's Day is first held"
    (1914) is not confirmed by an unrelated 1914 item that shares the word "International"; an item linking
    the entry's own article, or saying most of its title, confirms it."""
    womens_day = entry_titled("International Women's Day is first held on 8 March")
    unrelated = {"year": "1914", "text": "First flights at Don Mueang International Airport.", "links": []}
    assert not same_subject(womens_day, unrelated)
    assert not confirmed(womens_day)
    cited = {
        "year": "1914",
        "text": "A day of rallies.",
        "links": [{"title": "x", "link": womens_day.sources[0].url}],
    }
    assert same_subject(womens_day, cited)
    worded = {
        "year": "1914",
        "text": "International Women's Day is held for the first time in Germany.",
        "links": [],
    }
    assert same_subject(womens_day, worded)
    napoleon = entry_titled("Napoleon dies in exile on Saint Helena")
    assert confirmed(napoleon)


@pytest.mark.skipif(not DATA.is_dir(), reason="the shared Wikipedia data set is not beside the repository")
def test_dates_are_confirmed_by_real_data(capsys: pytest.CaptureFixture[str]) -> None:
    """Reports how many shipped day-precise entries the Wikipedia-derived data confirms (same day, year,
    section and subject), and lists the others; each of those must carry a source link of its own, so its
    date rests on a cited source rather than on nothing."""
    day_entries = [
        e for e in corpus() if e.date is not None and e.rule is None and e.date.precision is Precision.DAY
    ]
    unconfirmed = [e for e in day_entries if not confirmed(e)]
    listing = "\n".join(f"  {e.location}: {e.title} ({format_date(e.date)})" for e in unconfirmed if e.date)
    with capsys.disabled():
        print(
            f"\n{len(day_entries) - len(unconfirmed)} of {len(day_entries)} shipped day-precise entries confirmed "
            f"by the shared data; {len(unconfirmed)} not confirmed:\n{listing}"
        )
    assert day_entries and len(unconfirmed) < len(day_entries)
    assert all(any(s.url for s in e.sources) for e in unconfirmed), listing


def test_seed_dates_preview_the_seed_entries() -> None:
    """Previewing 1942-07-12 leads with the featured Vlasov story; every dated Vlasov entry shows on its own day."""
    entries = corpus()
    index = CalendarIndex.build(entries)
    capture = select(index, datetime.date(1942, 7, 12)).occurrences
    assert (
        capture[0].entry.title == "Andrey Vlasov is captured by German forces" and capture[0].entry.featured
    )
    story = [e for e in entries if e.location.path.startswith("stories/vlasov/")]
    assert len(story) >= 6
    for entry in story:
        if entry.date is None or entry.date.precision is not Precision.DAY:
            continue
        year, month, day = gregorian_ymd(entry.date)
        shown = select(index, datetime.date(year, month, day)).occurrences
        assert entry.id in {o.entry.id for o in shown}, entry.location
    executed = next(e for e in story if "hanged" in e.title)
    assert executed.date is not None and executed.date.year == 1946  # the seed article's 1945 is corrected
    assert "1945" in executed.body
