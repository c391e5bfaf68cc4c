"""The command line: thin commands that parse options, call the library and print.

The clock is read here (the default date) and in the daemon, nowhere else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from . import terminal
from .cliutil import handle_errors
from .config import DEFAULT_CONFIG_NAME, Settings, load_settings
from .dates import parse_target_date
from .errors import PublishError, ThisdayError
from .indexcache import Loaded, load
from .model import DaySelection, Kind
from .selection import day_selection
from .switches import (
    STALL_ENV,
    STALL_MESSAGES_ENV,
    STALL_MID_WRITE_ENV,
    stall_hook,
    test_wall_clock,
)
from .views import Views

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class AppContext:
    """What every command gets: the settings, and the entries when it asks for them."""

    settings: Settings

    def load_days(self, days: Iterable[datetime.date] | None, *, check: bool = False) -> Loaded:
        """What ``days`` need (None: everything), through the on-disk index (``check``: validate every entry)."""
        return load(self.settings, days, check=check)

    def select(
        self,
        on: datetime.date,
        kinds: Collection[Kind] | None = None,
        tags: Collection[str] | None = None,
        *,
        drafts: bool = False,
    ) -> DaySelection:
        """What goes out on ``on`` (entries with problems are skipped, with one warning line); ``drafts`` adds
        the held entries, marked, for an editor's preview."""
        loaded = self.load_days([on])
        warn_problems(loaded)
        return day_selection(loaded.index, on, self.settings, kinds=kinds, tags=tags, drafts=drafts)

    def now(self) -> datetime.datetime:
        """Now in the configured timezone: the one place the CLI reads the clock."""
        return datetime.datetime.now(self.settings.zone)

    def today(self) -> datetime.date:
        """Today in the configured timezone."""
        return self.now().date()

    def parse_date(self, text: str | None) -> datetime.date:
        return parse_target_date(text or "today", self.today())


def _message_text(message: Any) -> str:
    from .message import message_text

    return message_text(message)


def _message_bytes(message: Any) -> bytes:
    from .message import message_bytes

    return message_bytes(message)


def warn_problems(result: Loaded) -> None:
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
    state_env = os.environ.get("THISDAY_STATE_DIR") or os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    try:
        settings = load_settings(
            config_path, entries=entries, state_dir=Path(state_env) if state_env else None
        )
    except ThisdayError as exc:
        click.echo(f"thisday: error: {exc}", err=True)
        sys.exit(1)
    ctx.obj = AppContext(settings)


pass_app = click.make_pass_decorator(AppContext)

KIND_CHOICE = click.Choice([k.value for k in Kind])


def lang_option(help_text: str) -> Callable[[F], F]:
    """``--lang CODE``: a shipped language, checked as the option is read (a usage error names the closest)."""
    return click.option(
        "--lang",
        "lang",
        default=None,
        metavar="CODE",
        callback=lambda ctx, param, value: _language_option(value),
        help=help_text,
    )
SITE_FORMATS = ("atom", "rss", "html")
"""preview formats that print a file of the site (`thisday build`)."""


