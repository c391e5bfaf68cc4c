"""Channels: each way thisday publishes a day (the site and feeds, the digest, later social posts...).

A channel is a small object with a ``name`` and two methods, and nothing else is shared between channels:

- :meth:`Channel.publish_due` publishes what is due at ``run.now`` and not yet done, every row through
  :meth:`thisday.ledger.Ledger.hold` (claimed before, marked after, released as failed on any exception);
- :meth:`Channel.health` says, for ``thisday status``, what the channel last did and whether anything due is
  unserved.

The runner (:mod:`thisday.runner`) loops over the enabled channels; an error in one channel is reported and
never stops the others. The CLI commands that publish by hand (``build``, ``send``) call the same channels.
"""

from __future__ import annotations

import datetime
import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..config import Settings
from ..index import CalendarIndex
from ..ledger import Ledger, Record, Status, owner_is_dead
from ..model import Problem
from ..schedule import DailyTime, days_due

log = logging.getLogger("thisday")


@dataclass(frozen=True)
class Hooks:
    """Calls made as a publication proceeds (the CLI's test switches use them to stall mid-publication)."""

    after_file: Callable[[Path], None] | None = None
    after_message: Callable[[Any], None] | None = None
    mid_write: Callable[[Path], None] | None = None
    """Called in the middle of each file's write (THISDAY_TEST_STALL_MID_WRITE)."""


@dataclass(frozen=True)
class Loaded:
    """The entries a run needs, loaded once and shared by every channel."""

    index: CalendarIndex
    problems: tuple[Problem, ...] = ()


@dataclass
class Run:
    """One publication run: the moment, the settings, the ledger, and the entries (loaded on first use).

    ``now`` is the moment being published for; ``clock`` stamps the ledger and messages (the daemon's clock,
    or ``now`` itself in tests and builds). ``load`` returns the entries for the given days.
    """

    settings: Settings
    ledger: Ledger
    now: datetime.datetime
    load: Callable[[Sequence[datetime.date]], Loaded]
    clock: Callable[[], datetime.datetime] | None = None
    hooks: Hooks = field(default_factory=Hooks)

    def stamp(self) -> datetime.datetime:
        return self.clock() if self.clock is not None else self.now

    @functools.cached_property
    def daily(self) -> DailyTime:
        return DailyTime(self.settings.daemon.time.hour, self.settings.daemon.time.minute, self.settings.zone)

    @property
    def latest(self) -> datetime.date:
        """The latest day whose publish time has passed."""
        return self.daily.last_due_day(self.now)


@dataclass
class ChannelReport:
    """What one channel did in one run: the days it published, one line per outcome, and the errors."""

    channel: str
    published: list[datetime.date] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    detail: object = None
    """Channel-specific result (e.g. the digest's per-recipient deliveries)."""

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, day: datetime.date, message: object) -> None:
        """Record a failure for ``day`` and log it (one line, with the day and channel)."""
        self.errors.append(f"{self.channel} {day.isoformat()}: {message}")
        log.error("%s: %s: %s", day.isoformat(), self.channel, message)


@dataclass(frozen=True)
class ChannelHealth:
    """What ``thisday status`` shows for one channel: lines to print, and failures (empty when healthy)."""

    lines: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()


class Channel(Protocol):
    name: str

    def publish_due(self, run: Run) -> ChannelReport:
        """Publish what is due at ``run.now`` and not done, through the ledger; never raise for a user error."""
        ...

    def health(self, run: Run) -> ChannelHealth:
        """The channel's last publication and whether anything due at ``run.now`` is unserved."""
        ...


UNSERVED = (Status.FAILED, Status.UNCERTAIN)
"""Row states that mean "not (known to be) served"; a claimed or sending row is unserved once it is stuck."""


def describe(record: Record, zone: datetime.tzinfo) -> str:
    """'2026-07-12 done at 2026-07-12 06:00 CEST: detail' for one ledger row."""
    when = (record.finished_at or record.claimed_at).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    detail = f": {record.detail}" if record.detail else ""
    return f"{record.day.isoformat()} {record.status.value} at {when}{detail}"


def unserved(records: Iterable[Record], now: datetime.datetime) -> list[Record]:
    """The rows among ``records`` that are not served: failed, uncertain, or claimed/sending and stuck."""
    return [r for r in records if r.status in UNSERVED or stuck(r, now)]


GRACE = datetime.timedelta(minutes=15)
"""How long after its publish time a day may still be in progress before ``thisday status`` calls it failing."""


def due_days(run: Run, channel: str) -> list[datetime.date]:
    """Due days of ``channel`` not done yet, from its first ever publication on (a new ledger: the latest day)."""
    ledger = run.ledger
    window = run.settings.daemon.catch_up_days
    recent = [run.latest - datetime.timedelta(days=n) for n in range(window + 1)]
    done = set()
    for day in recent:
        record = ledger.get(day, channel)
        if record is not None and record.status in (Status.DONE, Status.UNCERTAIN):
            done.add(day)
    first = ledger.first(channel)
    return days_due(run.daily, run.now, done, window, since=first.day if first else None)


def stuck(record: Record, now: datetime.datetime) -> bool:
    """A row still claimed (or sending) whose holder is gone (a process on this host that no longer runs), or
    long after it was claimed (its holder is hung, or on another host)."""
    if record.status not in (Status.CLAIMED, Status.SENDING):
        return False
    return now - record.claimed_at > GRACE or owner_is_dead(record.owner)
