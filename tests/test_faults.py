"""Faults: nothing silent, nothing stuck, nothing lost. Killed writes, stale temporary files, an honest
`thisday status`, a locked, damaged or lost ledger, `thisday send` stopped by SIGTERM, and clock steps."""

from __future__ import annotations

import asyncio
import datetime
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from smtp_server import Recorder, free_port
from test_build import NOW, assert_old_or_new, build_ok, cli, expected_files, kill_when_stalled, site_files
from test_build import config as config
from test_daemon import RECIPIENTS, at, settings_for, write_config
from thisday.cli import main
from thisday.config import Settings, load_settings
from thisday.entries import load_tree
from thisday.index import CalendarIndex
from thisday.ledger import MARKER_NAME, Ledger, Status, digest_channel
from thisday.publish import render_site
from thisday.runner import health, publish_due
from thisday.switches import CLOCK_OFFSET_ENV, STALL_MID_WRITE_ENV

DAY = datetime.date(2026, 7, 12)


class SlowRecorder(Recorder):
    """Records like :class:`Recorder`; waits ``delay`` seconds before answering each message's data, and calls
    ``on_data`` (once per message, before the answer) so a test can act while a send is in flight."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.on_data: Callable[[int], None] | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if self.on_data is not None:
            self.on_data(len(self.messages))
        if self.delay:
            await asyncio.sleep(self.delay)
        return answer


@pytest.fixture
def smtp() -> Iterator[tuple[SlowRecorder, int]]:
    """A real SMTP server on loopback that records what it receives."""
    recorder = SlowRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield recorder, port
    controller.stop()


def cli_run(config: Path, *args: str) -> tuple[int, str, str]:
    """A command in-process (click's runner), with the test's state folder."""
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.stdout, result.stderr


def thisday(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """A command as a real process."""
    return subprocess.Popen(
        [sys.executable, "-m", "thisday", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def with_ledger_url(config: Path, url: str) -> Path:
    text = config.read_text(encoding="utf-8").replace("[daemon]\n", f'[daemon]\nledger_url = "{url}"\n')
    config.write_text(text, encoding="utf-8")
    return config


def state_settings(config: Path) -> Settings:
    return load_settings(config, state_dir=Path(os.environ["THISDAY_STATE_DIR"]))


def dead_owner() -> str:
    """host:pid of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}"


