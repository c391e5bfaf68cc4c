"""The calendar index: which entries fall on which day of the year."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from .dates import Rule, anniversary_key, place_in_year
from .model import Entry, Feb29Policy, Precision


@dataclass(frozen=True)
class CalendarIndex:
    """Entries by anniversary day (month, day); moveable observances; month-precise entries by month.

    Year-precise entries are kept only in ``undated``: they never land on a day or a month.
    """

    by_day: dict[tuple[int, int], tuple[Entry, ...]] = field(default_factory=dict)
    moveable: tuple[Entry, ...] = ()
    by_month: dict[int, tuple[Entry, ...]] = field(default_factory=dict)
    undated: tuple[Entry, ...] = ()

    @classmethod
    def build(cls, entries: Iterable[Entry]) -> CalendarIndex:
        by_day: defaultdict[tuple[int, int], list[Entry]] = defaultdict(list)
        by_month: defaultdict[int, list[Entry]] = defaultdict(list)
        moveable: list[Entry] = []
        undated: list[Entry] = []
        for entry in entries:
            key = anniversary_key(entry)
            if key is not None:
                by_day[key].append(entry)
            elif entry.rule is not None:
                moveable.append(entry)
            elif entry.date is not None and entry.date.precision is Precision.MONTH:
                assert entry.date.month is not None
                by_month[entry.date.month].append(entry)
            else:
                undated.append(entry)
        return cls(
            by_day={k: tuple(v) for k, v in by_day.items()},
            moveable=tuple(moveable),
            by_month={k: tuple(v) for k, v in by_month.items()},
            undated=tuple(undated),
        )

    def published(self, on: datetime.date) -> CalendarIndex:
        """The index without the entries that may not be published on ``on`` (drafts, embargoes not over): for
        the outputs that list every day at once (the evergreen day API, the calendars). Itself when none is held."""

        def shown(entries: Iterable[Entry]) -> tuple[Entry, ...]:
            return tuple(e for e in entries if e.held(on) is None)

        everything = [*(e for group in self.by_day.values() for e in group), *self.moveable]
        if all(e.held(on) is None for e in everything):
            return self
        return CalendarIndex(
            by_day={key: kept for key, group in self.by_day.items() if (kept := shown(group))},
            moveable=shown(self.moveable),
            by_month={key: kept for key, group in self.by_month.items() if (kept := shown(group))},
            undated=shown(self.undated),
        )

    def on(self, day: datetime.date, policy: Feb29Policy) -> list[Entry]:
        """Entries whose anniversary lands on ``day``: its own, leap-day ones moved here, and moveable feasts."""
        found = list(self.by_day.get((day.month, day.day), ()))
        if (
            (2, 29) in self.by_day
            and place_in_year(2, 29, day.year, policy) == day
            and (day.month, day.day) != (2, 29)
        ):
            found.extend(self.by_day[(2, 29)])
        for entry in self.moveable:
            assert entry.rule is not None
            if entry.date is not None and entry.date.year > day.year:
                continue
            if day in Rule(entry.rule).dates_in(day.year):
                found.append(entry)
        return found

    def in_month(self, month: int) -> tuple[Entry, ...]:
        """Month-precise entries of a month (never placed on any day)."""
        return self.by_month.get(month, ())

    def day_counts(self) -> dict[tuple[int, int], int]:
        """Fixed-day entries per (month, day), for coverage (moveable feasts move, so they are not counted)."""
        return {key: len(value) for key, value in self.by_day.items()}
