"""Dates as history writes them: Julian/Gregorian, BC, leap days, Easter, rules, parsing."""

from __future__ import annotations

import contextlib
import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thisday.dates import (
    days_in_month,
    format_date,
    format_year,
    from_jdn,
    is_round_anniversary,
    julian_to_gregorian,
    parse_historic_date,
    parse_rule,
    parse_target_date,
    place_in_year,
    to_jdn,
    years_ago,
)
from thisday.errors import DateError
from thisday.model import Calendar, Feb29Policy, HistoricDate, Precision

TODAY = datetime.date(2026, 11, 22)


@pytest.mark.parametrize(
    ("julian", "gregorian"),
    [
        ((1582, 10, 5), (1582, 10, 15)),  # the first day of the Gregorian reform
        ((1700, 2, 28), (1700, 3, 10)),  # still 10 days before the Julian-only leap day of 1700
        ((1700, 2, 29), (1700, 3, 11)),  # a day that exists only in the Julian calendar
        ((1700, 3, 1), (1700, 3, 12)),  # from here on, 11 days
        ((1752, 9, 2), (1752, 9, 13)),  # Britain's switch: 2 September was followed by 14 September
        ((1900, 2, 28), (1900, 3, 12)),
        ((1900, 2, 29), (1900, 3, 13)),
        ((1900, 3, 1), (1900, 3, 14)),  # from here on, 13 days
        ((1917, 10, 25), (1917, 11, 7)),  # the October Revolution
        ((1642, 12, 25), (1643, 1, 4)),  # Newton's birth crosses into the next year
        ((-43, 3, 15), (-43, 3, 13)),  # the Ides of March, 44 BC
    ],
)
def test_julian_to_gregorian_known_dates(
    julian: tuple[int, int, int], gregorian: tuple[int, int, int]
) -> None:
    """Old Style dates convert to the Gregorian day historians give, across the 1700 and 1900 leap-year differences."""
    assert julian_to_gregorian(*julian) == gregorian


def test_jdn_anchors() -> None:
    """Julian Day Numbers match the astronomical anchors (so BC arithmetic is right)."""
    assert to_jdn(2000, 1, 1, Calendar.GREGORIAN) == 2451545
    assert to_jdn(-4712, 1, 1, Calendar.JULIAN) == 0


@given(st.dates())
def test_gregorian_jdn_agrees_with_python(day: datetime.date) -> None:
    """For AD years, our Gregorian day numbers agree with Python's own calendar."""
    assert to_jdn(day.year, day.month, day.day, Calendar.GREGORIAN) == day.toordinal() + 1721425


@given(
    st.integers(min_value=-4000, max_value=9999),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=1, max_value=31),
    st.sampled_from(list(Calendar)),
)
def test_jdn_round_trips(year: int, month: int, day: int, calendar: Calendar) -> None:
    """Every real day of every year, BC included, converts to a day number and back unchanged."""
    day = min(day, days_in_month(year, month, calendar))
    assert from_jdn(to_jdn(year, month, day, calendar), calendar) == (year, month, day)


@given(
    st.integers(min_value=-4000, max_value=9999),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=1, max_value=31),
    st.sampled_from(list(Calendar)),
    st.integers(min_value=1, max_value=9999),
    st.sampled_from([Feb29Policy.FEB28, Feb29Policy.MAR1]),
)
def test_every_day_lands_somewhere_sane(
    year: int, month: int, day: int, calendar: Calendar, target: int, policy: Feb29Policy
) -> None:
    """Any valid historic day, in either calendar, has an anniversary on a real day of any target year."""
    day = min(day, days_in_month(year, month, calendar))
    _gy, gm, gd = julian_to_gregorian(year, month, day) if calendar is Calendar.JULIAN else (year, month, day)
    placed = place_in_year(gm, gd, target, policy)
    assert placed is not None and placed.year == target
    if (gm, gd) != (2, 29):
        assert (placed.month, placed.day) == (gm, gd)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1942-07-12", HistoricDate(1942, 7, 12)),
        ("1942-07", HistoricDate(1942, 7)),
        ("1942", HistoricDate(1942)),
        ("-0043-03-15", HistoricDate(-43, 3, 15)),
        ("~1450", HistoricDate(1450, approximate=True)),
        ("1450?", HistoricDate(1450, uncertain=True)),
        ("0000", HistoricDate(0)),
    ],
)
def test_parse_precisions(text: str, expected: HistoricDate) -> None:
    """Day, month and year precision, BC, approximate and uncertain dates parse as written."""
    assert parse_historic_date(text) == expected


