"""What every importer shares: reading years as people write them, and collecting entries and rejects.

Pure: no I/O, no clock. An importer turns source records into entry dicts (the fields of a bulk entry file)
and, for every record it cannot import, a :class:`Reject` with a reason; nothing is dropped unreported.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..dates import MONTHS, days_in_month, format_year
from ..entries import validate
from ..errors import ImportSourceError
from ..markup import slugify, tag_slug
from ..model import Calendar
from ..model import RawEntry as _Raw

FORMATS = ("wikipedia-day-files", "csv", "ical", "json")
KINDS = ("event", "birth", "death", "observance")


@dataclass(frozen=True)
class ImportOptions:
    """What the user chose: the kind for records that say none, tags added to every entry, field mapping."""

    default_kind: str = "event"
    tags: tuple[str, ...] = ()
    columns: Mapping[str, str] = field(default_factory=dict)
    """CSV: entry field -> column name in the file; JSON: entry field -> key path (``pages.0.title``)."""


def parse_column_options(items: Iterable[str]) -> dict[str, str]:
    """``--column FIELD=COLUMN`` choices as a mapping; raises :class:`ImportSourceError` for a malformed one."""
    mapping: dict[str, str] = {}
    for item in items:
        name, sep, column = item.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise ImportSourceError(f"{item!r}: write FIELD=COLUMN, e.g. --column date=When")
        mapping[name.strip()] = column.strip()
    return mapping


# Reason codes, each with what it means: the summary counts rejects by these.
REASONS = {
    "not-a-year": "the year is not a year (a decade, a range or other text)",
    "no-year": "the record has no year (and belongs to no list that gives one)",
    "no-text": "the record has no text (title)",
    "no-date": "the record has no date",
    "bad-date": "the date cannot be read",
    "date-does-not-exist": "the date does not exist in its calendar (30 February, 29 February in a common year)",
    "duplicate": "the same record was already imported from an earlier place in the source",
    "duplicate-id": "an explicit id used by an earlier record",
    "bad-kind": "the kind is not event, birth, death or observance",
    "bad-url": "the source URL is not an absolute http(s) URL",
    "bad-record": "the record is not shaped as the format says (wrong type, wrong number of columns)",
    "bad-file": "a whole file could not be read (not JSON, not a day file, wrong day)",
    "not-yearly": "an iCalendar event that repeats but not yearly",
    "unsupported-rule": "an iCalendar yearly rule thisday cannot evaluate year by year",
    "not-an-event": "an iCalendar component that is not an event, or a cancelled event or single changed occurrence",
    "invalid": "the entry built from the record does not pass entry validation",
}

# Control characters (C0 but tab and line feed, DEL, C1): terminal escapes, NUL, BEL never reach an entry.
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_controls(text: str) -> tuple[str, tuple[str, ...]]:
    """``text`` without control characters, and the ones removed (``U+001B``).

    Line ends (CR, CRLF) and the characters that also end lines (VT, FF, NEL) become ``\\n`` first: a title
    makes them spaces, a body keeps them as line breaks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\x0b", "\n").replace("\x0c", "\n").replace("\x85", "\n")  # VT, FF, NEL: line breaks
    found = _CONTROL_RE.findall(text)
    if not found:
        return text, ()
    return _CONTROL_RE.sub("", text), tuple(dict.fromkeys(f"U+{ord(c):04X}" for c in found))


def controls_note(removed: Mapping[str, tuple[str, ...]]) -> str | None:
    """The note for a record whose fields had control characters removed (field -> characters), or None."""
    parts = [f"{', '.join(chars)} in {name}" for name, chars in removed.items() if chars]
    return f"control characters removed: {'; '.join(parts)}" if parts else None


_MD_INLINE_RE = re.compile(r"([\\`*_\[\]<>&|~])")
_MD_LINE_START_RE = re.compile(r"^(#|>|[-+=]|\d+(?=[.)]))")


def plain_to_markdown(text: str) -> str:
    """Plain text as Markdown that shows the same text: characters Markdown would read as markup are escaped,
    each line stays a line (a hard break), blank lines separate paragraphs."""
    paragraphs: list[list[str]] = [[]]
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            if paragraphs[-1]:
                paragraphs.append([])
            continue
        line = _MD_INLINE_RE.sub(r"\\\1", line)
        line = _MD_LINE_START_RE.sub(lambda m: m[0] + "\\" if m[0][0].isdigit() else "\\" + m[0], line)
        paragraphs[-1].append(line)
    return "\n\n".join("\\\n".join(lines) for lines in paragraphs if lines)


@dataclass(frozen=True)
class Reject:
    """A source record that was not imported: where it is, why (a code of :data:`REASONS`), and what it held."""

    location: str
    reason: str
    detail: str
    record: str = ""


@dataclass(frozen=True)
class Note:
    """A record that was imported after a documented repair (a year split from its text, a list's year)."""

    location: str
    message: str


