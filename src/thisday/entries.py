"""Read entry files into validated :class:`Entry` values, and say exactly what is wrong with the rest.

Three kinds of file live under the entries folder:

- ``*.md``: one entry, YAML front matter between ``---`` lines, then a Markdown body;
- ``*.yaml`` / ``*.yml``: a YAML list of entries (bulk file);
- ``*.json``: a JSON list of entries (bulk file; parses many times faster than YAML for big collections).

Files and folders whose name starts with ``.`` or ``_``, and ``README.md``, are not entries.
A bad entry is reported as a :class:`Problem` (``path:line: message``) and skipped; the rest still load.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .dates import days_in_month, parse_historic_date, parse_rule
from .errors import DateError, EntryError, suggest
from .markup import slugify, tag_slug
from .model import Calendar, Entry, HistoricDate, Kind, Location, Precision, Problem, RawEntry, Source, Status

FIELDS: tuple[str, ...] = ("id", "title", "date", "calendar", "observe", "kind", "rule", "tags", "featured", "sources", "body")
EDITORIAL_FIELDS = ("status", "verified_by", "verified_note", "publish_after", "disputed", "dispute_note")
FIELDS = (*FIELDS, *EDITORIAL_FIELDS)
SOURCE_FIELDS = ("title", "url")
ENTRY_SUFFIXES = (".md", ".markdown", ".yaml", ".yml", ".json")
MAX_DEPTH = 8
"""How deeply a field's value may nest (an entry needs three levels: sources, a source, its fields)."""
MAX_VALUES = 10_000
"""The most values (list items, keys, texts) one entry may hold, so that no entry costs more than a moment to check."""
MAX_DIGITS = 100
"""The longest number a field may hold; longer ones are refused while parsing (Python's own limit is 4300)."""


@dataclass(frozen=True)
class LoadResult:
    """Entries that loaded, problems found, and how many files were read."""

    entries: tuple[Entry, ...]
    problems: tuple[Problem, ...]
    files: int


# ---------------------------------------------------------------------------------------------
# Files


_KINDS = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a folder",
}


def _unreadable(path: Path, rel: str, exc: OSError) -> Problem:
    """Why a file cannot be read, and what to do about it."""
    if exc.errno == errno.ELOOP:
        return Problem(
            Location(rel, 1), "symbolic link loop: the link points (through others) back at itself; remove it"
        )
    if isinstance(exc, FileNotFoundError) and os.path.islink(path):
        target = os.readlink(path)
        return Problem(
            Location(rel, 1),
            f"broken symbolic link: it points to {target}, which does not exist; fix or remove the link",
        )
    reason = exc.strerror or type(exc).__name__
    fix = (
        "check the file's permissions" if isinstance(exc, PermissionError) else "check the file and the disk"
    )
    return Problem(Location(rel, 1), f"cannot be read ({reason}); {fix}")


def read_bytes(path: Path | str, rel: str) -> tuple[bytes | None, list[Problem]]:
    """The bytes of an entry file, or a problem saying why it cannot be read.

    Only regular files are opened (a named pipe would block every command); the open never blocks, and the
    file is checked again once open, in case it was replaced in between.
    """
    path = Path(path)
    try:
        kind = stat.S_IFMT(os.stat(path).st_mode)
        if kind == stat.S_IFREG:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
            try:
                kind = stat.S_IFMT(os.fstat(fd).st_mode)
                if kind == stat.S_IFREG:
                    with os.fdopen(fd, "rb", closefd=False) as handle:
                        return handle.read(), []
            finally:
                os.close(fd)
    except OSError as exc:
        return None, [_unreadable(path, rel, exc)]
    what = _KINDS.get(kind, "not a plain file")
    return None, [
        Problem(
            Location(rel, 1),
            f"not a regular file ({what}); an entry file must be a plain file: remove it or rename it",
        )
    ]


def read_text(path: Path | str, rel: str) -> tuple[str | None, list[Problem]]:
    """The text of an entry file (UTF-8, with or without a byte order mark), or the problems that stop it."""
    data, problems = read_bytes(path, rel)
    if data is None:
        return None, problems
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


