"""Sending the digest to a real SMTP server on loopback (aiosmtpd), with retries and the ledger."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner

from smtp_server import Recorder, free_port
from thisday.channels.digest import configured_recipients, read_recipients_file, send_digest
from thisday.cli import main
from thisday.config import DigestSettings, Settings, SiteSettings, SmtpSettings
from thisday.entries import load_tree
from thisday.errors import ConfigError, PublishError
from thisday.index import CalendarIndex
from thisday.ledger import Ledger, Status, digest_channel
from thisday.message import message_id
from thisday.model import DaySelection
from thisday.selection import day_selection
from thisday.smtp import FAILED, SENT, SKIPPED

FIXTURES = Path(__file__).parent / "fixtures" / "entries"
DAY = datetime.date(2026, 7, 12)
NOW = datetime.datetime(2026, 7, 12, 6, 0, tzinfo=datetime.UTC)


def clock() -> datetime.datetime:
    return NOW


ServerFactory = Callable[..., int]


@pytest.fixture
def smtp_server() -> Iterator[ServerFactory]:
    """Start an aiosmtpd server on 127.0.0.1 with a free port; returns the port. Stopped after the test."""
    controllers: list[Controller] = []

    def start(handler: Recorder, **kwargs: Any) -> int:
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        controllers.append(controller)
        return port

    yield start
    for controller in controllers:
        controller.stop()


def make_settings(port: int, **smtp: Any) -> Settings:
    return Settings(
        entries=FIXTURES,
        timezone="UTC",
        site=SiteSettings(title="On this day", base_url="https://example.org/"),
        digest=DigestSettings(
            sender="On this day <digest@example.org>",
            list_id="onthisday.example.org",
            unsubscribe_url="https://example.org/unsubscribe?email={email}",
        ),
        smtp=SmtpSettings(
            **{"host": "127.0.0.1", "port": port, "retries": 2, "retry_delay": 0.0, "timeout": 10.0, **smtp}
        ),
    )


def selection(cfg: Settings, day: datetime.date = DAY) -> DaySelection:
    return day_selection(CalendarIndex.build(load_tree(FIXTURES).entries), day, cfg)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as led:
        yield led


# ---------------------------------------------------------------------------------------------


def test_the_message_arrives_and_parses(smtp_server: ServerFactory) -> None:
    """The server receives one message per recipient; each parses into a text and an HTML part, headers right."""
    handler = Recorder()
    cfg = make_settings(smtp_server(handler))
    report = send_digest(selection(cfg), cfg, ["a@example.org", "B <b@example.org>"], clock=clock)
    assert [(d.address, d.status) for d in report.deliveries] == [
        ("a@example.org", SENT),
        ("b@example.org", SENT),
    ]
    assert [m[0] for m in handler.messages] == ["digest@example.org", "digest@example.org"]
    assert handler.recipients() == ["a@example.org", "b@example.org"]
    first, second = handler.received()
    assert first.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in first.iter_parts()] == ["text/plain", "text/html"]
    assert first["To"] == "a@example.org" and second["To"] == "b@example.org"
    assert first["Subject"] == "On this day, 12 July 2026: Andrey Vlasov is captured by German forces"
    # a send without the ledger is a test send: its own ids, which never collide with the real digest's
    assert first["Message-ID"] == message_id(DAY, "onthisday.example.org", "a@example.org", test=True)
    assert second["Message-ID"] == message_id(DAY, "onthisday.example.org", "b@example.org", test=True)
    assert first["Message-ID"].startswith("<test-digest-2026-07-12.")
    assert first["List-Unsubscribe"] == "<https://example.org/unsubscribe?email=a@example.org>"
    assert second["List-Unsubscribe"] == "<https://example.org/unsubscribe?email=b@example.org>"
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["Bcc"] is None
    text = first.get_body(("plain",))
    assert text is not None and "ALSO ON THIS DAY" in text.get_content()


def test_a_rejected_recipient_is_reported_and_the_others_still_receive(
    smtp_server: ServerFactory, ledger: Ledger
) -> None:
    """A 550 for one recipient is a permanent failure for that one only, not retried; the ledger records each."""
    handler = Recorder(reject=("nobody@example.org",))
    cfg = make_settings(smtp_server(handler))
    addresses = ["a@example.org", "nobody@example.org", "c@example.org"]
    report = send_digest(selection(cfg), cfg, addresses, clock=clock, ledger=ledger)
    by_address = {d.address: d for d in report.deliveries}
    assert by_address["nobody@example.org"].status == FAILED
    assert by_address["nobody@example.org"].permanent and not report.retryable
    assert by_address["nobody@example.org"].attempts == 1
    assert by_address["nobody@example.org"].detail.startswith("550 5.1.1")
    assert handler.recipients() == ["a@example.org", "c@example.org"]
    assert not report.ok
    statuses = {r.channel: r.status for r in ledger.records(day=DAY)}
    assert statuses == {
        "digest:a@example.org": Status.DONE,
        "digest:nobody@example.org": Status.REFUSED,
        "digest:c@example.org": Status.DONE,
    }
    refused = ledger.get(DAY, digest_channel("nobody@example.org"))
    assert refused is not None and "550" in refused.detail
    again = send_digest(selection(cfg), cfg, addresses, clock=clock, ledger=ledger)
    assert {d.status for d in again.deliveries} == {SKIPPED}  # a refusal is not retried on every run
    assert handler.recipients() == ["a@example.org", "c@example.org"]


def test_a_421_is_retried_and_the_message_arrives_once(smtp_server: ServerFactory, ledger: Ledger) -> None:
    """A server that answers 421 and then recovers gets the message after a retry, exactly once."""
    handler = Recorder(temporary=1)
    cfg = make_settings(smtp_server(handler))
    report = send_digest(selection(cfg), cfg, ["a@example.org"], clock=clock, ledger=ledger)
    (delivery,) = report.deliveries
    assert delivery.status == SENT and delivery.attempts == 2
    assert handler.recipients() == ["a@example.org"]
    assert handler.temporary == 0
    record = ledger.get(DAY, digest_channel("a@example.org"))
    assert record is not None and record.status is Status.DONE


def test_retries_back_off_and_then_give_up(smtp_server: ServerFactory) -> None:
    """Temporary failures wait retry_delay, then twice as long, ...; after smtp.retries more tries it is reported."""
    handler = Recorder(temporary=10)
    cfg = make_settings(smtp_server(handler), retries=3, retry_delay=1.5)
    waits: list[float] = []
    report = send_digest(selection(cfg), cfg, ["a@example.org"], clock=clock, sleep=waits.append)
    (delivery,) = report.deliveries
    assert delivery.status == FAILED and not delivery.permanent and delivery.attempts == 4
    assert delivery.detail.startswith("421 4.3.2") and "after 4 tries" in delivery.detail
    assert waits == [1.5, 3.0, 6.0]
    assert handler.messages == []


def test_running_the_send_again_sends_nobody_twice(smtp_server: ServerFactory, ledger: Ledger) -> None:
    """With the ledger, a second send for the same day skips everyone already done; --force sends again."""
    handler = Recorder()
    cfg = make_settings(smtp_server(handler))
    addresses = ["a@example.org", "b@example.org"]
    send_digest(selection(cfg), cfg, addresses, clock=clock, ledger=ledger)
    again = send_digest(selection(cfg), cfg, [*addresses, "c@example.org"], clock=clock, ledger=ledger)
    assert [(d.address, d.status) for d in again.deliveries] == [
        ("a@example.org", SKIPPED),
        ("b@example.org", SKIPPED),
        ("c@example.org", SENT),
    ]
    assert "already sent" in again.deliveries[0].detail
    assert handler.recipients() == ["a@example.org", "b@example.org", "c@example.org"]
    forced = send_digest(selection(cfg), cfg, ["a@example.org"], clock=clock, ledger=ledger, force=True)
    assert forced.deliveries[0].status == SENT
    assert handler.recipients().count("a@example.org") == 2


def test_a_failed_recipient_is_tried_again_on_the_next_run(
    smtp_server: ServerFactory, ledger: Ledger
) -> None:
    """A recipient that failed temporarily is claimed again next time; the ledger counts the attempts."""

    class MailboxBusy(Recorder):
        async def handle_RCPT(
            self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
        ) -> str:
            if address == "b@example.org":
                return "450 4.2.1 Mailbox busy, try again later"
            return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    cfg = make_settings(smtp_server(MailboxBusy()))
    send_digest(selection(cfg), cfg, ["a@example.org", "b@example.org"], clock=clock, ledger=ledger)
    fixed = Recorder()
    cfg = make_settings(smtp_server(fixed))
    report = send_digest(selection(cfg), cfg, ["a@example.org", "b@example.org"], clock=clock, ledger=ledger)
    assert [d.status for d in report.deliveries] == [SKIPPED, SENT]
    assert fixed.recipients() == ["b@example.org"]
    record = ledger.get(DAY, digest_channel("b@example.org"))
    assert record is not None and record.status is Status.DONE and record.attempts == 2


def test_an_unreachable_server_is_retried_then_recorded_and_a_later_run_delivers(
    smtp_server: ServerFactory, ledger: Ledger
) -> None:
    """Connection refused is temporary: retried, then every recipient is recorded failed (the rest not tried)."""
    cfg = make_settings(free_port())  # nothing listens there
    addresses = ["a@example.org", "b@example.org"]
    report = send_digest(selection(cfg), cfg, addresses, clock=clock, ledger=ledger)
    first, second = report.deliveries
    assert first.status == FAILED and first.attempts == 3 and "cannot reach" in first.detail
    assert second.status == FAILED and second.attempts == 0 and second.detail.startswith("not tried")
    assert {r.status for r in ledger.records(day=DAY)} == {Status.FAILED}
    handler = Recorder()
    cfg = make_settings(smtp_server(handler))
    report = send_digest(selection(cfg), cfg, addresses, clock=clock, ledger=ledger)
    assert [d.status for d in report.deliveries] == [SENT, SENT]
    assert handler.recipients() == addresses


def test_the_password_comes_from_the_environment(smtp_server: ServerFactory, ledger: Ledger) -> None:
    """smtp.username logs in with the password from $smtp.password_env; without it nothing is claimed or sent."""
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"s3cret", handled=False)

    handler = Recorder()
    port = smtp_server(handler, auth_require_tls=False, authenticator=authenticator)
    cfg = make_settings(port, username="digest", password_env="MY_SMTP_PASSWORD")
    with pytest.raises(PublishError, match="MY_SMTP_PASSWORD"):
        send_digest(selection(cfg), cfg, ["a@example.org"], clock=clock, ledger=ledger, environ={})
    assert ledger.records() == []
    with pytest.raises(PublishError, match="refused the login"):
        send_digest(
            selection(cfg),
            cfg,
            ["a@example.org"],
            clock=clock,
            ledger=ledger,
            environ={"MY_SMTP_PASSWORD": "x"},
        )
    record = ledger.get(DAY, digest_channel("a@example.org"))
    assert record is not None and record.status is Status.FAILED
    env = {"MY_SMTP_PASSWORD": "s3cret"}
    report = send_digest(selection(cfg), cfg, ["a@example.org"], clock=clock, ledger=ledger, environ=env)
    assert report.deliveries[0].status == SENT
    assert logins[-1] == (b"digest", b"s3cret")
    assert handler.recipients() == ["a@example.org"]


def test_implicit_tls_to_a_plain_server_is_a_clear_error(smtp_server: ServerFactory) -> None:
    """security = "tls" against a server that does not speak TLS fails at once with a hint, not after retries."""
    cfg = make_settings(smtp_server(Recorder()), security="tls")
    with pytest.raises(PublishError, match=r"TLS with 127\.0\.0\.1:\d+ failed.*smtp\.security"):
        send_digest(selection(cfg), cfg, ["a@example.org"], clock=clock)


def test_a_day_with_nothing_is_not_sent_unless_asked(smtp_server: ServerFactory, ledger: Ledger) -> None:
    """Subscribers get no empty digest (and nothing is recorded); a test send still shows the empty message."""
    handler = Recorder()
    cfg = make_settings(smtp_server(handler))
    empty = DaySelection(datetime.date(2026, 1, 2))
    report = send_digest(empty, cfg, ["a@example.org"], clock=clock, ledger=ledger)
    assert report.deliveries == () and "nothing on 2026-01-02" in report.note
    assert ledger.records() == [] and handler.messages == []
    report = send_digest(empty, cfg, ["a@example.org"], clock=clock, send_empty=True)
    assert report.deliveries[0].status == SENT


def test_recipients_file_one_address_per_line(tmp_path: Path) -> None:
    """recipients_file: one address per line, # comments and blank lines ignored, duplicates dropped."""
    path = tmp_path / "subscribers.txt"
    path.write_text("# readers\na@example.org\n\nB <b@example.org>  # from the fair\nA@example.org\n")
    assert read_recipients_file(path) == ("a@example.org", "b@example.org", "A@example.org")
    cfg = dataclasses.replace(
        Settings(), digest=DigestSettings(recipients=("list@example.org",), recipients_file=path)
    )
    assert configured_recipients(cfg) == ("list@example.org", "a@example.org", "b@example.org")
    path.write_text("a@example.org\nnot an address\n")
    with pytest.raises(ConfigError, match=r"subscribers\.txt:2: "):
        read_recipients_file(path)
    with pytest.raises(ConfigError, match="recipients file not found"):
        read_recipients_file(tmp_path / "missing.txt")