@dataclass(frozen=True)
class ImportResult:
    """Entries (as dicts in the bulk-file format), rejects and notes of one import; ``records`` read in all."""

    entries: tuple[dict[str, Any], ...]
    rejects: tuple[Reject, ...]
    notes: tuple[Note, ...]
    records: int

    @property
    def imported_records(self) -> int:
        return self.records - len(self.rejects)

    def reason_counts(self) -> list[tuple[str, int]]:
        """Rejects by reason, most frequent first (then by name, so the order is stable)."""
        counts = Counter(r.reason for r in self.rejects)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


class RecordError(Exception):
    """Raised inside an importer for one record: becomes a :class:`Reject`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


# ---------------------------------------------------------------------------------------------
# Years and dates as people write them


@dataclass(frozen=True)
class Year:
    """A year read from text. ``year`` is astronomical (44 BC is -43); ``rest`` is text that followed it."""

    year: int
    approximate: bool = False
    uncertain: bool = False
    old_style: bool = False
    old_style_day: str | None = None
    rest: str = ""
    written: str = ""
    """The year as written, without the text that followed it: ``1425 (or 1426)``."""
    notes: tuple[str, ...] = ()


_QUALIFIER = r"(?P<qual>c\.|ca\.|circa|about|before|after|~)?\s*"
_NUMBER = r"(?P<ad1>AD\s*)?(?P<num>\d{1,4})(?P<era>\s*(?:BCE|BC|B\.C\.|AD|CE))?"
_ALT = r"(?P<alt>\s*(?:\((?:or|and)\s+\d{1,4}(?:\s*BCE?)?\)|or\s+\d{1,4}(?:\s*BCE?)?|/\d{1,4}))?"
_OS = r"(?P<os>\s*\((?:OS|O\.S\.)(?:\s+(?P<osday>[^)]*))?\))?"
_YEAR_RE = re.compile(
    rf"^{_QUALIFIER}{_NUMBER}{_ALT}{_OS}(?P<unc>\?)?(?P<dot>\.)?"
    r"(?:\s*(?P<sep>[–—−:-])\s*\*?(?P<rest>.*)|(?P<end>\s*))$",
    re.IGNORECASE | re.DOTALL,
)
_FOOTNOTE_RE = re.compile(r"\[(?:\d{1,3}|n\s?\d{1,3})\]")


def parse_year(text: str) -> Year:
    """Read a year as written in sources: 1942, 44 BC, 27 BCE, AD 70, 4 AD, c. 1450, 1425 (or 1426), 1642 (OS).

    Text after a dash or colon (``2018 – Michael Atiyah, ...``) is returned as ``rest``. Raises
    :class:`RecordError` (``not-a-year``) for decades (1990s), ranges and anything else.
    """
    raw = " ".join(_FOOTNOTE_RE.sub("", text).split())
    match = _YEAR_RE.match(raw)
    if match is None or (match["ad1"] and match["era"]):
        if re.match(r"^\d{1,4}0s\b", raw):
            raise RecordError("not-a-year", f"{raw!r} is a decade, not a year")
        raise RecordError("not-a-year", f"{raw[:60]!r} is not a year")
    rest = (match["rest"] or "").strip()
    if rest and (
        re.match(r"^\d{1,4}(?:\s*(?:BCE?|AD|CE))?\.?$", rest) or (match["sep"] == "-" and rest[0].isdigit())
    ):
        raise RecordError("not-a-year", f"{raw[:60]!r} is a range of years, not a year")
    number = int(match["num"])
    era = (match["era"] or "").strip().upper().replace(".", "")
    if number == 0:
        raise RecordError("not-a-year", f"{raw!r}: there is no year 0 (1 BC is followed by AD 1)")
    year = 1 - number if era in ("BC", "BCE") else number
    notes = []
    qual = (match["qual"] or "").lower()
    if qual and qual != "~":
        notes.append(f"year written {match.group(0)[: match.end('num')].strip()!r}: imported as approximate")
    if match["alt"]:
        notes.append(
            f"two possible years {match.group(0)[: match.end('alt')].strip()!r}: the first is kept, marked uncertain"
        )
    if match["dot"]:
        notes.append("a full stop after the year was dropped")
    return Year(
        year=year,
        approximate=bool(qual),
        uncertain=bool(match["alt"] or match["unc"]),
        old_style=bool(match["os"]),
        old_style_day=(match["osday"] or "").strip() or None,
        rest=rest,
        written=raw[: match.start("sep")].strip() if match["sep"] else raw,
        notes=tuple(notes),
    )


def year_token(year: int) -> str:
    """A year for ids and file names: 1942, 44bc."""
    return f"{1 - year}bc" if year <= 0 else str(year)


def date_text(
    year: int,
    month: int | None = None,
    day: int | None = None,
    *,
    approximate: bool = False,
    uncertain: bool = False,
) -> str:
    """The ``date`` field of an entry: ``1942-07-12``, ``-0043-03-15`` (44 BC), ``~1450``, ``1425?``."""
    text = f"{'-' if year < 0 else ''}{abs(year):04d}"
    if month is not None:
        text += f"-{month:02d}"
        if day is not None:
            text += f"-{day:02d}"
    return f"{'~' if approximate else ''}{text}{'?' if uncertain else ''}"


def check_day(year: int, month: int, day: int, calendar: Calendar) -> None:
    """Raise ``date-does-not-exist`` unless the day exists in ``calendar``."""
    if not 1 <= month <= 12:
        raise RecordError("date-does-not-exist", f"month {month} does not exist")
    last = days_in_month(year, month, calendar)
    if not 1 <= day <= last:
        name = "Julian" if calendar is Calendar.JULIAN else "Gregorian"
        raise RecordError(
            "date-does-not-exist",
            f"{day} {MONTHS[month - 1]} {format_year(year)} does not exist in the {name} calendar ({MONTHS[month - 1]} {format_year(year)} has {last} days)",
        )


def clean_title(text: str) -> str:
    """One line: runs of whitespace (line breaks, no-break spaces) become one space."""
    return " ".join(text.split())


_HTTP_URL_RE = re.compile(r"^https?://\S+$")


def is_http_url(value: str) -> bool:
    return _HTTP_URL_RE.match(value) is not None


# ---------------------------------------------------------------------------------------------
# Collecting


@dataclass
class Collector:
    """Gathers entries, rejects and notes; keeps ids unique and checks every entry as ``thisday check`` would."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    records: int = 0
    _ids: dict[str, tuple[str, str]] = field(default_factory=dict)

    def reject(self, location: str, reason: str, detail: str, record: str = "") -> None:
        # what a report or a terminal shows carries no control character (no terminal escapes)
        self.rejects.append(
            Reject(
                strip_controls(location)[0],
                reason,
                strip_controls(detail)[0],
                clean_title(strip_controls(record)[0])[:200],
            )
        )

    def note(self, location: str, message: str) -> None:
        self.notes.append(Note(strip_controls(location)[0], strip_controls(message)[0]))

    def add(self, location: str, entry: dict[str, Any], *, explicit_id: bool = False) -> bool:
        """Add one entry (its ``id`` set). Returns False (and records a reject) if it cannot be imported."""
        content = repr(
            (entry["title"], entry.get("date"), entry["kind"], entry.get("rule"), entry.get("body"))
        )
        first = self._ids.get(entry["id"])
        if first is not None:
            if first[1] == content:
                self.reject(location, "duplicate", f"same record as {first[0]}", entry.get("title", ""))
                return False
            if explicit_id:
                self.reject(
                    location, "duplicate-id", f"id {entry['id']!r} is also used at {first[0]}", entry["id"]
                )
                return False
            entry["id"] = f"{entry['id']}-{hashlib.sha1(content.encode('utf-8')).hexdigest()[:8]}"
            if entry["id"] in self._ids:
                self.reject(location, "duplicate", f"same record as {self._ids[entry['id']][0]}")
                return False
        _, problems = validate(_Raw(dict(entry), {}, 1), location)
        if problems:
            self.reject(location, "invalid", "; ".join(p.message for p in problems), entry.get("title", ""))
            return False
        self._ids[entry["id"]] = (location, content)
        self.entries.append(entry)
        return True

    def result(self) -> ImportResult:
        return ImportResult(tuple(self.entries), tuple(self.rejects), tuple(self.notes), self.records)


def base_entry(
    *,
    entry_id: str,
    title: str,
    date: str | None,
    kind: str,
    tags: tuple[str, ...] = (),
    sources: list[dict[str, str]] | None = None,
    body: str = "",
    calendar: Calendar = Calendar.GREGORIAN,
    observe_julian: bool = False,
    rule: str | None = None,
) -> dict[str, Any]:
    """An entry dict with only the fields that differ from their defaults (smaller, faster files)."""
    entry: dict[str, Any] = {"id": entry_id, "title": title, "kind": kind}
    if date is not None:
        entry["date"] = date
    if calendar is Calendar.JULIAN:
        entry["calendar"] = "julian"
        if observe_julian:
            entry["observe"] = "julian"
    if rule is not None:
        entry["rule"] = rule
    tag_slugs = list(dict.fromkeys(tag_slug(tag) for tag in tags if tag.strip()))
    if tag_slugs:
        entry["tags"] = tag_slugs
    if sources:
        entry["sources"] = sources
    if body:
        entry["body"] = body
    return entry


def slug_id(*parts: str, title: str) -> str:
    """An explicit id from fixed parts and the title's slug: ``wp-07-12-birth-1942-some-title``."""
    return "-".join([*parts, slugify(title)])
