"""Several hosts on one PostgreSQL: real `thisday run` daemons, each its own host (THISDAY_HOST), its own state
and its own feeds/ folder, sharing one database and one (loopback) SMTP server.

The crash trials kill daemons with SIGKILL at random moments (some stalled mid-send by the test switch
THISDAY_TEST_STALL_AFTER_MESSAGES, some for good), restart the others, and count what each recipient received:
every digest goes out once across the hosts, and each `uncertain` row is counted and explained. Another test
kills the database server itself in the middle of a send and brings it back.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from pgserver import PgServer, start_server, stop_server
from smtp_server import Recorder, free_port
from thisday.channels.digest import DIGEST_CHANNEL
from thisday.ledger import Ledger, Record, Status, digest_channel

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

HOSTS = ("host-a", "host-b", "host-c")
TRIALS = int(os.environ.get("THISDAY_TRIALS", "30"))
RECIPIENTS_PER_TRIAL = 4


class SlowRecorder(Recorder):
    """Takes each message, then waits a moment before answering 250: a kill in that moment leaves the message
    delivered but its outcome unknown to the sender (the case the ledger calls uncertain)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(0.15)
        return answer


@pytest.fixture
def smtp() -> Iterator[Recorder]:
    """A real SMTP server on loopback that records what it receives (its port is ``recorder.port``)."""
    recorder = SlowRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    recorder.port = port  # type: ignore[attr-defined]
    yield recorder
    controller.stop()


def today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


