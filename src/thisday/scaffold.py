"""``thisday init`` and ``thisday new``: a working site to start from, and a new entry to write.

The starter site ships inside the package (``thisday/starter/``): ``thisday.toml`` with every setting shown and
commented, a few example entries and a README. ``init`` writes it only into a new or empty folder, and when it
cannot finish it removes what it wrote, so a refusal leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import yaml

from .dates import parse_historic_date
from .entries import derive_id, load_file
from .errors import DateError, ThisdayError
from .model import Calendar, Kind


class ScaffoldError(ThisdayError):
    """``thisday init`` or ``thisday new`` cannot write where it was asked to (the message says why and what to do)."""


def starter_files() -> list[tuple[str, bytes]]:
    """(relative posix path, content) of every file of the starter site, sorted."""
    found: list[tuple[str, bytes]] = []

    def walk(node: Traversable, prefix: str) -> None:
        for child in node.iterdir():
            if child.name.startswith((".", "_")):
                continue
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            else:
                found.append((f"{prefix}{child.name}", child.read_bytes()))

    walk(resources.files("thisday") / "starter", "")
    return sorted(found)


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def init_site(folder: Path) -> list[Path]:
    """Write the starter site into ``folder`` (created if missing); the files written, in order.

    Raises :class:`ScaffoldError`, having written nothing, when ``folder`` is a file, holds anything already,
    or cannot be written.
    """
    if folder.exists():
        if not folder.is_dir():
            raise ScaffoldError(f"{folder}: is a file, not a folder; name a new or empty folder for the site")
        present = sorted(p.name for p in folder.iterdir())
        if present:
            shown = ", ".join(present[:5]) + (", ..." if len(present) > 5 else "")
            raise ScaffoldError(
                f"{folder}: not empty (holds {shown}); thisday init writes only into a new or empty folder, so "
                "nothing of yours is overwritten: name another folder, e.g. thisday init my-site"
            )
    existing = _nearest_existing(folder)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ScaffoldError(
            f"{folder}: cannot write in {existing} (permission denied); choose a folder you can write to"
        )
    created_dirs: list[Path] = []
    written: list[Path] = []
    try:
        for parent in reversed([folder, *folder.parents]):
            if not parent.exists():
                parent.mkdir()
                created_dirs.append(parent)
        for rel, data in starter_files():
            target = folder / rel
            if not target.parent.exists():
                target.parent.mkdir(parents=True)
                created_dirs.append(target.parent)
            with open(target, "xb") as handle:  # never replaces a file, even one that appeared meanwhile
                written.append(target)
                handle.write(data)
    except OSError as exc:
        for path in reversed(written):
            path.unlink(missing_ok=True)
        for path in reversed(created_dirs):
            with contextlib.suppress(OSError):
                path.rmdir()
        reason = "permission denied" if exc.errno in (errno.EACCES, errno.EPERM) else (exc.strerror or str(exc))
        raise ScaffoldError(
            f"{folder}: cannot write the site ({reason}); nothing was left behind: choose a folder you can write to"
        ) from None
    return written


def _yaml_scalar(text: str) -> str:
    """``text`` as a YAML value: plain when it reads back unchanged, else double-quoted (JSON quoting)."""
    try:
        if yaml.safe_load(f"v: {text}") == {"v": text} and not text.startswith(("'", '"')):
            return text
    except yaml.YAMLError:
        pass
    return json.dumps(text, ensure_ascii=False)


def new_entry(entries: Path, title: str, date_text: str, kind: Kind, *, julian: bool = False) -> Path:
    """Write a new draft entry ``entries/<date>-<title slug>.md`` with its front matter filled in; its path.

    Refuses (:class:`ScaffoldError`) a bad title or date, and an entry file that exists already.
    """
    title = " ".join(title.split())
    if not title:
        raise ScaffoldError('the title is empty: thisday new "What happened" --date YYYY-MM-DD')
    calendar = Calendar.JULIAN if julian else Calendar.GREGORIAN
    date_text = date_text.strip()
    try:
        parse_historic_date(date_text, calendar)
    except DateError as exc:
        raise ScaffoldError(f"--date: {exc}") from None
    path = entries / f"{derive_id(date_text, title)}.md"
    if path.exists():
        raise ScaffoldError(f"{path}: exists already; edit it, or give the new entry another title")
    lines = [
        "---",
        f"title: {_yaml_scalar(title)}",
        f"date: {date_text}",
        *(["calendar: julian"] if julian else []),
        f"kind: {kind.value}",
        "status: draft          # ready when written (then it is published); verified once the facts are checked",
        "# verified_by: your name",
        "# publish_after: YYYY-MM-DD   # hold it back until this day has passed",
        "tags: []",
        "# featured: true",
        "# sources:",
        "#   - title: Where the facts come from",
        "#     url: https://example.org/",
        "---",
        "What happened, in Markdown.",
        "",
    ]
    try:
        entries.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as handle:
            handle.write("\n".join(lines))
    except OSError as exc:
        raise ScaffoldError(f"{path}: cannot write the entry ({exc.strerror or exc}); check the entries folder") from None
    _, problems = load_file(path, entries)
    if problems:  # pragma: no cover - the template above is valid for every title and date that parse
        path.unlink()
        raise ScaffoldError(f"{path}: the new entry would not be valid: {problems[0].message}")
    return path
