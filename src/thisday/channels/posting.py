"""What social channels share: the posts of a day, when each is due, catch-up, threads, and the ledger rows.

A day's posts are written from its selection by :func:`.text.plan_texts` (``mode = "day"``: one post with the lead story and "and N more";
``mode = "entries"``: one post per entry) and scheduled at ``times``, spread over a ``window``, or at the daily
publish time. Every post is its own ledger row, ``<channel>:<post key>`` (``day`` in day mode, the entry id in
entries mode); the day row ``<channel>`` is marked done once every post of the day is settled. A backend
(:mod:`.mastodon`, :mod:`.bluesky`, :mod:`.webhook`) only knows how to send one post; it raises
:class:`AuthFailed`, :class:`Refused`, :class:`Unknown` or :class:`Transient` (:mod:`.transport`) and this
module records the outcome. Times come from ``run.now`` and ``run.stamp()``: nothing here reads the clock.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..config import Settings, parse_window
from ..errors import ConfigError, PublishError, ThisdayError
from ..ledger import Record, Status
from ..model import DaySelection
from ..schedule import DailyTime
from ..selection import day_selection
from . import ChannelHealth, ChannelReport, Run, describe
from .text import Counter, Draft, Posted, plan_texts
from .transport import AuthFailed, Refused, Section, SocialError, Unknown

log = logging.getLogger("thisday")

CATCH_UP_GRACE = datetime.timedelta(hours=1)
"""With ``catch_up = "none"`` a post still goes out this long after its time; later it is skipped."""

HEALTH_GRACE = datetime.timedelta(minutes=15)
"""``thisday status`` reports a day with no post this long after its first post was due."""



# ---------------------------------------------------------------------------------------------
# When


def post_times(
    settings: Settings, section: Section, day: datetime.date, count: int
) -> list[datetime.datetime]:
    """When each of ``count`` posts of ``day`` is due: at ``times`` (spread evenly, several per time when
    there are more posts than times), evenly over ``window``, or all at the daily publish time."""
    zone = settings.zone
    times: Sequence[datetime.time] = getattr(section, "times", ())
    window = parse_window(getattr(section, "window", ""))
    if times:
        slots = [DailyTime.at(t, zone).due(day) for t in times]
        return [slots[i * len(slots) // count] for i in range(count)] if count else []
    if window is not None:
        start, end = (DailyTime.at(t, zone).due(day) for t in window)
        step = (end - start) / count if count else datetime.timedelta(0)
        return [start + step * i for i in range(count)]
    moment = DailyTime.at(settings.daemon.time, zone).due(day)
    return [moment] * count


def first_time(settings: Settings, section: Section, day: datetime.date) -> datetime.datetime:
    """When the first post of ``day`` is due (whatever the number of posts)."""
    return post_times(settings, section, day, 1)[0]


# ---------------------------------------------------------------------------------------------
# Backends and the channel


class Backend(Protocol):
    """Sends one post. Made per run; may keep a session for the run."""

    def limit(self) -> int: ...

    def count(self, text: str) -> int: ...

    def post(self, draft: Draft, row: str, thread: Sequence[Posted], run: Run) -> Posted: ...

    def close(self) -> None: ...


@dataclass
class SocialChannel:
    """A channel over a :class:`Backend`: plans, schedules and records a day's posts through the ledger."""

    name: str
    section: Section
    make_backend: Callable[[Settings], Backend]
    offline_count: Counter
    offline_limit: int
    idempotent: bool = True
    """True when a retry can never make a second post: an uncertain row is then retried."""
    per_post_rows: bool = True
    retry_window: datetime.timedelta | None = None
    """How long the server recognises a repeated post (Mastodon keeps Idempotency-Keys an hour). A post left
    uncertain longer ago than this is not retried by a scheduled run: it could appear twice. None: no limit."""
    mode: str = "day"
    thread: bool = False

    # -- planning ------------------------------------------------------------------------

    def selection(self, run: Run, day: datetime.date, index: Any) -> DaySelection:
        return day_selection(
            index, day, run.settings, kinds=self.section.kinds or None, tags=self.section.tags or None
        )

    def row(self, draft: Draft) -> str:
        return f"{self.name}:{draft.key}" if self.per_post_rows else self.name

    def drafts(self, settings: Settings, selection: DaySelection, limit: int, count: Counter) -> list[Draft]:
        return plan_texts(settings, selection, self.mode, limit, count)

    def candidate_days(self, run: Run) -> list[datetime.date]:
        """Days whose first post is due, newest ``catch_up_days`` back, from the channel's first day on."""
        settings = run.settings
        today = run.now.astimezone(settings.zone).date()
        days = [today - datetime.timedelta(days=n) for n in range(settings.daemon.catch_up_days, -1, -1)]
        days = [d for d in days if first_time(settings, self.section, d) <= run.now]
        if not days:
            return []
        first = self._first_day(run)
        return [d for d in days if d >= (first if first is not None else days[-1])]

    def _first_day(self, run: Run) -> datetime.date | None:
        rows = [r.day for r in self._records(run)]
        return min(rows) if rows else None

    def _records(self, run: Run, day: datetime.date | None = None) -> list[Record]:
        return [
            r
            for r in run.ledger.records(day=day, channel_prefix=self.name)
            if r.channel == self.name or r.channel.startswith(self.name + ":")
        ]

    # -- publishing ----------------------------------------------------------------------

    def publish_due(self, run: Run) -> ChannelReport:
        return self._publish(run, None, scheduled=True)

    def post_day(self, run: Run, day: datetime.date, dry_run: bool) -> ChannelReport:
        if dry_run:
            report = ChannelReport(self.name)
            loaded = run.load([day])
            report.lines.append(self.preview(run.settings, self.selection(run, day, loaded.index)))
            return report
        return self._publish(run, [day], scheduled=False)

    def _publish(self, run: Run, only: list[datetime.date] | None, scheduled: bool) -> ChannelReport:
        report = ChannelReport(self.name)
        days = self.candidate_days(run) if only is None else only
        if not days:
            return report
        done_days = {d for d in days if _finished(run.ledger.get(d, self.name)) and self.per_post_rows}
        days = [d for d in days if d not in done_days]
        if not days:
            return report
        try:
            backend = self.make_backend(run.settings)
        except ConfigError as exc:
            report.error(days[-1], exc)
            return report
        try:
            loaded = run.load(days)
            limit: int | None = None
            latest = days[-1]
            for day in days:
                selection = self.selection(run, day, loaded.index)
                if not selection.occurrences:
                    self._settle_day(run, day, "nothing to post (no entries on this day)", report)
                    continue
                if limit is None:
                    limit = backend.limit()
                try:
                    drafts = self.drafts(run.settings, selection, limit, backend.count)
                except PublishError as exc:
                    report.error(day, exc)
                    continue
                due = post_times(run.settings, self.section, day, len(drafts))
                stop = self._publish_day(run, backend, drafts, due, latest, scheduled, report)
                if stop:
                    break
        except ThisdayError as exc:  # the credentials, the server, the entries: stop this channel, not the run
            report.error(days[-1], exc)
        finally:
            backend.close()
        return report

    def _publish_day(
        self,
        run: Run,
        backend: Backend,
        drafts: list[Draft],
        due: list[datetime.datetime],
        latest: datetime.date,
        scheduled: bool,
        report: ChannelReport,
    ) -> bool:
        """Post what is due of one day; True when the channel must stop for this run (credentials refused)."""
        day = drafts[0].day
        thread: list[Posted] = []
        settled = 0
        for draft, when in zip(drafts, due, strict=True):
            draft = dataclasses.replace(draft, due=when)
            row = self.row(draft)
            record = run.ledger.get(day, row)
            if _finished(record):
                settled += 1
                assert record is not None
                posted = _posted_from(record)
                if posted is not None:
                    thread.append(posted)
                continue
            if scheduled and when > run.now:
                break
            if scheduled and self._too_late_to_retry(run, record):
                assert record is not None
                report.error(
                    day,
                    f"{row} was interrupted while sending at {record.claimed_at.astimezone(run.settings.zone):%Y-%m-%d %H:%M %Z}, "
                    f"longer ago than the server recognises a repeat: check the account, and if the post is missing "
                    f"post it with thisday post {day.isoformat()} --channel {self.name}",
                )
                break
            skip = self._skip_reason(run, day, when, latest) if scheduled else None
            with run.ledger.hold(day, row, run.stamp, retry_uncertain=self.idempotent) as held:
                if held is None:
                    break  # another process holds it (or it is uncertain and may not be retried)
                if skip is not None:
                    held.done(f"skipped: {skip}")
                    log.info("%s: %s: skipped (%s)", day.isoformat(), row, skip)
                    settled += 1
                    continue
                if not held.sending():
                    break
                try:
                    posted = backend.post(draft, row, tuple(thread) if self.thread else (), run)
                except AuthFailed as exc:
                    held.failed(str(exc))
                    report.error(day, exc)
                    return True
                except Refused as exc:
                    held.refused(str(exc))
                    report.error(day, exc)
                    settled += 1
                    continue
                except Unknown as exc:
                    held.uncertain(str(exc))
                    report.error(day, exc)
                    return True
                except SocialError as exc:
                    held.failed(str(exc))
                    report.error(day, exc)
                    return True
                held.done(f"posted {posted.url} ref={posted.ref}")
                if run.hooks.after_message is not None:
                    run.hooks.after_message(posted)
                thread.append(posted)
                settled += 1
                report.lines.append(f"{day.isoformat()} {row}: posted {posted.url}")
                log.info("%s: %s: posted %s", day.isoformat(), row, posted.url)
                if day not in report.published:
                    report.published.append(day)
        if settled == len(drafts) and self.per_post_rows:
            self._settle_day(run, day, f"{len(drafts)} post(s) settled", report)
        return False

    def _too_late_to_retry(self, run: Run, record: Record | None) -> bool:
        if self.retry_window is None or record is None:
            return False
        if record.status not in (Status.SENDING, Status.UNCERTAIN):
            return False
        return run.stamp() - record.claimed_at > self.retry_window

    def _skip_reason(
        self, run: Run, day: datetime.date, when: datetime.datetime, latest: datetime.date
    ) -> str | None:
        policy = self.section.catch_up
        if policy == "all":
            return None
        if policy == "latest":
            return None if day == latest else "catch_up is 'latest' and a later day is due"
        return None if run.now - when <= CATCH_UP_GRACE else "catch_up is 'none' and its time is long past"

    def _settle_day(self, run: Run, day: datetime.date, detail: str, report: ChannelReport) -> None:
        with run.ledger.hold(day, self.name, run.stamp) as held:
            if held is not None:
                held.done(detail)

    # -- showing -------------------------------------------------------------------------

    def preview(self, settings: Settings, selection: DaySelection) -> str:
        """The day's posts exactly as they would be sent (against the configured or default limit)."""
        drafts = self.drafts(settings, selection, self.offline_limit, self.offline_count)
        if not drafts:
            return f"{self.name}: nothing to post on {selection.on.isoformat()} (no entries)"
        due = post_times(settings, self.section, selection.on, len(drafts))
        blocks = []
        for draft, when in zip(drafts, due, strict=True):
            size = self.offline_count(draft.text)
            head = (
                f"--- {self.name} post {draft.index + 1} of {len(drafts)}, "
                f"{when.astimezone(settings.zone):%Y-%m-%d %H:%M %Z} ({size}/{self.offline_limit}) ---"
            )
            blocks.append(f"{head}\n{draft.text}")
        return "\n\n".join(blocks)

    def health(self, run: Run) -> ChannelHealth:
        zone = run.settings.zone
        since = run.latest - datetime.timedelta(days=run.settings.daemon.catch_up_days)
        records = [r for r in self._records(run) if r.day >= since]
        failures: list[str] = []
        try:
            self.make_backend(run.settings).close()
        except ConfigError as exc:
            failures.append(str(exc))
        for record in records:
            if record.status in (Status.FAILED, Status.UNCERTAIN):
                failures.append(f"{record.channel} {record.day.isoformat()} {record.status.value}: {record.detail}")
            elif record.status in (Status.CLAIMED, Status.SENDING) and run.now - record.claimed_at > HEALTH_GRACE:
                failures.append(
                    f"{record.channel} {record.day.isoformat()} left {record.status.value} since "
                    f"{record.claimed_at.astimezone(zone):%Y-%m-%d %H:%M %Z} (interrupted?)"
                )
        due_day = self._latest_started(run, HEALTH_GRACE)
        if due_day is not None and not any(r.day == due_day for r in records):
            failures.append(f"{self.name}: nothing posted for {due_day.isoformat()} although its first post was due")
        posts = [r for r in records if r.channel != self.name or not self.per_post_rows]
        last = max(posts, key=lambda r: (r.finished_at or r.claimed_at), default=None)
        line = f"{self.name}: " + (f"{describe(last, zone)} ({last.channel})" if last else "nothing posted yet")
        return ChannelHealth((line,), tuple(failures))


    def _latest_started(self, run: Run, grace: datetime.timedelta) -> datetime.date | None:
        """The latest day whose first post was due more than ``grace`` ago (within the last two days)."""
        today = run.now.astimezone(run.settings.zone).date()
        for day in (today, today - datetime.timedelta(days=1)):
            if first_time(run.settings, self.section, day) + grace <= run.now:
                return day
        return None


def _finished(record: Record | None) -> bool:
    return record is not None and record.status in (Status.DONE, Status.REFUSED)


def _posted_from(record: Record) -> Posted | None:
    if record.status is not Status.DONE or " ref=" not in record.detail:
        return None
    head, _, ref = record.detail.rpartition(" ref=")
    return Posted(head.removeprefix("posted "), ref)
