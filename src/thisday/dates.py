"""Dates as history writes them: parsing, Julian/Gregorian conversion, BC years, anniversaries, rules.

Everything here is pure: no I/O and no clock. Calendar arithmetic goes through Julian Day Numbers
(integers), because :class:`datetime.date` cannot hold years before AD 1.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dateutil import easter as _easter

if TYPE_CHECKING:
    from dateutil.rrule import rrule

from .errors import DateError
from .model import Calendar, Entry, Feb29Policy, HistoricDate, Precision

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

MIN_YEAR = -9999
MAX_YEAR = 9999

# ---------------------------------------------------------------------------------------------
# Calendars


def is_leap(year: int, calendar: Calendar = Calendar.GREGORIAN) -> bool:
    """Leap year in the (proleptic) calendar, for astronomical years (1 BC = 0 is a leap year)."""
    if calendar is Calendar.JULIAN:
        return year % 4 == 0
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year: int, month: int, calendar: Calendar = Calendar.GREGORIAN) -> int:
    if month == 2:
        return 29 if is_leap(year, calendar) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def to_jdn(year: int, month: int, day: int, calendar: Calendar) -> int:
    """Julian Day Number of a date in either calendar (astronomical years)."""
    a = (14 - month) // 12
    y = year + 4800 - a
    m = month + 12 * a - 3
    jdn = day + (153 * m + 2) // 5 + 365 * y + y // 4
    if calendar is Calendar.GREGORIAN:
        return jdn - y // 100 + y // 400 - 32045
    return jdn - 32083


def from_jdn(jdn: int, calendar: Calendar) -> tuple[int, int, int]:
    """(year, month, day) in the given calendar for a Julian Day Number."""
    if calendar is Calendar.GREGORIAN:
        a = jdn + 32044
        b = (4 * a + 3) // 146097
        c = a - 146097 * b // 4
    else:
        b = 0
        c = jdn + 32082
    d = (4 * c + 3) // 1461
    e = c - 1461 * d // 4
    m = (5 * e + 2) // 153
    day = e - (153 * m + 2) // 5 + 1
    month = m + 3 - 12 * (m // 10)
    year = 100 * b + d - 4800 + m // 10
    return year, month, day


def julian_to_gregorian(year: int, month: int, day: int) -> tuple[int, int, int]:
    """The proleptic Gregorian date of an Old Style (Julian) date."""
    return from_jdn(to_jdn(year, month, day, Calendar.JULIAN), Calendar.GREGORIAN)


# ---------------------------------------------------------------------------------------------
# Parsing the date field

_DATE_RE = re.compile(
    r"^(?P<approx>~)?(?P<year>[+-]?\d{1,4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?)?(?P<unc>\?)?$"
)


def parse_historic_date(value: object, calendar: Calendar = Calendar.GREGORIAN) -> HistoricDate:
    """Parse an entry's ``date`` field: ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``, astronomical years.

    ``-0043-03-15`` is 15 March 44 BC; ``~1450`` is approximate; ``1450?`` is uncertain. The day must exist
    in ``calendar`` (29 February 1700 exists in the Julian calendar only).
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DateError(f"date must be text such as 1942-07-12, 1942-07 or 1942, not {value!r}")
    text = str(value).strip()
    match = _DATE_RE.match(text)
    if match is None:
        raise DateError(
            f"date {text!r} is not YYYY-MM-DD, YYYY-MM or YYYY "
            "(BC years are negative astronomical years: 44 BC is -0043; prefix ~ for approximate, suffix ? for uncertain)"
        )
    year = int(match["year"])
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise DateError(f"year {year} is out of range ({MIN_YEAR}..{MAX_YEAR})")
    month = int(match["month"]) if match["month"] else None
    day = int(match["day"]) if match["day"] else None
    if month is not None and not 1 <= month <= 12:
        raise DateError(f"date {text!r} has month {month}: months run from 01 to 12")
    if month is not None and day is not None:
        last = days_in_month(year, month, calendar)
        if not 1 <= day <= last:
            where = f"{MONTHS[month - 1]} {format_year(year)}"
            extra = ""
            if month == 2 and day == 29 and calendar is Calendar.GREGORIAN and is_leap(year, Calendar.JULIAN):
                extra = (
                    " in the Gregorian calendar (if the source gives an Old Style date, add calendar: julian)"
                )
            raise DateError(f"date {text!r} does not exist: {where} has {last} days{extra}")
    return HistoricDate(
        year=year,
        month=month,
        day=day,
        calendar=calendar,
        approximate=bool(match["approx"]),
        uncertain=bool(match["unc"]),
    )


