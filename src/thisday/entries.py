"""Read entry files into validated :class:`Entry` values, and say exactly what is wrong with the rest.

Three kinds of file live under the entries folder:

- ``*.md``: one entry, YAML front matter between ``---`` lines, then a Markdown body;
- ``*.yaml`` / ``*.yml``: a YAML list of entries (bulk file);
- ``*.json``: a JSON list of entries (bulk file; parses many times faster than YAML for big collections).

Files and folders whose name starts with ``.`` or ``_``, and ``README.md``, are not entries.
A bad entry is reported as a :class:`Problem` (``path:line: message``) and skipped; the rest still load.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .dates import days_in_month, parse_historic_date, parse_rule
from .errors import DateError, EntryError, suggest
from .i18n import LANGUAGES, unknown_message
from .markup import slugify
from .model import Calendar, Entry, HistoricDate, Kind, Location, Precision, Problem, Source, Translation

FIELDS = (
    "id", "title", "date", "calendar", "observe", "kind", "rule", "tags", "featured", "sources", "body",
    "translations",
)  # fmt: skip
TRANSLATABLE = ("title", "body")
"""The fields a translation carries; dates, kind, tags and sources are shared by every language."""
SOURCE_FIELDS = ("title", "url")
ENTRY_SUFFIXES = (".md", ".markdown", ".yaml", ".yml", ".json")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


@dataclass(frozen=True)
class LoadResult:
    """Entries that loaded, problems found, and how many files were read."""

    entries: tuple[Entry, ...]
    problems: tuple[Problem, ...]
    files: int


@dataclass(frozen=True)
class _Raw:
    """One entry's fields as found in a file, before validation, with the line of each field."""

    fields: dict[str, Any]
    lines: dict[str, int]
    line: int
    body_line: int | None = None
    span: tuple[int, int] | None = None
    """Character offsets of the item in its file (JSON bulk files), so an index can re-read just this item."""


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

    translations: tuple[Translation, ...] = ()
    if fields.get("translations") is not None:
        try:
            translations = _translations(fields["translations"], where("translations"))
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
            translations=translations,
        ),
        [],
    )


# ---------------------------------------------------------------------------------------------
# Translations


def _translations(value: Any, where: Location) -> tuple[Translation, ...]:
    """A bulk entry's ``translations:`` mapping: language code -> ``title`` (and ``body``)."""
    if not isinstance(value, dict):
        raise _FieldError(
            "translations", "translations must map a language to its title and body: translations: {de: {title: ...}}"
        )
    found = []
    for code, fields in value.items():
        if str(code) not in LANGUAGES:
            raise _FieldError("translations", unknown_message(code, "translations language"))
        if not isinstance(fields, dict):
            raise _FieldError("translations", f"translations.{code} must hold title: (and body:)")
        for key in fields:
            if key not in TRANSLATABLE:
                raise _FieldError(
                    "translations",
                    f"translations.{code}.{key}: only title and body are translated "
                    "(date, kind, tags and sources are shared by every language); remove it",
                )
        title, body = fields.get("title"), fields.get("body", "") or ""
        if not isinstance(title, str) or not title.strip() or "\n" in title.strip():
            raise _FieldError("translations", f"translations.{code} needs a one-line title:")
        if not isinstance(body, str):
            raise _FieldError("translations", f"translations.{code}.body must be text (Markdown)")
        found.append(Translation(str(code), " ".join(title.split()), body.strip("\n"), where))
    return tuple(found)


def translation_name(name: str) -> tuple[str, str] | None:
    """For a translation file ``NAME.LANG.md``: (the original's name ``NAME.md``, ``LANG``); else None."""
    lower = name.lower()
    for suffix in (".md", ".markdown"):
        if lower.endswith(suffix):
            base, dot, code = name[: -len(suffix)].rpartition(".")
            if dot and base and code in LANGUAGES:
                return base + name[-len(suffix) :], code
    return None


def scan_translation_files(root: Path) -> list[tuple[str, str, str]]:
    """(relative path, relative path of the original, language) of every translation file under ``root``.

    Only regular files count; a folder is listed once however many links lead to it, and one that cannot be
    listed is passed over (the scan of entry files reports it)."""
    found: list[tuple[str, str, str]] = []
    pending = [(os.fspath(root), "")]
    seen: set[str] = set()
    while pending:
        folder, prefix = pending.pop()
        real = os.path.realpath(folder)
        if real in seen:
            continue
        seen.add(real)
        try:
            with os.scandir(folder) as scan:
                items = list(scan)
        except OSError:
            continue
        for item in items:
            if item.name.startswith((".", "_")):
                continue
            try:
                if item.is_dir():
                    pending.append((item.path, f"{prefix}{item.name}/"))
                    continue
                named = translation_name(item.name)
                if named is not None and item.is_file():
                    found.append((f"{prefix}{item.name}", f"{prefix}{named[0]}", named[1]))
            except OSError:
                continue
    return sorted(found)


