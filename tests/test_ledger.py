"""The publication ledger: one row per (day, channel); claims are atomic, so nothing goes out twice."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from thisday.config import Settings
from thisday.errors import PublishError
from thisday.ledger import FEEDS_CHANNEL, Ledger, Status, digest_channel

UTC = datetime.UTC
DAY = datetime.date(2026, 7, 12)
T0 = datetime.datetime(2026, 7, 12, 6, 0, tzinfo=UTC)


@pytest.fixture
def ledger(db_url: Callable[[], str]) -> Iterator[Ledger]:
    """A new ledger on each backend (SQLite and PostgreSQL)."""
    with Ledger(db_url()) as led:
        yield led


def test_first_claim_wins_and_a_second_is_refused(ledger: Ledger) -> None:
    """A (day, channel) can be claimed once; while it is claimed (or done), nobody else gets it."""
    claim = ledger.claim(DAY, FEEDS_CHANNEL, T0)
    assert claim is not None and claim.attempts == 1
    assert ledger.claim(DAY, FEEDS_CHANNEL, T0 + datetime.timedelta(minutes=1)) is None
    assert ledger.mark_done(claim, T0 + datetime.timedelta(minutes=2), "built")
    assert ledger.claim(DAY, FEEDS_CHANNEL, T0 + datetime.timedelta(days=1)) is None
    record = ledger.get(DAY, FEEDS_CHANNEL)
    assert record is not None
    assert record.status is Status.DONE
    assert record.detail == "built"
    assert record.claimed_at == T0
    assert record.finished_at == T0 + datetime.timedelta(minutes=2)


def test_channels_and_days_are_independent(ledger: Ledger) -> None:
    """Claiming the feeds does not claim a digest recipient, nor the same channel on another day."""
    assert ledger.claim(DAY, FEEDS_CHANNEL, T0) is not None
    assert ledger.claim(DAY, digest_channel("Reader@Example.org"), T0) is not None
    assert ledger.claim(DAY + datetime.timedelta(days=1), FEEDS_CHANNEL, T0) is not None
    assert digest_channel(" Reader@Example.org ") == "digest:reader@example.org"


def test_a_failed_publication_can_be_claimed_again(ledger: Ledger) -> None:
    """After mark_failed the next claim takes the row over and counts the attempt; the detail is kept until then."""
    claim = ledger.claim(DAY, FEEDS_CHANNEL, T0)
    assert claim is not None
    ledger.mark_failed(claim, T0, "disk full")
    record = ledger.get(DAY, FEEDS_CHANNEL)
    assert record is not None and record.status is Status.FAILED and record.detail == "disk full"
    again = ledger.claim(DAY, FEEDS_CHANNEL, T0 + datetime.timedelta(minutes=5))
    assert again is not None and again.attempts == 2
    record = ledger.get(DAY, FEEDS_CHANNEL)
    assert record is not None and record.status is Status.CLAIMED and record.attempts == 2


def test_a_stale_claim_is_taken_over_and_the_old_holder_cannot_finish_it(ledger: Ledger) -> None:
    """A claim left by a process that died is taken over after stale_after; the dead holder's mark is ignored."""
    old = ledger.claim(DAY, FEEDS_CHANNEL, T0)
    assert old is not None
    stale = datetime.timedelta(minutes=30)
    assert ledger.claim(DAY, FEEDS_CHANNEL, T0 + datetime.timedelta(minutes=29), stale_after=stale) is None
    new = ledger.claim(DAY, FEEDS_CHANNEL, T0 + datetime.timedelta(minutes=31), stale_after=stale)
    assert new is not None and new.attempts == 2
    assert not ledger.mark_done(old, T0 + datetime.timedelta(minutes=32))
    assert ledger.mark_done(new, T0 + datetime.timedelta(minutes=33))


def test_force_takes_over_a_done_row_but_never_a_fresh_claim(ledger: Ledger) -> None:
    """--force republishes something done; it still cannot steal a claim another process holds right now."""
    claim = ledger.claim(DAY, FEEDS_CHANNEL, T0)
    assert claim is not None
    assert ledger.claim(DAY, FEEDS_CHANNEL, T0, force=True) is None
    ledger.mark_done(claim, T0)
    forced = ledger.claim(DAY, FEEDS_CHANNEL, T0, force=True)
    assert forced is not None and forced.attempts == 2


