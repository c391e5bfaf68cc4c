"""iCalendar (``.ics``, RFC 5545) files: each ``VEVENT`` becomes an entry.

- ``SUMMARY`` is the title, ``DESCRIPTION`` the body, ``CATEGORIES`` the tags, ``URL`` the source's URL (the
  source is named after the calendar, ``X-WR-CALNAME``, or the file), ``UID`` the id (``ical-<uid>``).
- ``DTSTART`` gives the day: an all-day date as it is, a timed event's day in its own time zone (the time of
  day is dropped and a note says so).
- A yearly ``RRULE`` makes an observance: plain "every year on this day" keeps the start date (its year is
  the first observed); a rule such as ``FREQ=YEARLY;BYMONTH=9;BYDAY=3SA`` becomes the entry's ``rule`` with the
  start year as first observed (``COUNT`` becomes the equivalent ``UNTIL``). Weekly, monthly and daily rules
  and ``INTERVAL`` other than 1 are rejected: an entry comes back once a year.
- Cancelled events, single changed occurrences (``RECURRENCE-ID``) and to-dos or journal entries are rejected
  with their reason; ``VTIMEZONE`` and ``VALARM`` are parts of a calendar, not records.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dateutil.rrule import rrulestr

from ..model import Calendar
from . import ImportOptions, ImportSourceError
from .common import (
    Collector,
    ImportResult,
    RecordError,
    base_entry,
    check_day,
    clean_title,
    date_text,
    is_http_url,
    slug_id,
    year_token,
)

_NOT_RECORDS = {"VCALENDAR", "VTIMEZONE", "STANDARD", "DAYLIGHT", "VALARM"}
_RULE_ORDER = ("FREQ", "UNTIL", "BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY", "BYSETPOS", "WKST")


def import_ical(
    source: Path, options: ImportOptions, progress: Callable[[int, int], None] | None = None
) -> ImportResult:
    """Every event of ``source`` imported or rejected with its reason."""
    if not source.is_file():
        raise ImportSourceError(f"{source}: not a file; give the .ics file to import")
    return read_ical(source.read_bytes(), source.name, options, progress)


def read_ical(
    data: bytes, name: str, options: ImportOptions, progress: Callable[[int, int], None] | None = None
) -> ImportResult:
    import icalendar

    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)
    except (ValueError, IndexError, KeyError) as exc:
        raise ImportSourceError(
            f"{name}: not an iCalendar file ({exc}); export the calendar as .ics"
        ) from None
    if not calendars:
        raise ImportSourceError(
            f"{name}: no calendar in the file (expected BEGIN:VCALENDAR ... END:VCALENDAR)"
        )
    collector = Collector()
    components = [
        (calendar, component)
        for calendar in calendars
        for component in calendar.walk()
        if component.name not in _NOT_RECORDS
    ]
    for done, (calendar, component) in enumerate(components, 1):
        collector.records += 1
        uid = str(component.get("UID", "")).strip()
        location = f"{name} {component.name} #{done}" + (f" ({uid})" if uid else "")
        try:
            _event(collector, location, calendar, component, name, options)
        except RecordError as exc:
            collector.reject(location, exc.reason, exc.detail, str(component.get("SUMMARY", "")))
        if progress is not None:
            progress(done, len(components))
    return collector.result()


def _event(
    collector: Collector, location: str, calendar: Any, event: Any, name: str, options: ImportOptions
) -> None:
    if event.name != "VEVENT":
        raise RecordError("not-an-event", f"a {event.name} is not an event")
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        raise RecordError("not-an-event", "a cancelled event")
    if event.get("RECURRENCE-ID") is not None:
        raise RecordError(
            "not-an-event",
            "changes one occurrence of a recurring event; the series comes from its main event",
        )
    title = clean_title(str(event.get("SUMMARY", "")))
    if not title:
        raise RecordError("no-text", "no SUMMARY (the title)")
    start, notes = _start(event)
    rrule = event.get("RRULE")
    kind, rule, date = options.default_kind, None, date_text(start.year, start.month, start.day)
    if isinstance(rrule, list):
        raise RecordError("unsupported-rule", "more than one RRULE")
    if rrule is not None:
        kind = "observance"
        rule = _yearly_rule(rrule, start)
        if rule is not None:
            date = date_text(start.year)
        if event.get("EXDATE") is not None or event.get("RDATE") is not None:
            notes.append("EXDATE/RDATE left out: an observance comes back every year its rule gives")
    url = str(event.get("URL", "")).strip()
    if url and not is_http_url(url):
        raise RecordError("bad-url", f"URL {url!r} is not an absolute http(s) URL")
    source_title = clean_title(str(calendar.get("X-WR-CALNAME", ""))) or name
    sources = [{"title": source_title, **({"url": url} if url else {})}]
    categories = event.get("CATEGORIES")
    tags: list[str] = []
    for item in (
        categories if isinstance(categories, list) else [categories] if categories is not None else []
    ):
        tags.extend(str(cat) for cat in item.cats)
    uid = str(event.get("UID", "")).strip()
    entry_id = (
        slug_id("ical", title=uid)
        if uid
        else slug_id("ical", year_token(start.year), f"{start.month:02d}", f"{start.day:02d}", title=title)
    )
    entry = base_entry(
        entry_id=entry_id,
        title=title,
        date=date,
        kind=kind,
        tags=(*tags, *options.tags),
        sources=sources,
        body=str(event.get("DESCRIPTION", "")).replace("\r\n", "\n").strip(),
        rule=rule,
    )
    if collector.add(location, entry, explicit_id=bool(uid)):
        for note in notes:
            collector.note(location, note)


def _start(event: Any) -> tuple[datetime.date, list[str]]:
    """The start day of an event, and notes on what was dropped (the time of day)."""
    if event.get("DTSTART") is None:
        raise RecordError("no-date", "no DTSTART (the start date)")
    value = event.decoded("DTSTART")
    if isinstance(value, datetime.datetime):
        zone = f" ({value.tzinfo})" if value.tzinfo is not None else ""
        return value.date(), [f"a timed event: its day{zone} is kept, the time {value:%H:%M} dropped"]
    if isinstance(value, datetime.date):
        return value, []
    raw = str(event.get("DTSTART").to_ical().decode() if hasattr(event.get("DTSTART"), "to_ical") else value)
    digits = raw.strip()[:8]
    if len(digits) == 8 and digits.isdigit():
        check_day(int(digits[:4]), int(digits[4:6]), int(digits[6:8]), Calendar.GREGORIAN)
    raise RecordError("bad-date", f"DTSTART {raw.strip()!r} is not a date (YYYYMMDD or YYYYMMDDTHHMMSS)")


def _yearly_rule(rrule: Any, start: datetime.date) -> str | None:
    """None when the event simply comes back on its start day every year; else the rule text for the entry."""
    parts: dict[str, list[Any]] = {key.upper(): list(values) for key, values in rrule.items()}
    freq = str(parts.get("FREQ", [""])[0]).upper()
    if freq != "YEARLY":
        raise RecordError(
            "not-yearly", f"repeats {freq.lower() or 'without FREQ'}: thisday entries come back once a year"
        )
    if int(parts.pop("INTERVAL", [1])[0]) != 1:
        raise RecordError("unsupported-rule", "INTERVAL other than 1: an entry comes back every year")
    count = parts.pop("COUNT", None)
    until = parts.pop("UNTIL", None)
    if not any(k in parts for k in ("BYMONTH", "BYWEEKNO", "BYYEARDAY")):
        parts["BYMONTH"] = [start.month]
    if not any(k in parts for k in ("BYMONTHDAY", "BYDAY", "BYYEARDAY", "BYWEEKNO")):
        parts["BYMONTHDAY"] = [start.day]
    unknown = [k for k in parts if k not in _RULE_ORDER]
    if unknown:
        raise RecordError("unsupported-rule", f"RRULE part {unknown[0]} is not supported")
    simple = (
        set(parts) == {"FREQ", "BYMONTH", "BYMONTHDAY"}
        and [int(str(v)) for v in parts["BYMONTH"]] == [start.month]
        and [int(str(v)) for v in parts["BYMONTHDAY"]] == [start.day]
    )
    if count is not None:
        dtstart = datetime.datetime(start.year, start.month, start.day)
        occurrences = list(rrulestr(f"{_rule_text(parts)};COUNT={int(count[0])}", dtstart=dtstart))
        until = [occurrences[-1] if occurrences else start]
    if until is not None:
        parts["UNTIL"] = [f"{until[0]:%Y%m%d}"]
    elif simple:
        return None
    return _rule_text(parts)


def _rule_text(parts: dict[str, list[Any]]) -> str:
    return ";".join(f"{k}={','.join(_value(v) for v in parts[k])}" for k in _RULE_ORDER if k in parts)


def _value(value: Any) -> str:
    if hasattr(value, "to_ical"):
        ical = value.to_ical()
        return ical.decode() if isinstance(ical, bytes) else str(ical)
    return str(value).upper()