@main.command()
@click.argument("date", required=False)
@click.option(
    "--format",
    "fmt",
    default="text",
    show_default=True,
    help="text for people, json for scripts, email for the digest message as it would be sent; "
    "atom, rss or html for the feed file or day page that `thisday build` would write; mastodon, bluesky or "
    "webhook:NAME for the posts a social channel would make.",
)
@click.option(
    "--kind", "kinds", multiple=True, type=KIND_CHOICE, help="Only entries of this kind (repeatable)."
)
@click.option("--tag", "tags", multiple=True, help="Only entries with this tag (repeatable).")
@click.option(
    "--feed",
    "feed_name",
    default=None,
    help="With --format atom/rss: which feed (default: onthisday, the feed of every entry).",
)
@click.option(
    "--drafts",
    is_flag=True,
    help="Also show drafts and embargoed entries, in place and marked (text and json; never published).",
)
@lang_option(
    "Show it in this language (de, fr, ...): dates, texts and each entry's translation (default: site.language)."
)
@pass_app
@handle_errors
def preview(
    app: AppContext,
    date: str | None,
    fmt: str,
    kinds: tuple[str, ...],
    tags: tuple[str, ...],
    feed_name: str | None,
    drafts: bool = False,
    lang: str | None = None,
) -> None:
    """Show what would go out on DATE (default today).

    DATE is 2026-07-12, 07-12 (this year), 'July 12', '12 July', today, tomorrow or yesterday.
    """
    known = ("text", "json", "email", "mastodon", "bluesky", *SITE_FORMATS)
    if fmt not in known and not fmt.startswith("webhook:"):
        raise click.BadParameter(f"{fmt!r} is not one of {', '.join(known)}, webhook:NAME", param_hint="--format")
    on = app.parse_date(date)
    if drafts and fmt not in ("text", "json"):
        raise click.UsageError("--drafts marks held entries in text and json; the other formats show what is published")
    if fmt in SITE_FORMATS:
        if kinds or tags:
            raise click.UsageError(
                "--kind and --tag filter text, json and email; feeds use their configured filters (pick one with --feed)"
            )
        click.echo(site_preview(app, on, fmt, feed_name, lang), nl=False)
        return
    selection = app.select(on, kinds=[Kind(k) for k in kinds] or None, tags=tags or None, drafts=drafts)
    views = Views(app.settings, lang)
    if fmt in ("mastodon", "bluesky") or fmt.startswith("webhook:"):
        from .channels import social

        shown = social.preview(app.settings, selection, fmt)
        click.echo(shown, nl=not shown.endswith("\n"))
    elif fmt == "json":
        click.echo(json.dumps(terminal.day_json(views.day(selection)), ensure_ascii=False, indent=2))
    elif fmt == "email":
        from .channels.digest import render

        click.echo(_message_text(render(selection, app.settings, language=lang).message(app.now())), nl=False)
    else:
        click.echo(terminal.day_text(views.day(selection)), nl=False)


def _language_option(value: str | None) -> str | None:
    """``--lang``: a shipped language code, else a usage error naming the closest."""
    from .i18n import LANGUAGES, unknown_message

    if value is not None and value not in LANGUAGES:
        raise click.BadParameter(unknown_message(value, "--lang"), param_hint="--lang")
    return value


@main.command()
@click.option(
    "--strict",
    is_flag=True,
    help="Also fail on every entry without sources or not marked status: verified.",
)
@pass_app
@handle_errors
def check(app: AppContext, strict: bool = False) -> None:
    """Validate every entry; list each problem as path:line: message (exit 1 if any)."""
    loaded = app.load_days(None, check=True)
    root = app.settings.entries
    if strict:
        from .planner import strict_problems

        loaded = dataclasses.replace(loaded, problems=(*loaded.problems, *strict_problems(loaded.index)))
    for problem in loaded.problems:
        click.echo(f"{root / problem.location.path}:{problem.location.line}: {problem.message}")
    index = loaded.index
    summary = f"{loaded.entries} entries in {loaded.files} files, {len(index.by_day)} of 366 days covered"
    if loaded.problems:
        click.echo(f"{len(loaded.problems)} problem(s) found; {summary}")
        sys.exit(1)
    click.echo(f"ok: {summary}, {len(index.moveable)} moveable observances")


@main.command()
@lang_option(
    "Count only entries readable in this language (translated into it, or written in it when it is "
    "site.language): which days lack German entries, say."
)
@pass_app
@handle_errors
def coverage(app: AppContext, lang: str | None) -> None:
    """A 12 x 31 grid of how many entries each day has, and which days have none."""
    loaded = app.load_days(None)
    warn_problems(loaded)
    index = loaded.index
    if lang is None or lang == app.settings.site.language:
        counts = index.day_counts()
        month_only = {m: len(v) for m, v in index.by_month.items()}
    else:
        counts = {k: n for k, v in index.by_day.items() if (n := sum(1 for e in v if e.translation(lang)))}
        month_only = {m: n for m, v in index.by_month.items() if (n := sum(1 for e in v if e.translation(lang)))}
    click.echo(terminal.coverage_grid(counts, month_only), nl=False)


