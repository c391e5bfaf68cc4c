"""Which entries go out on a day, in which order, and how many."""

from __future__ import annotations

import datetime
from pathlib import Path

from thisday.entries import load_tree
from thisday.index import CalendarIndex
from thisday.model import Entry, Feb29Policy, HistoricDate, Kind, Location
from thisday.selection import select

FIXTURES = Path(__file__).parent / "fixtures" / "entries"


def fixture_index() -> CalendarIndex:
    return CalendarIndex.build(load_tree(FIXTURES).entries)


def titles(index: CalendarIndex, on: datetime.date, **kwargs: object) -> list[str]:
    return [o.entry.title for o in select(index, on, **kwargs).occurrences]  # type: ignore[arg-type]


def make(title: str, year: int, month: int = 5, day: int = 1, **kwargs: object) -> Entry:
    return Entry(
        id=f"{year}-{title}",
        title=title,
        kind=Kind.EVENT,
        date=HistoricDate(year, month, day),
        location=Location("t.yaml", 1),
        **kwargs,  # type: ignore[arg-type]
    )


def test_order_featured_then_round_then_year() -> None:
    """The lead story comes first, then round anniversaries, then the rest oldest first."""
    index = fixture_index()
    assert titles(index, datetime.date(2026, 7, 12)) == [
        "Andrey Vlasov is captured by German forces",  # featured
        "Julius Caesar is born",  # 2125 years: a multiple of 25
        "Titus's legions storm the walls of Jerusalem",  # AD 70
        "Henry David Thoreau is born",  # 1817
    ]


def test_future_events_are_not_shown() -> None:
    """Previewing a date before an event's year leaves the event out; its own day shows it 'this very day'."""
    index = fixture_index()
    assert "Andrey Vlasov is captured by German forces" not in titles(index, datetime.date(1900, 7, 12))
    on_the_day = select(index, datetime.date(1942, 7, 12)).occurrences
    assert on_the_day[0].years_ago == 0 and not on_the_day[0].round_anniversary


def test_month_and_year_precise_entries_never_land_on_a_day() -> None:
    """A month-precise entry is not on the 1st (nor any day); an approximate year is on no day."""
    index = fixture_index()
    every_day = [datetime.date(2026, 1, 1) + datetime.timedelta(days=n) for n in range(365)]
    shown = {t for day in every_day for t in titles(index, day)}
    assert "A month-only event in July 1942" not in shown
    assert "Gutenberg prints with movable type" not in shown
    assert [e.title for e in index.in_month(7)] == ["A month-only event in July 1942"]


def test_old_style_dates_fall_on_the_gregorian_day() -> None:
    """The October Revolution (25 October O.S.) is on 7 November; Newton (25 December 1642 O.S.) on 4 January."""
    index = fixture_index()
    assert titles(index, datetime.date(2026, 11, 7)) == ["The October Revolution begins in Petrograd"]
    assert titles(index, datetime.date(2026, 10, 25)) == []
    newton = select(index, datetime.date(2026, 1, 4)).occurrences[0]
    assert newton.date_display == "4 January 1643 (O.S. 25 December 1642)"
    assert newton.years_ago == 383


def test_leap_day_in_common_and_leap_years() -> None:
    """A 29 February entry is on the 29th in leap years, and per policy (with a note) in common years."""
    index = fixture_index()
    oscar = "Hattie McDaniel wins an Academy Award"
    assert titles(index, datetime.date(2028, 2, 29)) == [oscar]
    assert titles(index, datetime.date(2028, 2, 28)) == []
    on_28th = select(index, datetime.date(2027, 2, 28)).occurrences
    assert [o.entry.title for o in on_28th] == [oscar]
    assert on_28th[0].note is not None and "29 February" in on_28th[0].note
    assert on_28th[0].date_display == "29 February 1940"
    assert titles(index, datetime.date(2027, 3, 1), policy=Feb29Policy.MAR1) == [oscar]
    assert titles(index, datetime.date(2027, 2, 28), policy=Feb29Policy.SKIP) == []
    assert titles(index, datetime.date(2100, 2, 28)) == [oscar]  # 2100 is a common year


def test_moveable_observances() -> None:
    """Easter and the fourth Thursday of November are found on their day of the year asked, and only after their first year."""
    index = fixture_index()
    assert "Easter Sunday" in titles(index, datetime.date(2026, 4, 5))
    assert "Easter Sunday" in titles(index, datetime.date(2027, 3, 28))
    assert "Easter Sunday" not in titles(index, datetime.date(2027, 4, 5))
    thanksgiving = select(index, datetime.date(2026, 11, 26)).occurrences
    assert [o.entry.title for o in thanksgiving] == ["Thanksgiving in the United States"]
    assert thanksgiving[0].years_ago == 163
    assert titles(index, datetime.date(1850, 11, 28)) == []  # before 1863


def test_filters_by_kind_and_tag() -> None:
    """Kind and tag filters keep entries matching any of the given values."""
    index = fixture_index()
    day = datetime.date(2026, 7, 12)
    assert titles(index, day, kinds=[Kind.BIRTH]) == ["Julius Caesar is born", "Henry David Thoreau is born"]
    assert titles(index, day, tags=["ussr", "literature"]) == [
        "Andrey Vlasov is captured by German forces",
        "Henry David Thoreau is born",
    ]


def test_limit_keeps_priorities_and_rotates_by_year() -> None:
    """A daily limit keeps featured and round-anniversary entries, and rotates the rest deterministically by year."""
    entries = [make("Lead", 1901, featured=True)] + [make(f"Item {n:02d}", 1005 + 25 * n) for n in range(29)]
    # items are 21, 22, 23 years past a multiple of 25 in 2026-2028: none is a round anniversary
    entries.append(make("Round", 1926))  # 100 years before 2026
    index = CalendarIndex.build(entries)
    picks = {year: titles(index, datetime.date(year, 5, 1), limit=5) for year in (2026, 2027, 2028)}
    assert picks[2026][:2] == ["Lead", "Round"]
    assert picks[2026] == titles(index, datetime.date(2026, 5, 1), limit=5)  # same year, same picks
    assert len({tuple(p[1:]) for p in picks.values()}) == 3  # other years, other picks
    chosen = select(index, datetime.date(2026, 5, 1), limit=5)
    assert chosen.left_out == 26 and len(chosen.occurrences) == 5


def test_tag_filters_are_written_like_tags() -> None:
    """A filter written 'World War II' finds entries tagged world-war-ii, as entry tags are normalised."""
    index = fixture_index()
    assert titles(index, datetime.date(2026, 7, 12), tags=["World War II", "USSR"]) == [
        "Andrey Vlasov is captured by German forces"
    ]


def test_tag_filter_matches_tags_in_any_script(tmp_path: Path) -> None:
    """A tag filter written as the editor writes the tag (Łódź, космос) finds the entries carrying it."""
    (tmp_path / "x.yaml").write_text(
        "- title: Uprising\n  date: '1905-06-22'\n  tags: [Łódź]\n"
        "- title: Other\n  date: '1905-06-22'\n  tags: [odz]\n"
        "- title: Полёт\n  date: '1905-06-22'\n  tags: [космос]\n",
        encoding="utf-8",
    )
    index = CalendarIndex.build(load_tree(tmp_path).entries)
    day = datetime.date(2026, 6, 22)
    assert titles(index, day, tags=["Łódź"]) == ["Uprising"]
    assert titles(index, day, tags=["КОСМОС"]) == ["Полёт"]
