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


def confirmed(entry: Entry) -> bool:
    """Same day (as written, or its Gregorian equivalent), same year, matching section, same subject."""
    date = entry.date
    assert date is not None and date.month is not None and date.day is not None
    candidates = {(date.year, date.month, date.day)}
    if date.calendar is Calendar.JULIAN:
        candidates.add(gregorian_ymd(date))
    sources = {article(s.url) for s in entry.sources if s.url and "/wiki/" in s.url}
    words = {w for w in re.findall(r"[A-Za-z]{5,}", entry.title)}
    for year, month, day in candidates:
        data = day_file(month, day)["data"]
        for section in SECTIONS[entry.kind]:
            for item in data.get(section, []):
                if data_year(item.get("year", "")) != year:
                    continue
                links = {article(link["link"]) for link in item.get("links", [])}
                text = f"{item.get('text') or ''} {item.get('year') or ''}"
                if sources & links or any(w in text for w in words):
                    return True
    return False


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
def test_dates_are_confirmed_by_real_data() -> None:
    """Each day-precise entry is confirmed by the Wikipedia-derived data (same day, year, section and subject).

    An entry the data cannot confirm must carry a source link of its own; the unconfirmed ones are listed.
    """
    day_entries = [
        e for e in corpus() if e.date is not None and e.rule is None and e.date.precision is Precision.DAY
    ]
    unconfirmed = [e for e in day_entries if not confirmed(e)]
    listing = "\n".join(f"{e.location}: {e.title} ({format_date(e.date)})" for e in unconfirmed if e.date)
    print(
        f"{len(day_entries) - len(unconfirmed)} of {len(day_entries)} day-precise entries confirmed; not confirmed:\n{listing}"
    )
    assert all(any(s.url for s in e.sources) for e in unconfirmed), listing
    assert len(unconfirmed) <= max(10, len(day_entries) // 50), f"too many unconfirmed entries:\n{listing}"


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