def test_integer_year_from_yaml() -> None:
    """An unquoted YAML year (an integer) is a year-precise date."""
    assert parse_historic_date(1066).precision is Precision.YEAR


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1942-02-30", "February 1942 has 28 days"),
        ("1942-13-01", "months run from 01 to 12"),
        ("12/07/1942", "is not YYYY-MM-DD"),
        ("1900-02-29", "calendar: julian"),
        ("", "is not YYYY-MM-DD"),
    ],
)
def test_impossible_dates_are_explained(text: str, fragment: str) -> None:
    """Impossible or malformed dates raise a DateError that says why and how to write it."""
    with pytest.raises(DateError, match=fragment):
        parse_historic_date(text)


def test_leap_days_by_calendar() -> None:
    """29 February exists in 2000 and in Julian 1900, not in Gregorian 1900."""
    assert parse_historic_date("2000-02-29").day == 29
    assert parse_historic_date("1900-02-29", Calendar.JULIAN).day == 29
    with pytest.raises(DateError):
        parse_historic_date("1900-02-29")


@given(st.text(max_size=30))
def test_parser_never_crashes(text: str) -> None:
    """No string makes the date parser fail with anything but a DateError."""
    with contextlib.suppress(DateError):
        parse_historic_date(text)


@given(st.text(max_size=30))
def test_target_date_parser_never_crashes(text: str) -> None:
    """No string typed on the command line crashes the date parser."""
    with contextlib.suppress(DateError):
        parse_target_date(text, TODAY)


@given(st.text(max_size=40))
def test_rule_parser_never_crashes(text: str) -> None:
    """No rule text crashes the rule parser."""
    with contextlib.suppress(DateError):
        parse_rule(text)


@pytest.mark.parametrize(
    ("date", "observe_julian", "shown"),
    [
        (HistoricDate(1917, 10, 25, Calendar.JULIAN), False, "7 November 1917 (O.S. 25 October)"),
        (HistoricDate(1642, 12, 25, Calendar.JULIAN), False, "4 January 1643 (O.S. 25 December 1642)"),
        (HistoricDate(-43, 3, 15, Calendar.JULIAN), True, "15 March 44 BC (Julian calendar)"),
        (HistoricDate(-43, 3, 15), False, "15 March 44 BC"),
        (HistoricDate(1450, approximate=True), False, "c. 1450"),
        (HistoricDate(1450, 7, uncertain=True), False, "July 1450?"),
        (HistoricDate(70, 7, 12), False, "12 July AD 70"),
        (HistoricDate(0), False, "1 BC"),
    ],
)
def test_display(date: HistoricDate, observe_julian: bool, shown: str) -> None:
    """Dates display as a reader expects: both styles for Old Style, BC without a year zero, c. for approximate."""
    assert format_date(date, observe_julian) == shown


def test_years_ago_across_the_era() -> None:
    """From 44 BC to AD 2026 is 2069 years: there is no year zero."""
    assert years_ago(-43, 2026) == 2069
    assert format_year(-43) == "44 BC"
    assert years_ago(1, 2) == 1 and years_ago(0, 1) == 1  # 1 BC to AD 1 is one year


def test_round_anniversaries() -> None:
    """10 and every multiple of 25 are round; other numbers and 0 are not."""
    assert [n for n in range(0, 201) if is_round_anniversary(n, "classic")] == [10, 25, 50, 75, 100, 125, 150, 175, 200]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (Feb29Policy.FEB28, datetime.date(2027, 2, 28)),
        (Feb29Policy.MAR1, datetime.date(2027, 3, 1)),
        (Feb29Policy.SKIP, None),
    ],
)
def test_leap_day_policies(policy: Feb29Policy, expected: datetime.date | None) -> None:
    """29 February moves per policy in a common year and stays put in a leap year (2000 yes, 1900 no)."""
    assert place_in_year(2, 29, 2027, policy) == expected
    assert place_in_year(2, 29, 2000, policy) == datetime.date(2000, 2, 29)
    assert place_in_year(2, 29, 1900, Feb29Policy.FEB28) == datetime.date(1900, 2, 28)


@pytest.mark.parametrize(
    ("year", "western", "orthodox"),
    [
        (2019, datetime.date(2019, 4, 21), datetime.date(2019, 4, 28)),
        (2024, datetime.date(2024, 3, 31), datetime.date(2024, 5, 5)),
        (2025, datetime.date(2025, 4, 20), datetime.date(2025, 4, 20)),
        (2026, datetime.date(2026, 4, 5), datetime.date(2026, 4, 12)),
        (1900, datetime.date(1900, 4, 15), datetime.date(1900, 4, 22)),
    ],
)
def test_easter_both_churches(year: int, western: datetime.date, orthodox: datetime.date) -> None:
    """Western and Orthodox Easter fall on the days the churches publish, with offsets for Good Friday and Pentecost."""
    assert parse_rule("easter").dates_in(year) == (western,)
    assert parse_rule("orthodox-easter").dates_in(year) == (orthodox,)
    assert parse_rule("easter+49").dates_in(year) == (western + datetime.timedelta(days=49),)
    assert parse_rule("orthodox-easter-2").dates_in(year) == (orthodox - datetime.timedelta(days=2),)


