"""The daemon: *when* :func:`runner.publish_due` runs. Nothing else lives here.

Two triggers call the same guarded function:

- the daily publication: an APScheduler 3 job at the configured local time every day, by a trigger built on
  :class:`schedule.DailyTime` (so daylight-saving gaps and overlaps behave as documented there, and the trigger
  is a pure function of the previous fire time);
- the catch-up check: at start, then every ``watch`` seconds of *monotonic* time (a loop on
  :meth:`threading.Event.wait`): publishes anything due and not done, which covers downtime, a missed fire
  time, a machine waking from suspend, and a wall clock stepped back or forward. (APScheduler's interval
  trigger sleeps until a wall-clock time, so a clock stepped back by J seconds silenced it for J seconds.)
  The ledger makes extra runs harmless.

On a shared database (several hosts) the check runs at least once per claim lease (30 s), so a claim left by a
host that died is taken over soon after its lease runs out, not at the next ``watch``.

SIGTERM and SIGINT stop the checks, wait for the publication in progress to finish, and exit 0.

When the database cannot be reached (at start or during a run), the job builds this host's own site from its
entries and sends nothing (:func:`runner.publish_offline`), logs that it did, and tries the database again on
every later run: once it is back, whatever is due and not done goes out.
"""

from __future__ import annotations

import datetime
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger

from . import db
from .channels.digest import configured_recipients
from .config import Settings
from .db import DatabaseUnreachable
from .errors import ConfigError, ThisdayError
from .lease import lease_seconds
from .ledger import Ledger
from .runner import daily_time, publish_due, publish_offline
from .schedule import DailyTime
from .smtp import Delivery

log = logging.getLogger("thisday")


class DailyTrigger(BaseTrigger):  # type: ignore[misc]
    """APScheduler trigger: the next :meth:`DailyTime.due` moment after the previous fire (or now)."""

    def __init__(self, daily: DailyTime) -> None:
        self.daily = daily

    def get_next_fire_time(
        self, previous_fire_time: datetime.datetime | None, now: datetime.datetime
    ) -> datetime.datetime:
        after = previous_fire_time or (now - datetime.timedelta(microseconds=1))
        return self.daily.next_due(after)

    def __str__(self) -> str:
        return f"daily at {self.daily.hour:02d}:{self.daily.minute:02d} {self.daily.zone.key}"


def preflight(settings: Settings) -> Ledger | None:
    """Check at start-up what would otherwise fail at publish time; raise a ThisdayError saying what to fix.
    None when the database cannot be reached (the site is published meanwhile; the ledger is opened later)."""
    if not settings.entries.is_dir():
        raise ConfigError(
            f"{settings.entries}: entries folder not found; set entries in thisday.toml or pass --entries"
        )
    try:
        settings.feeds_dir.mkdir(parents=True, exist_ok=True)
        probe = settings.feeds_dir / f".thisday-write-test-{os.getpid()}"  # one per process: several may start
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"{settings.feeds_dir}: feeds folder is not writable ({exc.strerror}); fix feeds_dir or its permissions"
        ) from None
    try:
        configured_recipients(settings)  # raises ConfigError for an unreadable recipients file
        return Ledger.from_settings(settings)
    except DatabaseUnreachable as exc:  # not a mistake to fix before starting: the site is published meanwhile
        log.error("%s", exc)
        return None


STEP_WARNING = 60.0
"""A wall clock that moved this many seconds more or less than the monotonic clock between checks is logged."""


def run(
    settings: Settings,
    *,
    watch: float = 600.0,
    after_file: Callable[[Path], None] | None = None,
    after_message: Callable[[Delivery], None] | None = None,
    wall_clock: Callable[[], datetime.datetime] | None = None,
) -> int:
    """Run until SIGTERM/SIGINT. Returns the exit status (0 after a clean stop).

    ``wall_clock`` replaces the system's wall clock (aware datetimes; the CLI's test switch
    THISDAY_TEST_CLOCK_OFFSET_FILE uses it to step the clock); waits between checks never depend on it.
    """
    ledger = preflight(settings)
    if db.is_shared(settings.ledger_url()) and lease_seconds() < watch:
        watch = lease_seconds()
        log.info("shared database: checking every %g s for claims left by hosts that died", watch)
    zone = settings.zone
    daily = daily_time(settings)
    busy = threading.Lock()
    stopping = threading.Event()

    def clock() -> datetime.datetime:
        return wall_clock().astimezone(zone) if wall_clock is not None else datetime.datetime.now(zone)

    down: list[str] = []  # why the database is unreachable, while it is: logged once, not at every check

    def offline(why: str) -> None:
        try:
            day, files = publish_offline(settings, clock(), after_file=after_file)
        except ThisdayError as exc:
            log.error("database unreachable (%s), and this host's site could not be built: %s", why, exc)
            return
        if down:
            return
        down.append(why)
        log.error(
            "database unreachable: published this host's site for %s from its entries (%d files), sent nothing; "
            "what is due goes out once it is back (%s)",
            day.isoformat(),
            files,
            why,
        )

    def job() -> None:
        nonlocal ledger
        if not busy.acquire(blocking=False):
            return  # a run is in progress; the next one will see what it did
        try:
            if ledger is None:
                ledger = Ledger.from_settings(settings)
            report = publish_due(
                settings, clock(), ledger, clock=clock, after_file=after_file, after_message=after_message
            )
            if report.unreachable:
                offline(report.unreachable)
            elif down:
                down.clear()
                log.info("database reachable again: what was due is published")
        except DatabaseUnreachable as exc:
            offline(str(exc))
        except ThisdayError as exc:
            log.error("publication failed: %s", exc)
        except (
            Exception
        ):  # pragma: no cover - a bug must not kill the daemon; it is logged with its traceback
            log.exception("unexpected error while publishing; the next run will try again")
        finally:
            busy.release()

    scheduler = BackgroundScheduler(
        timezone=zone, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
    )
    scheduler.add_job(job, DailyTrigger(daily), id="publish", name="daily publication")

    def stop(signum: int, _frame: FrameType | None) -> None:
        if stopping.is_set():
            return
        stopping.set()
        log.info("stopping on %s: finishing the publication in progress", signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "started: publishing daily at %02d:%02d %s; next run %s",
        daily.hour,
        daily.minute,
        zone.key,
        daily.next_due(clock()).isoformat(timespec="minutes"),
    )
    scheduler.start()
    try:
        while not stopping.is_set():
            wall, steady = clock(), time.monotonic()
            job()
            if stopping.wait(watch):  # monotonic: a step of the wall clock never stretches this wait
                break
            scheduler.wakeup()  # the daily trigger's wait too is recomputed from the wall clock as it is now
            moved = (clock() - wall).total_seconds() - (time.monotonic() - steady)
            if abs(moved) >= STEP_WARNING:
                direction = "forward" if moved > 0 else "back"
                log.warning("the wall clock stepped %s by %.0f s; checking what is due", direction, abs(moved))
    finally:
        scheduler.shutdown(wait=True)  # waits for a daily publication in progress
        with busy:  # and for the catch-up run in progress to finish its writes
            pass
        if ledger is not None:
            ledger.close()
    log.info("stopped")
    return 0
