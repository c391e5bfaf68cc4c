"""The values every stage passes around: plain frozen dataclasses, no behaviour that does I/O."""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass
from typing import Any


class Precision(enum.Enum):
    """How much of a historic date is known."""

    DAY = "day"
    MONTH = "month"
    YEAR = "year"


class Calendar(enum.Enum):
    """The calendar a date is written in."""

    GREGORIAN = "gregorian"
    JULIAN = "julian"


class Kind(enum.Enum):
    """What sort of entry this is."""

    EVENT = "event"
    BIRTH = "birth"
    DEATH = "death"
    OBSERVANCE = "observance"


class Status(enum.Enum):
    """Where an entry stands editorially: only ``ready`` and ``verified`` entries are ever published."""

    DRAFT = "draft"
    READY = "ready"
    VERIFIED = "verified"


class Feb29Policy(enum.Enum):
    """Where a 29 February anniversary goes in a common year."""

    FEB28 = "feb28"
    MAR1 = "mar1"
    SKIP = "skip"


@dataclass(frozen=True, order=True)
class HistoricDate:
    """A date as history knows it.

    ``year`` is an ISO 8601 astronomical year: 0 is 1 BC, -43 is 44 BC. ``month`` and ``day`` are
    ``None`` when unknown, which ``precision`` reflects. The fields are the date *as written*, in
    ``calendar``; conversion to the Gregorian calendar lives in :mod:`thisday.dates`.
    """

    year: int
    month: int | None = None
    day: int | None = None
    calendar: Calendar = Calendar.GREGORIAN
    approximate: bool = False
    uncertain: bool = False

    @property
    def precision(self) -> Precision:
        if self.day is not None:
            return Precision.DAY
        if self.month is not None:
            return Precision.MONTH
        return Precision.YEAR


@dataclass(frozen=True)
class Source:
    """Where an entry's facts come from. A seed article may have a title and no URL."""

    title: str
    url: str | None = None


@dataclass(frozen=True)
class Location:
    """Where in the entries tree an entry (or a problem) is: a path relative to the tree, and a 1-based line."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Entry:
    """One dated history entry, validated.

    ``date`` is ``None`` only for a moveable observance with a ``rule`` and no first year.
    ``observe_julian`` keeps an Old Style date's own day-month as its anniversary.
    """

    id: str
    title: str
    kind: Kind
    date: HistoricDate | None
    location: Location
    observe_julian: bool = False
    rule: str | None = None
    tags: tuple[str, ...] = ()
    featured: bool = False
    sources: tuple[Source, ...] = ()
    body: str = ""
    status: Status = Status.READY
    verified_by: str = ""
    verified_note: str = ""
    publish_after: datetime.date | None = None
    """Embargo: the entry is held back on every day up to and including this one."""
    disputed: bool = False
    dispute_note: str = ""

    def held(self, on: datetime.date) -> str | None:
        """Why the entry may not be published on ``on`` ('draft', 'embargoed until ...'), or None when it may."""
        if self.status is Status.DRAFT:
            return "draft"
        if self.publish_after is not None and on <= self.publish_after:
            return f"embargoed until {self.publish_after.isoformat()}"
        return None


@dataclass(frozen=True)
class RawEntry:
    """One entry's fields as found in a file, before validation, with the line of each field.

    Shared by the readers (YAML, Markdown, JSON) and the validator, so neither imports the other.
    """

    fields: dict[str, Any]
    lines: dict[str, int]
    line: int
    body_line: int | None = None
    """The line where a Markdown entry's body starts."""
    span: tuple[int, int] | None = None
    """Character offsets of the item in its file (JSON bulk files), so an index can re-read just this item."""


@dataclass(frozen=True)
class Problem:
    """Something wrong in an entry file, said so that an editor can fix it."""

    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass(frozen=True)
class Occurrence:
    """An entry as it falls on one particular day, with everything that depends on that day."""

    entry: Entry
    on_month: int
    on_day: int
    years_ago: int | None
    round_anniversary: bool
    date_display: str
    note: str | None = None
    """Why the entry is on this day when that is not obvious (a leap-day anniversary in a common year), and a
    disputed date's dispute: every output shows the note beside the date."""
    held: str | None = None
    """Set only in an editor's preview (``--drafts``): why this entry is not published ('draft', 'embargoed ...')."""


@dataclass(frozen=True)
class DaySelection:
    """What goes out on one day: the occurrences in publishing order, and how many were left out by the limit."""

    on: datetime.date
    occurrences: tuple[Occurrence, ...] = ()
    left_out: int = 0

    @property
    def lead(self) -> Occurrence | None:
        """The day's lead story: the first occurrence when it is featured."""
        if self.occurrences and self.occurrences[0].entry.featured:
            return self.occurrences[0]
        return None
