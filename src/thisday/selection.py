"""What goes out on a day: which entries, in which order, how many.

The order is documented for editors: the featured (lead) story first, then round anniversaries
(10, 25, 50, 75, 100, ... years), then by year, oldest first, then by title. With a per-day limit, featured
entries and round anniversaries are kept first and the remaining places rotate from year to year: the
rest are ranked by a hash of (year, entry id), so a crowded day shows a different mix each year, the same
mix every time for the same year.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Collection

from .config import Settings
from .dates import (
    MONTHS,
    anniversary_key,
    event_year,
    format_date,
    format_day_month,
    format_year,
    is_round_anniversary,
    years_ago,
)
from .index import CalendarIndex
from .markup import tag_slug
from .model import DaySelection, Entry, Feb29Policy, Kind, Occurrence


def occurrence(entry: Entry, on: datetime.date, policy: Feb29Policy) -> Occurrence | None:
    """``entry`` as it appears on ``on``, or None when its year is still in the future of ``on``."""
    since = event_year(entry)
    years = years_ago(since, on.year) if since is not None else None
    if years is not None and years < 0:
        return None
    note = None
    if entry.rule is not None:
        display = f"{format_day_month(on.month, on.day)} {on.year}"
        if entry.date is not None:
            display += f" (observed since {format_year(entry.date.year)})"
    else:
        assert entry.date is not None
        display = format_date(entry.date, entry.observe_julian)
        if (on.month, on.day) != (2, 29) and _is_leap_day(entry):
            moved = "28 February" if policy is Feb29Policy.FEB28 else "1 March"
            note = f"A 29 February anniversary: in common years it is marked on {moved}."
    return Occurrence(
        entry=entry,
        on_month=on.month,
        on_day=on.day,
        years_ago=years,
        round_anniversary=is_round_anniversary(years),
        date_display=display,
        note=note,
    )


def _is_leap_day(entry: Entry) -> bool:
    return anniversary_key(entry) == (2, 29)


def _order_key(occ: Occurrence) -> tuple[int, int, int, str, str]:
    year = event_year(occ.entry)
    return (
        0 if occ.entry.featured else 1,
        0 if occ.round_anniversary else 1,
        year if year is not None else 10**6,
        occ.entry.title.lower(),
        occ.entry.id,
    )


def _rotation_key(year: int, entry_id: str) -> bytes:
    return hashlib.sha256(f"{year}:{entry_id}".encode()).digest()


def select(
    index: CalendarIndex,
    on: datetime.date,
    *,
    policy: Feb29Policy = Feb29Policy.FEB28,
    kinds: Collection[Kind] | None = None,
    tags: Collection[str] | None = None,
    limit: int | None = None,
) -> DaySelection:
    """The day's selection: every entry whose anniversary falls on ``on``, filtered, ordered and limited.

    ``kinds`` and ``tags`` keep entries of any of the given kinds / carrying any of the given tags.
    """
    tag_set = {tag_slug(t) for t in tags} if tags else None  # as entries' tags are written
    found: list[Occurrence] = []
    for entry in index.on(on, policy):
        if kinds and entry.kind not in kinds:
            continue
        if tag_set is not None and not tag_set.intersection(entry.tags):
            continue
        occ = occurrence(entry, on, policy)
        if occ is not None:
            found.append(occ)
    left_out = 0
    if limit is not None and len(found) > limit:
        priority = sorted((o for o in found if o.entry.featured or o.round_anniversary), key=_order_key)
        rest = sorted(
            (o for o in found if not (o.entry.featured or o.round_anniversary)),
            key=lambda o: _rotation_key(on.year, o.entry.id),
        )
        kept = (priority + rest)[:limit]
        left_out = len(found) - len(kept)
        found = kept
    found.sort(key=_order_key)
    return DaySelection(on=on, occurrences=tuple(found), left_out=left_out)


def describe_day(on: datetime.date) -> str:
    """'12 July 2026'."""
    return f"{on.day} {MONTHS[on.month - 1]} {on.year}"


def day_selection(
    index: CalendarIndex,
    on: datetime.date,
    settings: Settings,
    *,
    kinds: Collection[Kind] | None = None,
    tags: Collection[str] | None = None,
) -> DaySelection:
    """The selection a configured site publishes on ``on``: the one call preview, build, digest and daemon share."""
    return select(
        index,
        on,
        policy=settings.selection.feb29,
        kinds=kinds,
        tags=tags,
        limit=settings.selection.limit or None,
    )
