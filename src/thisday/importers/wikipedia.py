"""Wikipedia's "on this day" lists as day files: ``MM-DD.json`` with ``Events``, ``Births`` and ``Deaths``.

Each file is ``{"date": "July 12", "url": ..., "data": {"Events": [...], "Births": [...], "Deaths": [...]}}``;
each item has ``year`` (text), ``text`` and ``links``. The data is scraped, so it is read as outside input:

- years: ``1942``, ``44 BC``/``27 BCE`` (BC years become astronomical: 44 BC is -43), ``AD 70``/``4 AD``,
  ``before 160``/``c. 1450`` (approximate), ``1425 (or 1426)``/``543 or 547``/``1093/1094`` (the first year,
  uncertain), ``1642 (OS)`` (an Old Style date, kept on its day), ``1882 (O.S. 27 March)`` (the Old Style day is
  kept when it converts to the listed day), ``2013.``; a decade or range is rejected;
- a year and text run together in the year field (``2018 –Michael Atiyah, ...``) are split at the dash;
- nested lists (``1967 – crew of Apollo 1`` with one line per astronaut) come as one record holding every
  line followed by one record per line with no year: each line is imported once, with the list's year;
- footnote markers (``[12]``, ``[n 1]``) are removed; maintenance markers (``[citation needed]``,
  ``[year disputed]``) are removed from the title and said in the body (``[year disputed]`` also marks the year
  uncertain);
- dates before 15 October 1582 are Julian (Wikipedia's convention): ``calendar: julian`` with
  ``observe: julian``, so the entry stays on the day it is listed on.

Every entry's sources credit the day page under CC BY-SA 3.0, then the item's first article link.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..dates import MONTHS, julian_to_gregorian
from ..errors import ImportSourceError
from ..model import Calendar
from .common import (
    Collector,
    ImportResult,
    RecordError,
    Year,
    base_entry,
    check_day,
    clean_title,
    date_text,
    is_http_url,
    parse_year,
    slug_id,
    year_token,
)

SECTIONS = {"Events": "event", "Births": "birth", "Deaths": "death"}
LICENCE = "CC BY-SA 3.0"
_DAY_FILE_RE = re.compile(r"^(\d{2})-(\d{2})\.json$")
_FOOTNOTE_RE = re.compile(r"\s*\[(?:\d{1,3}|n\s?\d{1,3})\]")
_MAINTENANCE_RE = re.compile(
    r"\s*\[(citation needed|better source needed|update|self-published source\?|circular reference|"
    r"year disputed|clarification needed|dubious|failed verification|verification needed|when\?|who\?|"
    r"which\?|according to whom\?|original research\?|unreliable source\?|dead link|page needed|"
    r"full citation needed|not in citation given|specify)\]",
    re.IGNORECASE,
)
_PLAIN_YEAR_RE = re.compile(r"^(?:AD\s*)?\d{1,4}(?:\s*(?:BCE?|AD|CE))?\.?$", re.IGNORECASE)
_YEARISH_RE = re.compile(r"^\s*(?:c\.|AD)?\s*\d")
_DATING_LINKS = {
    "Julian calendar",
    "Gregorian calendar",
    "Old Style and New Style dates",
    "Anno Domini",
    "Circa",
}
_YEAR_LINK_RE = re.compile(r"^(?:\d{1,4}(?: BCE?)?|AD \d{1,4}|\d{1,4}s)$")


@dataclass(frozen=True)
class _Day:
    name: str
    month: int
    day: int
    label: str
    url: str
    tags: tuple[str, ...]


@dataclass
class _List:
    """A record that holds a nested list: its year, and each line's key -> where it was imported (or None)."""

    year: Year
    location: str
    links: list[tuple[str, str]]
    lines: dict[str, tuple[str, str | None]] = field(default_factory=dict)


def day_files(source: Path) -> list[Path]:
    """The JSON files of a day-files folder (or of its ``days/`` subfolder), or the one file given."""
    if source.is_file():
        if _DAY_FILE_RE.match(source.name) is None:
            raise ImportSourceError(
                f"{source}: not a day file: day files are named MM-DD.json (07-12.json); give one, or their folder"
            )
        return [source]
    if (source / "days").is_dir():
        source = source / "days"
    if not source.is_dir():
        raise ImportSourceError(
            f"{source}: not found; give the folder of MM-DD.json day files (or one such file)"
        )
    files = sorted(p for p in source.iterdir() if p.suffix.lower() == ".json" and not p.name.startswith("."))
    if not files:
        raise ImportSourceError(
            f"{source}: no .json day files here; give the folder that holds 01-01.json ... 12-31.json"
        )
    return files


def import_day_files(
    source: Path, tags: tuple[str, ...] = (), progress: Callable[[int, int], None] | None = None
) -> ImportResult:
    """Read every day file of ``source``; ``progress(done, total)`` is called after each file."""
    files = day_files(source)
    collector = Collector()
    for done, path in enumerate(files, 1):
        read_day_file(path.name, path.read_bytes(), collector, tags)
        if progress is not None:
            progress(done, len(files))
    return collector.result()