@main.command()
@click.argument("date", required=False)
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write to FILE (e.g. digest.eml) instead of printing.",
)
@click.option(
    "--to",
    "to",
    default=None,
    metavar="ADDRESS",
    help="Address the message to ADDRESS (default: undisclosed recipients).",
)
@click.option(
    "--part",
    type=click.Choice(["eml", "text", "html"]),
    default="eml",
    show_default=True,
    help="The whole message, or only its plain-text or HTML part (open the HTML in a browser).",
)
@pass_app
@handle_errors
def digest(app: AppContext, date: str | None, output: Path | None, to: str | None, part: str) -> None:
    """Render DATE's email digest (default today) as an RFC 5322 message.

    DATE is 2026-07-12, 07-12 (this year), 'July 12', '12 July', today, tomorrow or yesterday.
    """
    from .channels.digest import render
    from .publish import atomic_write

    on = app.parse_date(date)
    selection = app.select(on)
    message = render(selection, app.settings).message(app.now(), to)
    if part == "eml":
        data = _message_bytes(message)
        text = _message_text(message)
    else:
        body = message.get_body(("plain",) if part == "text" else ("html",))
        assert body is not None
        text = str(body.get_content())
        data = text.encode("utf-8")
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    atomic_write(output, data)
    click.echo(f"wrote {output} ({selection.on.isoformat()}, {len(selection.occurrences)} entries)", err=True)


@main.command()
@click.argument("date", required=False)
@click.option(
    "--to",
    "to",
    multiple=True,
    metavar="ADDRESS",
    help="Send to ADDRESS only (repeatable): a test message, not recorded in the ledger; with --force, a resend "
    "that is recorded.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Send again to recipients the ledger shows as done, refused or uncertain for DATE (all of them, or those "
    "named with --to).",
)
@pass_app
@handle_errors
def send(app: AppContext, date: str | None, to: tuple[str, ...], force: bool) -> None:
    """Email DATE's digest (default today) to the configured recipients, or a test message with --to.

    Each recipient's outcome is recorded in the ledger, so running it again for the same DATE sends
    nobody twice. Exits 1 when any recipient failed. SIGTERM finishes the message in flight and stops (exit 1
    when recipients are left).
    """
    import signal
    import threading

    from .channels import digest as mail
    from .ledger import Ledger

    on = app.parse_date(date)
    selection = app.select(on)
    terminated = threading.Event()

    def on_sigterm(_signum: int, _frame: object) -> None:
        terminated.set()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        if to and not force:
            report = mail.send_digest(
                selection, app.settings, to, clock=app.now, send_empty=True, stop=terminated.is_set
            )
        else:
            with Ledger.from_settings(app.settings) as ledger, _progress("sending") as progress:
                report = mail.send_day(
                    app.settings,
                    selection,
                    ledger,
                    clock=app.now,
                    to=to,
                    force=force,
                    after_each=progress,
                    stop=terminated.is_set,
                )
    finally:
        signal.signal(signal.SIGTERM, previous)
    if report.note:
        click.echo(report.note)
    quiet = len(report.deliveries) > 50  # a long list: only what went wrong, then the counts
    for delivery in report.deliveries:
        if quiet and delivery.status in ("sent", "skipped"):
            continue
        line = f"{delivery.status:<8} {delivery.address}"
        click.echo(line + (f": {delivery.detail}" if delivery.detail else ""))
    if report.deliveries:
        counts = report.summary()
        click.echo(f"{on.isoformat()}: {counts}", err=True)
    if report.stopped:
        click.echo(
            f"thisday: stopped by SIGTERM: {len(report.stopped)} recipient(s) not served "
            f"({', '.join(report.stopped)}); run `thisday send {on.isoformat()}` again to serve them",
            err=True,
        )
    if not report.ok or report.stopped:
        sys.exit(1)


