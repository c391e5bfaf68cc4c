"""Read entry files into validated :class:`Entry` values, and say exactly what is wrong with the rest.

Three kinds of file live under the entries folder:

- ``*.md``: one entry, YAML front matter between ``---`` lines, then a Markdown body;
- ``*.yaml`` / ``*.yml``: a YAML list of entries (bulk file);
- ``*.json``: a JSON list of entries (bulk file; parses many times faster than YAML for big collections).

Files and folders whose name starts with ``.`` or ``_``, and ``README.md``, are not entries.
A bad entry is reported as a :class:`Problem` (``path:line: message``) and skipped; the rest still load.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .dates import days_in_month, parse_historic_date, parse_rule
from .errors import DateError, EntryError, suggest
from .markup import slugify
from .model import Calendar, Entry, HistoricDate, Kind, Location, Precision, Problem, Source

FIELDS = ("id", "title", "date", "calendar", "observe", "kind", "rule", "tags", "featured", "sources", "body")
SOURCE_FIELDS = ("title", "url")
ENTRY_SUFFIXES = (".md", ".markdown", ".yaml", ".yml", ".json")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


@dataclass(frozen=True)
class LoadResult:
    """Entries that loaded, problems found, and how many files were read."""

    entries: tuple[Entry, ...]
    problems: tuple[Problem, ...]
    files: int


# ---------------------------------------------------------------------------------------------
# YAML that keeps dates as text and knows the line of every key


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe loading (libyaml's parser when available; it keeps line marks), without timestamp conversion."""


# YAML 1.2 core rules instead of PyYAML's YAML 1.1 ones, so that what editors write means what it says:
# dates stay text (no timestamp conversion), only true/false are booleans ("No" stays a word), and integers
# are decimal (an unquoted -0043 is 44 BC, not an octal number).
_REPLACED = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int"}
_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))


def _decimal_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    return int(str(loader.construct_scalar(node)), 10)


_Loader.add_constructor("tag:yaml.org,2002:int", _decimal_int)


@dataclass(frozen=True)
class _Raw:
    """One entry's fields as found in a file, before validation, with the line of each field."""

    fields: dict[str, Any]
    lines: dict[str, int]
    line: int
    body_line: int | None = None
    span: tuple[int, int] | None = None
    """Character offsets of the item in its file (JSON bulk files), so an index can re-read just this item."""


def _yaml_problem(exc: yaml.YAMLError, text: str, path: str, line_offset: int) -> Problem:
    """A YAML error as a path:line problem: the line of the problem (or of the unclosed bracket)."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text[: exc.position].count("\n") + 1 + line_offset
        return Problem(Location(path, line), f"character {exc.character!r} is not allowed in YAML; remove it")
    if not isinstance(exc, yaml.MarkedYAMLError):
        return Problem(Location(path, 1 + line_offset), f"YAML error: {exc}")
    mark = exc.problem_mark or exc.context_mark
    at_end = exc.problem_mark is None or exc.problem_mark.index >= len(text.rstrip())
    if exc.context_mark is not None and at_end:
        mark = exc.context_mark  # an unclosed bracket or quote: point at where it opened
    line = (mark.line + 1 if mark else 1) + line_offset
    what = exc.problem or "syntax error"
    if exc.context and mark is exc.context_mark:
        what = f"{exc.context} that is never closed ({what})"
    return Problem(
        Location(path, line),
        f"YAML syntax error: {what}; check the indentation and put text containing ': ' or '#' in quotes",
    )


def _yaml_items(text: str, path: str, line_offset: int = 0) -> tuple[Any, list[Problem]]:
    """Compose a YAML document; return ((loader, node), problems)."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        return None, [_yaml_problem(exc, text, path, line_offset)]
    return (loader, node), []


def _raw_from_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, line_offset: int) -> _Raw:
    fields: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        lines[key] = key_node.start_mark.line + 1 + line_offset
        fields[key] = loader.construct_object(value_node, deep=True)
    return _Raw(fields, lines, node.start_mark.line + 1 + line_offset)