def test_rrule_fourth_thursday() -> None:
    """An RFC 5545 RRULE is evaluated for the year asked: US Thanksgiving 2025 and 2026."""
    rule = parse_rule("FREQ=YEARLY;BYMONTH=11;BYDAY=+4TH")
    assert rule.dates_in(2025) == (datetime.date(2025, 11, 27),)
    assert rule.dates_in(2026) == (datetime.date(2026, 11, 26),)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("eester", "not understood"),
        ("easter+", "not understood"),
        ("FREQ=YEARLY;BYMONTH=13", "not a valid RFC 5545 RRULE"),
        ("FREQ=YEARLY;COUNT=3", "COUNT"),
        ("every fourth thursday", "not understood"),
    ],
)
def test_malformed_rules(text: str, fragment: str) -> None:
    """Malformed rules are rejected with the forms that are accepted."""
    with pytest.raises(DateError, match=fragment):
        parse_rule(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-07-12", datetime.date(2026, 7, 12)),
        ("07-12", datetime.date(2026, 7, 12)),
        ("July 12", datetime.date(2026, 7, 12)),
        ("12 July", datetime.date(2026, 7, 12)),
        ("jul 12, 1942", datetime.date(1942, 7, 12)),
        ("today", TODAY),
        ("tomorrow", datetime.date(2026, 11, 23)),
        ("yesterday", datetime.date(2026, 11, 21)),
    ],
)
def test_target_dates(text: str, expected: datetime.date) -> None:
    """The dates an editor types on the command line mean what they say."""
    assert parse_target_date(text, TODAY) == expected


def test_target_date_errors() -> None:
    """An impossible or unreadable target date is a DateError with the accepted forms."""
    with pytest.raises(DateError, match="not a real day"):
        parse_target_date("02-30", TODAY)
    with pytest.raises(DateError, match="July 12"):
        parse_target_date("next week", TODAY)


def test_easter_offsets_that_cross_new_year() -> None:
    """A large Easter offset falls in the neighbouring calendar year when that is where it lands."""
    assert parse_rule("easter-100").dates_in(2025) == (
        datetime.date(2025, 1, 10),
        datetime.date(2025, 12, 26),
    )
    assert parse_rule("easter+300").dates_in(2027) == (datetime.date(2027, 1, 30),)


def test_rrule_until_in_utc_form() -> None:
    """UNTIL written in UTC (…Z, as calendar programs export it) is accepted and ends the observance."""
    rule = parse_rule("FREQ=YEARLY;BYMONTH=11;BYDAY=+4TH;UNTIL=20301231T000000Z")
    assert rule.dates_in(2026) == (datetime.date(2026, 11, 26),)
    assert rule.dates_in(2031) == ()


@given(st.text(max_size=40))
def test_rrule_parser_never_crashes(text: str) -> None:
    """No RRULE body, however malformed, crashes the rule parser with anything but a DateError."""
    with contextlib.suppress(DateError):
        parse_rule("FREQ=YEARLY;" + text)


@pytest.mark.parametrize(
    "text",
    [
        "FREQ=MINUTELY",
        "FREQ=SECONDLY;BYMONTH=1",
        "FREQ=HOURLY",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=WEEKLY;BYDAY=MO",
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=1",
        "BYMONTH=11;BYDAY=+4TH",
    ],
)
def test_only_yearly_rules(text: str) -> None:
    """An observance recurs once a year: any other FREQ is refused with what to write instead."""
    with pytest.raises(DateError, match="FREQ=YEARLY;BYMONTH=11;BYDAY=\\+4TH"):
        parse_rule(text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("FREQ=YEARLY;BYHOUR=0,1,2;BYMINUTE=0,30", "BYHOUR"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never falls on any day"),
        ("FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31;BYDAY=MO", "never falls on any day"),
        ("FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=1\nRDATE:20200101", "not understood"),
        ("FREQ=YEARLY;FREQ=YEARLY;BYMONTH=1", "twice"),
    ],
)
def test_rules_that_cannot_be_an_observance(text: str, fragment: str) -> None:
    """Time-of-day parts, rules that never fire and multi-line rule sets are refused with a DateError."""
    with pytest.raises(DateError, match=fragment):
        parse_rule(text)


def test_rare_yearly_rules_still_work() -> None:
    """A yearly rule that fires only in some years (29 February, Friday the 13th of August) is accepted."""
    leap = parse_rule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29")
    assert leap.dates_in(2028) == (datetime.date(2028, 2, 29),) and leap.dates_in(2027) == ()
    friday = parse_rule("FREQ=YEARLY;BYMONTH=8;BYMONTHDAY=13;BYDAY=FR")
    assert friday.dates_in(2027) == (datetime.date(2027, 8, 13),) and friday.dates_in(2026) == ()