@contextlib.contextmanager
def _progress(label: str) -> Iterator[Callable[[object], None]]:
    """A progress callback: on a terminal, a line with the count and messages per second; elsewhere silent."""
    if not sys.stderr.isatty():
        yield lambda _item: None
        return
    start = time.monotonic()
    count = 0

    def tick(_item: object) -> None:
        nonlocal count
        count += 1
        if count % 20 == 0:
            rate = count / max(time.monotonic() - start, 1e-6)
            click.echo(f"\r{label}: {count:,} done, {rate:,.0f} a second", err=True, nl=False)

    try:
        yield tick
    finally:
        if count >= 20:
            click.echo("", err=True)


# ---------------------------------------------------------------------------------------------
# The site: build, serve, and the preview of its files

def publish_time(app: AppContext, on: datetime.date, now_text: str | None) -> datetime.datetime:
    """The publish time of a build for ``on`` (see :func:`thisday.runner.publish_time`); --now parsed here."""
    from .runner import publish_time as policy

    given = None
    if now_text:
        try:
            given = datetime.datetime.fromisoformat(now_text)
        except ValueError:
            raise click.BadParameter(
                f"{now_text!r} is not an ISO 8601 date and time", param_hint="--now"
            ) from None
        if given.tzinfo is None:
            raise click.BadParameter("give a UTC offset, e.g. 2026-07-12T06:00:00+02:00", param_hint="--now")
    return policy(app.settings, on, app.now(), given)


def site_preview(
    app: AppContext, on: datetime.date, fmt: str, feed_name: str | None, lang: str | None = None
) -> bytes:
    """The bytes `thisday build` would write for ``on``: a feed file (atom, rss) or the day's page (html).

    With ``lang``, the page as the site's folder for that language would hold it, and the feed in that language.
    """
    import dataclasses

    from .config import FeedSettings
    from .layout import feed_path, published_feeds
    from .publish import render_site, site_window
    from .views import day_path, language_folder

    settings = app.settings
    if lang is not None:
        site = dataclasses.replace(settings.site, languages=(*settings.site.languages, lang))
        feeds = tuple(dataclasses.replace(f, language=lang) for f in published_feeds(settings))
        settings = dataclasses.replace(settings, site=site, feeds=feeds)
    feeds = published_feeds(settings)
    names = [f.name for f in feeds]
    if feed_name is not None and feed_name not in names:
        raise click.BadParameter(
            f"no feed named {feed_name!r}; configured: {', '.join(names)}", param_hint="--feed"
        )
    feed = next((f for f in feeds if f.name == (feed_name or FeedSettings.name)), feeds[0])
    wanted = language_folder(settings, lang) + day_path(on) if fmt == "html" else feed_path(feed, fmt)
    loaded = app.load_days(site_window(settings, on))
    warn_problems(loaded)
    rendered = render_site(settings, loaded.index, on, publish_time(app, on, None), only=wanted)
    return next(data for path, data in rendered if path == wanted)


