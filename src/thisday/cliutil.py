"""What every command group shares: one-line errors. (Here, below both ``cli`` and ``subscribers_cli``, so
neither imports the other.)"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from .errors import ThisdayError

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Print a ThisdayError on one line (no traceback) and exit 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ThisdayError as exc:
            click.echo(f"thisday: error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]
