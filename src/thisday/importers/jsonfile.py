"""JSON collections in other layouts: a list of records, or lists of records by section, mapped to fields.

The source is one ``.json`` file or a folder of them. Records are found in this order:

- a list of objects: each object is a record;
- an object with lists of objects under section names (``events``, ``births``, ``deaths``, ``holidays``,
  ``observances``, ``selected``, any case), at the top or under ``data``: the section gives the kind
  (the Wikimedia "on this day" feed, ``{"events": [{"year": 1969, "text": ..., "pages": [...]}], ...}``, and
  the shared data set's day files, ``{"date": "July 12", "data": {"Events": [...]}}``);
- an object with one list of objects (``{"items": [...]}``): each object is a record.

Each entry field is read from a key path in the record (``--column FIELD=PATH``; a path is keys and list
positions joined by dots, ``pages.0.title``). Without a choice, the first of these that the record has is used:
``date``; ``title`` or ``text``; ``kind`` or ``type``; ``tags``; ``source_url``, ``url``, the first link's
``link``, or the first page's ``content_urls.desktop.page``; ``source_title``, the first link's ``title`` or the
first page's ``normalizedtitle``/``title``; ``body`` or ``description``; ``id``; ``calendar``; ``observe``.

Dates are read as in CSV. A record with a ``year`` but no ``date`` is on the collection's day: the file's
name when it ends in the day (``07-12.json``, ``onthisday-07-12.json``) or the document's ``date``
(``"July 12"``); without a day, the year alone is the date. A whole number as a year is a year AD, or BC
when negative (-44 is 44 BC, as in the Wikimedia feed). Everything the CSV importer does with a record (control
characters, "Year in the source", ids ``json-YEAR-MM-DD-slug``) it does here too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..dates import MONTHS
from ..errors import ImportSourceError
from .common import Collector, ImportOptions, ImportResult, RecordError
from .csvfile import FIELDS, import_record

SECTION_KINDS = {
    "events": "event",
    "selected": "event",
    "births": "birth",
    "deaths": "death",
    "holidays": "observance",
    "observances": "observance",
}
JSON_FIELDS = (*FIELDS, "year")
DEFAULT_PATHS: dict[str, tuple[str, ...]] = {
    "date": ("date",),
    "year": ("year",),
    "title": ("title", "text"),
    "kind": ("kind", "type"),
    "tags": ("tags",),
    "source_url": ("source_url", "url", "links.0.link", "pages.0.content_urls.desktop.page"),
    "source_title": ("source_title", "links.0.title", "pages.0.normalizedtitle", "pages.0.title"),
    "body": ("body", "description"),
    "id": ("id",),
    "calendar": ("calendar",),
    "observe": ("observe",),
}
_DAY_FILE_RE = re.compile(r"(?:^|\D)(\d{2})-(\d{2})\.json$", re.IGNORECASE)
_MONTH_DAY_RE = re.compile(r"^([A-Za-z]+)\s+(\d{1,2})$")
_MISSING = object()


def import_json(
    source: Path, options: ImportOptions, progress: Callable[[int, int], None] | None = None
) -> ImportResult:
    """Every record of ``source`` (a file, or a folder of ``.json`` files) imported or rejected with its reason."""
    for name in options.columns:
        if name not in JSON_FIELDS:
            raise ImportSourceError(
                f"--column {name}={options.columns[name]}: {name!r} is not a field; "
                f"the fields are {', '.join(JSON_FIELDS)}"
            )
    if source.is_file():
        files = [source]
    elif source.is_dir():
        files = sorted(
            p for p in source.iterdir() if p.suffix.lower() == ".json" and not p.name.startswith((".", "_"))
        )
        if not files:
            raise ImportSourceError(f"{source}: no .json files here; give a JSON file or a folder of them")
    else:
        raise ImportSourceError(f"{source}: not found; give a JSON file or a folder of them")
    collector = Collector()
    for done, path in enumerate(files, 1):
        read_json(path.name, path.read_bytes(), collector, options, whole=len(files) == 1)
        if progress is not None:
            progress(done, len(files))
    return collector.result()


def read_json(
    name: str, data: bytes, collector: Collector, options: ImportOptions, *, whole: bool = True
) -> None:
    """One JSON document into ``collector``. A document that is not a collection is an error when it is the
    whole source (``whole``), and a ``bad-file`` record when it is one file of a folder."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested too deep, a 4,300-digit number
        problem = f"not a readable JSON file: {str(exc)[:160]}"
        if whole:
            raise ImportSourceError(f"{name}: {problem}; give a JSON file") from None
        collector.records += 1
        collector.reject(name, "bad-file", problem)
        return
    sections = find_records(doc)
    if sections is None:
        problem = "no records: expected a list of objects, or lists under events, births, deaths, ..."
        if whole:
            raise ImportSourceError(f"{name}: {problem}")
        collector.records += 1
        collector.reject(name, "bad-file", problem)
        return
    day = _collection_day(name, doc)
    for section, kind, items in sections:
        for n, item in enumerate(items, 1):
            collector.records += 1
            location = f"{name} {section} #{n}" if section else f"{name} #{n}"
            try:
                if not isinstance(item, dict):
                    raise RecordError("bad-record", "a record must be an object ({...})")
                values = record_values(item, options.columns, day)
                if kind is not None and not values.get("kind"):
                    values["kind"] = kind
                import_record(collector, location, values, options, prefix="json")
            except RecordError as exc:
                collector.reject(location, exc.reason, exc.detail, _record_text(item))


