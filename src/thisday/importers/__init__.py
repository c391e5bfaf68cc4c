"""Importing big collections: source records in, entry dicts and rejects-with-reasons out.

Formats: ``wikipedia-day-files`` (:mod:`.wikipedia`), ``csv`` (:mod:`.csvfile`), ``ical`` (:mod:`.ical`).
Parsing reads only the source it is given; :mod:`.output` lays the entries out as JSON bulk files and
writes them (through :func:`thisday.publish.atomic_write`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ThisdayError
from .common import REASONS, ImportResult, Note, Reject

FORMATS = ("wikipedia-day-files", "csv", "ical")
KINDS = ("event", "birth", "death", "observance")


class ImportSourceError(ThisdayError):
    """The source as a whole cannot be imported (missing, wrong format, no header): nothing was written."""


@dataclass(frozen=True)
class ImportOptions:
    """What the user chose: the kind for records that say none, tags added to every entry, CSV column names."""

    default_kind: str = "event"
    tags: tuple[str, ...] = ()
    columns: Mapping[str, str] = field(default_factory=dict)
    """CSV: entry field -> column name in the file, for columns not named after the field."""


def import_source(
    fmt: str,
    source: Path,
    options: ImportOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Import ``source`` in format ``fmt``. ``progress(done, total)`` is called as the work goes on."""
    options = options or ImportOptions()
    if options.default_kind not in KINDS:
        raise ImportSourceError(f"--default-kind {options.default_kind!r}: use one of {', '.join(KINDS)}")
    if fmt == "wikipedia-day-files":
        from .wikipedia import import_day_files

        return import_day_files(source, options.tags, progress)
    if fmt == "csv":
        from .csvfile import import_csv

        return import_csv(source, options, progress)
    if fmt == "ical":
        from .ical import import_ical

        return import_ical(source, options, progress)
    raise ImportSourceError(f"unknown import format {fmt!r}: use one of {', '.join(FORMATS)}")


__all__ = [
    "FORMATS",
    "REASONS",
    "ImportOptions",
    "ImportResult",
    "ImportSourceError",
    "Note",
    "Reject",
    "import_source",
]