# ---------------------------------------------------------------------------------------------
# Files


def read_text(path: Path, rel: str) -> tuple[str | None, list[Problem]]:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [
            Problem(
                Location(rel, line),
                f"file is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); save it as UTF-8",
            )
        ]


def read_markdown(text: str, rel: str) -> tuple[list[_Raw], list[Problem]]:
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return [], [
            Problem(
                Location(rel, 1),
                "a Markdown entry starts with a '---' line, then YAML front matter, then '---'",
            )
        ]
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration:
        return [], [Problem(Location(rel, 1), "front matter is not closed: add a '---' line after it")]
    parsed, problems = _yaml_items("\n".join(lines[1:end]), rel, line_offset=1)
    if problems:
        return [], problems
    loader, node = parsed
    if not isinstance(node, yaml.MappingNode):
        return [], [
            Problem(Location(rel, 2), "front matter must be 'field: value' lines (title:, date:, ...)")
        ]
    raw = _raw_from_mapping(loader, node, line_offset=1)
    if "body" in raw.fields:
        return [], [
            Problem(
                Location(rel, raw.lines["body"]),
                "a Markdown entry's body is the text after the front matter, not a body: field",
            )
        ]
    body = "\n".join(lines[end + 1 :]).strip("\n")
    raw.fields["body"] = body
    raw.lines["body"] = end + 2
    return [_Raw(raw.fields, raw.lines, 1, end + 2)], []


def read_yaml_list(text: str, rel: str) -> tuple[list[_Raw], list[Problem]]:
    parsed, problems = _yaml_items(text, rel)
    if problems:
        return [], problems
    loader, node = parsed
    if node is None:
        return [], []
    if not isinstance(node, yaml.SequenceNode):
        line = node.start_mark.line + 1
        return [], [
            Problem(
                Location(rel, line),
                "a bulk file must be a list of entries: start each entry with '- title: ...'",
            )
        ]
    raws: list[_Raw] = []
    problems = []
    for item in node.value:
        if isinstance(item, yaml.MappingNode):
            raws.append(_raw_from_mapping(loader, item, 0))
        else:
            problems.append(
                Problem(
                    Location(rel, item.start_mark.line + 1),
                    "each list item must be an entry ('title: ...', 'date: ...')",
                )
            )
    return raws, problems


def read_json_list(text: str, rel: str) -> tuple[list[_Raw], list[Problem]]:
    counted = [0, 1]  # offset counted up to, line number there: items come in order, so count forward only

    def line_of(offset: int) -> int:
        if offset < counted[0]:
            return text.count("\n", 0, offset) + 1
        counted[1] += text.count("\n", counted[0], offset)
        counted[0] = offset
        return counted[1]

    decoder = json.JSONDecoder()
    ws = re.compile(r"[ \t\n\r]*")
    pos = ws.match(text, 0).end()  # type: ignore[union-attr]
    if pos >= len(text):
        return [], []
    if text[pos] != "[":
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            return [], [
                Problem(Location(rel, exc.lineno), f"JSON syntax error: {exc.msg} (column {exc.colno})")
            ]
        return [], [
            Problem(
                Location(rel, line_of(pos)),
                'a JSON bulk file must be a list of entries: [{"title": ..., "date": ...}, ...]',
            )
        ]
    raws: list[_Raw] = []
    problems: list[Problem] = []
    pos = ws.match(text, pos + 1).end()  # type: ignore[union-attr]
    if pos < len(text) and text[pos] == "]":
        return [], []
    while True:
        try:
            item, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            return raws, [
                *problems,
                Problem(Location(rel, exc.lineno), f"JSON syntax error: {exc.msg} (column {exc.colno})"),
            ]
        line = line_of(pos)
        if isinstance(item, dict):
            raws.append(_Raw(item, {}, line, span=(pos, end)))
        else:
            problems.append(
                Problem(
                    Location(rel, line), 'each list item must be an entry object: {"title": ..., "date": ...}'
                )
            )
        pos = ws.match(text, end).end()  # type: ignore[union-attr]
        if pos < len(text) and text[pos] == ",":
            pos = ws.match(text, pos + 1).end()  # type: ignore[union-attr]
            continue
        if pos < len(text) and text[pos] == "]":
            break
        line = line_of(pos)
        return raws, [
            *problems,
            Problem(Location(rel, line), "JSON syntax error: expected ',' or ']' after an entry"),
        ]
    return raws, problems