# ---------------------------------------------------------------------------------------------
# Display


def format_year(year: int) -> str:
    """Astronomical year as people write it: 1942, AD 70, 44 BC (year 0 is 1 BC: there is no year zero)."""
    if year <= 0:
        return f"{1 - year} BC"
    return f"AD {year}" if year < 1000 else str(year)


def format_day_month(month: int, day: int) -> str:
    return f"{day} {MONTHS[month - 1]}"


def _plain(year: int, month: int | None, day: int | None) -> str:
    if month is None:
        return format_year(year)
    if day is None:
        return f"{MONTHS[month - 1]} {format_year(year)}"
    return f"{day} {MONTHS[month - 1]} {format_year(year)}"


def gregorian_ymd(date: HistoricDate) -> tuple[int, int, int]:
    """The proleptic Gregorian (year, month, day) of a day-precise date."""
    if date.month is None or date.day is None:
        raise DateError("only a day-precise date has a Gregorian day")
    if date.calendar is Calendar.JULIAN:
        return julian_to_gregorian(date.year, date.month, date.day)
    return date.year, date.month, date.day


def format_date(date: HistoricDate, observe_julian: bool = False) -> str:
    """How an entry's date is shown: '12 July 1942', 'c. 1450', '7 November 1917 (O.S. 25 October)'."""
    if date.calendar is Calendar.JULIAN and date.precision is Precision.DAY and not observe_julian:
        gy, gm, gd = gregorian_ymd(date)
        assert date.month is not None and date.day is not None
        old = format_day_month(date.month, date.day)
        if date.year != gy:
            old += f" {format_year(date.year)}"
        text = f"{_plain(gy, gm, gd)} (O.S. {old})"
    else:
        text = _plain(date.year, date.month, date.day)
        if date.calendar is Calendar.JULIAN:
            text += " (Julian calendar)"
    if date.approximate:
        text = "c. " + text
    if date.uncertain:
        text += "?"
    return text


# ---------------------------------------------------------------------------------------------
# Anniversaries


def anniversary_key(entry: Entry) -> tuple[int, int] | None:
    """The (month, day) an entry's anniversary falls on, before the leap-day rule; None if it has none.

    Month- and year-precise dates have no anniversary day; Old Style dates fall on their Gregorian day
    unless the entry says ``observe: julian``; moveable observances are placed per year by their rule.
    """
    date = entry.date
    if entry.rule is not None or date is None or date.precision is not Precision.DAY:
        return None
    assert date.month is not None and date.day is not None
    if date.calendar is Calendar.JULIAN and not entry.observe_julian:
        _, month, day = gregorian_ymd(date)
        return month, day
    return date.month, date.day


def event_year(entry: Entry) -> int | None:
    """The astronomical year counted from for 'N years ago' (the Gregorian year for converted Old Style dates)."""
    date = entry.date
    if date is None:
        return None
    if date.calendar is Calendar.JULIAN and date.precision is Precision.DAY and not entry.observe_julian:
        return gregorian_ymd(date)[0]
    return date.year


def place_in_year(month: int, day: int, year: int, policy: Feb29Policy) -> datetime.date | None:
    """Where a (month, day) anniversary falls in ``year``: 29 February moves per ``policy`` in common years."""
    if month == 2 and day == 29 and not is_leap(year):
        if policy is Feb29Policy.FEB28:
            return datetime.date(year, 2, 28)
        if policy is Feb29Policy.MAR1:
            return datetime.date(year, 3, 1)
        return None
    return datetime.date(year, month, day)


def years_ago(since: int, on_year: int) -> int:
    """Whole years from astronomical year ``since`` to ``on_year``: 44 BC (-43) to 2026 is 2069 years."""
    return on_year - since


ROUND_RULES = ("wikipedia", "classic")
"""The named round-anniversary rules (``selection.round``); a list of year counts is the third way."""

RoundRule = str | tuple[int, ...]


