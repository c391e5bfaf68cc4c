"""The static day API: JSON files a program can fetch instead of scraping the pages.

- ``api/onthisday/MM-DD.json`` for all 366 days of the year: evergreen, no year. Every entry whose anniversary
  ever falls on that day (a 29 February one also on the day the ``feb29`` policy moves it to, with a note), and
  the moveable observances that fall on it in the years ``site.calendar_years`` covers, each with its rule and
  those dates. No daily limit.
- ``api/days/YYYY-MM-DD.json`` for each published day: that year's selection, as the day's page shows it
  (with ``years_ago``, the daily limit applied and ``left_out`` saying how many it left out).

The layout follows Wikimedia's feed API (``selected``, ``events``, ``births``, ``deaths``, ``holidays``; each item
with ``text``, ``year`` and ``pages``) and adds what only thisday knows: the date's precision and calendar, the
Old Style date, approximate/uncertain flags, rules. ``year`` counts as people do (44 BC is -44; there is no year
0); ``date.value`` is the date as written in the entry (ISO 8601 astronomical years). The JSON Schema is
``thisday/schemas/day-api.schema.json`` (:func:`schema`). Pure: index and views in, bytes out.
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from importlib import resources
from typing import Any

from .config import Settings
from .dates import MONTHS, Rule, event_year, format_date, format_day_month, format_year, gregorian_ymd
from .feeds import xml_text
from .index import CalendarIndex
from .jsonfeed import json_bytes
from .model import Calendar, Entry, Feb29Policy, Kind, Precision
from .views import DayView, EntryView

API_VERSION = 1
SECTIONS = {Kind.EVENT: "events", Kind.BIRTH: "births", Kind.DEATH: "deaths", Kind.OBSERVANCE: "holidays"}
LEAP_YEAR = 2000
"""A leap year whose days are the 366 days of the evergreen files."""


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of every file under ``api/``, as shipped in the package."""
    text = resources.files("thisday").joinpath("schemas/day-api.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def evergreen_path(month: int, day: int) -> str:
    return f"api/onthisday/{month:02d}-{day:02d}.json"


def day_api_path(day: datetime.date) -> str:
    return f"api/days/{day.isoformat()}.json"


def historic_year(astronomical: int) -> int:
    """The year as people count it: 1942 is 1942, astronomical 0 is 1 BC (-1), -43 is 44 BC (-44)."""
    return astronomical if astronomical > 0 else astronomical - 1


def _written(year: int, month: int | None, day: int | None) -> str:
    text = f"-{-year:04d}" if year < 0 else f"{year:04d}"
    if month is not None:
        text += f"-{month:02d}"
        if day is not None:
            text += f"-{day:02d}"
    return text


def _date(entry: Entry) -> dict[str, Any] | None:
    date = entry.date
    if date is None:
        return None
    old_style = gregorian = None
    if date.calendar is Calendar.JULIAN and date.precision is Precision.DAY:
        assert date.month is not None and date.day is not None
        old_style = f"{format_day_month(date.month, date.day)} {format_year(date.year)}"
        gregorian = _written(*gregorian_ymd(date))
    return {
        "value": _written(date.year, date.month, date.day),
        "precision": date.precision.value,
        "calendar": date.calendar.value,
        "display": xml_text(format_date(date, entry.observe_julian)),
        "old_style": old_style,
        "gregorian": gregorian,
        "observe": "julian" if entry.observe_julian else "gregorian",
        "approximate": date.approximate,
        "uncertain": date.uncertain,
    }


def _item(entry: Entry) -> dict[str, Any]:
    """What every file says about an entry, whatever the day; every string already fit for JSON (:func:`xml_text`)."""
    year = event_year(entry)
    sources = [(xml_text(s.title), xml_text(s.url) if s.url else None) for s in entry.sources]
    return {
        "id": xml_text(entry.id),
        "text": xml_text(" ".join(entry.title.split())),
        "kind": entry.kind.value,
        "year": historic_year(year) if year is not None else None,
        "year_display": format_year(year) if year is not None else "",
        "date": _date(entry),
        "rule": xml_text(entry.rule) if entry.rule is not None else None,
        "featured": entry.featured,
        "tags": [xml_text(tag) for tag in entry.tags],
        "pages": [{"title": title, "content_urls": {"desktop": {"page": url}}} for title, url in sources if url],
        "sources": [{"title": title, "url": url} for title, url in sources],
    }


def _sections(items: Iterable[tuple[Entry, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    sections: dict[str, list[dict[str, Any]]] = {"selected": [], **{name: [] for name in SECTIONS.values()}}
    for entry, item in items:
        if entry.featured:
            sections["selected"].append(item)
        sections[SECTIONS[entry.kind]].append(item)
    return sections


# ---------------------------------------------------------------------------------------------
# One published day


def _view_item(view: EntryView) -> dict[str, Any]:
    return {
        **_item(view.entry),
        "date_display": view.date_display,
        "years_ago": view.years_ago,
        "round_anniversary": view.round_anniversary,
        "note": view.note or None,
        "url": view.url,
        "extract": view.summary_text,
    }


def day_document(day: DayView) -> dict[str, Any]:
    """``api/days/YYYY-MM-DD.json`` as a dict: the day's published selection, in publishing order."""
    return {
        "version": API_VERSION,
        "type": "day",
        "date": day.iso,
        "heading": day.heading,
        "weekday": day.weekday,
        "url": day.url,
        **_sections((view.entry, _view_item(view)) for view in day.entries),
        "left_out": day.left_out,
    }


def build_day_document(day: DayView) -> bytes:
    return json_bytes(day_document(day))


# ---------------------------------------------------------------------------------------------
# The 366 evergreen days


def _order(entry: Entry) -> tuple[int, int, str, str]:
    year = event_year(entry)
    return (0 if entry.featured else 1, year if year is not None else 10**6, entry.title.lower(), entry.id)


def moveable_days(
    index: CalendarIndex, first_year: int, years: int
) -> dict[tuple[int, int], list[tuple[Entry, list[datetime.date]]]]:
    """Where each moveable observance falls in ``years`` years from ``first_year``: by (month, day), the dates."""
    found: defaultdict[tuple[int, int], dict[str, tuple[Entry, list[datetime.date]]]] = defaultdict(dict)
    for entry in index.moveable:
        assert entry.rule is not None
        rule = Rule(entry.rule)
        for year in range(first_year, min(first_year + years, 10000)):
            if entry.date is not None and entry.date.year > year:
                continue
            for date in rule.dates_in(year):
                slot = found[(date.month, date.day)].setdefault(entry.id, (entry, []))
                slot[1].append(date)
    return {key: list(value.values()) for key, value in found.items()}


def evergreen_documents(
    settings: Settings, index: CalendarIndex, first_year: int
) -> Iterator[tuple[str, bytes]]:
    """``api/onthisday/MM-DD.json`` for the 366 days, in calendar order, from the whole index.

    One day's items at a time (nothing is kept from one day to the next, so memory stays at one day's worth);
    the moveable observances are placed for ``site.calendar_years`` years from ``first_year`` once, not per day.
    """
    policy = settings.selection.feb29
    years = settings.site.calendar_years
    moveable = moveable_days(index, first_year, years)
    leap_day = index.by_day.get((2, 29), ())
    moved_to = {Feb29Policy.FEB28: (2, 28), Feb29Policy.MAR1: (3, 1)}.get(policy)
    moved_note = f"A 29 February anniversary: in common years it is marked on {'28 February' if moved_to == (2, 28) else '1 March'}."
    day = datetime.date(LEAP_YEAR, 1, 1)
    while day.year == LEAP_YEAR:
        key = (day.month, day.day)
        fixed: list[tuple[Entry, dict[str, Any]]] = [
            (entry, {**_item(entry), "note": None}) for entry in index.by_day.get(key, ())
        ]
        if key == moved_to:
            fixed += [(entry, {**_item(entry), "note": moved_note}) for entry in leap_day]
        fixed.sort(key=lambda pair: _order(pair[0]))
        rules = sorted(moveable.get(key, ()), key=lambda pair: _order(pair[0]))
        observed = [
            (entry, {**_item(entry), "note": None, "dates": [d.isoformat() for d in dates]}) for entry, dates in rules
        ]
        document = {
            "version": API_VERSION,
            "type": "onthisday",
            "date": f"{day.month:02d}-{day.day:02d}",
            "month": day.month,
            "day": day.day,
            "heading": f"{day.day} {MONTHS[day.month - 1]}",
            "moveable_years": [first_year, min(first_year + years, 10000) - 1],
            **_sections(fixed + observed),
        }
        yield evergreen_path(day.month, day.day), json_bytes(document, cleaned=True)
        day += datetime.timedelta(days=1)


def evergreen_entries(document: dict[str, Any]) -> set[str]:
    """The entry ids an evergreen or day document lists (every section)."""
    return {item["id"] for name in ("events", "births", "deaths", "holidays") for item in document[name]}


__all__ = [
    "build_day_document",
    "day_api_path",
    "day_document",
    "evergreen_documents",
    "evergreen_path",
    "schema",
]