# ---------------------------------------------------------------------------------------------
# Validation


def _enum_value(value: Any, enum_type: type[Kind] | type[Calendar], field: str) -> Any:
    options = [member.value for member in enum_type]
    if not isinstance(value, str) or value.strip().lower() not in options:
        hint = suggest(str(value).lower(), options) if isinstance(value, str) else ""
        raise _FieldError(field, f"{field} must be one of {', '.join(options)}, not {value!r}{hint}")
    return enum_type(value.strip().lower())


class _FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _sources(value: Any) -> tuple[Source, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list):
        raise _FieldError("sources", "sources must be a list of 'title: ..., url: ...' items")
    result = []
    for item in value:
        if isinstance(item, str):
            text = item.strip()
            url = text if text.startswith(("http://", "https://")) else None
            result.append(Source(title=text, url=url))
            continue
        if not isinstance(item, dict):
            raise _FieldError("sources", "each source is 'title: ...' with an optional 'url: https://...'")
        unknown = [k for k in item if k not in SOURCE_FIELDS]
        if unknown:
            raise _FieldError(
                "sources",
                f"unknown source field '{unknown[0]}'{suggest(str(unknown[0]), SOURCE_FIELDS)}: a source has title and url",
            )
        url = item.get("url")
        title = item.get("title") or url
        if not isinstance(title, str) or not title.strip():
            raise _FieldError("sources", "a source needs a title (or at least a url)")
        if url is not None and (not isinstance(url, str) or not re.match(r"^https?://\S+$", url.strip())):
            raise _FieldError("sources", f"source url {url!r} must be an absolute http(s) URL")
        result.append(
            Source(title=" ".join(title.split()), url=url.strip() if isinstance(url, str) else None)
        )
    return tuple(result)


def _tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [part for part in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(t, (str, int)) for t in value):
        raise _FieldError("tags", "tags must be a list of words: tags: [science, space]")
    tags = []
    for tag in value:
        slug = slugify(str(tag), limit=40)
        if slug not in tags:
            tags.append(slug)
    return tuple(tags)


def derive_id(date_value: object, title: str) -> str:
    """The default id: the date as written (without ~ and ?) and a slug of the one-line title."""
    date_part = str(date_value).strip() if date_value is not None else "moveable"
    return f"{date_part.lstrip('~').rstrip('?')}-{slugify(' '.join(title.split()))}"


_SIMPLE_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def quick_day(fields: dict[str, Any]) -> tuple[str, int, int] | None:
    """(id, month, day) of a plain Gregorian day-precise entry, without full validation; None for anything else.

    The on-disk index uses it to place big imported collections cheaply; such an entry is fully validated when
    it is read, and by ``thisday check``. For every entry that passes validation, the answer equals the id
    and anniversary day that validation gives.
    """
    date = fields.get("date")
    title = fields.get("title")
    if not isinstance(date, str) or not isinstance(title, str) or "rule" in fields or "observe" in fields:
        return None
    if fields.get("calendar", "gregorian") != "gregorian":
        return None
    match = _SIMPLE_DAY.match(date)
    if match is None:
        return None
    year, month, day = int(match[1]), int(match[2]), int(match[3])
    if not 1 <= month <= 12 or not 1 <= day <= days_in_month(year, month):
        return None
    explicit = fields.get("id")
    entry_id = str(explicit).strip() if explicit is not None else derive_id(date, title)
    return entry_id, month, day


