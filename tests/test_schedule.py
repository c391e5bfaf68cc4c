"""When the daemon publishes: once a day at the local time, across daylight-saving changes and downtime."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest

from thisday.schedule import DailyTime, days_due, digests_to_send

ZONES = ["Europe/Berlin", "America/New_York"]


def simulate_year(daily: DailyTime, year: int) -> list[datetime.datetime]:
    """Fire times over a year, each computed from the previous one, as a trigger would produce them."""
    moment = datetime.datetime(year, 1, 1, tzinfo=daily.zone) - datetime.timedelta(microseconds=1)
    fired = []
    while True:
        moment = daily.next_due(moment)
        if moment.astimezone(daily.zone).year != year:
            return fired
        fired.append(moment)


@pytest.mark.parametrize("zone", ZONES)
def test_a_year_publishes_365_times_at_local_time(zone: str) -> None:
    """A simulated 2026 fires 365 times, once on each local day, always at 06:00 local, in summer and winter time."""
    daily = DailyTime(6, 0, zoneinfo.ZoneInfo(zone))
    fired = simulate_year(daily, 2026)
    assert len(fired) == 365
    assert len({f.astimezone(daily.zone).date() for f in fired}) == 365
    assert {(f.astimezone(daily.zone).hour, f.astimezone(daily.zone).minute) for f in fired} == {(6, 0)}
    utc_offsets = {f.utcoffset() for f in fired}
    assert len(utc_offsets) == 2  # the offset changes twice, the local time never does


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [("Europe/Berlin", "2026-03-29", "2026-10-25"), ("America/New_York", "2026-03-08", "2026-11-01")],
)
def test_skipped_and_repeated_hours_run_once(zone: str, spring: str, autumn: str) -> None:
    """A publish time in the skipped hour runs once, an hour later by the wall clock; in the repeated hour, once, the first time."""
    tz = zoneinfo.ZoneInfo(zone)
    gap_hour = 2
    daily = DailyTime(gap_hour, 30, tz)
    fired = simulate_year(daily, 2026)
    assert len(fired) == 365 and fired == sorted(fired)
    by_day = {f.astimezone(tz).date(): f.astimezone(tz) for f in fired}
    spring_fire = by_day[datetime.date.fromisoformat(spring)]
    assert (spring_fire.hour, spring_fire.minute) == (3, 30)
    autumn_day = datetime.date.fromisoformat(autumn)
    autumn_fire = by_day[autumn_day]
    assert (autumn_fire.hour, autumn_fire.minute) == (2, 30) and autumn_fire.fold == 0
    # the repeated 01:30 in New York (clocks go back at 02:00) is also run once, the first time
    daily_130 = DailyTime(1, 30, tz)
    day_fires = [f for f in simulate_year(daily_130, 2026) if f.astimezone(tz).date() == autumn_day]
    assert len(day_fires) == 1


def test_catch_up_after_three_days_down() -> None:
    """A daemon down for three days publishes the missed days' feeds oldest first, within catch_up_days."""
    tz = zoneinfo.ZoneInfo("Europe/Berlin")
    daily = DailyTime(6, 0, tz)
    done = {datetime.date(2026, 5, d) for d in range(1, 11)}  # published up to 10 May
    now = datetime.datetime(2026, 5, 13, 9, 0, tzinfo=tz)  # back on 13 May after 06:00
    due = days_due(daily, now, done, catch_up_days=7, since=datetime.date(2026, 5, 1))
    assert due == [datetime.date(2026, 5, 11), datetime.date(2026, 5, 12), datetime.date(2026, 5, 13)]
    before_six = datetime.datetime(2026, 5, 13, 5, 0, tzinfo=tz)
    since = datetime.date(2026, 5, 1)
    assert days_due(daily, before_six, done, catch_up_days=7, since=since)[-1] == datetime.date(2026, 5, 12)
    assert days_due(daily, now, set(), catch_up_days=1, since=since) == [
        datetime.date(2026, 5, 12),
        datetime.date(2026, 5, 13),
    ]
    assert days_due(daily, now, set(), catch_up_days=7) == [
        datetime.date(2026, 5, 13)
    ]  # a new install: no back-issues


def test_digest_catch_up_policies() -> None:
    """After downtime: 'all' sends every missed digest, 'latest' today's only, 'none' only an on-time one."""
    tz = zoneinfo.ZoneInfo("America/New_York")
    daily = DailyTime(6, 0, tz)
    due = [datetime.date(2026, 5, 11), datetime.date(2026, 5, 12), datetime.date(2026, 5, 13)]
    late = datetime.datetime(2026, 5, 13, 9, 0, tzinfo=tz)
    on_time = datetime.datetime(2026, 5, 13, 6, 0, 5, tzinfo=tz)
    assert digests_to_send(daily, late, due, "all") == due
    assert digests_to_send(daily, late, due, "latest") == [datetime.date(2026, 5, 13)]
    assert digests_to_send(daily, late, due, "none") == []
    assert digests_to_send(daily, on_time, due, "none") == [datetime.date(2026, 5, 13)]
    assert digests_to_send(daily, late, [], "all") == []
