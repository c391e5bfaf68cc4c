"""iCalendar (``.ics``, RFC 5545) files: each ``VEVENT`` becomes an entry.

- ``SUMMARY`` is the title, ``DESCRIPTION`` the body, ``CATEGORIES`` the tags, ``URL`` the source's URL (the
  source is named after the calendar, ``X-WR-CALNAME``, or the file), ``UID`` the id (``ical-<uid>``).
- ``DTSTART`` gives the day: an all-day date as it is, a timed event's day in its own time zone (the time of
  day is dropped and a note says so). An event over several days (``DTEND`` or ``DURATION``) is imported on
  its first day; the body says the span and a note says so.
- ``DESCRIPTION`` is plain text: it is escaped as Markdown (a line starting ``#`` stays a line of text) and its
  lines stay lines. Control characters (terminal escapes, NUL, BEL, DEL, C1) are removed, with a note.
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

from ..dates import MONTHS, format_year
from ..errors import ImportSourceError
from ..model import Calendar
from .common import (
    Collector,
    ImportOptions,
    ImportResult,
    RecordError,
    base_entry,
    check_day,
    clean_title,
    controls_note,
    date_text,
    is_http_url,
    plain_to_markdown,
    slug_id,
    strip_controls,
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
    except OSError:  # the library looks a TZID up as a file name: a long or odd one fails there
        raise ImportSourceError(
            f"{name}: a TZID is not a time zone name; use names such as Europe/Berlin"
        ) from None
    except (ValueError, IndexError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise ImportSourceError(
            f"{name}: not an iCalendar file ({str(exc)[:160]}); export the calendar as .ics"
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
            collector.reject(location, exc.reason, exc.detail, _text(component.get("SUMMARY", ""))[0])
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OSError, OverflowError) as exc:
            # a property the icalendar library cannot read (a broken value it only notices when asked)
            collector.reject(
                location,
                "bad-record",
                f"a property cannot be read: {str(exc)[:200]}",
                _text(component.get("SUMMARY", ""))[0],
            )
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
    removed: dict[str, tuple[str, ...]] = {}
    summary, removed["SUMMARY"] = _text(event.get("SUMMARY", ""))
    title = clean_title(summary)
    if not title:
        raise RecordError("no-text", "no SUMMARY (the title)")
    start, notes = _start(event)
    span = _span(event, start)
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
    url, removed["URL"] = _text(event.get("URL", ""))
    url = url.strip()
    if url and not is_http_url(url):
        raise RecordError("bad-url", f"URL {url!r} is not an absolute http(s) URL")
    source_title = clean_title(_text(calendar.get("X-WR-CALNAME", ""))[0]) or name
    sources = [{"title": source_title, **({"url": url} if url else {})}]
    categories = event.get("CATEGORIES")
    tags: list[str] = []
    for item in (
        categories if isinstance(categories, list) else [categories] if categories is not None else []
    ):
        for cat in getattr(item, "cats", [item]):
            tag, chars = _text(cat)
            removed["CATEGORIES"] = removed.get("CATEGORIES", ()) + chars
            tags.append(tag)
    uid, removed["UID"] = _text(event.get("UID", ""))
    uid = uid.strip()
    description, removed["DESCRIPTION"] = _text(event.get("DESCRIPTION", ""))
    body = plain_to_markdown(description)
    if span is not None and rule is None and rrule is None:
        last = span
        body = f"From {_day_text(start)} to {_day_text(last)}." + (f"\n\n{body}" if body else "")
        notes.append(
            f"an event over {(last - start).days + 1} days ({start:%Y-%m-%d} to {last:%Y-%m-%d}): "
            "imported on its first day, the span said in the body"
        )
    control = controls_note(removed)
    if control:
        notes.append(control)
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
        body=body,
        rule=rule,
    )
    if collector.add(location, entry, explicit_id=bool(uid)):
        for note in notes:
            collector.note(location, note)


def _day_text(day: datetime.date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {format_year(day.year)}"


def _text(value: Any) -> tuple[str, tuple[str, ...]]:
    """A property's text without control characters, and the ones removed."""
    return strip_controls(str(value))


def _decoded(event: Any, name: str) -> Any:
    """A date property's value, or a ``bad-date`` reject when it cannot be read (a time zone that is none)."""
    try:
        return event.decoded(name)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OSError, OverflowError) as exc:
        raw = event.get(name)
        params = getattr(raw, "params", {})
        zone = str(params.get("TZID", ""))[:40] if hasattr(params, "get") else ""
        where = f" (time zone {zone!r})" if zone else ""
        raise RecordError(
            "bad-date", f"{name}{where} cannot be read: {str(exc)[:120]}; give a date or a known time zone"
        ) from None


def _span(event: Any, start: datetime.date) -> datetime.date | None:
    """The last day of an event that lasts more than its start day (DTEND is exclusive for dates), or None."""
    if event.get("DTEND") is not None:
        end = _decoded(event, "DTEND")
    elif event.get("DURATION") is not None:
        duration = _decoded(event, "DURATION")
        if not isinstance(duration, datetime.timedelta):
            return None
        begin = _decoded(event, "DTSTART")
        try:
            end = begin + duration
        except OverflowError:
            return None
    else:
        return None
    if isinstance(end, datetime.datetime):
        begin = _decoded(event, "DTSTART")
        if isinstance(begin, datetime.datetime) and begin.tzinfo is not None and end.tzinfo is not None:
            end = end.astimezone(begin.tzinfo)
        last = end.date()
        if end.time() == datetime.time(0) and last > start:
            last -= datetime.timedelta(days=1)  # ends at midnight: the day before is the last
    elif isinstance(end, datetime.date):
        last = end - datetime.timedelta(days=1)
    else:
        return None
    return last if last > start else None


def _start(event: Any) -> tuple[datetime.date, list[str]]:
    """The start day of an event, and notes on what was dropped (the time of day)."""
    if event.get("DTSTART") is None:
        raise RecordError("no-date", "no DTSTART (the start date)")
    value = _decoded(event, "DTSTART")
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
    try:
        parts: dict[str, list[Any]] = {key.upper(): list(values) for key, values in rrule.items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise RecordError("unsupported-rule", f"RRULE cannot be read: {str(exc)[:160]}") from None
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