def validate_json_item(item_text: str, rel: str, line: int) -> tuple[Entry | None, list[Problem]]:
    """Validate one item of a JSON bulk file from its text (as located by :func:`read_json_list`)."""
    try:
        fields = json.loads(item_text)
    except json.JSONDecodeError:
        return None, [
            Problem(Location(rel, line), "the file changed while it was read; run the command again")
        ]
    if not isinstance(fields, dict):
        return None, [
            Problem(
                Location(rel, line), 'each list item must be an entry object: {"title": ..., "date": ...}'
            )
        ]
    return validate(_Raw(fields, {}, line), rel)


def validate(raw: _Raw, rel: str) -> tuple[Entry | None, list[Problem]]:
    """Turn one raw entry into an :class:`Entry`, or the problems that stop it."""
    problems: list[Problem] = []

    def where(field: str | None = None) -> Location:
        return Location(rel, raw.lines.get(field, raw.line) if field else raw.line)

    def fail(field: str | None, message: str) -> None:
        problems.append(Problem(where(field), message))

    for key in raw.fields:
        if key not in FIELDS:
            fail(key, f"unknown field '{key}'{suggest(str(key), FIELDS)}")

    fields = raw.fields
    title = fields.get("title")
    if title is None or (isinstance(title, str) and not title.strip()):
        fail("title" if "title" in fields else None, "missing title: every entry needs 'title: ...'")
        title = None
    elif not isinstance(title, str):
        title = str(title)
    if isinstance(title, str) and ("\n" in title.strip() or "\r" in title):
        fail("title", "title must be one line (no line breaks)")

    values: dict[str, Any] = {}
    try:
        values["kind"] = _enum_value(fields.get("kind", "event"), Kind, "kind")
    except _FieldError as exc:
        fail(exc.field, exc.message)
    calendar = Calendar.GREGORIAN
    try:
        calendar = _enum_value(fields.get("calendar", "gregorian"), Calendar, "calendar")
    except _FieldError as exc:
        fail(exc.field, exc.message)
    observe_julian = False
    if "observe" in fields:
        try:
            observe_julian = _enum_value(fields["observe"], Calendar, "observe") is Calendar.JULIAN
        except _FieldError as exc:
            fail(exc.field, exc.message)
        if observe_julian and calendar is not Calendar.JULIAN:
            fail(
                "observe", "observe: julian keeps an Old Style day, so the entry also needs calendar: julian"
            )

    rule = None
    if fields.get("rule") is not None:
        try:
            rule = parse_rule(fields["rule"]).text
        except DateError as exc:
            fail("rule", str(exc))

    date: HistoricDate | None = None
    if fields.get("date") is None:
        if fields.get("rule") is None:
            fail(
                "date" if "date" in fields else None,
                "missing date: write date: YYYY-MM-DD (or YYYY-MM, YYYY)",
            )
    else:
        try:
            date = parse_historic_date(fields["date"], calendar)
        except DateError as exc:
            fail("date", str(exc))
    if rule is not None and date is not None and date.precision is not Precision.YEAR:
        fail("date", "with a rule, date is the year first observed (YYYY); the rule gives the day")
    if rule is not None and values.get("kind", Kind.OBSERVANCE) is not Kind.OBSERVANCE:
        fail("rule", "only observances are moveable: add kind: observance")

    featured = fields.get("featured", False)
    if not isinstance(featured, bool):
        fail("featured", f"featured must be true or false, not {featured!r}")
    body = fields.get("body", "")
    if body is None:
        body = ""
    if not isinstance(body, str):
        fail("body", "body must be text (Markdown)")
    try:
        values["sources"] = _sources(fields.get("sources"))
    except _FieldError as exc:
        fail(exc.field, exc.message)
    try:
        values["tags"] = _tags(fields.get("tags"))
    except _FieldError as exc:
        fail(exc.field, exc.message)

    entry_id = fields.get("id")
    if entry_id is not None:
        entry_id = str(entry_id).strip()
        if not _ID_RE.match(entry_id):
            fail(
                "id",
                f"id {entry_id!r} may use only letters, digits and . _ / - (and start with a letter or digit)",
            )

    if problems or title is None:
        return None, problems
    title = " ".join(title.split())
    if entry_id is None:
        entry_id = derive_id(fields["date"] if date is not None else None, title)
    return (
        Entry(
            id=entry_id,
            title=title,
            kind=values["kind"],
            date=date,
            location=where(),
            observe_julian=observe_julian,
            rule=rule,
            tags=values["tags"],
            featured=featured,
            sources=values["sources"],
            body=body.strip("\n"),
        ),
        [],
    )