def read_day_file(name: str, data: bytes, collector: Collector, tags: tuple[str, ...] = ()) -> None:
    """One day file into ``collector``: every item imported or rejected with its reason."""
    match = _DAY_FILE_RE.match(name)
    if match is None:
        collector.records += 1
        collector.reject(name, "bad-file", "not a day file: day files are named MM-DD.json (07-12.json)")
        return
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested too deep, a 4,300-digit number
        collector.records += 1
        collector.reject(name, "bad-file", f"not a readable JSON file: {str(exc)[:160]}")
        return
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        collector.records += 1
        collector.reject(
            name, "bad-file", 'not a day file: expected {"date": ..., "url": ..., "data": {"Events": [...]}}'
        )
        return
    month, day = int(match[1]), int(match[2])
    label = f"{MONTHS[month - 1]} {day}" if 1 <= month <= 12 else name
    file_problem: tuple[str, str] | None = None
    try:
        check_day(2000, month, day, Calendar.GREGORIAN)  # 2000 is a leap year: 02-29 is a day, 02-30 is not
    except RecordError as exc:
        file_problem = ("date-does-not-exist", f"{name}: no year has this day ({exc.detail.split(' (')[0]})")
    if file_problem is None and isinstance(doc.get("date"), str) and clean_title(doc["date"]) != label:
        file_problem = ("bad-file", f"{name} says it is the page of {doc['date']!r}, not of {label!r}")
    url = doc.get("url")
    if not isinstance(url, str) or not is_http_url(url):
        url = f"https://en.wikipedia.org/wiki/{label.replace(' ', '_')}"
    context = _Day(name, month, day, label, url, tags)
    for section, items in doc["data"].items():
        if not isinstance(items, list):
            collector.records += 1
            collector.reject(f"{name} {section}", "bad-record", "a section must be a list of items")
            continue
        kind = SECTIONS.get(section)
        if file_problem is not None or kind is None:
            reason, detail = file_problem or (
                "bad-record",
                f"unknown section {section!r}: the sections are {', '.join(SECTIONS)}",
            )
            for n, item in enumerate(items, 1):
                collector.records += 1
                record = (item.get("text") or item.get("year") or "") if isinstance(item, dict) else ""
                collector.reject(f"{name} {section} #{n}", reason, detail, str(record))
            continue
        _read_section(collector, context, section, kind, items)


def _read_section(collector: Collector, ctx: _Day, section: str, kind: str, items: list[Any]) -> None:
    nested: _List | None = None
    for n, item in enumerate(items, 1):
        collector.records += 1
        loc = f"{ctx.name} {section} #{n}"
        text = item.get("text") if isinstance(item, dict) else None
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("year"), str)
            or not isinstance(text or "", str)
        ):
            collector.reject(loc, "bad-record", "an item needs a year and a text (strings)", _shown(item))
            continue
        raw_links = item.get("links")
        ylines = item["year"].split("\n")
        tlines = (text or "").split("\n")
        try:
            year = parse_year(ylines[0])
        except RecordError as exc:
            key = _line_key(ylines[0])
            if nested is None or key not in nested.lines:
                looks_like_year = _YEARISH_RE.match(ylines[0]) is not None
                reason = exc.reason if looks_like_year else "no-year"
                detail = exc.detail
                if not ylines[0].strip():
                    detail = "the year is empty"
                elif not looks_like_year:
                    detail = "the year field holds text, not a year, and no list above gives one"
                collector.reject(loc, reason, detail, item["year"] + " " + (text or ""))
                continue
            lines = [line for line in [*ylines, *tlines] if line.strip()]
            for extra in lines[1:]:
                nested.lines.setdefault(_line_key(extra), (extra, None))
            first = nested.lines[key][1]
            if first is not None:
                collector.reject(loc, "duplicate", f"already imported from the list in {first}", ylines[0])
                continue
            nested.lines[key] = (ylines[0], loc)
            _add(
                collector,
                ctx,
                loc,
                kind,
                nested.year,
                lines[0],
                _first_link(raw_links),
                list_item=len(lines) > 1,
                notes=[
                    f"no year of its own: the year {nested.year.written} of the list in {nested.location}"
                ],
            )
            continue
        _flush(collector, ctx, kind, nested)
        nested = None
        if year.rest and (text or "").strip():
            collector.reject(
                loc, "bad-record", "text in both the year field and the text field", item["year"]
            )
            continue
        lines = [line for line in [year.rest, *ylines[1:], *tlines] if line.strip()]
        if not lines:
            collector.reject(loc, "no-text", f"year {year.written} with no text", item["year"])
            continue
        notes = ["year and text run together in the year field: split at the dash"] if year.rest else []
        if len(lines) > 1:
            nested = _List(
                year, loc, _links(raw_links), {_line_key(line): (line, None) for line in lines[1:]}
            )
            nested.lines[_line_key(lines[0])] = (lines[0], loc)
        _add(
            collector,
            ctx,
            loc,
            kind,
            year,
            lines[0],
            _first_link(raw_links),
            list_item=len(lines) > 1,
            notes=notes,
        )
    _flush(collector, ctx, kind, nested)