def hold_write_lock(path: Path, seconds: float) -> threading.Event:
    """Another connection takes the ledger's write lock now and keeps it for ``seconds``; the event is set once
    it lets go."""
    conn = sqlite3.connect(path, timeout=60, check_same_thread=False, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    released = threading.Event()

    def release() -> None:
        conn.execute("ROLLBACK")
        conn.close()
        released.set()

    threading.Timer(seconds, release).start()
    return released


def temp_files(feeds: Path) -> list[str]:
    return sorted(p.relative_to(feeds).as_posix() for p in feeds.rglob(".*.tmp"))


# ---------------------------------------------------------------------------------------------
# 1, 2: atomic writes, and the temporary files a killed build leaves


@pytest.mark.slow
def write_position(feeds: Path, new: dict[str, bytes], name: str) -> int:
    """Where ``name`` comes among the files a build will write (a file whose bytes are already on disk is skipped),
    counting from 1: the N of THISDAY_TEST_STALL_MID_WRITE that stalls in it."""
    written = [path for path, data in new.items() if not (feeds / path).is_file() or (feeds / path).read_bytes() != data]
    return written.index(name) + 1


@pytest.mark.parametrize("stalled", ["days/2026-07-12.html", "onthisday.atom", "onthisday.rss"])
def test_a_build_killed_in_the_middle_of_a_write_leaves_every_file_whole(config: Path, stalled: str) -> None:
    """SIGKILL a real `thisday build` when half of one file's bytes are written (THISDAY_TEST_STALL_MID_WRITE=N):
    every file in feeds/ is byte-identical to the previous build's or the new one's, and every feed parses.
    The stalled file is a day page, the Atom feed (replacing an old one) or its RSS twin."""
    feeds = config.parent / "feeds"
    build_ok(config, "2026-07-11", "--now", "2026-07-11T06:00:00+02:00")
    old = site_files(feeds)
    new = expected_files(config, DAY, NOW)
    at = write_position(feeds, new, stalled)
    kill_when_stalled(cli(config, "build", "2026-07-12", "--now", NOW, env={STALL_MID_WRITE_ENV: str(at)}))
    assert_old_or_new(feeds, old, new)
    assert len(temp_files(feeds)) == 1, "the kill did not land inside a write"


@pytest.mark.slow
def test_the_next_build_removes_the_temporary_files_a_killed_build_left(config: Path) -> None:
    """A build killed mid-write leaves `.NAME.XXXXXXXX.tmp`; the next build removes it (in feeds/ and days/),
    and leaves alone every file that is not one of its own temporary files."""
    feeds = config.parent / "feeds"
    kill_when_stalled(cli(config, "build", "2026-07-12", "--now", NOW, env={STALL_MID_WRITE_ENV: "2"}))
    first = temp_files(feeds)
    assert len(first) == 1 and first[0].startswith("days/.2026-06-30.html.")
    settings = load_settings(config)
    index = CalendarIndex.build(load_tree(settings.entries).entries)
    publish = datetime.datetime.fromisoformat(NOW)
    # the killed first build left its day's feeds row, so the site's first day is that build's window start
    since = datetime.date(2026, 6, 29)
    atom_at = write_position(feeds, dict(render_site(settings, index, DAY, publish, since=since)), "onthisday.atom")
    kill_when_stalled(cli(config, "build", "2026-07-12", "--now", NOW, env={STALL_MID_WRITE_ENV: str(atom_at)}))
    second = temp_files(feeds)
    assert len(second) == 1 and second[0].startswith(".onthisday.atom.")  # the first one was removed
    keep = {
        "notes.tmp": b"a user's file",
        ".onthisday.atom.tmp": b"not eight random characters",
        ".draft.ABCDEFGH.tmp": b"upper case: not ours",
        ".hidden/.x.abcdefgh.tmp": b"in a hidden folder",
    }
    for name, data in keep.items():
        (feeds / name).parent.mkdir(parents=True, exist_ok=True)
        (feeds / name).write_bytes(data)
    outside = config.parent / ".elsewhere.abcdefgh.tmp"
    outside.write_bytes(b"outside feeds/")
    build_ok(config, "2026-07-12", "--now", NOW)
    assert [name for name in temp_files(feeds) if name not in keep] == []
    assert {name: (feeds / name).read_bytes() for name in keep} == keep
    assert outside.exists()


# ---------------------------------------------------------------------------------------------
# 3: `thisday status` tells the truth


def test_an_uncertain_recipient_makes_status_fail(tmp_path: Path, smtp: tuple[Recorder, int]) -> None:
    """After a good run, one recipient whose delivery became uncertain turns `status` to FAILING, naming them."""
    settings = settings_for(tmp_path, smtp[1])
    with Ledger.from_settings(settings) as ledger:
        publish_due(settings, at(12, 6, 0), ledger)
        assert health(settings, ledger, at(12, 7, 0), 0).healthy
        claim = ledger.claim(DAY, digest_channel("bob@example.org"), at(12, 6, 30), force=True)
        assert claim is not None and ledger.mark_uncertain(claim, at(12, 6, 30), "connection lost after the data")
        report = health(settings, ledger, at(12, 7, 0), 0)
    assert not report.healthy
    assert "bob@example.org for 2026-07-12 uncertain" in report.lines[-1]


def test_a_claim_left_by_a_dead_process_makes_status_fail_at_once(
    tmp_path: Path, smtp: tuple[Recorder, int]
) -> None:
    """A recipient (or the feeds) still `claimed` by a process that no longer runs is unserved: `status` fails at
    once, not only after the 15-minute grace; a claim held by a live process is fine until then."""
    settings = settings_for(tmp_path, smtp[1])
    with Ledger.from_settings(settings) as ledger:
        publish_due(settings, at(12, 6, 0), ledger)
        live = ledger.claim(DAY, digest_channel("ada@example.org"), at(12, 6, 5), force=True)
        assert live is not None
        assert health(settings, ledger, at(12, 6, 10), 0).healthy  # in progress, by us
        ledger.mark_done(live, at(12, 6, 6))
        dead = ledger.claim(DAY, digest_channel("ada@example.org"), at(12, 6, 5), force=True, owner=dead_owner())
        assert dead is not None
        report = health(settings, ledger, at(12, 6, 10), 0)
        assert not report.healthy and "ada@example.org for 2026-07-12 claimed" in report.lines[-1]
        feeds = ledger.claim(DAY, "feeds", at(12, 6, 5), force=True, owner=dead_owner())
        assert feeds is not None
        report = health(settings, ledger, at(12, 6, 10), 0)
    assert "feeds for 2026-07-12 claimed" in report.lines[-1]


def test_a_day_published_the_cron_way_reads_as_healthy(tmp_path: Path, smtp: tuple[Recorder, int]) -> None:
    """`thisday build` then `thisday send` (from cron, no daemon) leave `thisday status` healthy for the day;
    before the send the digest is reported missing (the publish time passed long ago)."""
    config = write_config(tmp_path, smtp[1], time_of_day="00:00")
    code, out, err = cli_run(config, "build")
    assert code == 0, err
    code, out, _ = cli_run(config, "status")
    berlin = datetime.datetime.now(state_settings(config).zone)
    if berlin - berlin.replace(hour=0, minute=0, second=0, microsecond=0) > datetime.timedelta(minutes=16):
        assert code == 1 and "not sent to 3 of 3" in out  # (within 15 minutes of 00:00 it is not overdue yet)
    code, out, err = cli_run(config, "send")
    assert code == 0, err
    code, out, err = cli_run(config, "status")
    assert code == 0, out + err
    assert "health:     ok" in out and "3 of 3 recipient(s) served" in out


# ---------------------------------------------------------------------------------------------
# 4: SIGTERM to `thisday send`


@pytest.mark.slow
def test_sigterm_to_send_finishes_the_message_in_flight_and_says_who_is_left(
    tmp_path: Path, smtp: tuple[SlowRecorder, int]
) -> None:
    """SIGTERM while `thisday send` is in the middle of a message: that message is finished and recorded, nobody
    else is started, the command exits 1 naming the recipients left; a second `send` serves exactly them."""
    recorder, port = smtp
    config = write_config(tmp_path, port)
    recorder.delay = 1.0
    arrived = threading.Event()
    recorder.on_data = lambda count: arrived.set()
    proc = thisday(config, "send", "2026-07-12")
    assert arrived.wait(60), proc.communicate()
    proc.send_signal(signal.SIGTERM)  # the server has the data and has not answered yet
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert recorder.recipients() == ["ada@example.org"]
    assert "stopped by SIGTERM: 2 recipient(s) not served (bob@example.org, cy@example.org)" in err
    assert "sent     ada@example.org" in out and "Traceback" not in err
    with Ledger.from_settings(state_settings(config)) as ledger:
        rows = {r.channel: r.status for r in ledger.records(DAY)}
    assert rows == {"digest:ada@example.org": Status.DONE}
    recorder.delay = 0
    second = thisday(config, "send", "2026-07-12")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert sorted(recorder.recipients()) == sorted(RECIPIENTS)


# ---------------------------------------------------------------------------------------------
# 5: ledger faults


@pytest.mark.slow
def test_a_ledger_locked_for_8_seconds_mid_send_is_waited_for(
    tmp_path: Path, smtp: tuple[SlowRecorder, int]
) -> None:
    """Another connection holds the ledger's write lock for 8 s while the first message is being sent: `thisday
    send` waits (busy timeout, 30 s by default), then records it and serves everyone, once each."""
    recorder, port = smtp
    config = write_config(tmp_path, port)
    ledger_file = Path(os.environ["THISDAY_STATE_DIR"]) / "ledger.sqlite"
    Ledger.from_settings(state_settings(config)).close()
    released: list[threading.Event] = []
    recorder.on_data = lambda count: released.append(hold_write_lock(ledger_file, 8)) if count == 1 else None
    proc = thisday(config, "send", "2026-07-12")
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert released and released[0].is_set()
    assert sorted(recorder.recipients()) == sorted(RECIPIENTS)
    with Ledger.from_settings(state_settings(config)) as ledger:
        assert {r.status for r in ledger.records(DAY)} == {Status.DONE}


@pytest.mark.slow
def test_a_ledger_locked_too_long_fails_loudly_and_loses_nobody(
    tmp_path: Path, smtp: tuple[SlowRecorder, int]
) -> None:
    """With `?timeout=1` in the ledger URL and the lock held 5 s: `thisday send` stops with one line naming the
    ledger and what to do (no traceback); the next `send` serves the rest, nobody twice."""
    recorder, port = smtp
    ledger_file = tmp_path / "state" / "ledger.sqlite"
    config = with_ledger_url(write_config(tmp_path, port), f"sqlite:///{ledger_file}?timeout=1")
    Ledger.from_settings(state_settings(config)).close()
    released: list[threading.Event] = []
    recorder.on_data = lambda count: released.append(hold_write_lock(ledger_file, 5)) if count == 1 else None
    proc = thisday(config, "send", "2026-07-12")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in err
    line = next(line for line in err.splitlines() if line.startswith("thisday: error:"))
    assert f"{ledger_file}: the publication ledger stayed locked" in line and "timeout=SECONDS" in line
    assert released and released[0].wait(30)
    recorder.on_data = None
    again = thisday(config, "send", "2026-07-12")
    _out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert sorted(recorder.recipients()) == sorted(RECIPIENTS)


@pytest.mark.slow
def test_the_daemon_outlasts_a_locked_ledger_and_serves_everyone(
    tmp_path: Path, smtp: tuple[SlowRecorder, int]
) -> None:
    """`thisday run` whose ledger stays locked past its timeout mid-send logs the error, keeps running, and once
    the lock is gone serves every recipient once and records each as done (`status` healthy)."""
    recorder, port = smtp
    ledger_file = tmp_path / "state" / "ledger.sqlite"
    config = with_ledger_url(write_config(tmp_path, port, time_of_day="00:00"), f"sqlite:///{ledger_file}?timeout=1")
    Ledger.from_settings(state_settings(config)).close()
    released: list[threading.Event] = []
    recorder.on_data = lambda count: released.append(hold_write_lock(ledger_file, 4)) if count == 1 else None
    proc = thisday(config, "run", "--watch", "1")
    try:
        settings = state_settings(config)
        today = datetime.datetime.now(settings.zone).date()

        def all_done() -> bool:
            with Ledger.from_settings(settings) as ledger:
                rows = ledger.records(today, "digest:")
            return len(rows) == len(RECIPIENTS) and all(r.status is Status.DONE for r in rows)

        deadline = time.monotonic() + 90
        while not all_done():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "recipients left unserved"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stayed locked" in err
    assert sorted(recorder.recipients()) == sorted(RECIPIENTS)
    code, out, _ = cli_run(config, "status")
    assert code == 0, out


def damage(path: Path, how: str) -> None:
    if how == "garbage":
        path.write_bytes(os.urandom(4096))
    else:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("how", ["garbage", "half"])
def test_a_damaged_ledger_is_one_line_naming_the_file_and_the_fix_on_every_command(
    tmp_path: Path, smtp: tuple[Recorder, int], how: str
) -> None:
    """A ledger file full of garbage, or truncated to half: `status`, `send`, `build` and `run` each print one
    line naming the file and the fix, exit 1, no traceback, and send nothing."""
    recorder, port = smtp
    config = write_config(tmp_path, port)
    settings = state_settings(config)
    with Ledger.from_settings(settings) as ledger:
        for n in range(400):  # several pages
            claim = ledger.claim(DAY - datetime.timedelta(days=n % 40), f"digest:r{n}@example.org", at(12, 6))
            assert claim is not None and ledger.mark_done(claim, at(12, 6), "sent (1 try)")
    path = settings.state_dir / "ledger.sqlite"
    damage(path, how)
    for args in (["status"], ["send", "2026-07-12"], ["build", "2026-07-12"], ["run", "--watch", "1"]):
        result = CliRunner().invoke(main, ["--config", str(config), *args])
        assert result.exit_code == 1, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
        lines = [line for line in result.stderr.splitlines() if line.startswith("thisday: error:")]
        assert len(lines) == 1, (args, result.stderr)
        assert f"{path}: the publication ledger" in lines[0] and "restore it from a backup" in lines[0]
    assert recorder.messages == []


@pytest.mark.parametrize("how", ["empty", "missing"])
def test_a_lost_ledger_refuses_to_send_again(tmp_path: Path, smtp: tuple[Recorder, int], how: str) -> None:
    """After a day was sent, the ledger truncated to 0 bytes (or deleted): `send` refuses, naming the ledger, the
    marker file and the fix, and nobody gets the day twice; deleting the marker on purpose starts afresh."""
    recorder, port = smtp
    config = write_config(tmp_path, port)
    code, _, err = cli_run(config, "send", "2026-07-12")
    assert code == 0, err
    assert len(recorder.messages) == 3
    path = Path(os.environ["THISDAY_STATE_DIR"]) / "ledger.sqlite"
    marker = path.parent / MARKER_NAME
    for leftover in (path.with_name("ledger.sqlite-wal"), path.with_name("ledger.sqlite-shm")):
        leftover.unlink(missing_ok=True)
    if how == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()
    for args in (["send", "2026-07-12"], ["status"]):
        code, _, err = cli_run(config, *args)
        assert code == 1, args
        assert f"{path}: the publication ledger is empty or was replaced" in err
        assert f"delete {marker}" in err and "Traceback" not in err
    assert len(recorder.messages) == 3
    marker.unlink()
    code, _, err = cli_run(config, "send", "2026-07-12")
    assert code == 0 and len(recorder.messages) == 6


def test_the_ledger_runs_in_wal_mode_with_normal_sync(tmp_path: Path) -> None:
    """The SQLite ledger uses write-ahead logging and synchronous=NORMAL: a killed process loses no commit,
    and readers (`thisday status`) never wait for a writer."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    with Ledger(url) as ledger:
        assert ledger.claim(DAY, "feeds", at(12, 6)) is not None
        with ledger._engine.connect() as conn:  # the ledger's own connections
            raw: Any = conn.connection.dbapi_connection
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert raw.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


# ---------------------------------------------------------------------------------------------
# 6: clock steps


@pytest.mark.slow
def test_a_clock_stepped_back_does_not_silence_the_catch_up(tmp_path: Path, smtp: tuple[Recorder, int]) -> None:
    """`thisday run --watch 1` whose wall clock (THISDAY_TEST_CLOCK_OFFSET_FILE) is stepped back by 30 minutes
    while the SMTP server is failing: once the server recovers, the next catch-up checks (every second of
    monotonic time) send the digest, long before the wall clock is back where it was."""
    recorder, port = smtp
    config = write_config(tmp_path, port, time_of_day="06:00")
    settings = state_settings(config)
    offset_file = tmp_path / "clock-offset"
    # the daemon's wall clock starts at 12:00 in Berlin on the real day, whatever the time is here
    real = datetime.datetime.now(settings.zone)
    noon = real.replace(hour=12, minute=0, second=0, microsecond=0)
    offset = (noon - real).total_seconds()
    offset_file.write_text(str(offset), encoding="utf-8")
    recorder.temporary = 10**9  # every RCPT answered 421: the digest fails, and is retried at every check
    proc = thisday(config, "run", "--watch", "1", env={CLOCK_OFFSET_ENV: str(offset_file)})
    try:

        def tried() -> bool:
            with Ledger.from_settings(settings) as ledger:
                rows = ledger.records(noon.date(), "digest:")
            return len(rows) == len(RECIPIENTS) and all(r.status is Status.FAILED for r in rows)

        deadline = time.monotonic() + 60
        while not tried():
            assert proc.poll() is None and time.monotonic() < deadline, "the first run never happened"
            time.sleep(0.2)
        time.sleep(1.5)  # the daemon is now waiting for its next check
        offset_file.write_text(str(offset - 1800), encoding="utf-8")  # stepped back 30 minutes
        time.sleep(1.5)
        recorder.temporary = 0
        deadline = time.monotonic() + 60  # a wall-clock wait would take 1800 s
        while len(recorder.messages) < len(RECIPIENTS):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no catch-up check since the clock was stepped back"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "the wall clock stepped back by 1800 s" in err
    assert sorted(recorder.recipients()) == sorted(RECIPIENTS)