@dataclass
class Site:
    """Entries shared by every host, one folder per host (its thisday.toml, state and feeds)."""

    root: Path
    entries: Path
    url: str
    port: int
    recipients: tuple[str, ...]
    rate: float = 0.0
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        entries = self.entries
        if not entries.exists():
            entries.mkdir(parents=True)
            days = [datetime.date(1952, 1, 1) + datetime.timedelta(days=n) for n in range(366)]
            (entries / "every-day.yaml").write_text(
                "".join(f"- title: Something on {d:%d %B}\n  date: '{d.isoformat()}'\n" for d in days),
                encoding="utf-8",
            )
        for host in HOSTS:
            folder = self.root / host
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "thisday.toml").write_text(
                f"""
timezone = "UTC"
entries = "{entries}"
feeds_dir = "{folder / 'feeds'}"
[site]
base_url = "https://history.example.org/"
[daemon]
time = "00:00"
catch_up_days = 2
ledger_url = "{self.url}"
[digest]
sender = "On this day <news@example.org>"
recipients = {json.dumps(list(self.recipients))}
catch_up = "latest"
[smtp]
host = "127.0.0.1"
port = {self.port}
retries = 1
retry_delay = 0.01
connections = 1
rate = {self.rate}
""",
                encoding="utf-8",
            )

    def env(self, host: str, lease: float, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "THISDAY_HOST": host,
            "THISDAY_STATE_DIR": str(self.root / host / "state"),
            "THISDAY_LEASE_SECONDS": str(lease),
            **extra,
        }

    def start(self, host: str, lease: float, **extra: str) -> None:
        self.procs[host] = subprocess.Popen(
            [sys.executable, "-m", "thisday", "--config", str(self.root / host / "thisday.toml"), "run",
             "--watch", "1"],
            env=self.env(host, lease, **extra),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def kill(self, host: str) -> None:
        proc = self.procs.pop(host)
        proc.kill()
        self.logs.setdefault(host, []).append(proc.communicate(timeout=30)[1].decode(errors="replace"))

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for host, proc in list(self.procs.items()):
            try:
                _, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate(timeout=30)
            self.logs.setdefault(host, []).append(err.decode(errors="replace"))
        self.procs.clear()

    def log_text(self) -> str:
        return "\n".join(f"--- {host}\n" + "\n".join(parts) for host, parts in self.logs.items())

    def feeds(self, host: str) -> Path:
        return self.root / host / "feeds"


def settled(ledger: Ledger, site: Site, hosts: Iterator[str] | tuple[str, ...]) -> bool:
    """The day's digest is over (every recipient done or uncertain) and each host in ``hosts`` built its site."""
    day = today()
    row = ledger.get(day, DIGEST_CHANNEL)
    if row is None or row.status is not Status.DONE:
        return False
    for address in site.recipients:
        record = ledger.get(day, digest_channel(address))
        if record is None or record.status not in (Status.DONE, Status.UNCERTAIN):
            return False
    for host in hosts:
        record = ledger.get(day, f"feeds@{host}")
        if record is None or record.status is not Status.DONE:
            return False
    return True


def wait_for(condition: Callable[[], bool], site: Site, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            for host in list(site.procs):
                site.kill(host)
            raise AssertionError("timed out waiting; daemon logs:\n" + site.log_text())
        time.sleep(0.1)


@dataclass
class Tally:
    trials: int = 0
    deliveries: int = 0
    duplicates: int = 0
    losses: int = 0
    uncertain: list[str] = field(default_factory=list)
    takeovers: int = 0


def count(site: Site, recorder: Recorder, ledger: Ledger, tally: Tally, label: str) -> None:
    """Add one trial's outcome to ``tally``: per recipient, how often the SMTP server received it, against the
    ledger's row. An uncertain row is explained by what the server got."""
    received = Counter(r.lower() for r in recorder.recipients())
    day = today()
    for address in site.recipients:
        got = received[address]
        record: Record | None = ledger.get(day, digest_channel(address))
        assert record is not None
        if got > 1:
            tally.duplicates += 1
        if record.status is Status.UNCERTAIN:
            why = (
                "delivered once; the server took it, then its sender died or lost the database before recording the reply"
                if got == 1
                else "never delivered; its sender died or lost the database after marking it sending, before the server took it"
            )
            tally.uncertain.append(f"{label} {address}: {why} [{record.detail}]")
        elif got == 0:
            tally.losses += 1
        tally.deliveries += min(got, 1)
        if record.attempts > 1:
            tally.takeovers += 1
    day_row = ledger.get(day, DIGEST_CHANNEL)
    if day_row is not None and day_row.attempts > 1:
        tally.takeovers += 1


def same_site(site: Site, hosts: list[str]) -> None:
    """Every host in ``hosts`` has its own, byte-identical copy of the feeds and the day's page."""
    names = ["onthisday.atom", "onthisday.rss", "index.html", f"days/{today().isoformat()}.html"]
    for name in names:
        copies = {host: (site.feeds(host) / name).read_bytes() for host in hosts}
        assert len(set(copies.values())) == 1, f"{name} differs between hosts {sorted(copies)}"


def test_three_hosts_killed_at_random_deliver_each_digest_once(
    postgres_server: PgServer, smtp: Recorder, tmp_path: Path
) -> None:
    """Three daemons as three hosts on one PostgreSQL, started at once on an empty database (none fails), killed
    with SIGKILL at random moments (half the trials: one stalled mid-send while holding the day's digest; half
    of the killed stay dead for good) and restarted:
    over 30 trials every recipient gets the day's digest exactly once (duplicates 0, losses 0), every
    `uncertain` row is counted and explained, a dead host's claims are taken over by the others, and every host
    that is up builds its own byte-identical site, recorded as feeds@<host>."""
    seed = int(os.environ.get("THISDAY_TRIAL_SEED", "20261202"))
    tally = Tally()
    entries = tmp_path / "entries"
    for trial in range(TRIALS):
        rng = random.Random(seed * 1000 + trial)
        smtp.messages.clear()
        recipients = tuple(f"t{trial}-r{i}@example.org" for i in range(RECIPIENTS_PER_TRIAL))
        url = postgres_server.url(postgres_server.create_database())
        site = Site(tmp_path / f"trial{trial}", entries, url, smtp.port, recipients)  # type: ignore[attr-defined]
        # Half the trials stall one host mid-send first (it holds the day's digest claim, alive), then start the
        # others and kill the staller, at random for good; the other half start all three at once on the empty
        # database and kill one at a random moment.
        staller = rng.choice(HOSTS) if trial % 2 else None
        started = time.monotonic()
        try:
            if staller is not None:
                stall_after = rng.randint(1, RECIPIENTS_PER_TRIAL - 1)
                site.start(staller, 2, THISDAY_TEST_STALL_AFTER_MESSAGES=str(stall_after))
                wait_for(lambda: len(smtp.messages) >= stall_after, site)  # noqa: B023 - called at once
                for host in HOSTS:
                    if host != staller:
                        site.start(host, 2)
                time.sleep(rng.uniform(0.0, 1.5))
                victims = [staller]
            else:  # kill the host that is sending, at a random moment of its send
                for host in HOSTS:
                    site.start(host, 2)
                wait_for(lambda: len(smtp.messages) >= 1, site)
                time.sleep(rng.uniform(0.0, 0.5))
                with Ledger(url) as ledger:
                    row = ledger.get(today(), DIGEST_CHANNEL)
                sender = row.owner.rpartition(":")[0] if row is not None else ""
                victims = [sender if sender in HOSTS else rng.choice(HOSTS)]
            for host in victims:
                site.kill(host)
            gone = victims[0] if rng.random() < 0.5 else None
            if gone is None:
                time.sleep(rng.uniform(0.0, 0.5))
                site.start(victims[0], 2)
            alive = tuple(h for h in HOSTS if h != gone)
            with Ledger(url) as ledger:
                wait_for(functools.partial(settled, ledger, site, alive), site)
                site.stop_all()
                count(site, smtp, ledger, tally, f"trial {trial} (stalled {staller}, killed {victims}, gone {gone}):")
            same_site(site, list(alive))
            tally.trials += 1
            print(f"trial {trial}: {time.monotonic() - started:.1f} s, stalled {staller}, killed {victims}, gone {gone}")
        finally:
            for host in list(site.procs):
                site.kill(host)
    summary = (
        f"{tally.trials} trials, {tally.deliveries} recipients served, {tally.duplicates} duplicates, "
        f"{tally.losses} losses, {len(tally.uncertain)} uncertain, {tally.takeovers} rows taken over"
    )
    print("\n" + summary + "".join("\n  uncertain: " + u for u in tally.uncertain))
    assert tally.trials == TRIALS
    assert tally.duplicates == 0 and tally.losses == 0, summary
    assert tally.deliveries + sum("never delivered" in u for u in tally.uncertain) == TRIALS * RECIPIENTS_PER_TRIAL


def test_a_host_that_died_holding_the_digest_is_taken_over_within_its_lease(
    postgres_server: PgServer, smtp: Recorder, tmp_path: Path
) -> None:
    """A host died for good while holding today's digest claim. Another host, running with the default catch-up
    interval (10 minutes), takes the claim over as soon as its lease runs out and serves every recipient once:
    on a shared database the daemon checks once per lease, not once per --watch."""
    recipients = tuple(f"late{i}@example.org" for i in range(3))
    url = postgres_server.url(postgres_server.create_database())
    site = Site(tmp_path, tmp_path / "entries", url, smtp.port, recipients)  # type: ignore[attr-defined]
    with Ledger(url, lease=2) as dead:
        assert dead.claim(today(), DIGEST_CHANNEL, datetime.datetime.now(datetime.UTC), owner="host-a:1")
        # closed without finishing: nobody renews the lease any more, as when its host lost power
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "thisday", "--config", str(tmp_path / "host-b" / "thisday.toml"), "run"],
            env=site.env("host-b", 2),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        site.procs["host-b"] = proc
        with Ledger(url) as ledger:
            wait_for(lambda: settled(ledger, site, ("host-b",)), site)
            site.stop_all()
            row = ledger.get(today(), DIGEST_CHANNEL)
            assert row is not None and row.attempts == 2  # taken over from host-a
    finally:
        for host in list(site.procs):
            site.kill(host)
    assert sorted(smtp.recipients()) == sorted(recipients)
    assert "checking every 2 s for claims left by hosts that died" in site.log_text()


# ---------------------------------------------------------------------------------------------
# The database dies mid-send


def _pg_ctl(server: PgServer, action: str) -> None:
    if action == "stop":
        result = server.run("pg_ctl", "-D", str(server.data), "-m", "immediate", "-w", "stop")
    else:
        # synchronous_commit stays on, as on any server that must not lose a commit it acknowledged: with it
        # off, a crash drops the last commits (a "done" mark), and a digest recorded as done is sent again.
        # fsync=off is safe here: the server process dies, the machine does not.
        options = f"-p {server.port} -k {server.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        result = server.run(
            "pg_ctl", "-D", str(server.data), "-l", str(server.folder / "server.log"), "-o", options, "-w",
            "-t", "120", "start",
        )
    assert result.returncode == 0, result.stdout + result.stderr + server.log()


