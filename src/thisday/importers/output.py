"""Imported entries as JSON bulk files in a fixed layout, the import report, and writing both.

Layout of the ``--into`` folder: ``MM-DD.json`` holds the entries whose anniversary is that day,
``month-MM.json`` the month-precise ones, ``undated.json`` the year-precise ones and ``moveable.json`` the
observances with a rule. Inside a file, entries are ordered by year, kind and id, one JSON object per line
with sorted keys: the same entries always give the same bytes, so a re-import rewrites nothing.

``_import.json`` (ignored by the entry loader, as every ``_`` file) records which source the folder holds
and which files the import wrote: a re-import of that source replaces exactly those files, and a different
source is refused unless the user asks to replace it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..dates import julian_to_gregorian
from ..errors import ImportSourceError
from ..publish import atomic_write
from .common import REASONS, ImportResult

MANIFEST = "_import.json"
_KIND_ORDER = {"event": 0, "birth": 1, "death": 2, "observance": 3}


@dataclass(frozen=True)
class WriteSummary:
    """What writing an import did to the folder."""

    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]


def _date_parts(entry: dict[str, Any]) -> tuple[int, int | None, int | None]:
    text = str(entry.get("date", "")).lstrip("~").rstrip("?")
    sign = -1 if text.startswith("-") else 1
    parts = text.lstrip("+-").split("-") if text else ["0"]
    numbers = [int(p) for p in parts]
    return (
        sign * numbers[0],
        numbers[1] if len(numbers) > 1 else None,
        numbers[2] if len(numbers) > 2 else None,
    )


def file_name(entry: dict[str, Any]) -> str:
    """The file an entry goes to: its anniversary day (``07-12.json``), month, ``undated`` or ``moveable``."""
    if entry.get("rule"):
        return "moveable.json"
    year, month, day = _date_parts(entry)
    if month is None:
        return "undated.json"
    if day is None:
        return f"month-{month:02d}.json"
    if entry.get("calendar") == "julian" and entry.get("observe") != "julian":
        _, month, day = julian_to_gregorian(year, month, day)
    return f"{month:02d}-{day:02d}.json"


def render_files(entries: tuple[dict[str, Any], ...]) -> dict[str, bytes]:
    """File name -> bytes of every bulk file for ``entries`` (pure: the same entries give the same bytes)."""
    groups: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        groups[file_name(entry)].append(entry)
    files = {}
    for name, group in sorted(groups.items()):
        group.sort(key=lambda e: (_date_parts(e)[0], _KIND_ORDER.get(e["kind"], 9), e["id"]))
        lines = [json.dumps(e, ensure_ascii=False, sort_keys=True) for e in group]
        files[name] = ("[\n" + ",\n".join(lines) + "\n]\n").encode("utf-8")
    return files


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportSourceError(f"{path}: not readable ({exc}); delete it and import again") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise ImportSourceError(f"{path}: not an import record; delete it and import again")
    return manifest


def write_files(
    folder: Path, files: dict[str, bytes], fmt: str, source: str, *, replace: bool = False
) -> WriteSummary:
    """Write ``files`` into ``folder`` (atomically, skipping files whose bytes are already there).

    Files the previous import of the same source wrote and this one does not are removed. A folder that
    holds another source's import is refused unless ``replace``; files not written by an import are never
    overwritten.
    """
    manifest = _read_manifest(folder)
    previous: list[str] = []
    if manifest is not None:
        previous = [str(name) for name in manifest["files"]]
        if (manifest.get("format"), manifest.get("source")) != (fmt, source) and not replace:
            raise ImportSourceError(
                f"{folder} holds the {manifest.get('format')} import of {manifest.get('source')!r}; "
                f"import {source!r} into another folder with --into, or pass --replace to replace it"
            )
    foreign = sorted(name for name in files if (folder / name).exists() and name not in previous)
    if foreign:
        raise ImportSourceError(
            f"{folder / foreign[0]} exists and was not written by thisday import; "
            "move it away or import into another folder with --into"
        )
    written, unchanged = [], []
    for name, data in sorted(files.items()):
        path = folder / name
        if path.is_file() and path.read_bytes() == data:
            unchanged.append(name)
            continue
        atomic_write(path, data)
        written.append(name)
    removed = sorted(name for name in previous if name not in files and "/" not in name and name != MANIFEST)
    for name in removed:
        (folder / name).unlink(missing_ok=True)
    record = json.dumps({"format": fmt, "source": source, "files": sorted(files)}, indent=1) + "\n"
    path = folder / MANIFEST
    if not path.is_file() or path.read_text(encoding="utf-8") != record:
        atomic_write(path, record.encode("utf-8"))
    return WriteSummary(tuple(written), tuple(unchanged), tuple(removed))


def report_text(result: ImportResult, fmt: str, source: str) -> str:
    """The import report: the counts, then one tab-separated line per rejected record and per note."""
    lines = [
        f"# thisday import {fmt} {source}",
        f"# {result.records} records: {result.imported_records} imported as {len(result.entries)} entries, "
        f"{len(result.rejects)} not imported",
    ]
    for reason, count in result.reason_counts():
        lines.append(f"#   {reason}: {count} ({REASONS.get(reason, reason)})")
    lines.append("# not imported: location<TAB>reason<TAB>why<TAB>record")
    lines.extend(_row(r.location, r.reason, r.detail, r.record) for r in result.rejects)
    lines.append(f"# imported with a note ({len(result.notes)}): location<TAB>note<TAB>what was done")
    lines.extend(_row(n.location, "note", n.message) for n in result.notes)
    return "\n".join(lines) + "\n"


def _row(*cells: str) -> str:
    return "\t".join(" ".join(cell.split()) for cell in cells)