class _TooLong(ValueError):
    """A JSON number too long to be a field's value."""


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise _TooLong(f"a number of {len(text.lstrip('-'))} digits is too long; write text in quotes")
    return int(text)


def _json_float(text: str) -> float:
    if len(text) > MAX_DIGITS:
        raise _TooLong(f"a number of {len(text)} characters is too long; write text in quotes")
    return float(text)


_DECODER = json.JSONDecoder(parse_int=_json_int, parse_float=_json_float)


def _json_value(text: str) -> Any:
    """``json.loads`` with the length limit on numbers (raises ValueError or RecursionError on bad input)."""
    value, end = _DECODER.raw_decode(text, len(text) - len(text.lstrip(" \t\n\r")))
    if text[end:].strip(" \t\n\r"):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def read_json_list(text: str, rel: str) -> tuple[list[RawEntry], list[Problem]]:
    counted = [0, 1]  # offset counted up to, line number there: items come in order, so count forward only

    def line_of(offset: int) -> int:
        if offset < counted[0]:
            return text.count("\n", 0, offset) + 1
        counted[1] += text.count("\n", counted[0], offset)
        counted[0] = offset
        return counted[1]

    decoder = _DECODER
    ws = re.compile(r"[ \t\n\r]*")
    pos = ws.match(text, 0).end()  # type: ignore[union-attr]
    if pos >= len(text):
        return [], []
    if text[pos] != "[":
        try:
            _json_value(text)
        except json.JSONDecodeError as exc:
            return [], [
                Problem(Location(rel, exc.lineno), f"JSON syntax error: {exc.msg} (column {exc.colno})")
            ]
        except (ValueError, RecursionError):
            pass
        return [], [
            Problem(
                Location(rel, line_of(pos)),
                'a JSON bulk file must be a list of entries: [{"title": ..., "date": ...}, ...]',
            )
        ]
    raws: list[RawEntry] = []
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
        except _TooLong as exc:
            return raws, [
                *problems,
                Problem(Location(rel, line_of(pos)), f"{exc}; the rest of the file is skipped"),
            ]
        except RecursionError:
            return raws, [
                *problems,
                Problem(
                    Location(rel, line_of(pos)),
                    "the entry nests too deeply to read (lists inside lists); simplify it; the rest of the file is skipped",
                ),
            ]
        line = line_of(pos)
        if isinstance(item, dict):
            raws.append(RawEntry(item, {}, line, span=(pos, end)))
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
        slug = tag_slug(str(tag))
        if slug not in tags:
            tags.append(slug)
    return tuple(tags)


def _valid_id(entry_id: str) -> bool:
    """Letters and digits of any script, marks, and . _ / -; starting with a letter or digit."""
    return (
        bool(entry_id)
        and entry_id[0].isalnum()
        and all(c.isalnum() or c in "._/-" or unicodedata.category(c).startswith("M") for c in entry_id)
    )


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
        fields = _json_value(item_text)
    except (ValueError, RecursionError):
        return None, [
            Problem(Location(rel, line), "the file changed while it was read; run the command again")
        ]
    if not isinstance(fields, dict):
        return None, [
            Problem(
                Location(rel, line), 'each list item must be an entry object: {"title": ..., "date": ...}'
            )
        ]
    return validate(RawEntry(fields, {}, line), rel)


_CONTROL_NAMES = {
    0x00: "NUL", 0x07: "BEL", 0x08: "BS", 0x0B: "VT", 0x0C: "FF", 0x1B: "ESC", 0x7F: "DEL",
    0x85: "NEL", 0x9B: "CSI", 0xFFFE: "a noncharacter", 0xFFFF: "a noncharacter",
}  # fmt: skip
_BAD_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
"""Characters no entry may hold: C0 controls but tab and line breaks, DEL, C1 controls, lone surrogates
(which cannot be written as UTF-8) and the two noncharacters XML forbids."""


