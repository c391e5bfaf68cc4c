"""The command line: thin commands that parse options, call the library and print.

The clock is read here (the default date) and in the daemon, nowhere else.
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from . import terminal
from .config import DEFAULT_CONFIG_NAME, Settings, load_settings
from .dates import parse_target_date
from .entries import LoadResult, load_tree
from .errors import ThisdayError
from .index import CalendarIndex
from .model import Kind
from .selection import day_selection

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class AppContext:
    """What every command gets: the settings, and the entries when it asks for them."""

    settings: Settings

    def load(self) -> tuple[LoadResult, CalendarIndex]:
        result = load_tree(self.settings.entries)
        return result, CalendarIndex.build(result.entries)

    def today(self) -> datetime.date:
        """Today in the configured timezone: the one place the CLI reads the clock."""
        return datetime.datetime.now(self.settings.zone()).date()

    def parse_date(self, text: str | None) -> datetime.date:
        return parse_target_date(text or "today", self.today())


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


def warn_problems(result: LoadResult) -> None:
    if result.problems:
        click.echo(
            f"thisday: warning: {len(result.problems)} entry problem(s) skipped; run `thisday check` to list them",
            err=True,
        )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--entries",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Entries folder (default: ./entries, or 'entries' in thisday.toml).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=f"Settings file (default: ./{DEFAULT_CONFIG_NAME} when present).",
)
@click.version_option(package_name="thisday")
@click.pass_context
def main(ctx: click.Context, entries: Path | None, config_path: Path | None) -> None:
    """thisday: publish "on this day in history" as feeds, a static site and an email digest."""
    if config_path is None and Path(DEFAULT_CONFIG_NAME).is_file():
        config_path = Path(DEFAULT_CONFIG_NAME)
    try:
        settings = load_settings(config_path, entries=entries)
    except ThisdayError as exc:
        click.echo(f"thisday: error: {exc}", err=True)
        sys.exit(1)
    ctx.obj = AppContext(settings)


pass_app = click.make_pass_decorator(AppContext)

KIND_CHOICE = click.Choice([k.value for k in Kind])


@main.command()
@click.argument("date", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for scripts.",
)
@click.option(
    "--kind", "kinds", multiple=True, type=KIND_CHOICE, help="Only entries of this kind (repeatable)."
)
@click.option("--tag", "tags", multiple=True, help="Only entries with this tag (repeatable).")
@pass_app
@handle_errors
def preview(
    app: AppContext, date: str | None, fmt: str, kinds: tuple[str, ...], tags: tuple[str, ...]
) -> None:
    """Show what would go out on DATE (default today).

    DATE is 2026-07-12, 07-12 (this year), 'July 12', '12 July', today, tomorrow or yesterday.
    """
    on = app.parse_date(date)
    result, index = app.load()
    warn_problems(result)
    selection = day_selection(
        index, on, app.settings, kinds=[Kind(k) for k in kinds] or None, tags=tags or None
    )
    if fmt == "json":
        click.echo(json.dumps(terminal.selection_json(selection), ensure_ascii=False, indent=2))
    else:
        click.echo(terminal.selection_text(selection), nl=False)


@main.command()
@pass_app
@handle_errors
def check(app: AppContext) -> None:
    """Validate every entry; list each problem as path:line: message (exit 1 if any)."""
    result, index = app.load()
    root = app.settings.entries
    for problem in result.problems:
        click.echo(f"{root / problem.location.path}:{problem.location.line}: {problem.message}")
    days = len(index.by_day)
    summary = f"{len(result.entries)} entries in {result.files} files, {days} of 366 days covered"
    if result.problems:
        click.echo(f"{len(result.problems)} problem(s) found; {summary}", err=True)
        sys.exit(1)
    click.echo(f"ok: {summary}, {len(index.moveable)} moveable observances")


@main.command()
@pass_app
@handle_errors
def coverage(app: AppContext) -> None:
    """A 12 x 31 grid of how many entries each day has, and which days have none."""
    result, index = app.load()
    warn_problems(result)
    month_only = {m: len(v) for m, v in index.by_month.items()}
    click.echo(terminal.coverage_grid(index.day_counts(), month_only), nl=False)
