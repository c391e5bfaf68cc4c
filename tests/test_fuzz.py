"""Fuzzing the parsers: no entry file, date, rule or typed date makes thisday fail with anything but a reported
problem or a ThisdayError, and no single input takes more than a second."""

from __future__ import annotations

import contextlib
import datetime
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from thisday.dates import parse_historic_date, parse_rule, parse_target_date
from thisday.errors import ThisdayError
from thisday.indexcache import load_days
from thisday.model import Calendar, Feb29Policy

FUZZ = settings(deadline=1000, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
HEAVY = settings(deadline=1000, max_examples=600, suppress_health_check=[HealthCheck.too_slow])
TODAY = datetime.date(2026, 7, 20)

_HOSTILE_TEXT = [
    "\ud800",
    "\x1b[31m",
    "\x00",
    "\x07",
    "\x7f",
    "\x85",
    "\ufffe",
    "Łódź",
    "космос",
    "明治",
    "\t",
    "\r\n",
]
texts = st.one_of(st.text(max_size=30), st.sampled_from(_HOSTILE_TEXT))
scalars = st.one_of(
    texts,
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.sampled_from(["1969-07-20", "-0043-03-15", "~1450", "1700-02-29", "easter+49", "FREQ=MINUTELY"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["title", "url", "x"]), inner, max_size=3),
    ),
    max_leaves=8,
)
FIELD_NAMES = [
    "id", "title", "date", "calendar", "observe", "kind", "rule", "tags", "featured", "sources", "body", "x",
]  # fmt: skip
entries = st.dictionaries(st.sampled_from(FIELD_NAMES), values, max_size=8)


def _load(files: dict[str, bytes]) -> None:
    """Write the files into a fresh entries folder and load it in full, checked, through the on-disk index."""
    folder = Path(tempfile.mkdtemp(prefix="thisday-fuzz-"))
    try:
        root = folder / "entries"
        root.mkdir()
        for name, data in files.items():
            (root / name).write_bytes(data)
        for days in (None, [TODAY]):
            loaded = load_days(root, folder / "state", days, Feb29Policy.FEB28, check=days is None)
            assert all(p.location.line >= 1 and p.location.path for p in loaded.problems)
    finally:
        shutil.rmtree(folder)


def _yaml_scalar(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)  # JSON is YAML 1.2 flow syntax


def _as_yaml(items: list[dict[str, object]]) -> str:
    lines = []
    for item in items:
        lines.append(
            "-" if not item else "- " + "\n  ".join(f"{k}: {_yaml_scalar(v)}" for k, v in item.items())
        )
    return "\n".join(lines) + "\n"


