"""The anniversaries calendar (NAME.ics) as a calendar app reads it: parsed by the icalendar library, expanded by
recurring-ical-events, it puts on each day of a year exactly the entries `thisday preview` shows for that day
(no daily limit), whatever the 29 February policy; stable UIDs, DTSTAMP from the publish time, lines folded at
75 octets without splitting a character, and still valid when an entry holds characters it cannot carry."""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections import defaultdict
from pathlib import Path

import icalendar
import pytest
import recurring_ical_events

from test_feeds import NOW, ON, hostile_tree, index_of, settings_for
from test_jsonfeed import BROKEN
from thisday.calendarfeed import build_calendar
from thisday.config import FeedSettings, SelectionSettings, Settings
from thisday.index import CalendarIndex
from thisday.model import Feb29Policy, Kind
from thisday.publish import render_site
from thisday.selection import day_selection

__all__ = ["hostile_tree"]  # a fixture, imported for its use here

UID = re.compile(r"^(?P<feed>[a-z0-9_-]+)/(?P<entry>[^/@]+)(?:/\d{4}-\d\d-\d\d)?@history\.example\.org$")


def parse(data: bytes) -> icalendar.Calendar:
    calendar = icalendar.Calendar.from_ical(data)
    assert isinstance(calendar, icalendar.Calendar)
    return calendar


def expanded(data: bytes, year: int) -> dict[datetime.date, set[str]]:
    """Entry ids per day of ``year``, as a calendar app expanding the file shows them."""
    days: defaultdict[datetime.date, set[str]] = defaultdict(set)
    for event in recurring_ical_events.of(parse(data)).at(year):
        start = event["DTSTART"].dt
        assert isinstance(start, datetime.date) and not isinstance(start, datetime.datetime), "all-day events"
        match = UID.match(str(event["UID"]))
        assert match, event["UID"]
        days[start].add(match["entry"])
    return days


def previewed(settings: Settings, index: CalendarIndex, feed: FeedSettings, year: int) -> dict[datetime.date, set[str]]:
    """Entry ids per day of ``year``, as `thisday preview` selects them (the feed's filters, no daily limit)."""
    unlimited = dataclasses.replace(settings, selection=dataclasses.replace(settings.selection, limit=0))
    days: dict[datetime.date, set[str]] = {}
    day = datetime.date(year, 1, 1)
    while day.year == year:
        selection = day_selection(index, day, unlimited, kinds=feed.kinds, tags=feed.tags)
        found = {o.entry.id for o in selection.occurrences}
        if found:
            days[day] = found
        day += datetime.timedelta(days=1)
    return days


@pytest.mark.parametrize("policy", list(Feb29Policy))
@pytest.mark.parametrize("year", [2026, 2027, 2028, 2100])
def test_the_calendar_expands_to_the_preview_of_every_day(policy: Feb29Policy, year: int) -> None:
    """For a common year, a leap year and 2100 (not leap), under each 29 February policy, the calendar expanded
    for the year gives, day by day, the same entries as the preview of that day; month- and year-precise
    entries are in neither."""
    settings = dataclasses.replace(settings_for(), selection=SelectionSettings(feb29=policy, limit=2))
    index = index_of()
    feed = FeedSettings()
    first_year = 2026 if year < 2036 else year  # moveable observances cover calendar_years from the build year
    data = build_calendar(settings, feed, index, NOW, first_year)
    assert expanded(data, year) == previewed(settings, index, feed, year)


def test_a_filtered_feeds_calendar_holds_its_entries_only() -> None:
    """births.ics has the births feed's entries, on the right days."""
    settings = settings_for()
    feed = FeedSettings(name="births", kinds=(Kind.BIRTH,))
    data = build_calendar(settings, feed, index_of(), NOW, 2026)
    days = expanded(data, 2027)
    assert days == previewed(settings, index_of(), feed, 2027)
    assert {uid.split("/")[0] for uid in (str(e["UID"]) for e in parse(data).walk("VEVENT"))} == {"births"}


