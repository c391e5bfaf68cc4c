"""The daily job: given a moment, publish whatever is due and not yet done, through the ledger.

This is what the daemon runs at the publish time (and every few minutes, to catch up after downtime or a
suspended machine); ``thisday build`` and ``thisday send`` call the same ``build_site`` and ``send_digest``.

For the moment ``now``:

1. **Feeds.** The days due (the latest day whose publish time has passed, and up to ``catch_up_days`` before it)
   that the ledger does not show as published are claimed on the ``feeds`` channel; the site is rebuilt once for
   the latest due day, and its rolling window carries the missed days; each claimed day is then marked done.
2. **Digest.** If recipients are configured, the days due on the ``digest`` channel are filtered by
   ``digest.catch_up`` (``latest``, ``all`` or ``none``); each chosen day's digest goes to every recipient the
   ledger does not show as served; days the policy passes over are recorded as skipped.

Entries are read afresh on every run, so an edit is picked up without a restart; entries with problems are
skipped and reported (the rest publish).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .config import Settings
from .errors import ThisdayError
from .ledger import FEEDS_CHANNEL, Ledger, Record, Status, digest_channel
from .mail import FAILED, Delivery, SendReport, configured_recipients, send_digest
from .model import Problem
from .publish import build_site, site_window
from .schedule import DailyTime, days_due, digests_to_send
from .selection import day_selection
from .store import load_days

DIGEST_CHANNEL = "digest"
"""The day-level digest row: done once the day's digest run is over (per-recipient rows say who got it)."""

log = logging.getLogger("thisday")


@dataclass
class RunReport:
    """What one run did."""

    feeds_published: list[datetime.date] = field(default_factory=list)
    digests: list[SendReport] = field(default_factory=list)
    problems: tuple[Problem, ...] = ()
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and all(report.ok for report in self.digests)

    def error(self, day: datetime.date, channel: str, message: object) -> None:
        """Record a failure on ``channel`` for ``day`` and log it (one line, with the day)."""
        self.errors.append(f"{channel} {day.isoformat()}: {message}")
        log.error("%s: %s: %s", day.isoformat(), channel, message)


def daily_time(settings: Settings) -> DailyTime:
    return DailyTime.at(settings.daemon.time, settings.zone)


def _done(ledger: Ledger, day: datetime.date, channel: str) -> bool:
    record = ledger.get(day, channel)
    return record is not None and record.status in (Status.DONE, Status.UNCERTAIN)


def publish_due(
    settings: Settings,
    now: datetime.datetime,
    ledger: Ledger,
    *,
    clock: Callable[[], datetime.datetime] | None = None,
    after_file: Callable[[Path], None] | None = None,
    after_message: Callable[[Delivery], None] | None = None,
) -> RunReport:
    """Publish what is due at ``now`` and not yet done. Never raises for a user-caused problem: it reports it.

    ``clock`` stamps the ledger and the messages (default: ``now``); ``after_file`` and ``after_message`` are called
    after each file written and each recipient served (the CLI's test switches use them to stall mid-publication).
    """
    stamp = clock or (lambda: now)
    report = RunReport()
    daily = daily_time(settings)
    window = settings.daemon.catch_up_days
    feed_days = _due(ledger, daily, now, window, FEEDS_CHANNEL)
    digest_due = _due(ledger, daily, now, window, DIGEST_CHANNEL)
    try:
        recipients = configured_recipients(settings)
    except ThisdayError as exc:  # a broken recipients file must not stop the feeds
        recipients = ()
        report.error(daily.last_due_day(now), "digest", exc)
    to_send = digests_to_send(daily, now, digest_due, settings.digest.catch_up) if recipients else []
    new_install = ledger.first(DIGEST_CHANNEL) is None
    if new_install:  # a first digest is today's (once due), never one for a day before thisday was set up
        to_send = [day for day in to_send if day == daily.local_day(now)]
    if not feed_days and not to_send and not (recipients and digest_due):
        return report

    latest = daily.last_due_day(now)
    needed = set(site_window(settings, latest)) | set(to_send)
    loaded = load_days(settings.entries, settings.state_dir, sorted(needed), settings.selection.feb29)
    report.problems = loaded.problems
    for problem in loaded.problems:
        log.warning("%s: skipped entry: %s", latest.isoformat(), problem)

    if feed_days:
        claims = [c for c in (ledger.claim(d, FEEDS_CHANNEL, stamp()) for d in feed_days) if c is not None]
        if claims:
            try:
                written = build_site(
                    settings,
                    loaded.index,
                    latest,
                    now,
                    progress=after_file,
                )
            except ThisdayError as exc:
                for claim in claims:
                    ledger.mark_failed(claim, stamp(), str(exc))
                report.error(latest, "feeds", exc)
            else:
                for claim in claims:
                    ledger.mark_done(
                        claim, stamp(), f"site built for {latest.isoformat()} ({len(written)} files)"
                    )
                    report.feeds_published.append(claim.day)
                days = ", ".join(c.day.isoformat() for c in claims)
                log.info("%s: feeds: published %d files (days %s)", latest.isoformat(), len(written), days)

    if recipients:
        for day in digest_due:
            day_claim = ledger.claim(day, DIGEST_CHANNEL, stamp())
            if day_claim is None:
                continue
            if day not in to_send:
                if new_install:
                    why = "before thisday was set up to send digests"
                else:
                    why = f"digest.catch_up is {settings.digest.catch_up!r}"
                ledger.mark_done(day_claim, stamp(), f"skipped: {why}")
                log.info("%s: digest: skipped (%s)", day.isoformat(), why)
                continue
            selection = day_selection(loaded.index, day, settings)
            try:
                sent = send_digest(
                    selection, settings, recipients, clock=stamp, ledger=ledger, after_each=after_message
                )
            except ThisdayError as exc:
                ledger.mark_failed(day_claim, stamp(), str(exc))
                report.error(day, "digest", exc)
                continue
            report.digests.append(sent)
            summary = sent.summary()
            failed = "; ".join(f"{d.address}: {d.detail}" for d in sent.deliveries if d.status == FAILED)
            if sent.ok:
                ledger.mark_done(day_claim, stamp(), summary)
                log.info("%s: digest: %s", day.isoformat(), summary)
            elif (
                not sent.retryable
            ):  # only permanent refusals: the day is done; those recipients are 'refused'
                ledger.mark_done(day_claim, stamp(), f"{summary} (refused: {failed})")
                log.warning("%s: digest: %s (refused: %s)", day.isoformat(), summary, failed)
            else:
                ledger.mark_failed(day_claim, stamp(), f"{summary} ({failed})")
                log.error("%s: digest: %s (%s)", day.isoformat(), summary, failed)
    return report