def _as_markdown(item: dict[str, object]) -> str:
    body = item.pop("body", "")
    front = "\n".join(f"{k}: {_yaml_scalar(v)}" for k, v in item.items())
    return f"---\n{front}\n---\n{body if isinstance(body, str) else ''}\n"


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """A file with a few bytes replaced, inserted or cut."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(out)))
        action = draw(st.sampled_from(["insert", "replace", "cut"]))
        byte = draw(st.sampled_from([0, 7, 0x1B, 0x22, 0x3A, 0x5B, 0x5D, 0x7B, 0x0A, 0xC3, 0xFF, 0x2D]))
        if action == "insert":
            out[at:at] = bytes([byte])
        elif action == "replace" and at < len(out):
            out[at] = byte
        else:
            del out[at : at + draw(st.integers(1, 5))]
    return bytes(out)


DEEP_JSON = '[{"title": "Deep", "date": "1969-07-20", "tags": ' + "[" * 1000 + "]" * 1000 + "}]"
LAUGHS = (
    "- title: T\n  date: '1969-07-20'\n  x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    + "".join(f"  x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))
)
"""A YAML alias bomb: 9 to the 9th texts, from a few hundred bytes."""
HOSTILE_FILES = [
    {"deep.json": DEEP_JSON.encode()},
    {"big.yaml": b"- title: Big\n  date: " + b"9" * 5000 + b"\n"},
    {"big.json": b'[{"title": "Big", "date": ' + b"9" * 5000 + b"}]"},
    {"surrogate.json": b'[{"title": "A \\ud800", "date": "1969-07-20"}]'},
    {"esc.json": b'[{"title": "A \\u001b[31m", "date": "1969-07-20"}]'},
    {"esc.md": b"---\ntitle: A\ndate: '1969-07-20'\n---\nx\x1by\n"},
    {"minutely.yaml": b"- title: A\n  kind: observance\n  rule: FREQ=MINUTELY\n"},
    {"never.yaml": b"- title: A\n  kind: observance\n  rule: FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30\n"},
    {"laughs.yaml": LAUGHS.encode()},
    {"self.yaml": b"- title: &a [*a]\n"},
    {
        "dup.json": b'[{"id": "same", "title": "Bad", "date": "1969-07-20", "kind": "brith"}]',
        "dup.yaml": b"- id: same\n  title: Good\n  date: '1969-07-20'\n",
    },
]


@FUZZ
@given(st.lists(entries, max_size=4), st.sampled_from(["json", "yaml", "md"]), st.data())
def test_generated_entry_files(items: list[dict[str, object]], fmt: str, data: st.DataObject) -> None:
    """Generated entry files in every format, then mutated bytes of them, load checked without an exception."""
    if fmt == "json":
        text = json.dumps(items, ensure_ascii=False)
    elif fmt == "yaml":
        text = _as_yaml(items)
    else:
        text = _as_markdown(dict(items[0]) if items else {})
    raw = _encode(text)
    _load({f"gen.{fmt}": raw, f"mut.{fmt}": data.draw(mutated(raw))})


def _hostile_example(test: Callable[[dict[str, bytes]], None]) -> Callable[[dict[str, bytes]], None]:
    for files in HOSTILE_FILES:
        test = example(files)(test)
    return test


@FUZZ
@given(
    st.sampled_from(HOSTILE_FILES).flatmap(
        lambda f: st.fixed_dictionaries({k: mutated(v) for k, v in f.items()})
    )
)
@_hostile_example
def test_hostile_entry_files(files: dict[str, bytes]) -> None:
    """The known hostile inputs (deep nesting, huge numbers, surrogates, controls, bad rules, YAML alias bombs,
    an invalid item contesting a valid one's id), as they are and mutated, load as problems, never exceptions."""
    _load(files)


@FUZZ
@given(
    st.one_of(texts, st.integers(), st.none(), st.booleans(), st.floats()), st.sampled_from(list(Calendar))
)
@example("9" * 5000, Calendar.GREGORIAN)
@example("\ud800", Calendar.GREGORIAN)
@example("-0000-02-29", Calendar.JULIAN)
def test_historic_date_parser(value: object, calendar: Calendar) -> None:
    """parse_historic_date returns a date or raises a ThisdayError, for any value a file can hold."""
    with contextlib.suppress(ThisdayError):
        parse_historic_date(value, calendar)


rule_texts = st.one_of(
    texts,
    st.builds(
        lambda parts: "FREQ=YEARLY;" + ";".join(parts),
        st.lists(
            st.sampled_from(
                [
                    "BYMONTH=2", "BYMONTHDAY=30", "BYMONTHDAY=-1", "BYDAY=MO", "BYDAY=+4TH", "BYDAY=-1SU",
                    "BYWEEKNO=53", "BYYEARDAY=366", "BYSETPOS=-1", "INTERVAL=400", "UNTIL=19171231",
                    "UNTIL=20301231T000000Z", "BYHOUR=1", "WKST=SU", "BYEASTER=1",
                ]
            ),
            max_size=4,
        ),
    ),
)  # fmt: skip


@FUZZ
@given(rule_texts)
@example("FREQ=MINUTELY")
@example("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30")
@example("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30")
@example("FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31;BYDAY=MO;UNTIL=99991231")
@example("FREQ=YEARLY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23;BYMINUTE=0,1,2,3")
@example("FREQ=YEARLY;BYMONTH=1\nRDATE:20200101")
def test_rule_parser(text: str) -> None:
    """parse_rule accepts a rule (whose days can then be listed for any year) or raises a ThisdayError."""
    try:
        rule = parse_rule(text)
    except ThisdayError:
        return
    for year in (1, 1917, 2026, 9999):
        rule.dates_in(year)


@FUZZ
@given(
    st.one_of(texts, st.dates().map(str), st.sampled_from(["02-30", "jul 32", "9999-12-31", "0001-01-01"]))
)
@example("99999999999999999999-01-01")
@example("\ud800")
def test_target_date_parser(text: str) -> None:
    """parse_target_date returns a day or raises a ThisdayError for anything typed on the command line."""
    with contextlib.suppress(ThisdayError):
        parse_target_date(text, TODAY)


@pytest.mark.slow
@HEAVY
@given(st.lists(entries, min_size=1, max_size=6), st.sampled_from(["json", "yaml", "md"]), st.data())
def test_generated_entry_files_heavy(items: list[dict[str, object]], fmt: str, data: st.DataObject) -> None:
    """The entry-file fuzzing above with ten times the examples (slow)."""
    test_generated_entry_files.hypothesis.inner_test(items, fmt, data)  # type: ignore[attr-defined]


@pytest.mark.slow
@HEAVY
@given(rule_texts)
def test_rule_parser_heavy(text: str) -> None:
    """The rule fuzzing above with ten times the examples (slow)."""
    test_rule_parser.hypothesis.inner_test(text)  # type: ignore[attr-defined]