def test_last_is_the_latest_done_day_of_a_channel(ledger: Ledger) -> None:
    """last() tells the daemon where a channel got to: the latest day done (or in any status when asked)."""
    assert ledger.last(FEEDS_CHANNEL) is None
    for offset, ok in ((0, True), (1, True), (2, False)):
        claim = ledger.claim(DAY + datetime.timedelta(days=offset), FEEDS_CHANNEL, T0)
        assert claim is not None
        if ok:
            ledger.mark_done(claim, T0)
        else:
            ledger.mark_failed(claim, T0, "boom")
    ledger.claim(DAY + datetime.timedelta(days=9), digest_channel("a@example.org"), T0)
    last = ledger.last(FEEDS_CHANNEL)
    assert last is not None and last.day == DAY + datetime.timedelta(days=1)
    anything = ledger.last(FEEDS_CHANNEL, status=None)
    assert anything is not None and anything.day == DAY + datetime.timedelta(days=2)
    assert [r.channel for r in ledger.records(channel_prefix="digest:")] == ["digest:a@example.org"]
    assert len(ledger.records(day=DAY)) == 1


def test_default_ledger_lives_in_the_state_folder(tmp_path: Path) -> None:
    """Without daemon.ledger_url the ledger is SQLite in the state folder, created on first use."""
    settings = Settings(state_dir=tmp_path / "state" / "nested")
    with Ledger.from_settings(settings) as led:
        assert led.claim(DAY, FEEDS_CHANNEL, T0) is not None
    assert (tmp_path / "state" / "nested" / "ledger.sqlite").is_file()
    with Ledger.from_settings(settings) as led:
        assert led.claim(DAY, FEEDS_CHANNEL, T0) is None


def test_bad_url_and_naive_times_are_refused(db_url: Callable[[], str]) -> None:
    """A ledger URL that is not a SQLAlchemy URL is a user error; local (naive) times are a programming error."""
    with pytest.raises(PublishError, match="ledger_url"):
        Ledger("not a url")
    with Ledger(db_url()) as led, pytest.raises(ValueError, match="aware"):
        led.claim(DAY, FEEDS_CHANNEL, datetime.datetime(2026, 7, 12, 6, 0))


_RACER = textwrap.dedent(
    """
    import datetime, json, sys
    from thisday.ledger import Ledger
    url, name = sys.argv[1], sys.argv[2]
    now = datetime.datetime(2026, 7, 12, 6, tzinfo=datetime.UTC)
    won = []
    with Ledger(url) as ledger:
        for offset in range(40):
            day = datetime.date(2026, 1, 1) + datetime.timedelta(days=offset)
            claim = ledger.claim(day, "digest:reader@example.org", now)
            if claim is not None:
                won.append(offset)
                ledger.mark_done(claim, now)  # a finished publication: never taken over, even after we exit
    print(json.dumps(won))
    """
)


def test_two_processes_never_both_claim_the_same_day(db_url: Callable[[], str]) -> None:
    """Processes racing on one ledger (SQLite, PostgreSQL): every (day, channel) is claimed by exactly one of them."""
    url = db_url()
    Ledger(url).close()  # the table exists before the race starts
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, url, str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for i in range(4)
    ]
    wins: list[int] = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        wins.extend(json.loads(out))
    assert sorted(wins) == list(range(40))


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_claim_of_a_dead_process_is_taken_over_at_once(db_url: Callable[[], str]) -> None:
    """A daemon killed mid-publication leaves a claim; a restarted one takes it over without waiting an hour."""
    import socket

    ledger = Ledger(db_url())
    now = datetime.datetime(2026, 7, 12, 6, tzinfo=datetime.UTC)
    day = datetime.date(2026, 7, 12)
    dead = f"{socket.gethostname()}:{_dead_pid()}"
    assert ledger.claim(day, "feeds", now, owner=dead) is not None
    assert ledger.claim(day, "feeds", now + datetime.timedelta(minutes=1)) is not None  # taken over
    alive = Ledger(db_url())
    assert alive.claim(day, "feeds", now) is not None
    assert alive.claim(day, "feeds", now + datetime.timedelta(minutes=1)) is None  # we are alive: not taken


def test_interrupted_send_is_uncertain_and_never_repeated(db_url: Callable[[], str]) -> None:
    """A process that died while handing a message to the server leaves it 'uncertain': not sent again unless forced."""
    import socket

    ledger = Ledger(db_url())
    now = datetime.datetime(2026, 7, 12, 6, tzinfo=datetime.UTC)
    day = datetime.date(2026, 7, 12)
    channel = "digest:reader@example.org"
    claim = ledger.claim(day, channel, now, owner=f"{socket.gethostname()}:{_dead_pid()}")
    assert claim is not None and ledger.mark_sending(claim, now)
    assert ledger.claim(day, channel, now) is None
    record = ledger.get(day, channel)
    assert record is not None and record.status is Status.UNCERTAIN and "delivery is unknown" in record.detail
    assert ledger.claim(day, channel, now) is None  # still not retried
    assert ledger.claim(day, channel, now, force=True) is not None  # an operator's --force does
