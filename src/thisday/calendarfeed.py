"""Anniversaries calendars: ``NAME.ics`` per feed (RFC 5545, ``text/calendar``), for calendar apps to subscribe to.

Every entry of the feed (its kinds and tags; no daily limit) as an all-day event on the day thisday shows it:

- a day-precise date as one event recurring every year (``RRULE:FREQ=YEARLY``) from the anniversary in the
  event's own year (AD 1 for older ones, which calendar apps cannot hold); an Old Style date on its Gregorian
  day (its Old Style day with ``observe: julian``);
- a 29 February anniversary per ``selection.feb29``: ``feb28``: the last day of February
  (``BYMONTH=2;BYMONTHDAY=-1``), ``mar1``: the 60th day of the year (29 February or 1 March), ``skip``: leap
  years only;
- a moveable observance as one event per date, for ``site.calendar_years`` years from the build's year (a
  rolling span: each build moves it on);
- month- and year-precise entries are left out: they have no day.

``UID`` values are stable (``<feed>/<entry id>@<host>``, with the date for a moveable observance's events),
``DTSTAMP`` is the publish time, the description carries the date as shown and the sources with their links.
Written directly (the icalendar library, used by the tests to read the files back, takes seconds for a few
thousand events): TEXT values escaped, lines folded at 75 octets between characters (never inside a multi-byte
UTF-8 character or an escape pair), control characters an entry may hold dropped, CRLF line ends. The same
inputs give the same bytes.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Collection, Iterable

from .config import FeedSettings, Settings
from .dates import Rule, anniversary_key, event_year, format_date, format_year, is_leap
from .feeds import tag_authority
from .index import CalendarIndex
from .layout import feed_title
from .markup import slugify
from .model import Entry, Feb29Policy, Kind

PRODID = "-//thisday//anniversaries calendar//EN"
_NOT_ICAL = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def ical_text(text: str) -> str:
    """``text`` without the characters an iCalendar TEXT value cannot hold (controls, lone surrogates)."""
    return _NOT_ICAL.sub("", text)


def matches(entry: Entry, kinds: Collection[Kind], tags: Collection[str]) -> bool:
    """Whether a feed with these ``kinds`` and ``tags`` filters keeps ``entry`` (as the day selection does)."""
    if kinds and entry.kind not in kinds:
        return False
    if tags:
        wanted = {slugify(tag, limit=40) for tag in tags}
        return bool(wanted.intersection(entry.tags))
    return True


def calendar_entries(index: CalendarIndex, feed: FeedSettings) -> list[Entry]:
    """The entries of ``feed``'s calendar: day-precise and moveable ones its filters keep, in a fixed order."""
    found = [entry for entries in index.by_day.values() for entry in entries] + list(index.moveable)
    return sorted(
        (entry for entry in found if matches(entry, feed.kinds, feed.tags)),
        key=lambda entry: (anniversary_key(entry) or (13, 0), entry.id),
    )


def _description(entry: Entry) -> str:
    lines = []
    if entry.date is not None:
        lines.append(format_date(entry.date, entry.observe_julian))
    if entry.rule is not None:
        lines.append(f"Moveable observance ({entry.rule})")
    for source in entry.sources:
        lines.append(f"{source.title}: {source.url}" if source.url else source.title)
    return "\n".join(" ".join(line.split()) for line in lines)


_ESCAPES = str.maketrans({"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n"})
_UNITS = re.compile(r"\\.|.", re.DOTALL)


def escape(text: str) -> str:
    """An RFC 5545 TEXT value: backslash, semicolon, comma and newline escaped, forbidden characters dropped."""
    return ical_text(text.replace("\r\n", "\n")).translate(_ESCAPES)


def fold(line: str, limit: int = 75) -> str:
    """One content line, folded (CRLF and a space) so that no physical line passes ``limit`` octets.

    Folds fall between characters, never inside a multi-byte UTF-8 character or an escape pair."""
    if line.isascii():
        return line if len(line) <= limit else _fold_ascii(line, limit)
    if len(line.encode("utf-8")) <= limit:
        return line
    out: list[str] = []
    size = 0
    for unit in _UNITS.findall(line):
        octets = len(unit.encode("utf-8"))
        if size + octets > limit:
            out.append("\r\n ")
            size = 1
        out.append(unit)
        size += octets
    return "".join(out)