def read_translation(root: Path, rel: str, language: str) -> tuple[Translation | None, list[Problem]]:
    """A translation file: front matter with ``title:`` (no other field), then the translated body."""
    try:
        text, problems = read_text(root / rel, rel)
    except OSError as exc:
        return None, [Problem(Location(rel, 1), f"cannot read the translation: {exc.strerror or exc}")]
    if text is None:
        return None, problems
    from . import yamlfiles

    raws, problems = yamlfiles.read(text, rel, markdown=True)
    if problems or not raws:
        return None, problems
    raw = raws[0]
    for key in raw.fields:
        if key not in TRANSLATABLE:
            problems.append(
                Problem(
                    Location(rel, raw.lines.get(key, raw.line)),
                    f"'{key}' is not translated: a translation file carries title: and the body only "
                    "(date, kind, tags and sources come from the original entry); remove it",
                )
            )
    title = raw.fields.get("title")
    if not isinstance(title, str) or not title.strip() or "\n" in title.strip():
        problems.append(Problem(Location(rel, raw.lines.get("title", raw.line)), "a translation needs a one-line title:"))
    body = raw.fields.get("body", "")
    if problems or not isinstance(title, str):
        return None, problems
    return Translation(language, " ".join(title.split()), str(body or "").strip("\n"), Location(rel, 1)), []


def with_translations(
    entries: Iterable[Entry], root: Path, *, every_file: bool = False
) -> tuple[list[Entry], list[Problem]]:
    """``entries`` with the translations of their ``NAME.LANG.md`` files attached, and the problems found.

    A translation file whose original ``NAME.md`` does not exist is a problem; so is one that carries a field
    other than title and body. ``every_file`` reads every translation file (``thisday check``), not only those
    of ``entries``.
    """
    entries = list(entries)
    files = scan_translation_files(root) if root.is_dir() else []
    by_original: dict[str, list[tuple[str, str]]] = {}
    problems: list[Problem] = []
    for rel, original, code in files:
        if not (root / original).is_file():
            problems.append(
                Problem(
                    Location(rel, 1),
                    f"translation of {original}, which does not exist: rename it after its entry (NAME.{code}.md "
                    "beside NAME.md) or delete it",
                )
            )
            continue
        by_original.setdefault(original, []).append((rel, code))
    wanted = {e.location.path for e in entries} if not every_file else set(by_original)
    read: dict[str, list[Translation]] = {}
    for original in sorted(wanted & set(by_original)):
        for rel, code in by_original[original]:
            translation, found = read_translation(root, rel, code)
            problems.extend(found)
            if translation is not None:
                read.setdefault(original, []).append(translation)
    result = [
        dataclasses.replace(e, translations=(*e.translations, *read[e.location.path]))
        if e.location.path in read
        else e
        for e in entries
    ]
    return result, problems


# ---------------------------------------------------------------------------------------------
# Trees


def is_entry_name(name: str) -> bool:
    """Whether a file of this name is an entry file (README.md, dotfiles, _private files and translations
    ``NAME.LANG.md`` are not)."""
    lower = name.lower()
    return (
        lower.endswith(ENTRY_SUFFIXES)
        and lower != "readme.md"
        and not name.startswith((".", "_"))
        and translation_name(name) is None
    )


def scan_entry_files(root: Path) -> list[tuple[str, str]]:
    """(relative posix path, full path) of every entry file under ``root``, sorted by relative path (the order
    that decides which duplicate id is first). Hidden and ``_private`` folders are skipped. Plain strings and
    ``os.scandir``, because the on-disk index runs this on every command."""
    found: list[tuple[str, str]] = []
    pending = [(os.fspath(root), "")]
    while pending:
        folder, prefix = pending.pop()
        with os.scandir(folder) as entries:
            for item in entries:
                if item.name.startswith((".", "_")):
                    continue
                if item.is_dir():
                    pending.append((item.path, f"{prefix}{item.name}/"))
                elif is_entry_name(item.name):
                    found.append((f"{prefix}{item.name}", item.path))
    return sorted(found)


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
    problems: list[Problem] = []
    files = 0
    for path in iter_entry_files(root):
        files += 1
        found, file_problems = load_file(path, root)
        entries.extend(found)
        problems.extend(file_problems)
    kept, dup_problems = dedupe(entries)
    return LoadResult(tuple(kept), tuple(problems + dup_problems), files)
