"""When each day's publication is due: pure functions of (day, zone, time), no clock.

The daily publish time is a local wall-clock time in an IANA zone. Two days a year it is ambiguous:

- in the spring gap (e.g. 02:30 on the night Europe/Berlin skips from 02:00 to 03:00) the time does not exist:
  the publication runs at the same distance after the gap's start as it would have been, i.e. 03:30 local
  (the wall clock reading it would have had if the clocks had not moved);
- in the autumn overlap (02:30 happens twice) it runs once, at the first 02:30 (the summer-time one).

Each local day therefore has exactly one due moment, and successive due moments are strictly increasing.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass


@dataclass(frozen=True)
class DailyTime:
    """A local time of day (HH:MM) in a zone."""

    hour: int
    minute: int
    zone: zoneinfo.ZoneInfo

    @classmethod
    def parse(cls, text: str, zone: zoneinfo.ZoneInfo) -> DailyTime:
        hour, minute = (int(part) for part in text.split(":"))
        return cls(hour, minute, zone)

    @classmethod
    def at(cls, moment: datetime.time, zone: zoneinfo.ZoneInfo) -> DailyTime:
        return cls(moment.hour, moment.minute, zone)

    def due(self, day: datetime.date) -> datetime.datetime:
        """The one moment (aware, in the zone) when ``day``'s publication is due."""
        naive = datetime.datetime(day.year, day.month, day.day, self.hour, self.minute, tzinfo=self.zone)
        # PEP 495: fold=0 reads a wall time in the spring gap with the offset from before the gap, so the round
        # trip through UTC lands after the gap by the same distance (02:30 -> 03:30), and reads a repeated wall
        # time as its first occurrence.
        return naive.replace(fold=0).astimezone(datetime.UTC).astimezone(self.zone)

    def local_day(self, moment: datetime.datetime) -> datetime.date:
        return moment.astimezone(self.zone).date()

    def next_due(self, after: datetime.datetime) -> datetime.datetime:
        """The first due moment strictly after ``after`` (aware)."""
        day = self.local_day(after) - datetime.timedelta(days=1)
        while True:
            moment = self.due(day)
            if moment > after:
                return moment
            day += datetime.timedelta(days=1)

    def last_due_day(self, now: datetime.datetime) -> datetime.date:
        """The most recent local day whose due moment is at or before ``now``."""
        day = self.local_day(now) + datetime.timedelta(days=1)
        while self.due(day) > now:
            day -= datetime.timedelta(days=1)
        return day


def days_due(
    daily: DailyTime,
    now: datetime.datetime,
    done: set[datetime.date],
    catch_up_days: int,
    since: datetime.date | None = None,
) -> list[datetime.date]:
    """Days whose publication is due by ``now`` and not yet done, oldest first, at most ``catch_up_days`` back.

    ``since`` is the first day ever published on the channel: nothing before it counts as missed, so a new
    installation starts with the latest due day rather than a week of back-issues (None: a new installation).
    """
    latest = daily.last_due_day(now)
    first = since if since is not None else latest
    window = [latest - datetime.timedelta(days=n) for n in range(catch_up_days, -1, -1)]
    return [day for day in window if day not in done and day >= first]


def digests_to_send(
    daily: DailyTime,
    now: datetime.datetime,
    due: list[datetime.date],
    policy: str,
    grace: datetime.timedelta = datetime.timedelta(hours=1),
) -> list[datetime.date]:
    """Which of the ``due`` days get a digest, per the catch-up policy:

    - ``all``: every due day, oldest first (a reader gets each missed day's digest);
    - ``latest``: only the most recent due day, however late;
    - ``none``: only the most recent due day, and only if ``now`` is within ``grace`` of its due time.
    """
    if not due:
        return []
    if policy == "all":
        return list(due)
    latest = daily.last_due_day(now)
    if latest not in due:
        return []
    if policy == "latest":
        return [latest]
    if policy == "none":
        return [latest] if now - daily.due(latest) <= grace else []
    raise ValueError(f"unknown catch-up policy {policy!r}")
