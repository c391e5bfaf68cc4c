"""CSV files: one record per row, a header naming the columns.

Columns (header names, case and spaces ignored) are the entry fields ``date``, ``title``, ``kind``, ``tags``,
``source_url`` (or ``url``), ``source_title``, ``body``, ``id``, ``calendar`` and ``observe``; other names are
mapped with ``--column date=When``. ``date`` and ``title`` are required; other columns are ignored, and a note
(once per import) names them.

Rows are read with the csv module over the text as it is (only CR, LF and CRLF end a row): a line separator
(U+2028), a form feed or a vertical tab inside a cell is part of the cell. Control characters (terminal
escapes, NUL, BEL, DEL, C1) are removed from every cell, with a note naming them.

Dates: ``1942-07-12``, ``1942-07``, ``1942``, ``-0043-03-15`` (astronomical, as in entry files), ``~1450``,
``1450?``, and as people write them: ``12 July 1942``, ``July 12, 1942``, ``March 1942``, ``15 March 44 BC``,
``27 BCE``, ``AD 70``, ``c. 1450``. A qualifier before any of them (``c. 30 Jun 862``, ``circa 1367-04``, ``before 879``) makes the date
approximate, and the body says the date as the source wrote it. Slashed dates (``7/12/1942``) are rejected as
ambiguous; decades (``1990s``) and dates that do not exist (``1942-02-30``) are rejected.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from ..dates import MONTHS
from ..errors import ImportSourceError
from ..model import Calendar
from .common import (
    Collector,
    ImportOptions,
    ImportResult,
    RecordError,
    base_entry,
    check_day,
    clean_title,
    controls_note,
    date_text,
    is_http_url,
    parse_year,
    slug_id,
    strip_controls,
    year_token,
)

FIELDS = (
    "date", "title", "kind", "tags", "source_url", "source_title", "body", "id", "calendar", "observe",
)  # fmt: skip
_ALIASES = {"url": "source_url"}
_KIND_WORDS = {
    "event": "event", "events": "event",
    "birth": "birth", "births": "birth", "born": "birth",
    "death": "death", "deaths": "death", "died": "death",
    "observance": "observance", "observances": "observance",
}  # fmt: skip
_ISO_RE = re.compile(
    r"^(?P<approx>~)?(?P<year>[+-]?\d{1,4})(?:-(?P<month>\d{1,2})(?:-(?P<day>\d{1,2}))?)?(?P<unc>\?)?$"
)
_DAY_MONTH_RE = re.compile(r"^(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?P<month>[A-Za-z]+)\.?,?\s+(?P<year>.+)$")
_MONTH_DAY_RE = re.compile(r"^(?P<month>[A-Za-z]+)\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>.+)$")
_MONTH_RE = re.compile(r"^(?P<month>[A-Za-z]+)\.?,?\s+(?P<year>\d.*)$")
_QUALIFIER_RE = re.compile(r"^(?P<qual>c\.|ca\.|circa|about|before|after|~)\s*(?P<rest>\S.*)$", re.IGNORECASE)
_PLAIN_YEAR_RE = re.compile(r"^(?:AD\s*)?\d{1,4}(?:\s*(?:BCE?|AD|CE))?\.?$", re.IGNORECASE)
_MONTHS = {name.lower(): i for i, full in enumerate(MONTHS, 1) for name in (full, full[:3], full[:4])}


def _key(name: str) -> str:
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def column_map(header: list[str], mapping: dict[str, str], where: str) -> dict[str, int]:
    """Entry field -> column index, from the header and the user's ``--column field=Column`` choices."""
    positions = {_key(name): i for i, name in reversed(list(enumerate(header)))}
    result: dict[str, int] = {}
    for name, i in positions.items():
        field = _ALIASES.get(name, name)
        if field in FIELDS:
            result.setdefault(field, i)
    for field, column in mapping.items():
        if field not in FIELDS:
            raise ImportSourceError(
                f"--column {field}={column}: {field!r} is not a field; the fields are {', '.join(FIELDS)}"
            )
        if _key(column) not in positions:
            raise ImportSourceError(
                f"--column {field}={column}: {where} has no column {column!r}; its columns are {', '.join(header)}"
            )
        result[field] = positions[_key(column)]
    missing = [f for f in ("date", "title") if f not in result]
    if missing:
        raise ImportSourceError(
            f"{where}: no {' or '.join(missing)} column (columns: {', '.join(header)}); "
            f"name one with --column {missing[0]}=COLUMN"
        )
    return result