@main.command()
@click.argument("date", required=False)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=None,
    help="How many recent days every feed keeps (default: each feed's `days`, 14).",
)
@click.option(
    "--now",
    "now_text",
    default=None,
    metavar="DATETIME",
    help="Publish time, ISO 8601 with offset (default: now for today, else DATE at daemon.time). "
    "The same entries and --now give byte-identical files.",
)
@pass_app
@handle_errors
def build(app: AppContext, date: str | None, days: int | None, now_text: str | None) -> None:
    """Write the feeds and the static site for DATE (default today) into feeds/.

    For every configured feed, NAME.atom and NAME.rss with the last N days; index.html (DATE's page, with
    feed autodiscovery) and one page per day in days/. Every file is written to a temporary file and renamed.
    """
    from .channels import Hooks, Loaded, Run
    from .channels.feeds import FeedsChannel
    from .layout import published_feeds
    from .ledger import Ledger

    on = app.parse_date(date)
    now = publish_time(app, on, now_text)
    loaded: list[Loaded] = []

    def load(needed: Iterable[datetime.date]) -> Loaded:
        result = app.load_days(list(needed))
        warn_problems(result)
        loaded.append(Loaded(result.index, result.problems))
        return loaded[-1]

    with Ledger.from_settings(app.settings) as ledger:
        hooks = Hooks(after_file=stall_hook(), mid_write=stall_hook(STALL_MID_WRITE_ENV))
        run = Run(app.settings, ledger, now, load, hooks=hooks)
        # recorded in the ledger like the daemon's build (so the cron way reads as published in `thisday status`),
        # but only once the day is due: a build ahead of time must not stand in for the day's scheduled build
        # and not for a day before the site's first recorded one: the archives start at the first recorded day
        from .ledger import FEEDS_CHANNEL

        built = [r.day for r in ledger.records(channel_prefix=FEEDS_CHANNEL)]
        due = [on] if on <= run.daily.last_due_day(app.now()) and (not built or on >= min(built)) else []
        report = FeedsChannel().publish(run, on, due, window=days, force=True)
    if report.errors:
        raise PublishError(report.errors[0].split(": ", 1)[1])
    if not report.published:
        raise PublishError(f"the site for {on.isoformat()} is being built by another thisday process; try again")
    feeds = ", ".join(f"{f.name}.atom/.rss/.json/.ics" for f in published_feeds(app.settings))
    click.echo(f"{on.isoformat()}: {report.lines[0]} ({feeds})")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port (0: any free port)."
)
@click.option("--quiet", is_flag=True, help="No access log.")
@click.option(
    "--preview",
    is_flag=True,
    help="Add the editor's view at /_editor/ (any day as published, drafts marked, coverage, problems); "
    "listens on 127.0.0.1 only.",
)
@pass_app
@handle_errors
def serve(app: AppContext, host: str, port: int, quiet: bool, preview: bool = False) -> None:
    """Serve feeds/ over HTTP for feed readers (ETag, Last-Modified, 304, gzip).

    Put nginx or another proxy in front of it for the public internet (see the README).
    """
    from . import serve as serving  # uvicorn is imported only by this command

    feeds_dir = app.settings.feeds_dir
    if preview:
        if host != "127.0.0.1":
            raise click.UsageError("--preview shows drafts: it listens on 127.0.0.1 only (leave out --host)")
        asgi_app = serving.create_preview_app(app.settings)
    else:
        asgi_app = serving.create_app(feeds_dir, app.settings)
    sock = serving.listen(host, port)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/"
    if preview:
        click.echo(f"editor's preview on {url}_editor/ (and {feeds_dir} on {url}; Ctrl-C to stop)")
    else:
        click.echo(f"serving {feeds_dir} on {url} (Ctrl-C to stop)")
    serving.run(asgi_app, sock, access_log=not quiet)


@main.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(["wikipedia-day-files", "csv", "ical", "json"]))
@click.argument("source", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--into",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder for the imported JSON bulk files (default: ENTRIES/imported/FORMAT).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write every record not imported (and every repaired one) with its reason to this file.",
)
@click.option(
    "--column",
    "columns",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="CSV: read FIELD (date, title, kind, tags, source_url, source_title, body, id, calendar, observe) from "
    "COLUMN; JSON: from the key path COLUMN (pages.0.title), FIELD may also be year (repeatable).",
)
@click.option(
    "--default-kind",
    type=KIND_CHOICE,
    default="event",
    show_default=True,
    help="Kind of records that give none (CSV rows without kind, one-off iCalendar events).",
)
@click.option("--tags", default="", help="Comma-separated tags added to every imported entry.")
@click.option("--replace", is_flag=True, help="Replace the import of another source in the --into folder.")
@pass_app
@handle_errors
def import_command(
    app: AppContext,
    fmt: str,
    source: Path,
    into: Path | None,
    report_path: Path | None,
    columns: tuple[str, ...],
    default_kind: str,
    tags: str,
    replace: bool,
) -> None:
    """Import a collection: FORMAT is wikipedia-day-files, csv, ical or json; SOURCE its folder or file.

    Every record is imported or reported with its reason; re-importing the same source changes nothing.
    """
    from .importers import ImportOptions, ImportSourceError
    from .importers.common import parse_column_options
    from .importers.run import progress_bar, run_import, source_label, summary

    try:
        mapping = parse_column_options(columns)
    except ImportSourceError as exc:
        raise click.BadParameter(str(exc), param_hint="--column") from None
    options = ImportOptions(
        default_kind=default_kind,
        tags=tuple(t.strip() for t in tags.split(",") if t.strip()),
        columns=mapping,
    )
    folder = into if into is not None else app.settings.entries / "imported" / fmt
    with progress_bar(source_label(fmt, source)) as progress:
        run = run_import(
            fmt, source, folder, options, report_path=report_path, replace=replace, progress=progress
        )
    out, err = summary(run, app.settings.entries)
    for line in out:
        click.echo(line)
    for line in err:
        click.echo(line, err=True)


