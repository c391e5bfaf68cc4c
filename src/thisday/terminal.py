"""What the CLI shows in a terminal: the preview as text or JSON, and the coverage grid. Pure functions."""

from __future__ import annotations

import calendar as _calendar
import datetime
import textwrap
from typing import Any

from . import i18n
from .dates import MONTHS, event_year
from .markup import plain_text
from .model import DaySelection, Feb29Policy, Occurrence


def occurrence_json(
    occ: Occurrence, language: str | None = None, on: datetime.date | None = None
) -> dict[str, Any]:
    """An occurrence for scripts; with ``language`` (and the day ``on``), its title, body and date display in
    that language."""
    entry = occ.entry
    date = entry.date
    translated = entry.translation(language) if language else None
    lang = i18n.language(language) if language else None
    return {
        "id": entry.id,
        "title": translated.title if translated else entry.title,
        "kind": entry.kind.value,
        "year": event_year(entry),
        "years_ago": occ.years_ago,
        "date_display": (
            lang.occurrence_display(entry, on) if lang and on and (date or entry.rule) else occ.date_display
        ),
        "round_anniversary": occ.round_anniversary,
        "tags": list(entry.tags),
        "featured": entry.featured,
        "sources": [{"title": s.title, "url": s.url} for s in entry.sources],
        "calendar": date.calendar.value if date else None,
        "precision": date.precision.value if date else None,
        "approximate": date.approximate if date else False,
        "uncertain": date.uncertain if date else False,
        "observe": "julian" if entry.observe_julian else "gregorian",
        "rule": entry.rule,
        "note": occ.note,
        "body": translated.body if translated else entry.body,
        "file": str(entry.location),
    }


def selection_json(selection: DaySelection, language: str | None = None) -> dict[str, Any]:
    """The day for scripts; with ``language`` (``preview --lang``), texts and dates in that language."""
    return {
        "date": selection.on.isoformat(),
        "entries": [occurrence_json(o, language, selection.on) for o in selection.occurrences],
        "left_out": selection.left_out,
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


def selection_text(
    selection: DaySelection, width: int = 88, *, language: str = i18n.DEFAULT_LANGUAGE, translate: bool = False
) -> str:
    """A readable preview: the day, then each entry with its date as displayed, years ago, tags, body and sources.

    In ``language``; with ``translate``, each entry's title and body are its translation into ``language`` when it
    has one (``thisday preview --lang``)."""
    lang = i18n.language(language)
    on = selection.on
    count = len(selection.occurrences)
    head = lang.gettext("{day}: {entries}").format(
        day=lang.full_day(on),
        entries=lang.ngettext("{n} entry", "{n} entries", count).format(n=lang.number(count)),
    )
    if selection.left_out:
        head += lang.gettext(" ({n} more left out by the daily limit)").format(n=lang.number(selection.left_out))
    lines = [head, "=" * len(head), ""]
    if not count:
        lines.append(lang.gettext("Nothing on this day yet. Run `thisday coverage` to see which days need entries."))
    for occ in selection.occurrences:
        entry = occ.entry
        translated = entry.translation(language) if translate else None
        title, body = (translated.title, translated.body) if translated else (entry.title, entry.body)
        marker = "★" if entry.featured else "•"
        lines.append(f"{marker} {title}")
        display = lang.occurrence_display(entry, on) if entry.date or entry.rule else occ.date_display
        facts = [lang.kind(entry.kind), display]
        if occ.years_ago is not None:
            ago = lang.years_ago(occ.years_ago)
            facts.append(lang.gettext("{ago} (round anniversary)").format(ago=ago) if occ.round_anniversary else ago)
        lines.append("  " + " · ".join(facts))
        if occ.note:
            note = occ.note
            if lang.code != i18n.DEFAULT_LANGUAGE and (on.month, on.day) in ((2, 28), (3, 1)):
                policy = Feb29Policy.FEB28 if on.month == 2 else Feb29Policy.MAR1
                note = lang.leap_day_note(policy) if note == i18n.language().leap_day_note(policy) else note
            lines.append("  " + lang.gettext("Note: {note}").format(note=note))
        if entry.tags:
            lines.append("  " + lang.gettext("Tags: {tags}").format(tags=", ".join(entry.tags)))
        lines.append("")
        lines.extend(_wrap(plain_text(body), "  ", width))
        for source in entry.sources:
            lines.append("  " + lang.gettext("Source: {source}").format(source=source.title) + (f" <{source.url}>" if source.url else ""))
        lines.append("  " + lang.gettext("File: {file}").format(file=entry.location))
        if translated is not None:
            lines.append("  " + lang.gettext("Translation: {file}").format(file=translated.location))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


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
