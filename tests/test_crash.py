"""Crash trials: real `thisday run` and `thisday send` processes killed with SIGKILL at random moments against a
real SMTP server on loopback, then restarted. Whatever the moment: no recipient gets a day twice; after the
restart every recipient is served, except those whose process died between the end of a message's data and the
server's reply (`uncertain`, counted and printed); the feeds on disk always parse; and `thisday status` fails
whenever a recipient is left unserved.

The moments are drawn from a seeded generator; the seed is printed (replay with THISDAY_CRASH_SEED=N)."""

from __future__ import annotations

import asyncio
import datetime
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import feedparser
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from smtp_server import Recorder, free_port
from test_daemon import RECIPIENTS, write_config
from thisday.channels.digest import DIGEST_CHANNEL
from thisday.cli import main
from thisday.config import Settings, load_settings
from thisday.ledger import FEEDS_CHANNEL, Ledger, Status, digest_channel

SEND_TRIALS = 16
RUN_TRIALS = 14


class SlowServer(Recorder):
    """Records like :class:`Recorder`, but takes its time: a little before accepting each recipient, and longer
    between receiving a message's data and answering it, so that kills land in every phase of a send."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        await asyncio.sleep(0.06)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(0.08)
        return answer


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[SlowServer, int]]:
    recorder = SlowServer()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield recorder, port
    controller.stop()


@dataclass
class Figures:
    trials: int = 0
    kills: int = 0
    duplicates: int = 0
    unserved: int = 0
    uncertain: int = 0
    uncertain_not_received: int = 0
    status_checks: int = 0
    problems: list[str] = field(default_factory=list)


class Trial:
    """One trial's folder: entries, thisday.toml, state/ and feeds/, and the environment of its processes."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.config = write_config(folder, port, time_of_day="00:00")
        self.env = {**os.environ, "THISDAY_STATE_DIR": str(folder / "state")}
        self.settings: Settings = load_settings(self.config, state_dir=folder / "state")
        self.today = datetime.datetime.now(self.settings.zone).date()

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "thisday", "--config", str(self.config), *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def rows(self) -> dict[str, Status]:
        with Ledger.from_settings(self.settings) as ledger:
            return {r.channel: r.status for r in ledger.records(self.today)}

    def status_fails(self) -> bool:
        result = CliRunner().invoke(main, ["--config", str(self.config), "status"], env=self.env)
        assert result.exit_code in (0, 1), result.output
        return result.exit_code == 1

    def feeds_parse(self) -> list[str]:
        bad = []
        for path in sorted((self.folder / "feeds").glob("*.atom")) + sorted((self.folder / "feeds").glob("*.rss")):
            parsed = feedparser.parse(path.read_bytes())
            if parsed.bozo:
                bad.append(f"{path.name}: {parsed.get('bozo_exception')}")
        return bad


def unserved_rows(rows: dict[str, Status], *, feeds: bool) -> list[str]:
    wanted = [digest_channel(a) for a in RECIPIENTS] + ([FEEDS_CHANNEL] if feeds else [])
    return [c for c in wanted if rows.get(c) is not Status.DONE]


def finished(trial: Trial) -> bool:
    """The feeds and every recipient are done (or uncertain: never sent again by itself)."""
    rows = trial.rows()
    return all(rows[c] is Status.UNCERTAIN for c in unserved_rows(rows, feeds=True) if c in rows) and all(
        c in rows for c in unserved_rows(rows, feeds=True)
    )


def overdue(trial: Trial) -> bool:
    """More than the 15 minutes' grace after today's 00:00: a recipient with no row at all counts as missing."""
    now = datetime.datetime.now(trial.settings.zone)
    return now - now.replace(hour=0, minute=0, second=0, microsecond=0) > datetime.timedelta(minutes=16)


def kill_at(proc: subprocess.Popen[bytes], delay: float) -> bool:
    """SIGKILL ``proc`` ``delay`` seconds from now; False when it had already finished by then."""
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        return True
    proc.communicate(timeout=30)
    return False


