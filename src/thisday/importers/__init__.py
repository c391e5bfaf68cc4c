"""Importing big collections: source records in, entry dicts and rejects-with-reasons out.

Formats: ``wikipedia-day-files`` (:mod:`.wikipedia`), ``csv`` (:mod:`.csvfile`), ``ical`` (:mod:`.ical`),
``json`` (:mod:`.jsonfile`). Parsing reads only the source it is given; :mod:`.output` lays the entries out
as JSON bulk files and writes them (through :func:`thisday.publish.atomic_write`); :mod:`.run` runs a whole
import for the command. Shared types live in :mod:`.common`: submodules import from there, never from here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import ImportSourceError
from .common import FORMATS, KINDS, REASONS, ImportOptions, ImportResult, Note, Reject


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
    if fmt == "json":
        from .jsonfile import import_json

        return import_json(source, options, progress)
    raise ImportSourceError(f"unknown import format {fmt!r}: use one of {', '.join(FORMATS)}")


__all__ = [
    "FORMATS",
    "KINDS",
    "REASONS",
    "ImportOptions",
    "ImportResult",
    "ImportSourceError",
    "Note",
    "Reject",
    "import_source",
]
