"""``thisday upcoming``: what the coming days hold, so an editor can plan ahead, and ``check --strict``'s bar.

The plan lists, for a window of days starting on a given day:

- the round anniversaries (centenaries first, then by day), drafts included and marked, so a museum sees its
  100th-anniversary pieces months ahead;
- the days with nothing to publish;
- drafts and embargoed entries whose day falls in the window (they will not go out unless someone acts);
- entries whose embargo ends in the window (the first day they may be published).

Pure: the index, settings and the first day in; a :class:`Plan` out. It uses the same selection as every output.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .config import Settings
from .dates import format_day
from .index import CalendarIndex
from .model import Entry, Location, Occurrence, Problem, Status
from .selection import day_selection


@dataclass(frozen=True)
class PlanItem:
    """One entry on one day of the plan."""

    day: datetime.date
    id: str
    title: str
    kind: str
    years_ago: int | None
    status: str
    held: str
    file: str

    @property
    def centenary(self) -> bool:
        return self.years_ago is not None and self.years_ago > 0 and self.years_ago % 100 == 0

    def json(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "years_ago": self.years_ago,
            "status": self.status,
            "held": self.held or None,
            "file": self.file,
        }


@dataclass(frozen=True)
class Plan:
    """The coming days: see the module's docstring."""

    start: datetime.date
    days: int
    rounds: tuple[PlanItem, ...]
    empty_days: tuple[datetime.date, ...]
    held: tuple[PlanItem, ...]
    embargoes: tuple[PlanItem, ...]
    """Entries whose embargo ends in the window; ``day`` is the first day they may be published."""

    @property
    def end(self) -> datetime.date:
        return self.start + datetime.timedelta(days=self.days - 1)


def _item(occ: Occurrence, day: datetime.date) -> PlanItem:
    entry = occ.entry
    return PlanItem(
        day=day,
        id=entry.id,
        title=entry.title,
        kind=entry.kind.value,
        years_ago=occ.years_ago,
        status=entry.status.value,
        held=occ.held or "",
        file=str(entry.location),
    )


def all_entries(index: CalendarIndex) -> Iterator[Entry]:
    """Every entry of the index, once: fixed days, moveable observances, month- and year-precise ones."""
    for group in index.by_day.values():
        yield from group
    yield from index.moveable
    for group in index.by_month.values():
        yield from group
    yield from index.undated


def plan(index: CalendarIndex, settings: Settings, start: datetime.date, days: int) -> Plan:
    """The plan for ``days`` days from ``start`` (inclusive)."""
    rounds: list[PlanItem] = []
    held: list[PlanItem] = []
    empty: list[datetime.date] = []
    days = max(1, min(days, (datetime.date.max - start).days + 1))  # the calendar ends on 31 December 9999
    window = [start + datetime.timedelta(days=n) for n in range(days)]
    for day in window:
        selection = day_selection(index, day, settings, drafts=True)
        if not any(o.held is None for o in selection.occurrences):
            empty.append(day)
        for occ in selection.occurrences:
            if occ.round_anniversary:
                rounds.append(_item(occ, day))
            if occ.held is not None:
                held.append(_item(occ, day))
    rounds.sort(key=lambda i: (0 if i.centenary else 1, i.day, -(i.years_ago or 0), i.title.lower(), i.id))
    embargoes = []
    for entry in all_entries(index):
        if entry.publish_after is None or entry.publish_after == datetime.date.max:
            continue
        free = entry.publish_after + datetime.timedelta(days=1)
        if start <= free <= window[-1]:
            embargoes.append(
                PlanItem(
                    day=free,
                    id=entry.id,
                    title=entry.title,
                    kind=entry.kind.value,
                    years_ago=None,
                    status=entry.status.value,
                    held="draft" if entry.status is Status.DRAFT else "",
                    file=str(entry.location),
                )
            )
    embargoes.sort(key=lambda i: (i.day, i.title.lower(), i.id))
    return Plan(start, days, tuple(rounds), tuple(empty), tuple(held), tuple(embargoes))


def plan_json(result: Plan, round_only: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "from": result.start.isoformat(),
        "to": result.end.isoformat(),
        "days": result.days,
        "round_anniversaries": [dict(i.json(), centenary=i.centenary) for i in result.rounds],
    }
    if not round_only:
        data["empty_days"] = [d.isoformat() for d in result.empty_days]
        data["held"] = [i.json() for i in result.held]
        data["embargoes_ending"] = [i.json() for i in result.embargoes]
    return data


def _line(item: PlanItem, *, years: bool = True) -> str:
    parts = [item.day.isoformat()]
    if years:
        parts.append(f"{item.years_ago:>4} years" if item.years_ago is not None else " " * 10)
    title = item.title + (f" [{item.held}]" if item.held else "")
    return "  " + "  ".join([*parts, title, f"({item.file})"])


def plan_text(result: Plan, round_only: bool = False) -> str:
    """The plan for people: one section per question, each line ``day  N years  title [held]  (path:line)``."""
    lines = [
        f"Upcoming: {format_day(result.start)} to {format_day(result.end)} ({result.days} days)",
        "",
        "Round anniversaries (centenaries first):",
    ]
    lines.extend(_line(i) for i in result.rounds)
    if not result.rounds:
        lines.append("  none")
    if not round_only:
        lines += ["", f"Days with nothing to publish ({len(result.empty_days)}):"]
        shown = [d.isoformat() for d in result.empty_days]
        lines.extend("  " + ", ".join(shown[n : n + 6]) for n in range(0, len(shown), 6))
        if not shown:
            lines.append("  none")
        lines += ["", "Drafts and embargoed entries due (not published unless you act):"]
        lines.extend(_line(i) for i in result.held)
        if not result.held:
            lines.append("  none")
        lines += ["", "Embargoes ending (first day each may be published):"]
        lines.extend(_line(i, years=False) for i in result.embargoes)
        if not result.embargoes:
            lines.append("  none")
    return "\n".join(lines) + "\n"


def strict_problems(index: CalendarIndex) -> list[Problem]:
    """``thisday check --strict``: every entry without sources, and every entry not marked verified."""
    problems = []
    for entry in sorted(all_entries(index), key=lambda e: (e.location.path, e.location.line)):
        where = Location(entry.location.path, entry.location.line)
        if not entry.sources:
            problems.append(
                Problem(where, "no sources (--strict): add sources: with a title and url for each")
            )
        if entry.status is not Status.VERIFIED:
            problems.append(
                Problem(
                    where,
                    f"status is {entry.status.value}, not verified (--strict): check the facts, then set "
                    "status: verified (and verified_by: your name)",
                )
            )
    return problems
