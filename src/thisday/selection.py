"""What goes out on a day: which entries, in which order, how many.

Drafts (``status: draft``) and embargoed entries (``publish_after`` on or after the day) are never selected for
publishing; an editor's preview (``drafts=True``) adds them, marked with why they are held.

The order is documented for editors: the featured (lead) story first, then round anniversaries
(``selection.round``), then by year, oldest first, then by title. With a per-day limit, featured
entries and round anniversaries are kept first and the remaining places rotate from year to year through a
fixed cycle of the day's other entries (ordered by a hash of their id): each year takes the next places of the
cycle, so the entries shown are those shown least recently, a crowded day cycles through all its entries across
the years, and the same year always gets the same mix.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
from collections.abc import Collection

from .config import Settings
from .dates import (
    MONTHS,
    RoundRule,
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


def dispute_text(entry: Entry) -> str | None:
    """'Date disputed: sources give 1942 and 1943.' for an entry marked ``disputed``."""
    if not entry.disputed:
        return None
    note = entry.dispute_note.rstrip(".")
    return f"Date disputed: {note}." if note else "Date disputed."


def occurrence(
    entry: Entry, on: datetime.date, policy: Feb29Policy, round_rule: RoundRule = "wikipedia"
) -> Occurrence | None:
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
    dispute = dispute_text(entry)
    if dispute is not None:
        note = f"{dispute} {note}" if note else dispute
    return Occurrence(
        entry=entry,
        on_month=on.month,
        on_day=on.day,
        years_ago=years,
        round_anniversary=is_round_anniversary(years, round_rule),
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


def _rotation_key(entry_id: str) -> bytes:
    return hashlib.sha256(entry_id.encode()).digest()


def rotate(rest: list[Occurrence], places: int, year: int) -> list[Occurrence]:
    """``places`` of ``rest`` for ``year``: the next window of a fixed cycle (entries ordered by a hash of
    their id), year after year, so the entries chosen are those the previous years showed least recently."""
    if places <= 0 or not rest:
        return []
    cycle = sorted(rest, key=lambda o: _rotation_key(o.entry.id))
    start = (year * places) % len(cycle)
    return [cycle[(start + i) % len(cycle)] for i in range(min(places, len(cycle)))]


def select(
    index: CalendarIndex,
    on: datetime.date,
    *,
    policy: Feb29Policy = Feb29Policy.FEB28,
    kinds: Collection[Kind] | None = None,
    tags: Collection[str] | None = None,
    limit: int | None = None,
    round_rule: RoundRule = "wikipedia",
    drafts: bool = False,
) -> DaySelection:
    """The day's selection: every entry whose anniversary falls on ``on``, filtered, ordered and limited.

    ``kinds`` and ``tags`` keep entries of any of the given kinds / carrying any of the given tags.
    Drafts and embargoed entries are left out; with ``drafts`` (an editor's preview) they are added, outside
    the limit, each marked with why it is held (:attr:`Occurrence.held`).
    """
    tag_set = {tag_slug(t) for t in tags} if tags else None  # as entries' tags are written
    found: list[Occurrence] = []
    held: list[Occurrence] = []
    for entry in index.on(on, policy):
        if kinds and entry.kind not in kinds:
            continue
        if tag_set is not None and not tag_set.intersection(entry.tags):
            continue
        why = entry.held(on)
        if why is not None and not drafts:
            continue
        occ = occurrence(entry, on, policy, round_rule)
        if occ is None:
            continue
        if why is not None:
            held.append(dataclasses.replace(occ, held=why))
        else:
            found.append(occ)
    left_out = 0
    if limit is not None and len(found) > limit:
        priority = sorted((o for o in found if o.entry.featured or o.round_anniversary), key=_order_key)[:limit]
        rest = [o for o in found if not (o.entry.featured or o.round_anniversary)]
        kept = priority + rotate(rest, limit - len(priority), on.year)
        left_out = len(found) - len(kept)
        found = kept
    found.extend(held)
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
    drafts: bool = False,
) -> DaySelection:
    """The selection a configured site publishes on ``on``: the one call preview, build, digest and daemon share.

    ``drafts`` is for an editor's preview only: held entries are added, marked (see :func:`select`).
    """
    return select(
        index,
        on,
        policy=settings.selection.feb29,
        kinds=kinds,
        tags=tags,
        limit=settings.selection.limit or None,
        round_rule=settings.selection.round,
        drafts=drafts,
    )
