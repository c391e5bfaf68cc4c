"""Every error a user can cause is a ThisdayError: its message says what, where, and how to fix it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def suggest(word: str, options: Iterable[str]) -> str:
    """' (did you mean 'title'?)' for the closest of ``options``, or '' when none is close."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class ThisdayError(Exception):
    """Base of all errors a user can cause. The CLI prints the message alone and exits 1."""


class DateError(ThisdayError, ValueError):
    """A date, date string or rule that cannot be understood."""


class EntryError(ThisdayError):
    """An entry file that cannot be read as a whole (its problems are listed)."""


class ConfigError(ThisdayError):
    """thisday.toml is wrong: the message names the key and the fix."""


class PublishError(ThisdayError):
    """Publishing (writing feeds, sending mail) failed in a way the operator can act on."""


class TemplateError(ThisdayError):
    """A template (shipped or the user's own) is missing, cannot be parsed, or fails while rendering."""


class ImportSourceError(ThisdayError):
    """An import source that cannot be read at all (a missing folder, a file that is not the named format)."""