# ---------------------------------------------------------------------------------------------
# The command


def write_config(tmp_path: Path, port: int, recipients: str) -> Path:
    (tmp_path / "subscribers.txt").write_text(recipients, encoding="utf-8")
    config = tmp_path / "thisday.toml"
    config.write_text(
        f'entries = "{FIXTURES.as_posix()}"\n'
        'timezone = "UTC"\n'
        'state_dir = "state"\n'
        "[digest]\n"
        'sender = "On this day <digest@example.org>"\n'
        'recipients_file = "subscribers.txt"\n'
        "[smtp]\n"
        'host = "127.0.0.1"\n'
        f"port = {port}\n"
        "retries = 1\n"
        "retry_delay = 0\n"
        "[daemon]\n"
        f'ledger_url = "sqlite:///{(tmp_path / "ledger.sqlite").as_posix()}"\n',
        encoding="utf-8",
    )
    return config


def test_send_command_records_each_recipient_and_test_sends_are_not_recorded(
    smtp_server: ServerFactory, tmp_path: Path
) -> None:
    """`thisday send DATE` sends to the configured recipients once; `--to` test sends always go, unrecorded."""
    handler = Recorder(reject=("gone@example.org",))
    config = write_config(tmp_path, smtp_server(handler), "a@example.org\ngone@example.org\n")
    runner = CliRunner()
    test = runner.invoke(main, ["--config", str(config), "send", "2026-07-12", "--to", "me@example.org"])
    assert test.exit_code == 0, test.output
    assert "sent     me@example.org" in test.stdout
    first = runner.invoke(main, ["--config", str(config), "send", "2026-07-12"])
    assert first.exit_code == 1, first.output
    assert "sent     a@example.org" in first.stdout
    assert "failed   gone@example.org: 550 5.1.1" in first.stdout
    second = runner.invoke(main, ["--config", str(config), "send", "2026-07-12"])
    assert "skipped  a@example.org: already sent" in second.stdout
    assert handler.recipients() == ["me@example.org", "a@example.org"]
    with Ledger(f"sqlite:///{(tmp_path / 'ledger.sqlite').as_posix()}") as ledger:
        assert ledger.get(DAY, digest_channel("me@example.org")) is None
        done = ledger.get(DAY, digest_channel("a@example.org"))
        assert done is not None and done.status is Status.DONE


