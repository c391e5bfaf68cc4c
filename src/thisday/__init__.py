"""thisday: a "this day in history" publisher.

The public API is small on purpose; modules not listed here are internal.
"""

__version__ = "0.1.0"

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