# ---------------------------------------------------------------------------------------------
# Trees


def is_entry_file(path: Path) -> bool:
    return (
        path.suffix.lower() in ENTRY_SUFFIXES
        and path.name.lower() != "readme.md"
        and not path.name.startswith((".", "_"))
    )


def iter_entry_files(root: Path) -> Iterator[Path]:
    """Entry files under ``root``, sorted by relative path (the order that decides which duplicate id is first).

    Hidden and ``_private`` folders are skipped.
    """
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "_"))]
        for name in filenames:
            path = Path(dirpath) / name
            if is_entry_file(path):
                found.append((path.relative_to(root).as_posix(), path))
    for _, path in sorted(found):
        yield path


def load_file(path: Path, root: Path) -> tuple[list[Entry], list[Problem]]:
    """All valid entries of one file, and the problems of the rest. Never raises for bad content."""
    rel = path.relative_to(root).as_posix()
    text, problems = read_text(path, rel)
    if text is None:
        return [], problems
    suffix = path.suffix.lower()
    try:
        if suffix in (".md", ".markdown"):
            raws, problems = read_markdown(text, rel)
        elif suffix == ".json":
            raws, problems = read_json_list(text, rel)
        else:
            raws, problems = read_yaml_list(text, rel)
    except yaml.YAMLError as exc:  # raised while constructing values (e.g. a list used as a key)
        return [], [_yaml_problem(exc, text, rel, 1 if suffix in (".md", ".markdown") else 0)]
    except RecursionError:
        return [], [Problem(Location(rel, 1), "the file nests too deeply to read; simplify its structure")]
    entries = []
    for raw in raws:
        entry, entry_problems = validate(raw, rel)
        problems.extend(entry_problems)
        if entry is not None:
            entries.append(entry)
    return entries, problems


def dedupe(entries: Iterable[Entry]) -> tuple[list[Entry], list[Problem]]:
    """Keep the first entry of each id; every later one is a problem naming where the first is."""
    seen: dict[str, Entry] = {}
    kept: list[Entry] = []
    problems: list[Problem] = []
    for entry in entries:
        first = seen.get(entry.id)
        if first is not None:
            problems.append(
                Problem(
                    entry.location,
                    f"duplicate id '{entry.id}' (also at {first.location}); give one of them an explicit id: or another title",
                )
            )
            continue
        seen[entry.id] = entry
        kept.append(entry)
    return kept, problems


def load_tree(root: Path) -> LoadResult:
    """Every entry under ``root``. Problems are collected, never raised, so one bad file never hides the rest."""
    if not root.is_dir():
        raise EntryError(f"{root}: entries folder not found; create it or pass --entries PATH")
    entries: list[Entry] = []
    problems: list[Problem] = []
    files = 0
    for path in iter_entry_files(root):
        files += 1
        found, file_problems = load_file(path, root)
        entries.extend(found)
        problems.extend(file_problems)
    kept, dup_problems = dedupe(entries)
    return LoadResult(tuple(kept), tuple(problems + dup_problems), files)
