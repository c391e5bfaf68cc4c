"""`thisday bounce`: what comes back to the return path. Real samples in tests/fixtures/bounces/ (the RFC 3464
and RFC 5965 examples, Postfix and Exim bounces, an auto-reply); permanent failures suppress, complaints
unsubscribe, everything else is left alone and said so, one line per message."""

from __future__ import annotations

import datetime
import mailbox
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from thisday import newsletter
from thisday.bounces import classify
from thisday.cli import main
from thisday.config import Settings, load_settings
from thisday.subscribers import State, Store
from thisday.subscribers_cli import bounce

SAMPLES = Path(__file__).parent / "fixtures" / "bounces"
SECRET = "bounce-test-secret-0123456789"
NOW = datetime.datetime(2026, 7, 2, 9, 0, tzinfo=datetime.UTC)

if "bounce" not in main.commands:
    main.add_command(bounce)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("THISDAY_SECRET", SECRET)
    path = tmp_path / "thisday.toml"
    path.write_text(
        'state_dir = "state"\n[site]\nbase_url = "https://news.example.org/"\n[digest]\nsubscribe = true\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("THISDAY_STATE_DIR")
    return path


@pytest.fixture
def settings(config: Path) -> Settings:
    return load_settings(config)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    with Store(settings.ledger_url(), SECRET.encode()) as opened:
        yield opened


def run(config: Path, args: list[str], stdin: bytes | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), "bounce", *args], input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def state_of(store: Store, address: str) -> State | None:
    row = store.get(address)
    return None if row is None else row.state


def test_rfc3464_multi_recipient_suppresses_only_the_permanent_failures(config: Path, store: Store) -> None:
    """RFC 3464's multi-recipient example: the two 'failed 5.0.0' recipients are suppressed, the 'delayed
    4.0.0' one is left alone; one report line naming both."""
    for address in ("arathib@vnet.ibm.com", "johnh@hpnjld.njd.hp.com", "wsnell@sdcc13.ucsd.edu"):
        store.add_confirmed(address, NOW, source="command")
    code, output = run(config, [], sample("rfc3464-multi-recipient.eml"))
    assert code == 0
    assert output.count("\n") == 1 and output.startswith("bounce: suppressed")
    assert state_of(store, "arathib@vnet.ibm.com") == State.SUPPRESSED
    assert state_of(store, "wsnell@sdcc13.ucsd.edu") == State.SUPPRESSED
    assert state_of(store, "johnh@hpnjld.njd.hp.com") == State.ACTIVE
    row = store.get("wsnell@sdcc13.ucsd.edu")
    assert row is not None and "550 user unknown" in row.reason


@pytest.mark.parametrize(
    ("name", "address"),
    [("postfix-user-unknown.eml", "gone@example.net"), ("exim-account-disabled.eml", "closed@example.com")],
)
def test_postfix_and_exim_bounces_suppress(config: Path, store: Store, name: str, address: str) -> None:
    """The DSNs Postfix and Exim send for a refused recipient (550 5.x.x) suppress that recipient."""
    store.add_confirmed(address, NOW, source="command")
    code, output = run(config, [], sample(name))
    assert code == 0 and address in output
    assert state_of(store, address) == State.SUPPRESSED


@pytest.mark.parametrize(
    ("name", "address", "why"),
    [
        ("rfc3464-timeout.eml", "louisl@larry.slip.umd.edu", "no permanent failure"),
        ("postfix-delayed.eml", "slow@example.com", "no permanent failure"),
        ("exim-legacy-text.eml", "oldbox@example.com", "not a delivery report"),
        ("vacation-auto-reply.eml", "mary@example.com", "not a delivery report"),
    ],
)
def test_anything_else_is_left_alone_and_said_so(
    config: Path, store: Store, name: str, address: str, why: str
) -> None:
    """A 4.x.x failure (RFC 3464's timeout example), a Postfix delay warning, an old plain-text Exim bounce
    and an auto-reply change nothing; the one report line says the message was left alone, and why."""
    store.add_confirmed(address, NOW, source="command")
    code, output = run(config, [], sample(name))
    assert code == 0
    assert output.startswith("left alone:") and why in output and output.count("\n") == 1
    assert state_of(store, address) == State.ACTIVE


def test_rfc5965_abuse_report_unsubscribes(config: Path, store: Store) -> None:
    """RFC 5965's example report: the complaining recipient (Original-Rcpt-To) is unsubscribed, not suppressed."""
    store.add_confirmed("user@example.com", NOW, source="command")
    code, output = run(config, [], sample("rfc5965-abuse.eml"))
    assert code == 0 and output.startswith("complaint (abuse): unsubscribed user@example.com")
    row = store.get("user@example.com")
    assert row is not None and row.state == State.UNSUBSCRIBED and "complaint" in row.reason


