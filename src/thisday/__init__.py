"""thisday: a "this day in history" publisher.

The public API is small on purpose; modules not listed here are internal. Names are imported on first use
(PEP 562), so that a command such as ``thisday preview`` loads only the modules it needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_HOME = {
    "Settings": "config",
    "load_settings": "config",
    "format_date": "dates",
    "parse_historic_date": "dates",
    "parse_rule": "dates",
    "parse_target_date": "dates",
    "LoadResult": "entries",
    "load_tree": "entries",
    "ConfigError": "errors",
    "DateError": "errors",
    "EntryError": "errors",
    "PublishError": "errors",
    "ThisdayError": "errors",
    "CalendarIndex": "index",
    "Calendar": "model",
    "DaySelection": "model",
    "Entry": "model",
    "Feb29Policy": "model",
    "HistoricDate": "model",
    "Kind": "model",
    "Occurrence": "model",
    "Precision": "model",
    "Problem": "model",
    "Source": "model",
    "day_selection": "selection",
    "select": "selection",
}

__all__ = [
    "Calendar",
    "CalendarIndex",
    "ConfigError",
    "DateError",
    "DaySelection",
    "Entry",
    "EntryError",
    "Feb29Policy",
    "HistoricDate",
    "Kind",
    "LoadResult",
    "Occurrence",
    "Precision",
    "Problem",
    "PublishError",
    "Settings",
    "Source",
    "ThisdayError",
    "day_selection",
    "format_date",
    "load_settings",
    "load_tree",
    "parse_historic_date",
    "parse_rule",
    "parse_target_date",
    "select",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'thisday' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])


if TYPE_CHECKING:
    from .config import Settings, load_settings
    from .dates import format_date, parse_historic_date, parse_rule, parse_target_date
    from .entries import LoadResult, load_tree
    from .errors import ConfigError, DateError, EntryError, PublishError, ThisdayError
    from .index import CalendarIndex
    from .model import (
        Calendar,
        DaySelection,
        Entry,
        Feb29Policy,
        HistoricDate,
        Kind,
        Occurrence,
        Precision,
        Problem,
        Source,
    )
    from .selection import day_selection, select
