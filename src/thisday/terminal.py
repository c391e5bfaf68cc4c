"""What the CLI shows in a terminal: the preview as text or JSON, and the coverage grid. Pure functions.

The preview is a renderer like the others: a :class:`~thisday.views.DayView` in, text out. Nothing that could
drive a terminal (escape sequences, other control characters) is ever printed.
"""

from __future__ import annotations

import calendar as _calendar
import textwrap
from typing import Any

from .dates import MONTHS, event_year
from .markup import without_controls as printable
from .views import DayView, EntryView


def entry_json(view: EntryView) -> dict[str, Any]:
    entry = view.entry
    date = entry.date
    return {
        "id": entry.id,
        "title": entry.title,
        "kind": entry.kind.value,
        "year": event_year(entry),
        "years_ago": view.years_ago,
        "date_display": view.date_display,
        "round_anniversary": view.round_anniversary,
        "tags": list(entry.tags),
        "featured": entry.featured,
        "sources": [{"title": s.title, "url": s.url} for s in entry.sources],
        "calendar": date.calendar.value if date else None,
        "precision": date.precision.value if date else None,
        "approximate": date.approximate if date else False,
        "uncertain": date.uncertain if date else False,
        "observe": "julian" if entry.observe_julian else "gregorian",
        "rule": entry.rule,
        "note": view.note or None,
        "status": entry.status.value,
        "held": view.occurrence.held,
        "disputed": entry.disputed,
        "publish_after": entry.publish_after.isoformat() if entry.publish_after else None,
        "body": entry.body,
        "file": view.file,
    }


def day_json(day: DayView) -> dict[str, Any]:
    return {
        "date": day.iso,
        "entries": [entry_json(e) for e in day.entries],
        "left_out": day.left_out,
    }


def _wrap(text: str, indent: str, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n\n"):
        items = paragraph.split("\n") if paragraph.startswith("- ") else [paragraph]
        for item in items:
            joined = " ".join(item.split())
            if joined:
                lines.extend(
                    textwrap.wrap(joined, width=width, initial_indent=indent, subsequent_indent=indent)
                )
        if paragraph.strip():
            lines.append("")
    return lines


def day_text(day: DayView, width: int = 88) -> str:
    """A readable preview: the day, then each entry with its date as displayed, years ago, tags, body and sources."""
    count = day.count
    head = f"{day.weekday} {day.heading}: {count} {'entry' if count == 1 else 'entries'}"
    if day.left_out:
        head += f" ({day.left_out} more left out by the daily limit)"
    lines = [head, "=" * len(head), ""]
    if not count:
        lines.append("Nothing on this day yet. Run `thisday coverage` to see which days need entries.")
    for view in day.entries:
        marker = "★" if view.featured else "•"
        held = view.occurrence.held
        lines.append(f"{marker} {f'[{held.upper()}, not published] ' if held else ''}{view.title}")
        facts = [view.kind, view.date_display]
        if view.years_ago is not None:
            ago = view.years_ago_text
            facts.append(f"{ago} (round anniversary)" if view.round_anniversary else ago)
        lines.append("  " + " · ".join(facts))
        if view.note:
            lines.append(f"  Note: {view.note}")
        if view.tags:
            lines.append("  Tags: " + ", ".join(view.tags))
        lines.append("")
        lines.extend(_wrap(view.body_text, "  ", width))
        for source in view.sources:
            lines.append(f"  Source: {source.title}" + (f" <{source.url}>" if source.url else ""))
        lines.append(f"  File: {view.file}")
        lines.append("")
    return printable("\n".join(lines).rstrip() + "\n")


def coverage_grid(counts: dict[tuple[int, int], int], month_entries: dict[int, int] | None = None) -> str:
    """A 12 x 31 grid: the number of entries on each day ('.' for none, '+' for 10 or more)."""
    header = "      " + "".join(f"{d:>3}" for d in range(1, 32))
    lines = [header]
    empty: list[str] = []
    for month in range(1, 13):
        cells = []
        for day in range(1, 32):
            if day > (29 if month == 2 else _calendar.monthrange(2001, month)[1]):
                cells.append("   ")
                continue
            n = counts.get((month, day), 0)
            if n == 0:
                empty.append(f"{MONTHS[month - 1][:3]} {day}")
            cells.append(f"{'.' if n == 0 else ('+' if n >= 10 else n):>3}")
        extra = (
            f"  (+{month_entries[month]} month-only)" if month_entries and month_entries.get(month) else ""
        )
        lines.append(f"{MONTHS[month - 1][:3]:<6}" + "".join(cells) + extra)
    covered = 366 - len(empty)
    lines.append("")
    lines.append(f"{covered} of 366 days have entries; '.' is a day with none, '+' a day with 10 or more.")
    if empty:
        shown = ", ".join(empty[:40]) + (f", ... ({len(empty) - 40} more)" if len(empty) > 40 else "")
        lines.append(f"Days with no entry: {shown}")
    return "\n".join(lines) + "\n"