def parse_date_cell(text: str) -> tuple[int, int | None, int | None, bool, bool, tuple[str, ...]]:
    """(astronomical year, month, day, approximate, uncertain, notes) of a date as written in a CSV cell."""
    year, month, day, approximate, uncertain, notes, _ = read_date(text)
    return year, month, day, approximate, uncertain, notes


def read_date(text: str) -> tuple[int, int | None, int | None, bool, bool, tuple[str, ...], str | None]:
    """:func:`parse_date_cell`, plus the sentence for the body saying the year as written ("Year in the source:
    before 879.") when it is not a plain year, else None."""
    raw = clean_title(text)
    if not raw:
        raise RecordError("no-date", "the date is empty")
    qualified = _QUALIFIER_RE.match(raw)
    if qualified is not None and qualified["qual"] != "~":
        try:
            year, month, day, _, uncertain, notes, _ = read_date(qualified["rest"])
        except RecordError as exc:
            raise RecordError(exc.reason, f"{raw!r}: {exc.detail}") from None
        note = f"date written {raw!r}: imported as approximate"
        sentence = f"{'Date' if month is not None else 'Year'} in the source: {raw}."
        return year, month, day, True, uncertain, (note, *notes), sentence
    iso = _ISO_RE.match(raw)
    if iso is not None:
        month = int(iso["month"]) if iso["month"] else None
        day = int(iso["day"]) if iso["day"] else None
        return int(iso["year"]), month, day, bool(iso["approx"]), bool(iso["unc"]), (), None
    if re.match(r"^\d{1,4}[/.]\d{1,2}[/.]\d{1,4}$", raw):
        raise RecordError("bad-date", f"{raw!r} is ambiguous (day/month or month/day?): write 1942-07-12")
    for pattern in (_DAY_MONTH_RE, _MONTH_DAY_RE, _MONTH_RE):
        match = pattern.match(raw)
        if match is not None and match["month"].lower() in _MONTHS:
            try:
                parsed = parse_year(match["year"])
            except RecordError as exc:
                raise RecordError(exc.reason, f"date {raw[:80]!r}: {exc.detail}") from None
            if parsed.rest:
                break
            day = int(match["day"]) if "day" in match.groupdict() else None
            return (
                parsed.year,
                _MONTHS[match["month"].lower()],
                day,
                parsed.approximate,
                parsed.uncertain,
                parsed.notes,
                None if _PLAIN_YEAR_RE.match(parsed.written) else f"Year in the source: {parsed.written}.",
            )
    try:
        parsed = parse_year(raw)
    except RecordError as exc:
        raise RecordError(exc.reason, f"date {exc.detail}") from None
    if parsed.rest:
        raise RecordError("bad-date", f"{raw[:80]!r} is not a date: write 1942-07-12, 1942-07 or 1942")
    said = None if _PLAIN_YEAR_RE.match(parsed.written) else f"Year in the source: {parsed.written}."
    return parsed.year, None, None, parsed.approximate, parsed.uncertain, parsed.notes, said