def _due(
    ledger: Ledger, daily: DailyTime, now: datetime.datetime, window: int, channel: str
) -> list[datetime.date]:
    """Due days of ``channel`` not done yet, from its first ever publication on (a new ledger: the latest day)."""
    latest = daily.last_due_day(now)
    recent = [latest - datetime.timedelta(days=n) for n in range(window + 1)]
    done = {day for day in recent if _done(ledger, day, channel)}
    first = ledger.first(channel)
    return days_due(daily, now, done, window, since=first.day if first else None)


@dataclass(frozen=True)
class Health:
    """What ``thisday status`` shows, and whether the last scheduled publication succeeded."""

    lines: tuple[str, ...]
    healthy: bool


def _describe(record: Record, zone: datetime.tzinfo) -> str:
    when = (record.finished_at or record.claimed_at).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    detail = f": {record.detail}" if record.detail else ""
    return f"{record.day.isoformat()} {record.status.value} at {when}{detail}"


def health(
    settings: Settings,
    ledger: Ledger,
    now: datetime.datetime,
    problems: int,
    grace: datetime.timedelta = datetime.timedelta(minutes=15),
) -> Health:
    """The last publication of each channel, the next run, entry problems, and whether all is well.

    Unhealthy when the latest due day's feeds (or digest, with recipients) failed, was left uncertain, or is
    missing more than ``grace`` after its publish time.
    """
    zone = settings.zone
    daily = daily_time(settings)
    latest = daily.last_due_day(now)
    lines = [
        f"timezone:   {zone.key}, publishing daily at {settings.daemon.time:%H:%M}",
        f"next run:   {daily.next_due(now).strftime('%Y-%m-%d %H:%M %Z')}",
    ]
    failures: list[str] = []
    recipients = configured_recipients(settings)
    channels = [("feeds", FEEDS_CHANNEL)] + ([("digest", DIGEST_CHANNEL)] if recipients else [])
    for label, channel in channels:
        last = ledger.last(channel, status=None)
        lines.append(f"{label + ':':<11} {_describe(last, zone) if last else 'never published'}")
        current = ledger.get(latest, channel)
        overdue = now - daily.due(latest) > grace
        if current is None and overdue:
            failures.append(f"{label} for {latest.isoformat()} has not been published")
        elif current is not None and current.status in (Status.FAILED, Status.UNCERTAIN):
            failures.append(f"{label} for {latest.isoformat()} {current.status.value}: {current.detail}")
    for address in recipients:
        record = ledger.last(digest_channel(address), status=None)
        lines.append(f"  {address}: {_describe(record, zone) if record else 'nothing sent yet'}")
    lines.append(
        f"entries:    {'no problems' if not problems else f'{problems} problem(s): run thisday check'}"
    )
    lines.append("health:     " + ("ok" if not failures else "FAILING: " + "; ".join(failures)))
    return Health(tuple(lines), not failures)
