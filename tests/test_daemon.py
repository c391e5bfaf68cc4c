"""The daemon publishes every day, on time, exactly once: through restarts, kills, downtime and bad entries."""

from __future__ import annotations

import datetime
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import zoneinfo
from collections.abc import Callable, Iterator
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner

from smtp_server import Recorder
from thisday.channels.digest import DIGEST_CHANNEL
from thisday.cli import main
from thisday.config import Settings, load_settings
from thisday.ledger import FEEDS_CHANNEL, Ledger, Status
from thisday.runner import health, publish_due

FIXTURES = Path(__file__).parent / "fixtures" / "entries"
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
RECIPIENTS = ("ada@example.org", "bob@example.org", "cy@example.org")




def write_config(tmp_path: Path, port: int, *, time_of_day: str = "06:00", catch_up: str = "latest") -> Path:
    entries = tmp_path / "entries"
    if not entries.exists():
        shutil.copytree(FIXTURES, entries)
        # one entry on every day of the year, so the real daemon (which publishes for today) has a digest to send
        every_day = [datetime.date(1952, 1, 1) + datetime.timedelta(days=n) for n in range(366)]
        (entries / "every-day.yaml").write_text(
            "".join(f"- title: Something on {d:%d %B}\n  date: '{d.isoformat()}'\n" for d in every_day),
            encoding="utf-8",
        )
    config = tmp_path / "thisday.toml"
    config.write_text(
        f"""
timezone = "Europe/Berlin"
[site]
base_url = "https://history.example.org/"
[daemon]
time = "{time_of_day}"
catch_up_days = 7
[digest]
sender = "On this day <news@example.org>"
recipients = {list(RECIPIENTS)!r}
catch_up = "{catch_up}"
[smtp]
host = "127.0.0.1"
port = {port}
retries = 1
retry_delay = 0.01
""",
        encoding="utf-8",
    )
    return config


def settings_for(tmp_path: Path, port: int, **kwargs: str) -> Settings:
    return load_settings(write_config(tmp_path, port, **kwargs), state_dir=tmp_path / "state")


def at(day: int, hour: int, minute: int = 0, month: int = 7) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