def wait_until(condition: Any, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(proc.communicate(timeout=30)[1].decode())
        time.sleep(0.1)


def settle(trial: Trial, recorder: SlowServer, figures: Figures, *, feeds: bool) -> None:
    """After the final restart: count duplicates, unserved and uncertain recipients, and check `status`."""
    counts = Counter(r.lower() for r in recorder.recipients())
    rows = trial.rows()
    for address in RECIPIENTS:
        row = rows.get(digest_channel(address))
        received = counts[address]
        if received > 1:
            figures.duplicates += 1
            figures.problems.append(f"{trial.folder.name}: {address} received {received} times")
        if row is Status.UNCERTAIN:
            figures.uncertain += 1
            figures.uncertain_not_received += received == 0
        elif row is not Status.DONE or received != 1:
            figures.unserved += 1
            figures.problems.append(f"{trial.folder.name}: {address} is {row} and received {received} times")
    left = unserved_rows(rows, feeds=feeds)
    figures.status_checks += 1
    if trial.status_fails() != bool(left):
        figures.problems.append(f"{trial.folder.name}: status says {'failing' if not left else 'ok'} with {left}")


def check_after_kill(trial: Trial, figures: Figures, *, feeds: bool) -> None:
    """Right after a kill: the feeds parse, and `status` fails if anyone (or the feeds) is not served."""
    figures.problems.extend(f"{trial.folder.name}: {bad}" for bad in trial.feeds_parse())
    rows = trial.rows()
    left = unserved_rows(rows, feeds=feeds)
    if not overdue(trial):
        left = [c for c in left if c in rows]  # no row yet and not overdue: not unserved yet
    if left:
        figures.status_checks += 1
        if not trial.status_fails():
            figures.problems.append(f"{trial.folder.name}: status ok after a kill with {left} unserved")


def calibrate(seconds: list[float], proc: subprocess.Popen[bytes], started: float) -> None:
    proc.communicate(timeout=60)
    seconds.append(time.monotonic() - started)


@pytest.mark.slow
def test_killed_at_random_moments_nobody_gets_a_digest_twice_and_nobody_is_lost(
    tmp_path: Path, server: tuple[SlowServer, int], capsys: pytest.CaptureFixture[str]
) -> None:
    """30 trials (16 of `thisday send`, 14 of `thisday run`), each SIGKILLed at a random moment and restarted:
    0 duplicates, 0 recipients unserved except the uncertain ones (whose message the server had), feeds that
    always parse, and an honest `thisday status` after every kill and every restart."""
    recorder, port = server
    seed = int(os.environ.get("THISDAY_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    rng = random.Random(seed)
    with capsys.disabled():
        print(f"\ncrash trials: seed {seed} (replay with THISDAY_CRASH_SEED={seed})")
    figures = Figures()

    # how long a whole `send` and a whole `run` take on this machine: kills are drawn across that span
    recorder.messages.clear()
    probe = Trial(tmp_path / "probe-send", port)
    started = time.monotonic()
    send_span: list[float] = []
    calibrate(send_span, probe.start("send"), started)
    recorder.messages.clear()
    probe_run = Trial(tmp_path / "probe-run", port)
    started = time.monotonic()
    daemon = probe_run.start("run", "--watch", "1")
    wait_until(lambda: probe_run.rows().get(DIGEST_CHANNEL) is Status.DONE, daemon)
    run_span = time.monotonic() - started
    daemon.send_signal(signal.SIGTERM)
    daemon.communicate(timeout=60)

    for number in range(SEND_TRIALS):
        recorder.messages.clear()
        trial = Trial(tmp_path / f"send-{number:02d}", port)
        with Ledger.from_settings(trial.settings) as ledger:  # the feeds are built: only the digest is at stake
            claim = ledger.claim(trial.today, FEEDS_CHANNEL, datetime.datetime.now(datetime.UTC))
            assert claim is not None and ledger.mark_done(claim, datetime.datetime.now(datetime.UTC))
        figures.trials += 1
        figures.kills += kill_at(trial.start("send"), rng.uniform(0.2, send_span[0]))
        check_after_kill(trial, figures, feeds=False)
        again = trial.start("send")
        _, err = again.communicate(timeout=120)
        if again.returncode != 0:
            figures.problems.append(f"{trial.folder.name}: the second send exited {again.returncode}: {err!r}")
        settle(trial, recorder, figures, feeds=False)

    for number in range(RUN_TRIALS):
        recorder.messages.clear()
        trial = Trial(tmp_path / f"run-{number:02d}", port)
        figures.trials += 1
        figures.kills += kill_at(trial.start("run", "--watch", "1"), rng.uniform(0.2, run_span))
        check_after_kill(trial, figures, feeds=True)
        daemon = trial.start("run", "--watch", "1")
        assert daemon.stderr is not None
        for line in daemon.stderr:  # SIGTERM is handled from here on (before, it is the default action)
            if b"started:" in line:
                break
        wait_until(lambda t=trial: finished(t), daemon)
        time.sleep(1.5)  # another check or two (--watch 1): nothing may go out again
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=60)
        if daemon.returncode != 0:
            figures.problems.append(f"{trial.folder.name}: the daemon exited {daemon.returncode}: {err!r}")
        figures.problems.extend(f"{trial.folder.name}: {bad}" for bad in trial.feeds_parse())
        settle(trial, recorder, figures, feeds=True)

    with capsys.disabled():
        print(
            f"crash trials: {figures.trials} trials, {figures.kills} kills, {figures.duplicates} duplicates, "
            f"{figures.unserved} unserved, {figures.uncertain} uncertain "
            f"({figures.uncertain_not_received} of them never received), {figures.status_checks} status checks"
        )
        for problem in figures.problems:
            print(f"crash trials: PROBLEM: {problem}")
    assert figures.trials >= 30
    assert figures.problems == []
    assert figures.duplicates == 0 and figures.unserved == 0
    # uncertain only where it is: each uncertain recipient's message had reached the server (a kill before the
    # end of the data leaves the recipient claimed, and the restart sends it)
    assert figures.uncertain_not_received == 0