def _flush(collector: Collector, ctx: _Day, kind: str, nested: _List | None) -> None:
    """Import the lines of a nested list that had no record of their own, from the list's record."""
    if nested is None:
        return
    for key, (line, where) in nested.lines.items():
        if where is None:  # a line that is a record of its own only inside the list's record
            collector.records += 1
            nested.lines[key] = (line, nested.location)
            words = line.lower()
            links = [link for link in nested.links if link[0].lower() in words]
            _add(
                collector,
                ctx,
                nested.location,
                kind,
                nested.year,
                line,
                links[0] if links else None,
                list_item=False,
                notes=[f"a line of the list in {nested.location} with no record of its own"],
            )


def _shown(item: object) -> str:
    """The start of an item as the report shows it (an item nested too deep to show says so)."""
    try:
        return repr(item)[:200]
    except RecursionError:
        return "(nested too deep to show)"


def _line_key(line: str) -> str:
    return _clean_text(line)[0].rstrip(":").strip().lower()


def _clean_text(line: str) -> tuple[str, list[str]]:
    """The title of a line (footnotes and maintenance markers removed) and the maintenance markers found."""
    text = clean_title(line)
    flags = []
    if "[" in text:
        flags = [m.group(1).lower() for m in _MAINTENANCE_RE.finditer(text)]
        text = _MAINTENANCE_RE.sub("", _FOOTNOTE_RE.sub("", text))
    if text[:1] in ("-", "*", "•"):
        text = text[1:].strip()
    return text, flags


def _links(value: object, first: bool = False) -> list[tuple[str, str]]:
    """(title, url) of the item's links to articles (year pages and non-http links left out)."""
    links = []
    for link in value if isinstance(value, list) else []:
        if not isinstance(link, dict):
            continue
        title, url = link.get("title"), link.get("link")
        if not isinstance(title, str) or not isinstance(url, str) or title in _DATING_LINKS:
            continue
        if url.count("://") > 1:  # a scraped link with its prefix doubled: https://wikipedia.orghttps://...
            url = url[url.rfind("http") :]
        if is_http_url(url) and not _YEAR_LINK_RE.match(title):
            links.append((clean_title(title), url))
            if first:
                break
    return links


def _first_link(value: object) -> tuple[str, str] | None:
    links = _links(value, first=True)
    return links[0] if links else None


def _add(
    collector: Collector,
    ctx: _Day,
    loc: str,
    kind: str,
    year: Year,
    line: str,
    link: tuple[str, str] | None,
    *,
    list_item: bool,
    notes: list[str],
) -> None:
    title, flags = _clean_text(line)
    # the line that introduces a nested list: "crew of Apollo 1", "Victims of the Titanic disaster:"
    if list_item:
        title = title.rstrip(":").rstrip()
        title = title[:1].upper() + title[1:]
    if not title:
        collector.reject(loc, "no-text", "no text once footnote markers are removed", line)
        return
    body: list[str] = []
    if not _PLAIN_YEAR_RE.match(year.written):
        body.append(f"Year in the source: {year.written}.")
    if flags:
        body.append(f"Wikipedia marks this item: {', '.join(dict.fromkeys(flags))}.")
    month, day = ctx.month, ctx.day
    calendar, observe = Calendar.GREGORIAN, False
    if year.old_style_day is not None and (old := _day_month(year.old_style_day)) is not None:
        if julian_to_gregorian(year.year, *old) == (year.year, month, day):
            month, day, calendar = old[0], old[1], Calendar.JULIAN
    elif year.old_style or (year.year, month, day) < (1582, 10, 15):
        calendar, observe = Calendar.JULIAN, True
    try:
        check_day(year.year, month, day, calendar)
    except RecordError as exc:
        collector.reject(loc, exc.reason, exc.detail, line)
        return
    sources = [{"title": f"Wikipedia, '{ctx.label}' ({LICENCE})", "url": ctx.url}]
    if link is not None:
        sources.append({"title": f"{link[0]} (Wikipedia)", "url": link[1]})
    entry = base_entry(
        entry_id=slug_id(
            "wp", f"{ctx.month:02d}", f"{ctx.day:02d}", kind, year_token(year.year), title=title
        ),
        title=title,
        date=date_text(
            year.year,
            month,
            day,
            approximate=year.approximate,
            uncertain=year.uncertain or "year disputed" in flags,
        ),
        kind=kind,
        tags=ctx.tags,
        sources=sources,
        body="\n\n".join(body),
        calendar=calendar,
        observe_julian=observe,
    )
    if collector.add(loc, entry):
        for note in [*notes, *year.notes]:
            collector.note(loc, note)


def _day_month(text: str) -> tuple[int, int] | None:
    """'27 March' or 'March 27' -> (3, 27)."""
    match = re.fullmatch(r"(\d{1,2})\s+([A-Za-z]+)|([A-Za-z]+)\s+(\d{1,2})", text.strip())
    if match is None:
        return None
    name = (match[2] or match[3]).lower()
    number = int(match[1] or match[4])
    for i, month in enumerate(MONTHS, 1):
        if month.lower().startswith(name[:3]) and len(name) >= 3:
            return i, number
    return None