class RefusesMessages(Recorder):
    """Answers the end of DATA with ``reply`` for the first ``times`` messages, then accepts."""

    def __init__(self, reply: str, times: int = 10**6) -> None:
        super().__init__()
        self.reply = reply
        self.times = times

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.times > 0:
            self.times -= 1
            return self.reply
        return await super().handle_DATA(server, session, envelope)


def test_a_message_refused_after_its_data_is_not_recorded_as_sent(smtp_server: ServerFactory, ledger: Ledger) -> None:
    """A 554 at the end of DATA (a content filter) means the recipient got nothing: the outcome is refused for the
    day, never 'sent', and the address is not treated as gone (nobody is suppressed)."""
    handler = RefusesMessages("554 5.7.1 Message rejected as spam")
    cfg = make_settings(smtp_server(handler))
    report = send_digest(selection(cfg), cfg, ["a@example.org"], clock=clock, ledger=ledger)
    (delivery,) = report.deliveries
    assert delivery.status == FAILED and delivery.permanent and not delivery.address_refused
    assert "554" in delivery.detail and handler.messages == []
    row = ledger.get(DAY, digest_channel("a@example.org"))
    assert row is not None and row.status is Status.REFUSED


def test_a_temporary_refusal_of_the_data_is_retried_and_delivered_once(
    smtp_server: ServerFactory, ledger: Ledger
) -> None:
    """A 451 at the end of DATA is temporary: the message is tried again, arrives once, and the ledger says done."""
    handler = RefusesMessages("451 4.7.1 Greylisted, try again", times=1)
    cfg = make_settings(smtp_server(handler))
    report = send_digest(selection(cfg), cfg, ["a@example.org"], clock=clock, ledger=ledger)
    assert [d.status for d in report.deliveries] == [SENT]
    assert handler.recipients() == ["a@example.org"]
    row = ledger.get(DAY, digest_channel("a@example.org"))
    assert row is not None and row.status is Status.DONE


def test_a_refused_sender_stops_the_send_and_refuses_nobody(smtp_server: ServerFactory, ledger: Ledger) -> None:
    """A 553 to MAIL FROM is the sender's problem, not the recipients': the send stops with one line naming the
    settings to fix, and no recipient is recorded as refused (a later run sends to everyone)."""

    class RefusesSender(Recorder):
        async def handle_MAIL(
            self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
        ) -> str:
            return "553 5.7.1 Sender address rejected"

    cfg = make_settings(smtp_server(RefusesSender()), connections=1)
    with pytest.raises(PublishError, match=r"refused the sender .*digest\.sender and digest\.return_path"):
        send_digest(selection(cfg), cfg, ["a@example.org", "b@example.org"], clock=clock, ledger=ledger)
    assert all(r.status is not Status.REFUSED for r in ledger.records(DAY))
    handler = Recorder()
    cfg = make_settings(smtp_server(handler))
    again = send_digest(selection(cfg), cfg, ["a@example.org", "b@example.org"], clock=clock, ledger=ledger)
    assert [d.status for d in again.deliveries] == [SENT, SENT]