def test_events_are_all_day_yearly_with_stable_uids_and_the_publish_stamp() -> None:
    """Fixed days recur yearly from the event's year (an Old Style date from its Gregorian day), moveable ones
    are single dates, UIDs do not change between builds, DTSTAMP is the publish time in UTC."""
    settings = settings_for()
    first = parse(build_calendar(settings, FeedSettings(), index_of(), NOW, 2026))
    later = parse(build_calendar(settings, FeedSettings(), index_of(), NOW + datetime.timedelta(days=1), 2026))
    events = {str(e["UID"]): e for e in first.walk("VEVENT")}
    assert set(events) == {str(e["UID"]) for e in later.walk("VEVENT")}
    revolution = next(e for e in events.values() if "October Revolution" in str(e["SUMMARY"]))
    assert revolution["DTSTART"].dt == datetime.date(1917, 11, 7)
    assert revolution["RRULE"]["FREQ"] == ["YEARLY"]
    assert "O.S. 25 October" in str(revolution["DESCRIPTION"])
    assert all(e["DTSTAMP"].dt == datetime.datetime(2026, 7, 12, 4, tzinfo=datetime.UTC) for e in events.values())
    easter = [e for e in events.values() if str(e["SUMMARY"]) == "Easter Sunday"]
    assert len(easter) == 10 and all("RRULE" not in e for e in easter)
    capture = next(e for e in events.values() if "Vlasov" in str(e["SUMMARY"]))
    assert "Andrey Vlasov (Wikipedia): https://en.wikipedia.org/wiki/Andrey_Vlasov" in str(capture["DESCRIPTION"])
    assert not any("month-only" in str(e["SUMMARY"]) for e in events.values())


def physical_lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")
    return data[:-2].split(b"\r\n")


def test_long_lines_fold_at_75_octets_between_characters(tmp_path: Path) -> None:
    """A title of multi-byte characters (and escapes) folds into lines of at most 75 octets, each of which is
    valid UTF-8 on its own, and unfolds to the title again."""
    entries = tmp_path / "entries"
    entries.mkdir()
    title = "Ж" * 30 + "🎉, семь; " * 9 + "é" * 37
    (entries / "long.yaml").write_text(f'- title: "{title}"\n  date: "1961-04-12"\n', encoding="utf-8")
    settings = settings_for(entries)
    data = build_calendar(settings, FeedSettings(), index_of(entries), NOW, 2026)
    lines = physical_lines(data)
    assert max(len(line) for line in lines) == 75
    for line in lines:
        line.decode("utf-8")  # never half a character
        assert not line.endswith(b"\\") or line.endswith(b"\\\\")
    event = next(iter(parse(data).walk("VEVENT")))
    assert str(event["SUMMARY"]) == f"{title} (1961)"


def test_hostile_entries_leave_the_calendar_valid(hostile_tree: Path) -> None:
    """Control characters, a lone surrogate and a NUL in an entry (the loader refuses such files, so the entry is
    made directly, as a template or an importer bug might): the calendar is valid UTF-8 with no control
    characters, parses, and keeps the rest of the text."""
    from thisday.entries import load_tree
    from thisday.model import HistoricDate

    (hostile_tree / "days" / "broken.json").write_text(BROKEN, encoding="utf-8")
    loaded = list(load_tree(hostile_tree).entries)
    evil = dataclasses.replace(
        loaded[0], id="evil", title="Bell\x07 and a lone \ud800 half\x00", date=HistoricDate(1900, 7, 12), rule=None
    )
    site = dict(render_site(settings_for(hostile_tree), CalendarIndex.build([*loaded, evil]), ON, NOW))
    data = site["onthisday.ics"]
    text = data.decode("utf-8")
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text)
    summaries = [str(e["SUMMARY"]) for e in parse(data).walk("VEVENT")]
    assert "Bell and a lone  half (1900)" in summaries
    assert 'Ada <b>Lovelace</b> & <script>alert(1)</script> is born (1815)' in summaries


def test_an_empty_calendar_is_still_a_calendar() -> None:
    """A feed whose filters select nothing writes a valid calendar with no events."""
    calendar = parse(build_calendar(settings_for(), FeedSettings(kinds=(Kind.DEATH,)), index_of(), NOW, 2026))
    assert list(calendar.walk("VEVENT")) == []
    assert str(calendar["VERSION"]) == "2.0"


def test_same_inputs_give_identical_calendars() -> None:
    """Two builds from the same entries and publish time give byte-identical calendars."""
    first = build_calendar(settings_for(), FeedSettings(), index_of(), NOW, 2026)
    assert first == build_calendar(settings_for(), FeedSettings(), index_of(), NOW, 2026)
