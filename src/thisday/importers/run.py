"""A whole import as the command runs it: read the source, write the report and the folder, say what happened.

The ``thisday import`` command only parses its options and prints the lines :func:`summary` returns.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ImportSourceError
from ..publish import atomic_write
from . import import_source
from .common import ImportOptions, ImportResult
from .output import WriteSummary, render_files, report_text, write_files


@dataclass(frozen=True)
class ImportRun:
    """What one import read and wrote."""

    fmt: str
    label: str
    folder: Path
    result: ImportResult
    written: WriteSummary
    report_path: Path | None


def source_label(fmt: str, source: Path) -> str:
    """The name an import's source is recorded under: the file or folder name (a ``days/`` folder's parent)."""
    label = source.resolve().name
    if fmt in ("wikipedia-day-files", "json") and label == "days":
        label = source.resolve().parent.name
    return label


@contextlib.contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback drawing a bar on stderr when it is a terminal (scripts stay quiet)."""
    import click

    with contextlib.ExitStack() as stack:
        bars: list[Any] = []

        def progress(done: int, total: int) -> None:
            if not bars:
                if not sys.stderr.isatty():
                    bars.append(None)
                    return
                bars.append(
                    stack.enter_context(
                        click.progressbar(length=total, label=f"importing {label}", file=sys.stderr)
                    )
                )
            if bars[0] is not None:
                bars[0].update(done - bars[0].pos)

        yield progress


def run_import(
    fmt: str,
    source: Path,
    folder: Path,
    options: ImportOptions,
    *,
    report_path: Path | None = None,
    replace: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportRun:
    """Import ``source`` into ``folder``; the report (when asked) is written whatever the outcome.

    An import in which no record could be imported writes nothing into the folder (no files, no
    ``_import.json``, so another source may still be imported there) and raises :class:`ImportSourceError`.
    """
    label = source_label(fmt, source)
    result = import_source(fmt, source, options, progress)
    if report_path is not None:
        atomic_write(report_path, report_text(result, fmt, label).encode("utf-8"))
    if not result.entries:
        raise ImportSourceError(nothing_imported(result, source, report_path))
    written = write_files(folder, render_files(result.entries), fmt, label, replace=replace)
    return ImportRun(fmt, label, folder, result, written, report_path)


def nothing_imported(result: ImportResult, source: Path, report_path: Path | None) -> str:
    """The one-line error of an import that imported nothing: what was read, why not, where to look."""
    if not result.records:
        return f"{source}: no records found; nothing was written"
    reasons = ", ".join(f"{reason} {count:,}" for reason, count in result.reason_counts())
    first = result.rejects[0]
    where = f"see {report_path}" if report_path is not None else "--report FILE lists every record"
    return (
        f"{source}: none of its {result.records:,} records could be imported ({reasons}); nothing was written. "
        f"First: {first.location}: {first.reason}: {first.detail}; {where}"
    )


def summary(run: ImportRun, entries_root: Path) -> tuple[list[str], list[str]]:
    """The lines the command prints: (stdout, stderr)."""
    result, written = run.result, run.written
    out = [
        f"imported {result.imported_records:,} of {result.records:,} records as {len(result.entries):,} entries "
        f"into {run.folder} ({len(written.written)} files written, {len(written.unchanged)} unchanged"
        + (f", {len(written.removed)} removed" if written.removed else "")
        + ")"
    ]
    err: list[str] = []
    if result.rejects:
        reasons = ", ".join(f"{reason} {count:,}" for reason, count in result.reason_counts())
        plural = "s" if len(result.rejects) != 1 else ""
        out.append(f"not imported: {len(result.rejects):,} record{plural} ({reasons})")
        if run.report_path is None:
            err.extend(f"  {r.location}: {r.reason}: {r.detail}" for r in result.rejects[:10])
            more = f"{len(result.rejects) - 10:,} more; " if len(result.rejects) > 10 else ""
            err.append(f"  ({more}--report FILE lists every record with its reason)")
    if run.report_path is not None:
        out.append(
            f"report: {run.report_path} ({len(result.rejects):,} not imported, {len(result.notes):,} notes)"
        )
    elif result.notes:
        out.append(f"notes: {len(result.notes):,} records imported with a note (--report FILE lists them)")
    if not run.folder.resolve().is_relative_to(entries_root.resolve()):
        err.append(
            f"thisday: warning: {run.folder} is outside the entries folder {entries_root}; it will not be read"
        )
    return out, err