def import_csv(
    source: Path, options: ImportOptions, progress: Callable[[int, int], None] | None = None
) -> ImportResult:
    """Every row of ``source`` imported or rejected with its reason."""
    if not source.is_file():
        raise ImportSourceError(f"{source}: not a file; give the CSV file to import")
    data = source.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportSourceError(
            f"{source}:{line}: not UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        ) from None
    return read_csv(text, source.name, options, progress, tab=source.suffix.lower() == ".tsv")


def read_csv(
    text: str,
    name: str,
    options: ImportOptions,
    progress: Callable[[int, int], None] | None = None,
    *,
    tab: bool = False,
) -> ImportResult:
    delimiter = "\t" if tab else ","
    if not tab:
        with contextlib.suppress(csv.Error):
            delimiter = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|").delimiter
    # Only CR, LF and CRLF end a row: str.splitlines would also cut at U+2028, U+0085, VT and FF.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ImportSourceError(f"{name}:{reader.line_num}: CSV error: {exc}") from None
    rows = [(line, row) for line, row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise ImportSourceError(f"{name}: empty; a CSV import needs a header line (date,title,...) and rows")
    header = [clean_title(strip_controls(cell)[0]) for cell in rows[0][1]]  # one line, no escapes
    columns = column_map(header, dict(options.columns), name)
    collector = Collector()
    used = set(columns.values())
    ignored = [column for i, column in enumerate(header) if i not in used]
    if ignored:
        collector.note(
            f"{name}:{rows[0][0]}",
            f"columns ignored (not entry fields): {', '.join(ignored)}; "
            f"the fields are {', '.join(FIELDS)}; map a column with --column FIELD=COLUMN",
        )
    body_rows = rows[1:]
    for done, (line, row) in enumerate(body_rows, 1):
        collector.records += 1
        location = f"{name}:{line}"
        try:
            _row(collector, location, header, row, columns, options)
        except RecordError as exc:
            collector.reject(location, exc.reason, exc.detail, delimiter.join(row))
        if progress is not None and (done % 1000 == 0 or done == len(body_rows)):
            progress(done, len(body_rows))
    return collector.result()


def _row(
    collector: Collector,
    location: str,
    header: list[str],
    row: list[str],
    columns: dict[str, int],
    options: ImportOptions,
) -> None:
    if len(row) != len(header):
        raise RecordError("bad-record", f"the row has {len(row)} fields, the header has {len(header)}")
    import_record(collector, location, {f: row[i] for f, i in columns.items()}, options, prefix="csv")


def import_record(
    collector: Collector,
    location: str,
    values: Mapping[str, str],
    options: ImportOptions,
    *,
    prefix: str,
) -> None:
    """One record (entry field -> text as the source gives it) imported into ``collector``.

    Raises :class:`RecordError` when it cannot be imported. Shared by the CSV and JSON importers.
    """
    cells: dict[str, str] = {}
    removed: dict[str, tuple[str, ...]] = {}
    for name, value in sorted(
        values.items(), key=lambda item: FIELDS.index(item[0]) if item[0] in FIELDS else 99
    ):
        cells[name], removed[name] = strip_controls(value)

    def cell(field: str) -> str:
        return cells.get(field, "").strip()

    title = clean_title(cell("title"))
    if not title:
        raise RecordError("no-text", "the title is empty")
    year, month, day, approximate, uncertain, notes, written = read_date(cell("date"))
    calendar_text = cell("calendar").lower() or "gregorian"
    if calendar_text not in ("gregorian", "julian"):
        raise RecordError("bad-record", f"calendar {cell('calendar')!r} is not gregorian or julian")
    calendar = Calendar(calendar_text)
    observe_text = cell("observe").lower()
    if observe_text not in ("", "julian", "gregorian"):
        raise RecordError("bad-record", f"observe {cell('observe')!r} is not julian or gregorian")
    if observe_text == "julian" and calendar is not Calendar.JULIAN:
        raise RecordError("bad-record", "observe: julian keeps an Old Style day: it needs calendar julian")
    if month is not None and day is not None:
        check_day(year, month, day, calendar)
    elif month is not None and not 1 <= month <= 12:
        raise RecordError("date-does-not-exist", f"month {month} does not exist")
    kind_text = cell("kind").lower()
    kind = _KIND_WORDS.get(kind_text) if kind_text else options.default_kind
    if kind is None:
        raise RecordError("bad-kind", f"kind {cell('kind')!r} is not event, birth, death or observance")
    url = cell("source_url")
    if url and not is_http_url(url):
        raise RecordError("bad-url", f"source URL {url!r} is not an absolute http(s) URL")
    source_title = clean_title(cell("source_title")) or url
    sources = [{"title": source_title, **({"url": url} if url else {})}] if source_title else []
    tags = re.split(r"[,;|]", cell("tags"))
    explicit = cell("id")
    date_parts = [year_token(year)] + [f"{p:02d}" for p in (month, day) if p is not None]
    body = cell("body")
    if written is not None:
        body = f"{body}\n\n{written}" if body else written
    entry = base_entry(
        entry_id=explicit or slug_id(prefix, *date_parts, title=title),
        title=title,
        date=date_text(year, month, day, approximate=approximate, uncertain=uncertain),
        kind=kind,
        tags=(*tags, *options.tags),
        sources=sources,
        body=body,
        calendar=calendar,
        observe_julian=observe_text == "julian",
    )
    if collector.add(location, entry, explicit_id=bool(explicit)):
        control = controls_note(removed)
        for note in (*notes, *([control] if control else [])):
            collector.note(location, note)