def find_records(doc: Any) -> list[tuple[str, str | None, list[Any]]] | None:
    """(section name, its kind or None, items) of a document, or None when it holds no records."""
    if isinstance(doc, list):
        return [("", None, doc)]
    if not isinstance(doc, dict):
        return None
    for holder in (doc, doc.get("data")):
        if not isinstance(holder, dict):
            continue
        found: list[tuple[str, str | None, list[Any]]] = [
            (str(key), SECTION_KINDS[str(key).lower()], value)
            for key, value in holder.items()
            if str(key).lower() in SECTION_KINDS and isinstance(value, list)
        ]
        if found:
            return found
    lists = [
        (str(k), v) for k, v in doc.items() if isinstance(v, list) and any(isinstance(i, dict) for i in v)
    ]
    if len(lists) == 1:
        return [(lists[0][0], None, lists[0][1])]
    return None


def lookup(record: Any, path: str) -> Any:
    """The value at a dotted key path (``pages.0.title``), or ``_MISSING``."""
    value = record
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _as_text(value: Any, field: str) -> str:
    if value is None or value is _MISSING:
        return ""
    if isinstance(value, bool):
        raise RecordError("bad-record", f"{field} is true or false, not text")
    if isinstance(value, int):
        if field in ("year", "date"):
            if abs(value) > 9999:
                raise RecordError("not-a-year", f"{field} {str(value)[:20]} is not a year (1 to 9999, or BC)")
            return f"{-value} BC" if value < 0 else str(value)
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list) and field == "tags" and all(isinstance(v, str) for v in value):
        return ",".join(value)
    raise RecordError("bad-record", f"{field} is a {type(value).__name__}, not text")


def record_values(
    record: dict[str, Any], columns: Mapping[str, str], day: tuple[int, int] | None
) -> dict[str, str]:
    """Entry field -> text of one record, from the user's paths or the defaults."""
    values: dict[str, str] = {}
    for name, defaults in DEFAULT_PATHS.items():
        paths = (columns[name],) if name in columns else defaults
        for path in paths:
            value = lookup(record, path)
            if value is not _MISSING and value is not None and value != "":
                values[name] = _as_text(value, name)
                break
    year = values.pop("year", "")
    if not values.get("date") and year:
        if day is None:
            values["date"] = year
        else:
            values["date"] = f"{day[1]} {MONTHS[day[0] - 1]} {year}"
    return values


def _collection_day(name: str, doc: Any) -> tuple[int, int] | None:
    """The day a collection's records are on: its file name (``07-12.json``) or its ``date`` ("July 12")."""
    match = _DAY_FILE_RE.search(name)
    if match is not None and 1 <= int(match[1]) <= 12 and 1 <= int(match[2]) <= 31:
        return int(match[1]), int(match[2])
    label = doc.get("date") if isinstance(doc, dict) else None
    if isinstance(label, str) and (found := _MONTH_DAY_RE.match(label.strip())) is not None:
        names = [m.lower() for m in MONTHS]
        if found[1].lower() in names:
            return names.index(found[1].lower()) + 1, int(found[2])
    return None


def _record_text(item: Any) -> str:
    if isinstance(item, dict):
        for key in ("text", "title"):
            if isinstance(item.get(key), str):
                return str(item[key])
    try:
        return json.dumps(item, ensure_ascii=False)[:200]
    except (ValueError, RecursionError):
        return ""