def _fold_ascii(line: str, limit: int) -> str:
    """:func:`fold` for ASCII, one octet per character: slices, moved back one where they would split ``\\x``."""
    parts = []
    start, room = 0, limit
    while len(line) - start > room:
        end = start + room
        run = 0
        while end - 1 - run >= start and line[end - 1 - run] == "\\":
            run += 1
        if run % 2:  # the last backslash opens an escape pair: keep the pair together
            end -= 1
        parts.append(line[start:end])
        start, room = end, limit - 1
    parts.append(line[start:])
    return "\r\n ".join(parts)


def _line(name: str, value: str, *, text: bool = True) -> str:
    return fold(f"{name}:{escape(value) if text else value}")


def _event(entry: Entry, uid: str, start: datetime.date, stamp: str, rule: str | None = None) -> str:
    """One VEVENT, its content lines joined by CRLF (one string per event keeps a big calendar's memory down)."""
    year = event_year(entry)
    title = " ".join(entry.title.split())
    summary = f"{title} ({format_year(year)})" if year is not None and entry.rule is None else title
    lines = [
        "BEGIN:VEVENT",
        _line("UID", uid),
        f"DTSTAMP:{stamp}",
        f"DTSTART;VALUE=DATE:{start.year:04d}{start.month:02d}{start.day:02d}",
    ]
    if rule is not None:
        lines.append(f"RRULE:{rule}")
    lines.append(_line("SUMMARY", summary))
    description = _description(entry)
    if description:
        lines.append(_line("DESCRIPTION", description))
    if entry.tags:
        lines.append(fold("CATEGORIES:" + ",".join(escape(tag) for tag in entry.tags)))
    lines += ["TRANSP:TRANSPARENT", "END:VEVENT"]
    return "\r\n".join(lines)


def _yearly(entry: Entry, policy: Feb29Policy) -> tuple[datetime.date, str] | None:
    """The first day and the RRULE of a fixed anniversary; None when it can never land (a skipped 29 Feb)."""
    key = anniversary_key(entry)
    assert key is not None
    year = max(event_year(entry) or 1, 1)
    month, day = key
    if key != (2, 29):
        return datetime.date(year, month, day), "FREQ=YEARLY"
    if policy is Feb29Policy.FEB28:
        start = datetime.date(year, 2, 29 if is_leap(year) else 28)
        return start, "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1"
    if policy is Feb29Policy.MAR1:
        start = datetime.date(year, 2, 29) if is_leap(year) else datetime.date(year, 3, 1)
        return start, "FREQ=YEARLY;BYYEARDAY=60"
    while not is_leap(year):
        year += 1
        if year > 9999:
            return None
    return datetime.date(year, 2, 29), "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"


def calendar_lines(
    settings: Settings,
    feed: FeedSettings,
    entries: Iterable[Entry],
    now: datetime.datetime,
    first_year: int,
) -> list[bytes]:
    """The events, each its CRLF-joined content lines in UTF-8: one recurring event per fixed anniversary, one
    event per moveable date."""
    host = tag_authority(settings)
    stamp = now.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    last_year = min(first_year + settings.site.calendar_years, 10000)
    lines: list[bytes] = []
    for entry in entries:
        uid = f"{feed.name}/{entry.id}@{host}"
        if entry.rule is None:
            yearly = _yearly(entry, settings.selection.feb29)
            if yearly is not None:
                lines.append(_event(entry, uid, yearly[0], stamp, yearly[1]).encode("utf-8"))
            continue
        rule = Rule(entry.rule)
        for year in range(first_year, last_year):
            if entry.date is not None and entry.date.year > year:
                continue
            for date in rule.dates_in(year):
                dated = f"{feed.name}/{entry.id}/{date.isoformat()}@{host}"
                lines.append(_event(entry, dated, date, stamp).encode("utf-8"))
    return lines


def build_calendar(
    settings: Settings, feed: FeedSettings, index: CalendarIndex, now: datetime.datetime, first_year: int
) -> bytes:
    """``NAME.ics``: the anniversaries calendar of ``feed`` built at ``now``, moveable dates from ``first_year``."""
    if now.tzinfo is None:
        raise ValueError("the publish time must be an aware datetime")
    head = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        _line("PRODID", PRODID, text=False),
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        _line("X-WR-CALNAME", feed_title(settings, feed)),
    ]
    events = calendar_lines(settings, feed, calendar_entries(index, feed), now, first_year)
    # joined as bytes, event by event: one str of a big calendar could take 4 bytes a character
    return b"\r\n".join([*(line.encode("utf-8") for line in head), *events, b"END:VCALENDAR", b""])