def test_a_redacted_complaint_is_traced_by_its_unsubscribe_link(
    config: Path, settings: Settings, store: Store
) -> None:
    """Providers hide the complainer's address; the digest's own List-Unsubscribe link in the reported
    headers still names the subscriber (through its token), who is unsubscribed."""
    store.add_confirmed("hidden@example.org", NOW, source="form")
    url = newsletter.unsubscribe_url(settings, SECRET.encode(), "hidden@example.org")
    data = sample("arf-redacted-digest.eml.in").replace(b"{UNSUBSCRIBE_URL}", url.encode())
    code, output = run(config, [], data)
    assert code == 0 and "unsubscribed hidden@example.org" in output
    assert state_of(store, "hidden@example.org") == State.UNSUBSCRIBED
    assert store.get("redacted@feedback.example.net") is None


def test_a_mailbox_gives_one_line_per_message_and_survives_a_broken_one(
    config: Path, store: Store, tmp_path: Path
) -> None:
    """`--mailbox` over an mbox: every message gets its line, in order, including one whose MIME structure
    is broken; the good ones still act."""
    store.add_confirmed("gone@example.net", NOW, source="command")
    path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(path)
    box.add(sample("postfix-user-unknown.eml"))
    box.add(
        b'From: x@example.org\nContent-Type: multipart/report; report-type=delivery-status; boundary="\xff"\n'
        b"\n--\xff\nContent-Type: message/delivery-status\n\n\x00\x01garbage without end"
    )
    box.add(sample("vacation-auto-reply.eml"))
    box.close()
    code, output = run(config, ["--mailbox", str(path)])
    assert code == 0
    lines = output.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("message 1: bounce: suppressed gone@example.net")
    assert lines[1].startswith("message 2: ") and lines[2].startswith("message 3: left alone")
    assert state_of(store, "gone@example.net") == State.SUPPRESSED


def test_a_maildir_is_read_too(config: Path, store: Store, tmp_path: Path) -> None:
    """`--mailbox` over a Maildir: the complaint in it unsubscribes; an entry that cannot be opened (here a
    link to a message file that is gone) gets its own line and stops nothing."""
    store.add_confirmed("user@example.com", NOW, source="command")
    box = mailbox.Maildir(tmp_path / "Maildir")
    box.add(sample("rfc5965-abuse.eml"))
    box.close()
    (tmp_path / "Maildir" / "cur" / "0000000001.M1P1.broken:2,S").symlink_to(tmp_path / "gone")
    code, output = run(config, ["--mailbox", str(tmp_path / "Maildir")])
    lines = output.splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[0].startswith("message 0000000001.M1P1.broken: cannot be read, left alone")
    assert "unsubscribed user@example.com" in lines[1]
    assert state_of(store, "user@example.com") == State.UNSUBSCRIBED


def test_a_missing_mailbox_is_a_one_line_error(config: Path, tmp_path: Path) -> None:
    """A mailbox path that is neither an mbox file nor a Maildir is an error naming the path and the fix."""
    code, output = run(config, ["--mailbox", str(tmp_path / "nowhere")])
    assert code == 1 and "no such mailbox" in output and "Traceback" not in output


def test_no_sample_raises() -> None:
    """Every sample, and every sample cut short at any of 40 points, is classified without an exception."""
    for path in sorted(SAMPLES.iterdir()):
        data = path.read_bytes()
        for cut in range(0, len(data), max(1, len(data) // 40)):
            assert classify(data[:cut]).kind in ("bounce", "complaint", "other")


@pytest.mark.slow
def test_the_cli_reads_one_message_from_stdin_as_an_mta_pipe_would(config: Path, store: Store) -> None:
    """`thisday bounce` run as `|thisday bounce` in a real process: the Exim bounce on stdin suppresses."""
    import subprocess
    import sys

    store.add_confirmed("closed@example.com", NOW, source="command")
    env = {k: v for k, v in os.environ.items() if k != "THISDAY_STATE_DIR"}
    script = (
        "import sys; from thisday.cli import main; from thisday.subscribers_cli import bounce; "
        "main.add_command(bounce); main(sys.argv[1:])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "--config", str(config), "bounce"],
        input=sample("exim-account-disabled.eml"),
        capture_output=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert b"suppressed closed@example.com" in done.stdout
    assert state_of(store, "closed@example.com") == State.SUPPRESSED
