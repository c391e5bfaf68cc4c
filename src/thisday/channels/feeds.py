"""The feeds channel: the static site and every configured feed in ``feeds/``, rebuilt once per run.

The days due and not done are held in the ledger (row ``feeds`` per day); the site is built once for the latest
due day, whose rolling window carries the missed days; then each held day is marked done. A build run by hand
(``thisday build``) goes through the same ledger rows, so the cron way (``thisday build`` from a timer) reads
as published in ``thisday status``.

Each host builds its own copy of the site: on a shared database (PostgreSQL) the rows are ``feeds@<host>``
(``THISDAY_HOST``, else the machine's name), so every host publishes every day into its own ``feeds/``, while
the digest and social rows stay shared and go out once. The daemon builds a day with the day's publish time
(``daemon.time``), not the moment it happens to run, so every host's copy is byte-identical.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from .. import db
from ..config import Settings
from ..errors import ThisdayError
from ..ledger import FEEDS_CHANNEL, Hold, Ledger
from ..publish import atomic_write, build_days, build_site, evergreen_current, first_published
from . import GRACE, ChannelHealth, ChannelReport, Hooks, Loaded, Run, describe, due_days, unserved

log = logging.getLogger("thisday")


def feeds_channel(ledger: Ledger) -> str:
    """This host's ledger row for the site: ``feeds`` on SQLite (one host), ``feeds@<host>`` on a shared database."""
    return f"{FEEDS_CHANNEL}@{db.host_name()}" if ledger.shared else FEEDS_CHANNEL


SINCE_FILE = "site.since"
"""In the state folder: the site's first published day, as the last recorded build saw it (an offline build,
with the database unreachable, reads it so that its archives and links match the recorded build's)."""


def build(
    settings: Settings,
    load: Callable[[Sequence[datetime.date]], Loaded],
    on: datetime.date,
    at: datetime.datetime,
    window: int | None,
    since: datetime.date | None,
    hooks: Hooks,
) -> list[Path]:
    """Build the site for ``on`` at publish time ``at``: the one build, recorded (the channel) or offline."""
    # the whole index when the day API and calendars are rebuilt (they reach past the window), else the window
    # and the open archives: on a big collection most builds change no entry
    evergreen = not evergreen_current(settings, on)
    loaded = load(build_days(settings, on, window, since, evergreen))
    written = build_site(
        settings,
        loaded.index,
        on,
        at,
        window,
        progress=hooks.after_file,
        midway=hooks.mid_write,
        since=since,
        evergreen=evergreen,
    )
    if since is not None:
        with contextlib.suppress(OSError):
            atomic_write(settings.state_dir / SINCE_FILE, since.isoformat().encode())
    return written


def recorded_since(settings: Settings) -> datetime.date | None:
    """The site's first published day as the last recorded build saw it (None when unknown)."""
    try:
        return datetime.date.fromisoformat((settings.state_dir / SINCE_FILE).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


class FeedsChannel:
    name = FEEDS_CHANNEL

    def publish_due(self, run: Run) -> ChannelReport:
        days = due_days(run, feeds_channel(run.ledger))
        if not days:
            return ChannelReport(self.name)
        return self.publish(run, run.latest, days, at=run.daily.due(run.latest))

    def publish(
        self,
        run: Run,
        on: datetime.date,
        days: list[datetime.date],
        *,
        window: int | None = None,
        force: bool = False,
        at: datetime.datetime | None = None,
    ) -> ChannelReport:
        """Build the site for ``on`` and record each of ``days`` as published (``force``: even if done); with no
        ``days``, build without recording anything (a day whose publish time has not come yet). ``at``: the
        publish time written in the feeds (default ``run.now``)."""
        report = ChannelReport(self.name)
        channel = feeds_channel(run.ledger)
        with contextlib.ExitStack() as stack:
            held: list[Hold] = []
            for day in days:
                hold = stack.enter_context(run.ledger.hold(day, channel, run.stamp, force=force))
                if hold is not None:
                    held.append(hold)
            if days and not held:
                return report
            try:
                # the site's first day: the earliest build of any host (copies on several hosts stay byte-identical)
                built = [r.day for r in run.ledger.records(channel_prefix=FEEDS_CHANNEL)]
                since = first_published(run.settings, min(built), window) if built else None
                written = build(run.settings, run.load, on, at or run.now, window, since, run.hooks)
            except ThisdayError as exc:
                for hold in held:
                    hold.failed(str(exc))
                report.error(on, exc)
                return report
            for hold in held:
                hold.done(f"site built for {on.isoformat()} ({len(written)} files)")
                report.published.append(hold.day)
            if not days:
                report.published.append(on)
            report.lines.append(f"wrote {len(written)} files to {run.settings.feeds_dir}")
            log.info(
                "%s: feeds: published %d files (days %s)",
                on.isoformat(),
                len(written),
                ", ".join(h.day.isoformat() for h in held),
            )
        return report

    def health(self, run: Run) -> ChannelHealth:
        ledger, latest, zone = run.ledger, run.latest, run.settings.zone
        channel = feeds_channel(ledger)
        last = ledger.last(channel, status=None)
        lines = (f"{'feeds:':<11} {describe(last, zone) if last else 'never published'}",)
        current = ledger.get(latest, channel)
        overdue = run.now - run.daily.due(latest) > GRACE
        if current is None:
            failures = (f"feeds for {latest.isoformat()} have not been published",) if overdue else ()
        elif unserved([current], run.now):
            failures = (f"feeds for {latest.isoformat()} {current.status.value}: {current.detail}",)
        else:
            failures = ()
        return ChannelHealth(lines, failures)