@main.command()
@click.option(
    "--watch",
    type=click.FloatRange(min=1),
    default=600,
    show_default=True,
    help="Seconds between catch-up checks (after downtime or suspend, anything due and not done is published).",
)
@pass_app
@handle_errors
def run(app: AppContext, watch: float) -> None:
    """Run the daemon: publish the feeds and send the digest every day at daemon.time, exactly once.

    Logs go to stderr, one line per event. SIGTERM or SIGINT finishes the publication in progress and exits 0.
    """
    from . import daemon

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    sys.exit(
        daemon.run(
            app.settings,
            watch=watch,
            after_file=stall_hook(STALL_ENV),
            after_message=stall_hook(STALL_MESSAGES_ENV),
            wall_clock=test_wall_clock(app.settings.zone),
        )
    )


@main.command()
@pass_app
@handle_errors
def status(app: AppContext) -> None:
    """Show the last publication of each channel, the next run and entry problems; exit 1 if failing.

    Usable as a health check: the exit status is non-zero when the latest scheduled publication failed
    or is overdue.
    """
    from .db import DatabaseUnreachable, host_name
    from .ledger import Ledger
    from .runner import health

    loaded = app.load_days([app.today()])
    try:
        ledger = Ledger.from_settings(app.settings)
    except DatabaseUnreachable as exc:
        click.echo(f"database:   UNREACHABLE: {exc}")
        click.echo(
            f"            the daemon on this host ({host_name()}) publishes its own site from its entries and "
            "sends nothing until the database is back"
        )
        click.echo("health:     FAILING: the database is unreachable")
        sys.exit(1)
    with ledger:
        report = health(app.settings, ledger, app.now(), len(loaded.problems))
    for line in report.lines:
        click.echo(line)
    if not report.healthy:
        sys.exit(1)


@main.command()
@click.argument("date", required=False)
@click.option("--channel", "channel_name", required=True, metavar="NAME",
              help="mastodon, bluesky or webhook:NAME (as configured in thisday.toml).")
@click.option("--dry-run", is_flag=True, help="Show the posts without posting or recording anything.")
@pass_app
@handle_errors
def post(app: AppContext, date: str | None, channel_name: str, dry_run: bool) -> None:
    """Post DATE's posts (default today) on one social channel by hand, through the ledger.

    A post the ledger shows as made is never made again; the channel's times and catch-up policy do not apply.
    Exits 1 when a post failed.
    """
    from .channels import Loaded, Run, social
    from .ledger import Ledger

    on = app.parse_date(date)

    def load(days: Iterable[datetime.date]) -> Loaded:
        result = app.load_days(list(days))
        warn_problems(result)
        return Loaded(result.index, result.problems)

    with Ledger.from_settings(app.settings) as ledger:
        report = social.post_day(Run(app.settings, ledger, app.now(), load), on, channel_name, dry_run)
    for line in report.lines:
        click.echo(line)
    for error in report.errors:
        click.echo(f"thisday: error: {error}", err=True)
    if report.errors:
        sys.exit(1)


