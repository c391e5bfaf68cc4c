"""The daily job: given a moment, publish whatever is due and not yet done, channel by channel.

This is what the daemon runs at the publish time (and every few minutes, to catch up after downtime or a
suspended machine). Each enabled channel (:mod:`thisday.channels`) decides what is due at ``now`` and publishes
it through the ledger; an error in one channel is reported and never stops the others. Entries are read afresh
on every run (once per run, shared by the channels), so an edit is picked up without a restart; entries with
problems are skipped and reported (the rest publish).

When the database (the ledger) cannot be reached, the run says so (:attr:`RunReport.unreachable`) and the
daemon falls back to :func:`publish_offline`: this host's own site, built from its entries, and nothing sent.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from . import db, indexcache
from .channels import Channel, ChannelReport, Hooks, Loaded, Run
from .channels.digest import DigestChannel, SendReport
from .channels.feeds import FeedsChannel
from .config import Settings
from .errors import ThisdayError
from .ledger import Ledger
from .model import Problem
from .schedule import DailyTime

log = logging.getLogger("thisday")


def enabled_channels(settings: Settings) -> list[Channel]:
    """The channels this configuration publishes to, in publishing order: the site and feeds first (the
    other channels link to the day's page), then the digest, then social posts and webhooks."""
    from .channels import social
    from .channels.websub import WebSubChannel

    # WebSub after the feeds: it pings the hub for each feed file whose content it has not announced yet
    return [FeedsChannel(), WebSubChannel(), DigestChannel(), *social.enabled_channels(settings)]


def publish_time(
    settings: Settings, on: datetime.date, now: datetime.datetime, given: datetime.datetime | None = None
) -> datetime.datetime:
    """The publish time of a build for ``on``: ``given`` (``--now``) if any, ``now`` when ``on`` is today, else
    ``on`` at the daemon's publishing time (``daemon.time``), as the daemon would publish it."""
    zone = settings.zone
    if given is not None:
        return given.astimezone(zone)
    now = now.astimezone(zone)
    if on == now.date():
        return now
    return datetime.datetime.combine(on, settings.daemon.time, tzinfo=zone)


def daily_time(settings: Settings) -> DailyTime:
    return DailyTime.at(settings.daemon.time, settings.zone)


def loader(settings: Settings, on_problem: Callable[[Problem], None] | None = None) -> Callable[
    [Sequence[datetime.date]], Loaded
]:
    """Load entries for the days asked, through the on-disk index; problems are reported once per file."""
    seen: set[str] = set()

    def load(days: Sequence[datetime.date]) -> Loaded:
        result = indexcache.load(settings, sorted(set(days)))
        for problem in result.problems:
            key = str(problem)
            if key not in seen:
                seen.add(key)
                if on_problem is not None:
                    on_problem(problem)
        return Loaded(result.index, result.problems)

    return load


@dataclass
class RunReport:
    """What one run did, channel by channel."""

    channels: list[ChannelReport] = field(default_factory=list)
    problems: tuple[Problem, ...] = ()
    unreachable: str = ""
    """Why the database could not be reached during the run ('' when it could)."""

    @property
    def errors(self) -> list[str]:
        return [error for report in self.channels for error in report.errors]

    @property
    def ok(self) -> bool:
        return not self.errors

    def channel(self, name: str) -> ChannelReport:
        return next((c for c in self.channels if c.channel == name), ChannelReport(name))

    @property
    def feeds_published(self) -> list[datetime.date]:
        return self.channel("feeds").published

    @property
    def digests(self) -> list[SendReport]:
        detail: Any = self.channel("digest").detail
        return list(detail or [])


def publish_due(
    settings: Settings,
    now: datetime.datetime,
    ledger: Ledger,
    *,
    clock: Callable[[], datetime.datetime] | None = None,
    after_file: Callable[[Path], None] | None = None,
    after_message: Callable[[Any], None] | None = None,
    channels: Sequence[Channel] | None = None,
) -> RunReport:
    """Publish what is due at ``now`` and not yet done, on every channel. Never raises for a user-caused problem.

    ``clock`` stamps the ledger and the messages (default: ``now``); ``after_file`` and ``after_message`` are called
    after each file written and each recipient served (the CLI's test switches use them to stall mid-publication).
    """
    problems: list[Problem] = []

    def warn(problem: Problem) -> None:
        problems.append(problem)
        log.warning("skipped entry: %s", problem)

    run = Run(settings, ledger, now, loader(settings, warn), clock, Hooks(after_file, after_message))
    report = RunReport()
    for channel in channels if channels is not None else enabled_channels(settings):
        try:
            result = channel.publish_due(run)
        except (db.DatabaseUnreachable, OperationalError, InterfaceError) as exc:
            if not isinstance(exc, db.DatabaseUnreachable) and not db.is_shared(ledger.url):
                # a local SQLite file is never "unreachable": a lock held too long or a damaged file
                result = ChannelReport(channel.name)
                result.error(run.latest, f"the database {db.where(ledger.url)}: {str(exc).splitlines()[0]}")
                report.channels.append(result)
                continue
            report.unreachable = str(db.unreachable(ledger.url, exc))  # the database server is down
            result = ChannelReport(channel.name)  # not logged here: the daemon says it once, not at every check
            result.errors.append(f"{channel.name} {run.latest.isoformat()}: {report.unreachable}")
        except ThisdayError as exc:
            result = ChannelReport(channel.name)
            result.error(run.latest, exc)
        except Exception as exc:  # a bug in one channel must not stop the others; logged with its traceback
            log.exception("%s: unexpected error; the other channels still publish", channel.name)
            result = ChannelReport(channel.name)
            result.error(run.latest, f"unexpected error: {exc!r}")
        report.channels.append(result)
    report.problems = tuple(problems)
    return report


def publish_offline(
    settings: Settings, now: datetime.datetime, *, after_file: Callable[[Path], None] | None = None
) -> tuple[datetime.date, int]:
    """The database is unreachable: build this host's own site for the latest due day from its entries, with
    that day's publish time (so it is the same site the ledger's build makes), record nothing, send nothing.
    Returns (day, files written)."""
    from .channels.feeds import build, recorded_since

    daily = daily_time(settings)
    on = daily.last_due_day(now)
    load = loader(settings, lambda problem: log.warning("skipped entry: %s", problem))
    written = build(settings, load, on, daily.due(on), None, recorded_since(settings), Hooks(after_file))
    return on, len(written)


@dataclass(frozen=True)
class Health:
    """What ``thisday status`` shows, and whether everything due was served."""

    lines: tuple[str, ...]
    healthy: bool


def health(
    settings: Settings,
    ledger: Ledger,
    now: datetime.datetime,
    problems: int,
    channels: Sequence[Channel] | None = None,
) -> Health:
    """The last publication of each channel, the next run, entry problems, and whether all is well.

    Unhealthy when anything due on any channel for the latest due day is unserved: missing more than a grace
    period after its publish time, failed, uncertain, or held by a claim that is stuck.
    """
    run = Run(settings, ledger, now, loader(settings))
    daily = run.daily
    lines = [
        f"timezone:   {settings.zone.key}, publishing daily at {settings.daemon.time:%H:%M}",
        f"next run:   {daily.next_due(now).strftime('%Y-%m-%d %H:%M %Z')}",
    ]
    if ledger.shared:
        lines.append(f"database:   {db.where(ledger.url)}, shared; this host: {db.host_name()}")
    failures: list[str] = []
    for channel in channels if channels is not None else enabled_channels(settings):
        try:
            result = channel.health(run)
        except ThisdayError as exc:
            lines.append(f"{channel.name + ':':<11} {exc}")
            failures.append(f"{channel.name}: {exc}")
            continue
        lines.extend(result.lines)
        failures.extend(result.failures)
    lines.append(
        f"entries:    {'no problems' if not problems else f'{problems} problem(s): run thisday check'}"
    )
    lines.append("health:     " + ("ok" if not failures else "FAILING: " + "; ".join(failures)))
    return Health(tuple(lines), not failures)
