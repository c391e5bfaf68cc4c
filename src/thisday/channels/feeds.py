"""The feeds channel: the static site and every configured feed in ``feeds/``, rebuilt once per run.

The days due and not done are held in the ledger (row ``feeds`` per day); the site is built once for the latest
due day, whose rolling window carries the missed days; then each held day is marked done. A build run by hand
(``thisday build``) goes through the same ledger rows, so the cron way (``thisday build`` from a timer) reads
as published in ``thisday status``.
"""

from __future__ import annotations

import contextlib
import datetime
import logging

from ..errors import ThisdayError
from ..ledger import FEEDS_CHANNEL, Hold
from ..publish import build_days, build_site, evergreen_current, first_published
from . import GRACE, ChannelHealth, ChannelReport, Run, describe, due_days, unserved

log = logging.getLogger("thisday")


class FeedsChannel:
    name = FEEDS_CHANNEL

    def publish_due(self, run: Run) -> ChannelReport:
        days = due_days(run, FEEDS_CHANNEL)
        return self.publish(run, run.latest, days) if days else ChannelReport(self.name)

    def publish(
        self,
        run: Run,
        on: datetime.date,
        days: list[datetime.date],
        *,
        window: int | None = None,
        force: bool = False,
    ) -> ChannelReport:
        """Build the site for ``on`` and record each of ``days`` as published (``force``: even if done); with no
        ``days``, build without recording anything (a day whose publish time has not come yet)."""
        report = ChannelReport(self.name)
        with contextlib.ExitStack() as stack:
            held: list[Hold] = []
            for day in days:
                hold = stack.enter_context(run.ledger.hold(day, FEEDS_CHANNEL, run.stamp, force=force))
                if hold is not None:
                    held.append(hold)
            if days and not held:
                return report
            try:
                first = run.ledger.first(FEEDS_CHANNEL)
                since = first_published(run.settings, first.day, window) if first is not None else None
                # the whole index when the day API and calendars are rebuilt (they reach past the window), else
                # the window and the open archives: on a big collection most builds change no entry
                evergreen = not evergreen_current(run.settings, on)
                loaded = run.load(build_days(run.settings, on, window, since, evergreen))
                written = build_site(
                    run.settings,
                    loaded.index,
                    on,
                    run.now,
                    window,
                    progress=run.hooks.after_file,
                    midway=run.hooks.mid_write,
                    since=since,
                    evergreen=evergreen,
                )
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
        last = ledger.last(FEEDS_CHANNEL, status=None)
        lines = (f"{'feeds:':<11} {describe(last, zone) if last else 'never published'}",)
        current = ledger.get(latest, FEEDS_CHANNEL)
        overdue = run.now - run.daily.due(latest) > GRACE
        if current is None:
            failures = (f"feeds for {latest.isoformat()} have not been published",) if overdue else ()
        elif unserved([current], run.now):
            failures = (f"feeds for {latest.isoformat()} {current.status.value}: {current.detail}",)
        else:
            failures = ()
        return ChannelHealth(lines, failures)