# ---------------------------------------------------------------------------------------------
# Editing: plan ahead, start a site, start an entry


@main.command()
@click.option("--days", type=click.IntRange(1, 3660), default=90, show_default=True, help="How many days ahead.")
@click.option("--round-only", is_flag=True, help="Only the round anniversaries.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format."
)
@click.option("--from", "start", default=None, metavar="DATE", help="First day of the plan (default today).")
@pass_app
@handle_errors
def upcoming(app: AppContext, days: int, round_only: bool, fmt: str, start: str | None) -> None:
    """Plan ahead: the coming days' round anniversaries (centenaries first), days with nothing to publish,
    drafts and embargoed entries due, and embargoes that end."""
    from .planner import plan, plan_json, plan_text

    first = app.parse_date(start)
    loaded = app.load_days(None)
    warn_problems(loaded)
    result = plan(loaded.index, app.settings, first, days)
    if fmt == "json":
        click.echo(json.dumps(plan_json(result, round_only), ensure_ascii=False, indent=2))
    else:
        click.echo(plan_text(result, round_only), nl=False)


@main.command()
@click.argument("folder", required=False, type=click.Path(path_type=Path, file_okay=False), default=Path("."))
@handle_errors
def init(folder: Path) -> None:
    """Start a site in FOLDER (default: here): thisday.toml with every setting, example entries and a README.

    Refuses a folder that already holds anything; nothing is overwritten.
    """
    from .scaffold import init_site

    written = init_site(folder)
    click.echo(f"created a thisday site in {folder} ({len(written)} files). Next:")
    shown = "" if folder == Path(".") else f"cd {folder} && "
    click.echo(f"  {shown}thisday check && thisday preview && thisday build && thisday serve --preview")


@main.command()
@click.argument("title")
@click.option("--date", "date_text", required=True, metavar="DATE", help="YYYY-MM-DD (or YYYY-MM, YYYY).")
@click.option("--kind", type=KIND_CHOICE, default="event", show_default=True, help="What sort of entry.")
@click.option("--julian", is_flag=True, help="The date is Old Style (calendar: julian).")
@click.option("--no-edit", is_flag=True, help="Do not open $EDITOR, even in a terminal.")
@pass_app
@handle_errors
def new(app: AppContext, title: str, date_text: str, kind: str, julian: bool, no_edit: bool) -> None:
    """Write a new entry file (status: draft) with its front matter filled in, and open it in $EDITOR.

    The editor opens only when a terminal is attached; the entry stays a draft until you set status: ready.
    """
    from .scaffold import new_entry

    path = new_entry(app.settings.entries, title, date_text, Kind(kind), julian=julian)
    click.echo(f"wrote {path}")
    if not no_edit and sys.stdin.isatty() and sys.stdout.isatty():
        click.edit(filename=str(path))


@main.group("db")
def db_group() -> None:
    """The database of the ledger and the subscribers (SQLite by default, or PostgreSQL for several hosts)."""


@db_group.command("upgrade")
@pass_app
@handle_errors
def db_upgrade(app: AppContext) -> None:
    """Create or migrate the database's schema to this release's version.

    Safe to run while daemons use the database, and from several hosts at once: each step runs once, under a
    lock. `thisday run` does the same at start-up; this command does it ahead of time, or shows the version.
    """
    from . import db

    url = app.settings.ledger_url()
    engine = db.create_engine(url)
    try:
        before, after = db.upgrade(engine)
    finally:
        engine.dispose()
    where = db.where(url)
    if before == after:
        click.echo(f"{where}: schema at version {after}, nothing to do")
    else:
        click.echo(f"{where}: schema upgraded from version {before} to {after}")


def _register_newsletter_commands() -> None:
    from .subscribers_cli import bounce, subscribers

    main.add_command(subscribers)
    main.add_command(bounce)


_register_newsletter_commands()