def feed_days(settings: Settings) -> list[str]:
    parsed = feedparser.parse((settings.feeds_dir / "onthisday.atom").read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    return sorted(e.link.rsplit("/", 1)[-1].removesuffix(".html") for e in parsed.entries)


def test_publishes_once_at_the_publish_time(tmp_path: Path, smtp: tuple[Recorder, int]) -> None:
    """Before 06:00 nothing is due; at 06:00 the feeds and one digest per recipient go out; later runs add nothing."""
    recorder, port = smtp
    settings = settings_for(tmp_path, port)
    with Ledger.from_settings(settings) as ledger:
        early = publish_due(settings, at(12, 5, 59), ledger)
        assert early.feeds_published == [
            datetime.date(2026, 7, 11)
        ]  # a new install starts with the latest due day
        recorder.messages.clear()
        first = publish_due(settings, at(12, 6, 0), ledger)
        again = publish_due(settings, at(12, 6, 10), ledger)
        later = publish_due(settings, at(12, 23, 0), ledger)
    assert first.feeds_published == [datetime.date(2026, 7, 12)] and first.ok
    assert again.feeds_published == [] and later.feeds_published == []
    assert sorted(recorder.recipients()) == sorted(RECIPIENTS)
    assert "2026-07-12" in feed_days(settings)


def test_catch_up_latest_after_three_days_down(tmp_path: Path, smtp: tuple[Recorder, int]) -> None:
    """Down from the 9th to the 12th: the missed days' feeds appear, and (policy latest) only the 12th's digest goes out."""
    recorder, port = smtp
    settings = settings_for(tmp_path, port)
    with Ledger.from_settings(settings) as ledger:
        publish_due(settings, at(9, 6, 1), ledger)
        recorder.messages.clear()
        report = publish_due(settings, at(12, 9, 30), ledger)
        assert report.feeds_published == [datetime.date(2026, 7, d) for d in (10, 11, 12)]
        skipped = ledger.get(datetime.date(2026, 7, 10), DIGEST_CHANNEL)
        assert skipped is not None and skipped.status is Status.DONE and "skipped" in skipped.detail
    assert {"2026-07-10", "2026-07-11", "2026-07-12"} <= set(feed_days(settings))
    dates = [m["Subject"] for m in recorder.received()]
    assert len(dates) == 3 and all("12 July 2026" in d for d in dates)


def test_catch_up_all_sends_every_missed_digest_oldest_first(
    tmp_path: Path, smtp: tuple[Recorder, int]
) -> None:
    """With digest.catch_up = all, each recipient gets each missed day's digest, oldest first, once."""
    recorder, port = smtp
    settings = settings_for(tmp_path, port, catch_up="all")
    with Ledger.from_settings(settings) as ledger:
        publish_due(settings, at(9, 6, 1), ledger)
        recorder.messages.clear()
        publish_due(settings, at(12, 9, 30), ledger)
        publish_due(settings, at(12, 9, 40), ledger)
    subjects = [m["Subject"] for m in recorder.received()]
    assert len(subjects) == 9
    order = [next(d for d in (10, 11, 12) if f"{d} July" in s) for s in subjects]
    assert order == sorted(order)


def test_broken_entry_is_logged_and_the_rest_publish(
    tmp_path: Path, smtp: tuple[Recorder, int], caplog: pytest.LogCaptureFixture
) -> None:
    """A broken entry file is logged with path:line and skipped; the day still publishes."""
    _, port = smtp
    settings = settings_for(tmp_path, port)
    (settings.entries / "broken.yaml").write_text("- title: [unclosed\n", encoding="utf-8")
    caplog.set_level(logging.WARNING, logger="thisday")
    with Ledger.from_settings(settings) as ledger:
        report = publish_due(settings, at(12, 6, 0), ledger)
    assert datetime.date(2026, 7, 12) in report.feeds_published
    assert any("broken.yaml:1: YAML syntax error" in r.getMessage() for r in caplog.records)


def test_entries_are_reread_on_every_run(tmp_path: Path, smtp: tuple[Recorder, int]) -> None:
    """An entry added between two days is published the next day without a restart."""
    _, port = smtp
    settings = settings_for(tmp_path, port)
    with Ledger.from_settings(settings) as ledger:
        publish_due(settings, at(12, 6, 0), ledger)
        (settings.entries / "new.yaml").write_text(
            "- title: Fresh entry\n  date: '1999-07-13'\n", encoding="utf-8"
        )
        publish_due(settings, at(13, 6, 0), ledger)
    assert "Fresh entry" in (settings.feeds_dir / "onthisday.atom").read_text(encoding="utf-8")


def test_status_reports_health(tmp_path: Path, smtp: tuple[Recorder, int]) -> None:
    """status is healthy after a good run, failing when the feeds could not be written or a day is overdue."""
    _, port = smtp
    settings = settings_for(tmp_path, port)
    with Ledger.from_settings(settings) as ledger:
        assert not health(settings, ledger, at(12, 7, 0), 0).healthy  # nothing published yet, and overdue
        publish_due(settings, at(12, 6, 0), ledger)
        good = health(settings, ledger, at(12, 7, 0), 0)
        assert good.healthy and any(line.startswith("feeds:") and "done" in line for line in good.lines)
        shutil.rmtree(settings.feeds_dir)
        settings.feeds_dir.write_text("a file where the folder should be", encoding="utf-8")
        report = publish_due(settings, at(13, 6, 0), ledger)
        assert report.errors and not report.ok
        bad = health(settings, ledger, at(13, 7, 0), 0)
    assert not bad.healthy and "feeds for 2026-07-13 failed" in bad.lines[-1]
    result = CliRunner().invoke(
        main,
        ["--config", str(tmp_path / "thisday.toml"), "status"],
        env={"THISDAY_STATE_DIR": str(tmp_path / "state")},
    )
    assert result.exit_code == 1 and "health:     FAILING" in result.stdout


def test_broken_config_stops_start_up(tmp_path: Path) -> None:
    """A config mistake stops `thisday run` at once with the file and the fix, instead of failing at 06:00."""
    config = tmp_path / "thisday.toml"
    config.write_text('[daemon]\ntime = "6 am"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "run"])
    assert result.exit_code == 1 and "daemon.time '6 am' must be HH:MM" in result.stderr


# ---------------------------------------------------------------------------------------------
# The real daemon, as a subprocess


_STARTED: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _no_daemon_outlives_its_test() -> Iterator[None]:
    """Whatever happens in a test, every daemon it started is killed at the end."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def start_daemon(config: Path, **env: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "thisday", "--config", str(config), "run", "--watch", "2"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _STARTED.append(proc)
    return proc


def wait_for(condition: Callable[[], bool], *procs: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Poll until ``condition`` holds; on time-out, stop ``procs`` and show what they logged."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            logs = []
            for proc in procs:
                proc.kill()
                logs.append(proc.communicate(timeout=30)[1].decode())
            raise AssertionError("timed out waiting; daemon logs:\n" + "\n".join(logs))
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err.decode()


def valid_feeds(feeds_dir: Path) -> None:
    for path in sorted(feeds_dir.glob("*.atom")) + sorted(feeds_dir.glob("*.rss")):
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, (path, parsed.get("bozo_exception"))


@pytest.mark.slow
def test_sigkill_mid_send_then_restart_sends_each_digest_once(
    tmp_path: Path, smtp: tuple[Recorder, int]
) -> None:
    """A daemon killed with SIGKILL after one recipient is served, then restarted, serves the others: once each."""
    recorder, port = smtp
    config = write_config(tmp_path, port, time_of_day="00:00")
    first = start_daemon(config, THISDAY_TEST_STALL_AFTER_MESSAGES="1")
    wait_for(lambda: len(recorder.messages) == 1, first)
    time.sleep(0.5)
    first.kill()
    first.communicate(timeout=30)
    second = start_daemon(config)
    wait_for(lambda: len(recorder.messages) == len(RECIPIENTS))
    time.sleep(3)  # more catch-up runs happen (--watch 2): none may send again
    code, err = stop(second)
    assert code == 0, err
    assert sorted(recorder.recipients()) == sorted(RECIPIENTS)
    valid_feeds(tmp_path / "feeds")


@pytest.mark.slow
def test_sigkill_mid_build_leaves_valid_feeds_and_restart_publishes(
    tmp_path: Path, smtp: tuple[Recorder, int]
) -> None:
    """Killed while writing the site, the feeds on disk stay valid; the restarted daemon publishes the day."""
    recorder, port = smtp
    config = write_config(tmp_path, port, time_of_day="00:00")
    first = start_daemon(config, THISDAY_TEST_STALL_AFTER="3")
    assert first.stderr is not None
    wait_for(lambda: len(list((tmp_path / "feeds").rglob("*.html"))) >= 3)
    first.kill()
    first.communicate(timeout=30)
    assert not list((tmp_path / "feeds").glob("*.atom"))  # the feeds come after the pages: not written yet
    second = start_daemon(config)
    wait_for(
        lambda: (tmp_path / "feeds" / "onthisday.atom").exists() and len(recorder.messages) == len(RECIPIENTS)
    )
    code, err = stop(second)
    assert code == 0, err
    valid_feeds(tmp_path / "feeds")
    settings = load_settings(config, state_dir=Path(os.environ["THISDAY_STATE_DIR"]))
    with Ledger.from_settings(settings) as ledger:
        last = ledger.last(FEEDS_CHANNEL)
        assert last is not None and last.attempts == 2  # taken over from the killed daemon at once


@pytest.mark.slow
def test_two_daemons_on_one_ledger_send_each_digest_once(tmp_path: Path, smtp: tuple[Recorder, int]) -> None:
    """Two daemons started by mistake on the same ledger: every recipient still gets exactly one digest."""
    recorder, port = smtp
    config = write_config(tmp_path, port, time_of_day="00:00")
    daemons = [start_daemon(config), start_daemon(config)]
    wait_for(lambda: len(recorder.messages) >= len(RECIPIENTS))
    time.sleep(4)
    for proc in daemons:
        code, err = stop(proc)
        assert code == 0, err
        assert "stopping on SIGTERM" in err
    assert sorted(recorder.recipients()) == sorted(RECIPIENTS)
    valid_feeds(tmp_path / "feeds")


def test_new_install_sends_no_late_digest(tmp_path: Path, smtp: tuple[Recorder, int]) -> None:
    """Started for the first time at 05:00, the daemon builds the site but sends no digest for yesterday; today's
    goes out at 06:00."""
    recorder, port = smtp
    settings = settings_for(tmp_path, port)
    with Ledger.from_settings(settings) as ledger:
        first = publish_due(settings, at(12, 5, 0), ledger)
        assert first.feeds_published == [datetime.date(2026, 7, 11)] and recorder.messages == []
        skipped = ledger.get(datetime.date(2026, 7, 11), DIGEST_CHANNEL)
        assert skipped is not None and "before thisday was set up" in skipped.detail
        publish_due(settings, at(12, 6, 0), ledger)
    assert len(recorder.messages) == len(RECIPIENTS)  # the first digest is the one due next, on time


def test_broken_recipients_file_does_not_stop_the_feeds(tmp_path: Path, smtp: tuple[Recorder, int]) -> None:
    """An unreadable recipients file is reported as a digest error; the feeds are still published."""
    _, port = smtp
    config = write_config(tmp_path, port)
    config.write_text(
        config.read_text(encoding="utf-8").replace("[digest]", '[digest]\nrecipients_file = "missing.txt"'),
        encoding="utf-8",
    )
    settings = load_settings(config, state_dir=tmp_path / "state")
    with Ledger.from_settings(settings) as ledger:
        report = publish_due(settings, at(12, 6, 0), ledger)
    assert report.feeds_published == [datetime.date(2026, 7, 12)]
    assert report.errors and "missing.txt" in report.errors[0]


def test_uncertain_recipient_is_resent_on_purpose_and_recorded(
    tmp_path: Path, smtp: tuple[Recorder, int]
) -> None:
    """`send DATE --to ADDRESS --force` resends to one uncertain recipient through the ledger, which records it."""
    import socket

    recorder, port = smtp
    config = write_config(tmp_path, port)
    settings = load_settings(config, state_dir=tmp_path / "state")
    day = datetime.date(2026, 7, 12)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    owner = f"{socket.gethostname()}:{int(dead.stdout)}"
    with Ledger.from_settings(settings) as ledger:
        claim = ledger.claim(day, "digest:ada@example.org", at(12, 6, 0), owner=owner)
        assert claim is not None and ledger.mark_sending(claim, at(12, 6, 0))
        assert ledger.claim(day, "digest:ada@example.org", at(12, 7, 0)) is None  # now uncertain
    env = {"THISDAY_STATE_DIR": str(tmp_path / "state")}
    args = ["--config", str(config), "send", "2026-07-12", "--to", "ada@example.org"]
    result = CliRunner().invoke(main, [*args, "--force"], env=env)
    assert result.exit_code == 0, result.output
    assert recorder.recipients() == ["ada@example.org"]
    with Ledger.from_settings(settings) as ledger:
        record = ledger.get(day, "digest:ada@example.org")
        assert record is not None and record.status is Status.DONE


def test_a_digest_that_cannot_render_is_failing_and_goes_out_once_fixed(
    tmp_path: Path, smtp: tuple[Recorder, int]
) -> None:
    """A broken template (here a per-recipient unsubscribe URL shown through a name that does not exist) stops the
    day's digest: nobody is left claimed, the day is not recorded as done, `thisday status` says FAILING, and once
    the template is fixed the next run sends the day to every recipient, once."""
    recorder, port = smtp
    templates = tmp_path / "my-templates" / "email"
    templates.mkdir(parents=True)
    (templates / "body.txt").write_text("{{ lead.title }}\n{{ unsubscribe_link_for_email }}\n", encoding="utf-8")
    config = write_config(tmp_path, port)
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            'timezone = "Europe/Berlin"',
            'timezone = "Europe/Berlin"\ntemplates = "my-templates"',
        ).replace(
            'catch_up = "latest"',
            'catch_up = "latest"\nunsubscribe_url = "https://history.example.org/unsubscribe?email={email}"',
        ),
        encoding="utf-8",
    )
    settings = load_settings(config, state_dir=tmp_path / "state")
    day = datetime.date(2026, 7, 12)
    with Ledger.from_settings(settings) as ledger:
        broken = publish_due(settings, at(12, 6, 0), ledger)
        assert not broken.ok and any("unsubscribe_link_for_email" in e for e in broken.errors)
        assert recorder.messages == []
        rows = ledger.records(day, "digest")
        assert all(r.status is not Status.CLAIMED for r in rows)
        assert all(r.status is not Status.DONE for r in rows)
        status = health(settings, ledger, at(12, 7, 0), 0)
        assert not status.healthy and "digest" in status.lines[-1]
        again = publish_due(settings, at(12, 6, 30), ledger)  # still broken: still failing, still nobody claimed
        assert not again.ok and not health(settings, ledger, at(12, 7, 0), 0).healthy
        (templates / "body.txt").unlink()
        fixed = publish_due(settings, at(12, 7, 10), ledger)
        assert fixed.ok
        assert health(settings, ledger, at(12, 7, 20), 0).healthy
    assert sorted(recorder.recipients()) == sorted(RECIPIENTS)