def _bad_character(text: str) -> tuple[str, int] | None:
    """What is wrong with a string that holds a character no page, feed or email can carry, and how many line
    breaks come before it; None when the string is fine."""
    match = _BAD_CHAR.search(text)
    if match is None:
        return None
    code = ord(match[0])
    if 0xD800 <= code <= 0xDFFF:
        return (
            f"holds U+{code:04X}, half of a surrogate pair on its own, which cannot be written as UTF-8;"
            " delete the \\u escape, or write the character itself"
        ), text.count("\n", 0, match.start())
    name = _CONTROL_NAMES.get(code) or unicodedata.name(match[0], "a control character")
    what = "the noncharacter" if code >= 0xFFFE else "the control character"
    label = f"U+{code:04X} ({name})" if name != "a noncharacter" else f"U+{code:04X}"
    column = match.start() - text.rfind("\n", 0, match.start())
    return (
        f"holds {what} {label} at column {column}; delete it"
        " (it is invisible in most editors: retype the text around it)"
    ), text.count("\n", 0, match.start())


def _check_values(fields: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(field, message, line breaks before the bad character in the field's own text) for every field nested too
    deeply or holding a character that cannot be published.

    Walks keys and values without recursion, so no value, however deep, can exhaust the stack.
    """
    found: list[tuple[str, str, int]] = []
    budget = MAX_VALUES
    for field, value in fields.items():
        pending: list[tuple[object, int]] = [(field, 0), (value, 1)]
        while pending:
            item, depth = pending.pop()
            budget -= 1
            if budget < 0:
                message = (
                    f"the entry holds more than {MAX_VALUES} values (counting up to {field}); an entry needs far"
                    " fewer: check for a YAML alias (*name) that repeats a list many times"
                )
                found.append((str(field), message, 0))
                return found
            if depth > MAX_DEPTH:
                found.append((str(field), f"{field} nests more than {MAX_DEPTH} levels deep; simplify it", 0))
                break
            if isinstance(item, str):
                bad = _bad_character(item)
                if bad is not None:
                    found.append((str(field), f"{field} {bad[0]}", bad[1] if item is value else 0))
                    break
            elif isinstance(item, dict):
                pending.extend((k, depth + 1) for k in item)
                pending.extend((v, depth + 1) for v in item.values())
            elif isinstance(item, list):
                pending.extend((v, depth + 1) for v in item)
    return found


def validate(raw: RawEntry, rel: str) -> tuple[Entry | None, list[Problem]]:
    """Turn one raw entry into an :class:`Entry`, or the problems that stop it."""
    problems: list[Problem] = []

    def where(field: str | None = None) -> Location:
        return Location(rel, raw.lines.get(field, raw.line) if field else raw.line)

    def fail(field: str | None, message: str) -> None:
        problems.append(Problem(where(field), message))

    unsafe = _check_values(raw.fields)
    if unsafe:  # nothing else is looked at: such values cannot be shown, not even in a message
        for field, message, breaks in unsafe:
            # A Markdown body is the file's own lines: point at the character's line (elsewhere, at the field)
            exact = raw.body_line is not None and field == "body"
            problems.append(Problem(Location(rel, where(field).line + (breaks if exact else 0)), message))
        return None, problems

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
        if not _valid_id(entry_id):
            fail(
                "id",
                f"id {entry_id!r} may use only letters, digits and . _ / - (and start with a letter or digit)",
            )

    editorial = _editorial(fields, fail)
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
            **editorial,
        ),
        [],
    )


def _one_line(value: Any, field: str, fail: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        fail(field, f"{field} must be text, not {value!r}")
        return ""
    return " ".join(str(value).split())


def _editorial(fields: dict[str, Any], fail: Any) -> dict[str, Any]:
    """The editorial fields (status, verification, embargo, dispute), validated; problems go to ``fail``."""
    values: dict[str, Any] = {}
    status = Status.READY
    if fields.get("status") is not None:
        try:
            status = _enum_value(fields["status"], Status, "status")  # type: ignore[arg-type]
        except _FieldError as exc:
            fail(exc.field, exc.message)
    values["status"] = status
    for field in ("verified_by", "verified_note"):
        values[field] = _one_line(fields.get(field), field, fail)
        if values[field] and status is not Status.VERIFIED:
            fail(
                field,
                f"{field} belongs to a verified entry, but this one is {status.value}: "
                f"set status: verified once it is checked, or remove {field}",
            )
    after = fields.get("publish_after")
    values["publish_after"] = None
    if after is not None:
        if isinstance(after, datetime.date) and not isinstance(after, datetime.datetime):
            values["publish_after"] = after
        elif isinstance(after, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", after.strip()):
            try:
                values["publish_after"] = datetime.date.fromisoformat(after.strip())
            except ValueError:
                fail("publish_after", f"publish_after {after!r} is not a real day: write YYYY-MM-DD")
        else:
            fail("publish_after", f"publish_after must be a day written YYYY-MM-DD (e.g. 2026-08-01), not {after!r}")
    disputed = fields.get("disputed", False)
    if not isinstance(disputed, bool):
        fail("disputed", f"disputed must be true or false, not {disputed!r}")
        disputed = False
    values["disputed"] = disputed
    values["dispute_note"] = _one_line(fields.get("dispute_note"), "dispute_note", fail)
    if values["dispute_note"] and not disputed:
        fail("dispute_note", "dispute_note explains a disputed date: add disputed: true (or remove the note)")
    return values


# ---------------------------------------------------------------------------------------------
# Trees


def is_entry_name(name: str) -> bool:
    """Whether a file of this name is an entry file (README.md, dotfiles and _private files are not)."""
    lower = name.lower()
    return lower.endswith(ENTRY_SUFFIXES) and lower != "readme.md" and not name.startswith((".", "_"))


def scan_tree(root: Path) -> tuple[list[tuple[str, str]], list[Problem]]:
    """(relative posix path, full path) of every entry file under ``root``, sorted by relative path (the order
    that decides which duplicate id is first), and the folders that could not be listed. Hidden and ``_private``
    folders are skipped; a folder reached again through a symbolic link is listed once, under its real path
    when the tree holds it (real folders are listed before linked ones). Anything with an entry
    file's name that is not a folder is returned, so that reading it reports what it is (a pipe, a broken
    link). Plain strings and ``os.scandir``, because the on-disk index runs this on every command."""
    found: list[tuple[str, str]] = []
    problems: list[Problem] = []
    pending = [(os.fspath(root), "")]
    linked: list[tuple[str, str]] = []  # folders reached through a link: listed after every real folder
    seen: set[tuple[int, int]] = set()
    while pending or linked:
        folder, prefix = pending.pop() if pending else linked.pop(0)
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as entries:
                items = sorted(entries, key=lambda item: item.name)
        except OSError as exc:
            where = prefix.rstrip("/") or "."
            reason = exc.strerror or type(exc).__name__
            problems.append(
                Problem(Location(where, 1), f"folder cannot be read ({reason}); check its permissions")
            )
            continue
        for item in items:
            if item.name.startswith((".", "_")):
                continue
            try:
                is_dir = item.is_dir()
            except OSError:  # a symbolic link loop, say: reading it says so
                is_dir = False
            if is_dir:
                (linked if item.is_symlink() else pending).append((item.path, f"{prefix}{item.name}/"))
            elif is_entry_name(item.name):
                found.append((f"{prefix}{item.name}", item.path))
    return sorted(found), problems


def scan_entry_files(root: Path) -> list[tuple[str, str]]:
    """The entry files of :func:`scan_tree`, without the problems."""
    return scan_tree(root)[0]


def iter_entry_files(root: Path) -> Iterator[Path]:
    """Entry files under ``root`` in :func:`scan_entry_files` order."""
    for _, path in scan_entry_files(root):
        yield Path(path)


def load_file(path: Path, root: Path) -> tuple[list[Entry], list[Problem]]:
    """All valid entries of one file, and the problems of the rest. Never raises for bad content."""
    rel = path.relative_to(root).as_posix()
    text, problems = read_text(path, rel)
    if text is None:
        return [], problems
    suffix = path.suffix.lower()
    if suffix == ".json":
        raws, problems = read_json_list(text, rel)
    else:
        from . import yamlfiles  # YAML is imported only when a YAML or Markdown file is read

        raws, problems = yamlfiles.read(text, rel, markdown=suffix in (".md", ".markdown"))
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
    found_files, problems = scan_tree(root)
    files = 0
    for _, name in found_files:
        files += 1
        found, file_problems = load_file(Path(name), root)
        entries.extend(found)
        problems.extend(file_problems)
    kept, dup_problems = dedupe(entries)
    return LoadResult(tuple(kept), tuple(problems + dup_problems), files)