def is_round_anniversary(years: int | None, rule: RoundRule = "wikipedia") -> bool:
    """Whether ``years`` is a round anniversary under ``rule``.

    - ``"wikipedia"`` (the default, Wikipedia's convention for anniversaries): under 100 years, every multiple
      of 10 and of 25 (10, 20, 25, 30, ..., 75, 80, 90); from 100 on, every multiple of 25 (100, 125, 150, ...).
    - ``"classic"``: 10 years and every multiple of 25 (thisday's rule before ``selection.round`` existed).
    - a tuple of year counts: exactly those (``(50, 100, 150)``).
    """
    if years is None or years <= 0:
        return False
    if isinstance(rule, tuple):
        return years in rule
    if rule == "classic":
        return years == 10 or years % 25 == 0
    if years < 100:
        return years % 10 == 0 or years % 25 == 0
    return years % 25 == 0


def format_years_ago(years: int | None) -> str:
    if years is None:
        return ""
    if years == 0:
        return "this very day"
    return "1 year ago" if years == 1 else f"{years} years ago"


# ---------------------------------------------------------------------------------------------
# Moveable observances

_EASTER_RE = re.compile(r"^(?P<church>orthodox-|western-)?easter(?P<offset>[+-]\d{1,3})?$")


@dataclass(frozen=True)
class Rule:
    """A moveable observance's rule: ``easter``, ``easter+49``, ``orthodox-easter-2`` or an RFC 5545 RRULE."""

    text: str

    def dates_in(self, year: int) -> tuple[datetime.date, ...]:
        """The days the observance falls on in ``year`` (Gregorian)."""
        match = _EASTER_RE.match(self.text)
        if match is not None:
            offset = datetime.timedelta(days=int(match["offset"] or 0))
            method = _easter.EASTER_ORTHODOX if match["church"] == "orthodox-" else _easter.EASTER_WESTERN
            # A large offset can carry a year's feast into the next or previous calendar year.
            days = (_easter.easter(y, method) + offset for y in (year - 1, year, year + 1) if 1 <= y <= 9999)  # type: ignore[arg-type]
            return tuple(d for d in days if d.year == year)
        # An RRULE's UNTIL in UTC form (…Z, as calendar programs write it) needs a UTC start to compare with.
        zone = datetime.UTC if re.search(r"UNTIL=\d{8}T\d{6}Z", self.text, re.IGNORECASE) else None
        start = datetime.datetime(year, 1, 1, tzinfo=zone)
        end = datetime.datetime(year, 12, 31, 23, 59, 59, tzinfo=zone)
        return tuple(dt.date() for dt in _rrule(self.text, start).between(start, end, inc=True))


def _rrule(text: str, dtstart: datetime.datetime) -> rrule:
    from dateutil.rrule import rrule, rrulestr  # imported on first use, to keep start-up fast

    body = text[len("RRULE:") :] if text.upper().startswith("RRULE:") else text
    result = rrulestr(body, dtstart=dtstart)
    assert isinstance(result, rrule)
    return result


_RRULE_EXAMPLE = "FREQ=YEARLY;BYMONTH=11;BYDAY=+4TH"
_RRULE_TEXT = re.compile(r"^[A-Za-z0-9=;,:+-]+$")
_TIME_PARTS = ("BYHOUR", "BYMINUTE", "BYSECOND")
_CYCLE_START = 9600
"""Where a rule is tried out: the Gregorian calendar repeats every 400 years, and dateutil stops at year 9999, so
trying the years 9600..9999 answers "does this rule ever fire?" after at most 400 years of expansion."""


