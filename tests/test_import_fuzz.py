"""Generated and mutated sources for every importer: each record is imported or reported, or the source as a
whole is refused with a ThisdayError; never a traceback, never a case that runs for seconds.

The examples are inputs that once crashed an importer (a broken RRULE, a TZID of 300 characters, JSON nested
1,000 levels deep or holding a 4,300-digit number, malformed CSV).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from thisday.errors import ThisdayError
from thisday.importers import REASONS, ImportOptions, ImportResult
from thisday.importers.common import Collector
from thisday.importers.csvfile import read_csv
from thisday.importers.ical import read_ical
from thisday.importers.jsonfile import read_json
from thisday.importers.wikipedia import read_day_file

pytestmark = pytest.mark.slow

FUZZ = settings(
    max_examples=150, deadline=1000, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
_CONTROLS = "".join(map(chr, [*range(0, 9), *range(11, 32), 127, *range(128, 160)]))


def assert_sound(result: ImportResult) -> None:
    """Every record imported or rejected with a documented reason; nothing imported carries a control character."""
    assert result.imported_records + len(result.rejects) == result.records
    assert {r.reason for r in result.rejects} <= set(REASONS)
    for entry in result.entries:
        assert not any(c in _CONTROLS for c in _strings(entry)), entry


def _strings(value: Any) -> str:
    """Every string in an entry, concatenated, without the tabs and line feeds a body may hold."""
    if isinstance(value, str):
        return value.replace("\n", "").replace("\t", "")
    if isinstance(value, dict):
        return "".join(_strings(v) for v in value.values())
    if isinstance(value, list):
        return "".join(_strings(v) for v in value)
    return ""


def run_or_refuse(call: Any) -> None:
    try:
        result = call()
    except ThisdayError as exc:
        assert "\n" not in str(exc).strip()  # one line, no traceback
        return
    if isinstance(result, ImportResult):
        assert_sound(result)


# ---------------------------------------------------------------------------------------------
# CSV

_CELL = st.one_of(
    st.sampled_from(
        ["1942-07-12", "c. 30 Jun 862", "circa 1367-04", "44 BC", "1990s", "", "birth", "julian"]
    ),
    st.text(max_size=30),
)
_CSV_ROWS = st.lists(st.lists(_CELL, min_size=1, max_size=6), max_size=8)


def _csv_text(rows: list[list[str]]) -> str:
    return "date,title,kind,calendar,observe,body\n" + "\n".join(",".join(row) for row in rows)


@FUZZ
@given(rows=_CSV_ROWS)
@example(rows=[['"1942', 'x"y"', '"']])
@example(rows=[["1942-07-12", "a\u2028b\x0bc\x0cd\x85e", "", "", "", ""]])
@example(rows=[["1942-07-12", "\x1b[2J\x00\x07\x7f\x9b", "", "", "", ""]])
def test_csv_rows_never_crash(rows: list[list[str]]) -> None:
    """Generated CSV rows, quoted or not, with separators and control characters: reported or imported."""
    run_or_refuse(lambda: read_csv(_csv_text(rows), "fuzz.csv", ImportOptions()))


@FUZZ
@given(text=st.text(max_size=300))
@example(text="date,title\n" + "x" * 200_000)
@example(text='date,title\n"unterminated\n1942,x\n')
@example(text="\ufeff\x00,\x00\n\x00,\x00")
def test_csv_any_text_never_crashes(text: str) -> None:
    """Any text at all as a CSV file: a ThisdayError or records with reasons."""
    run_or_refuse(lambda: read_csv(text, "fuzz.csv", ImportOptions()))


# ---------------------------------------------------------------------------------------------
# iCalendar

_ICAL_LINES = st.sampled_from(
    [
        "DTSTART;VALUE=DATE:19020611",
        "DTSTART:19690720T221700Z",
        "DTSTART;TZID=Europe/Berlin:19690720T221700",
        "DTSTART;VALUE=DATE:19230230",
        "DTEND;VALUE=DATE:19020615",
        "DURATION:P3D",
        "RRULE:FREQ=YEARLY",
        "RRULE:FREQ=YEARLY;COUNT=3",
        "RRULE:FREQ=YEARLX",
        "RRULE:FREQ=YEARLY;INTERVAL=x",
        "RRULE:FREQ=YEARLY;BYDAY=3SA;BYMONTH=13",
        "SUMMARY:A title",
        "SUMMARY:\x1b[31mred\x07",
        "DESCRIPTION:# heading\\n* item",
        "CATEGORIES:a,b",
        "URL:https://example.org/x",
        "STATUS:CANCELLED",
        "EXDATE;VALUE=DATE:19030611",
    ]
)


def _calendar(lines: list[str]) -> bytes:
    body = "\r\n".join(["BEGIN:VEVENT", "UID:fuzz@example.org", *lines, "END:VEVENT"])
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{body}\r\nEND:VCALENDAR\r\n".encode()


@FUZZ
@given(lines=st.lists(st.one_of(_ICAL_LINES, st.text(max_size=40).map(lambda t: "X-" + t)), max_size=8))
@example(lines=["DTSTART;VALUE=DATE:19020611", "SUMMARY:x", "RRULE:FREQ=YEARLX"])
@example(lines=["DTSTART;TZID=" + "A" * 300 + ":19690720T221700", "SUMMARY:x"])
@example(lines=["DTSTART;VALUE=DATE:19020611", "SUMMARY:x", "DTEND;VALUE=DATE:99999999"])
def test_ical_events_never_crash(lines: list[str]) -> None:
    """Events assembled from valid, broken and unknown properties: reported or imported."""
    run_or_refuse(lambda: read_ical(_calendar(lines), "fuzz.ics", ImportOptions()))


@FUZZ
@given(data=st.binary(max_size=200), cut=st.integers(min_value=0, max_value=400))
@example(data=b"", cut=0)
def test_ical_mutated_files_never_crash(data: bytes, cut: int) -> None:
    """A real calendar cut short and with bytes spliced in: reported, imported, or refused as a whole."""
    base = _calendar(["DTSTART;VALUE=DATE:19020611", "SUMMARY:x", "RRULE:FREQ=YEARLY"])
    run_or_refuse(lambda: read_ical(base[:cut] + data + base[cut:], "fuzz.ics", ImportOptions()))


# ---------------------------------------------------------------------------------------------
# Wikipedia day files and JSON collections

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_ITEMS = st.lists(
    st.fixed_dictionaries(
        {"year": st.one_of(st.text(max_size=12), st.integers(), st.none()), "text": _JSON},
        optional={"links": _JSON, "pages": _JSON},
    ),
    max_size=5,
)
_DEEP = ("[" * 1000 + "]" * 1000).encode()
_HUGE = ('{"data": {"Events": [{"year": ' + "1" * 4400 + ', "text": "x"}]}}').encode()


def _day(items: list[Any]) -> bytes:
    return json.dumps({"date": "July 12", "data": {"Events": items, "Births": items[:1]}}).encode()


@FUZZ
@given(items=_ITEMS)
@example(items=[{"year": "1942", "text": ["nested"]}])
def test_wikipedia_generated_items_never_crash(items: list[Any]) -> None:
    """Day files with items of every JSON shape: each reported or imported."""
    collector = Collector()
    read_day_file("07-12.json", _day(items), collector)
    assert_sound(collector.result())


@FUZZ
@given(data=st.binary(max_size=100), cut=st.integers(min_value=0, max_value=200))
@example(data=_DEEP, cut=0)
@example(data=_HUGE, cut=0)
def test_wikipedia_mutated_files_never_crash(data: bytes, cut: int) -> None:
    """A day file cut and spliced (nested 1,000 deep, a 4,300-digit number): a bad-file record, not a crash."""
    base = _day([{"year": "1942", "text": "Something happens"}])
    raw = data if data in (_DEEP, _HUGE) else base[:cut] + data + base[cut:]
    collector = Collector()
    read_day_file("07-12.json", raw, collector)
    assert_sound(collector.result())


@FUZZ
@given(doc=_JSON, items=_ITEMS)
@example(doc=None, items=[{"year": 99999, "text": "x"}])
@example(doc=None, items=[{"year": -44, "text": "\x1b]0;title\x07Caesar"}])
def test_json_collections_never_crash(doc: Any, items: list[Any]) -> None:
    """Any JSON document, and Wikimedia-shaped ones with items of every shape: reported, imported or refused."""
    for document in (doc, {"events": items, "births": items}, items):
        try:
            raw = json.dumps(document).encode()
        except ValueError:  # an integer too long for str() in this interpreter
            continue
        for name in ("07-12.json", "collection.json"):
            run_or_refuse(functools.partial(_json_result, name, raw))
    for raw in (_DEEP, _HUGE):
        run_or_refuse(functools.partial(_json_result, "07-12.json", raw))


def _json_result(name: str, raw: bytes) -> ImportResult:
    collector = Collector()
    read_json(name, raw, collector, ImportOptions())
    return collector.result()