@pytest.fixture
def own_server() -> Iterator[PgServer]:
    """A PostgreSQL server of this test only (it is stopped and started again mid-test)."""
    server = start_server()
    _pg_ctl(server, "stop")
    _pg_ctl(server, "start")  # with this test's settings
    try:
        yield server
    finally:
        stop_server(server)


def status(site: Site, host: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thisday", "--config", str(site.root / host / "thisday.toml"), "status"],
        env=site.env(host, 600),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_database_killed_mid_send_and_restarted_loses_nothing(
    own_server: PgServer, smtp: Recorder, tmp_path: Path
) -> None:
    """PostgreSQL killed (immediate stop) while two hosts send a 20-recipient digest, then restarted: while it is
    down a host starting up publishes its own site from its entries, sends nothing and says so in its log, and
    `thisday status` says the database is unreachable; once it is back every recipient is served exactly once
    (or is uncertain, counted and explained), with no claim left stuck, although the leases are long: the live
    processes settle the claims they let go of themselves."""
    recipients = tuple(f"reader{i:02d}@example.org" for i in range(20))
    url = own_server.url(own_server.create_database())
    site = Site(tmp_path, tmp_path / "entries", url, smtp.port, recipients, rate=4.0)  # type: ignore[attr-defined]
    lease = 600.0  # only a process's own "let go" settles its claims in this test, never a lease running out
    try:
        site.start("host-a", lease)
        site.start("host-b", lease)
        wait_for(lambda: len(smtp.messages) >= 4, site)
        _pg_ctl(own_server, "stop")
        down_at = len(smtp.messages)
        site.start("host-c", lease)  # starts while the database is down
        wait_for(lambda: (site.feeds("host-c") / "onthisday.atom").exists(), site)
        time.sleep(2)  # a few more runs of a and b against the dead server
        shown = status(site, "host-c")
        assert shown.returncode == 1 and "database:   UNREACHABLE" in shown.stdout, shown.stdout + shown.stderr
        assert len(smtp.messages) <= down_at + 2  # at most the messages in flight when it died went out
        _pg_ctl(own_server, "start")
        with Ledger(url, lease=lease) as ledger:
            wait_for(lambda: settled(ledger, site, HOSTS), site)
            tally = Tally()
            count(site, smtp, ledger, tally, "database killed:")
            shown = status(site, "host-c")
            assert "this host: host-c" in shown.stdout, shown.stdout + shown.stderr
            feeds_line = next(line for line in shown.stdout.splitlines() if line.startswith("feeds:"))
            assert " done at " in feeds_line  # host-c's own site, recorded once the database was back
            if tally.uncertain:  # status reports each uncertain recipient, so the operator can resend
                assert shown.returncode == 1 and "uncertain" in shown.stdout
            else:
                assert shown.returncode == 0 and "health:     ok" in shown.stdout
            site.stop_all()
    finally:
        for host in list(site.procs):
            site.kill(host)
    logs = site.log_text()
    assert "database unreachable: published this host's site" in logs
    summary = (
        f"{tally.deliveries} of {len(recipients)} served, {tally.duplicates} duplicates, {tally.losses} losses, "
        f"{len(tally.uncertain)} uncertain"
    )
    print("\n" + summary + "".join("\n  uncertain: " + u for u in tally.uncertain))
    assert tally.duplicates == 0 and tally.losses == 0, summary + "\n" + logs
    assert tally.deliveries + sum("never delivered" in u for u in tally.uncertain) == len(recipients)
    same_site(site, list(HOSTS))