def parse_rule(value: object) -> Rule:
    """Validate a ``rule`` field; raise :class:`DateError` saying what a valid rule looks like.

    An RRULE must be yearly (an observance comes once a year), name days only (no BYHOUR, BYMINUTE, BYSECOND)
    and fall on some day; each of these is checked with a bounded amount of work.
    """
    if not isinstance(value, str) or not value.strip():
        raise DateError(
            f"rule must be text: easter, easter+49, orthodox-easter-2 or an RRULE such as {_RRULE_EXAMPLE}"
        )
    text = value.strip()
    if _EASTER_RE.match(text):
        return Rule(text)
    if text.lower().startswith(("easter", "orthodox", "western")):
        raise DateError(
            f"rule {text!r} is not understood: write easter, easter+49, easter-2, orthodox-easter or orthodox-easter+1"
        )
    upper = text.upper()
    body = upper[len("RRULE:") :] if upper.startswith("RRULE:") else upper
    if not body.startswith("FREQ=") or not _RRULE_TEXT.match(body) or ":" in body:
        raise DateError(
            f"rule {text!r} is not understood: use easter[+/-N], orthodox-easter[+/-N], "
            f"or an RFC 5545 RRULE on one line such as {_RRULE_EXAMPLE}"
        )
    parts: dict[str, str] = {}
    for part in body.split(";"):
        name, _, part_value = part.partition("=")
        if name in parts:
            raise DateError(f"rule {text!r} gives {name} twice; give each part once")
        parts[name] = part_value
    if parts["FREQ"] != "YEARLY":
        raise DateError(
            f"rule {text!r} repeats {parts['FREQ'].lower() or 'never'}, but an observance comes once a year: "
            f"write FREQ=YEARLY with the day, such as {_RRULE_EXAMPLE} (fourth Thursday of November) "
            "or FREQ=YEARLY;BYMONTH=7;BYMONTHDAY=4, or easter+N"
        )
    if "COUNT" in parts or "DTSTART" in parts:
        raise DateError(
            f"rule {text!r}: COUNT and DTSTART are not supported (the rule is evaluated per year; end it with UNTIL=YYYYMMDD)"
        )
    for name in _TIME_PARTS:
        if name in parts:
            raise DateError(
                f"rule {text!r}: an observance is a whole day, so {name} does not apply; remove it"
            )
    utc = datetime.UTC if re.search(r"UNTIL=\d{8}T\d{6}Z", text, re.IGNORECASE) else None
    start = datetime.datetime(1, 1, 1, tzinfo=utc)
    cycle = datetime.datetime(_CYCLE_START, 1, 1)
    endless = ";".join(f"{name}={v}" for name, v in parts.items() if name != "UNTIL")
    try:
        _rrule(text, start)  # the rule as written (its UNTIL included) must parse
        fires = _rrule(endless, cycle).after(cycle, inc=True)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise DateError(f"rule {text!r} is not a valid RFC 5545 RRULE: {exc}") from None
    if fires is None:
        raise DateError(
            f"rule {text!r} is not a valid RFC 5545 RRULE: it never falls on any day (check BYMONTH, BYMONTHDAY, BYDAY)"
        )
    return Rule(text)


# ---------------------------------------------------------------------------------------------
# Dates typed on the command line

_MONTH_LOOKUP = {name.lower(): i for i, name in enumerate(MONTHS, 1)} | {
    name[:3].lower(): i for i, name in enumerate(MONTHS, 1)
}


def parse_target_date(text: str, today: datetime.date) -> datetime.date:
    """A day to preview or publish: 2026-07-12, 07-12 (this year), 'July 12', '12 July', today, tomorrow, yesterday."""
    raw = text.strip()
    low = raw.lower()
    relative = {"today": 0, "tomorrow": 1, "yesterday": -1}
    if low in relative:
        return today + datetime.timedelta(days=relative[low])
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            return datetime.date.fromisoformat(raw)
        if re.fullmatch(r"\d{1,2}-\d{1,2}", raw):
            month, day = (int(p) for p in raw.split("-"))
            return datetime.date(today.year, month, day)
        words = re.fullmatch(
            r"([a-z]+)\.?\s+(\d{1,2})(?:,?\s+(\d{4}))?|(\d{1,2})\s+([a-z]+)\.?(?:\s+(\d{4}))?", low
        )
        if words:
            name = words[1] or words[5]
            day = int(words[2] or words[4])
            year = int(words[3] or words[6] or today.year)
            if name in _MONTH_LOOKUP:
                return datetime.date(year, _MONTH_LOOKUP[name], day)
    except ValueError as exc:
        raise DateError(f"{raw!r} is not a real day: {exc}") from None
    raise DateError(f"{raw!r} is not a date: write 2026-07-12, 07-12, 'July 12', today or tomorrow")


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def format_day(on: datetime.date) -> str:
    """'12 July 2026': the one display of a calendar day (pages, feeds, the digest, the terminal)."""
    return f"{on.day} {MONTHS[on.month - 1]} {on.year}"


def weekday(on: datetime.date) -> str:
    """'Sunday': the one display of a weekday."""
    return WEEKDAYS[on.weekday()]
