"""The subscriber store, its signed tokens and secret, and `thisday subscribers ...`: run against a real SQLite
database (the ledger's) and, for confirmation mails, a loopback SMTP server (aiosmtpd)."""

from __future__ import annotations

import base64
import csv
import datetime
import io
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from smtp_server import Recorder
from thisday import newsletter
from thisday.cli import main
from thisday.config import load_settings
from thisday.errors import ConfigError
from thisday.ledger import Ledger, digest_channel
from thisday.subscribers import (
    CONFIRM,
    UNSUBSCRIBE,
    State,
    Store,
    SubscriberError,
    active_addresses,
    counts,
    excluded,
    load_secret,
    make_token,
    read_token,
    suppress,
)
from thisday.subscribers_cli import bounce, subscribers

SECRET = b"store-test-secret-0123456789"
NOW = datetime.datetime(2026, 7, 1, 12, 0, tzinfo=datetime.UTC)

for command in (subscribers, bounce):
    if command.name not in main.commands:
        main.add_command(command)


@pytest.fixture
def store(db_url: Callable[[], str]) -> Iterator[Store]:
    """A new store on each backend (SQLite and PostgreSQL)."""
    with Store(db_url(), SECRET) as opened:
        yield opened


# ---------------------------------------------------------------------------------------------
# The store


def test_one_row_per_normalised_address(store: Store) -> None:
    """'Reader@Example.ORG', ' reader@example.org ' and 'Reader <reader@example.org>' are one subscriber."""
    store.request("Reader@Example.ORG", NOW, source="form", ip="192.0.2.1")
    store.request(" reader@example.org ", NOW, source="form")
    store.request("Reader <reader@example.org>", NOW, source="command")
    rows = store.all()
    assert [r.address for r in rows] == ["reader@example.org"]
    assert (rows[0].state, rows[0].added_source, rows[0].added_ip, rows[0].list) == (
        State.PENDING,
        "form",
        "192.0.2.1",
        "digest",
    )
    assert rows[0].language == "en"


def test_bad_addresses_are_refused(store: Store) -> None:
    """Text that is not one address (no @, a line break, two addresses) is a SubscriberError; nothing stored."""
    for text in ("nobody", "a@example.org\r\nBcc: b@example.org", "a@example.org, b@example.org", ""):
        with pytest.raises(SubscriberError):
            store.request(text, NOW, source="form")
    assert store.all() == []


def test_what_the_digest_channel_uses(store: Store) -> None:
    """active_addresses lists only confirmed subscribers; excluded holds unsubscribed and suppressed
    addresses (also ones never subscribed, e.g. from the fixed list); suppress records the reason; counts
    gives every state."""
    store.request("pending@example.org", NOW, source="form")
    store.add_confirmed("b@example.org", NOW, source="command")
    store.add_confirmed("a@example.org", NOW, source="import")
    store.add_confirmed("left@example.org", NOW, source="command")
    store.unsubscribe("left@example.org", NOW, "link")
    suppress(store, "B@example.org", "550 5.1.1 no such user", NOW)
    suppress(store, "fixed@example.org", "550 5.1.1 no such user", NOW)
    assert active_addresses(store) == ["a@example.org"]
    assert excluded(store) == {"left@example.org", "b@example.org", "fixed@example.org"}
    row = store.get("b@example.org")
    assert row is not None and row.reason == "550 5.1.1 no such user"
    assert counts(store) == {"pending": 1, "active": 1, "unsubscribed": 1, "suppressed": 2}


def test_a_second_list_is_separate(store: Store) -> None:
    """The `list` column keeps lists apart: the same address may be active on one and absent from another."""
    store.add_confirmed("a@example.org", NOW, source="command", list_name="weekly")
    assert active_addresses(store) == []
    assert active_addresses(store, "weekly") == ["a@example.org"]


def test_a_link_from_before_an_unsubscription_confirms_nothing(store: Store, tmp_path: Path) -> None:
    """Subscribe, confirm, unsubscribe, subscribe again: the first confirmation link (still within its 7
    days) does not confirm the new request; the new link does."""
    settings = load_settings(None)
    store.request("a@example.org", NOW, source="form")
    first = make_token(SECRET, CONFIRM, "a@example.org", NOW)
    assert newsletter.confirm(settings, store, first, NOW, "192.0.2.1") == newsletter.LinkState.VALID
    store.unsubscribe("a@example.org", NOW + datetime.timedelta(hours=1), "link")
    later = NOW + datetime.timedelta(days=1)
    store.request("a@example.org", later, source="form")
    assert newsletter.confirm(settings, store, first, later, "192.0.2.1") == newsletter.LinkState.UNKNOWN
    assert store.get("a@example.org").state == State.PENDING  # type: ignore[union-attr]
    second = make_token(SECRET, CONFIRM, "a@example.org", later)
    assert newsletter.confirm(settings, store, second, later, "192.0.2.2") == newsletter.LinkState.VALID
    assert store.get("a@example.org").state == State.ACTIVE  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# Tokens and the secret


def test_tokens_are_opaque_and_every_byte_is_signed() -> None:
    """A token names nobody (the address is in neither the text nor its decoded bytes); changing any one
    character, or reading it with another secret or as the other kind, fails the check."""
    token = make_token(SECRET, UNSUBSCRIBE, "reader@example.org")
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert b"reader" not in raw and "reader" not in token
    assert read_token(SECRET, token, UNSUBSCRIBE) is not None
    assert read_token(b"another-secret-of-some-length", token, UNSUBSCRIBE) is None
    assert read_token(SECRET, token, CONFIRM) is None
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for at in range(len(token)):
        for replacement in (
            alphabet[(alphabet.index(token[at]) + 1) % 64],
            alphabet[(alphabet.index(token[at]) + 32) % 64],
        ):
            altered = token[:at] + replacement + token[at + 1 :]
            assert read_token(SECRET, altered, UNSUBSCRIBE) is None, f"accepted with character {at} changed"


def test_a_confirmation_token_carries_its_time() -> None:
    """The issue time read back from a confirmation token is the time it was made (to the second)."""
    token = make_token(SECRET, CONFIRM, "a@example.org", NOW)
    read = read_token(SECRET, token, CONFIRM)
    assert read is not None and read.issued == NOW


def test_a_new_secret_keeps_new_links_working(db_url: Callable[[], str]) -> None:
    """After the secret changes, the links made with the new secret find their subscribers (so a new digest's
    unsubscribe link works), while links signed with the old one are refused."""
    url = db_url()
    settings = load_settings(None)
    with Store(url, SECRET) as old:
        old.add_confirmed("a@example.org", NOW, source="command")
    old_token = make_token(SECRET, UNSUBSCRIBE, "a@example.org")
    new_secret = b"a-completely-new-secret-value"
    with Store(url, new_secret) as new:
        assert newsletter.check_unsubscribe(new, old_token) == newsletter.LinkState.FORGED
        token = make_token(new_secret, UNSUBSCRIBE, "a@example.org")
        assert newsletter.unsubscribe(settings, new, token, NOW, "one-click") == newsletter.LinkState.VALID
        assert new.get("a@example.org").state == State.UNSUBSCRIBED  # type: ignore[union-attr]


def test_the_secret_file_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    """Without THISDAY_SECRET the secret is made in the state folder, readable by its owner only, and the same
    secret is read back next time; a file others can read is refused with the chmod fix."""
    first = load_secret(tmp_path / "state", {})
    path = tmp_path / "state" / "secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret(tmp_path / "state", {}) == first
    assert load_secret(tmp_path / "state", {"THISDAY_SECRET": "x" * 20}) == b"x" * 20
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_secret(tmp_path / "state", {})
    with pytest.raises(ConfigError, match="too short"):
        load_secret(tmp_path / "other", {"THISDAY_SECRET": "short"})


def test_unsubscribe_url_is_per_recipient_and_under_base_url() -> None:
    """Each address gets its own link under site.base_url, without the address in it."""
    settings = load_settings(None)
    one = newsletter.unsubscribe_url(settings, SECRET, "one@example.org")
    two = newsletter.unsubscribe_url(settings, SECRET, "two@example.org")
    assert one.startswith(settings.site.base_url.rstrip("/") + "/unsubscribe/") and one != two
    assert "one" not in one.rsplit("/", 1)[1] and "%40" not in one and "@" not in one


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[digest]\nproxies = ["nginx.local"]\n', "digest.proxies[0]"),
        ("[digest]\nconfirm_days = 0\n", "digest.confirm_days"),
        ("[digest]\nrequests_per_ip = 0\n", "digest.requests_per_ip"),
        ('[digest]\nreturn_path = "not an address"\n', "digest.return_path"),
    ],
)
def test_subscription_settings_are_checked_at_load(tmp_path: Path, toml: str, message: str) -> None:
    """A proxy that is not an IP address or network, a zero duration or limit, a bad return path: each is
    a ConfigError at load naming the key."""
    path = tmp_path / "thisday.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings(path)


# ---------------------------------------------------------------------------------------------
# The commands




@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp: tuple[Recorder, int]) -> Path:
    monkeypatch.setenv("THISDAY_SECRET", SECRET.decode())
    monkeypatch.delenv("THISDAY_STATE_DIR")
    path = tmp_path / "thisday.toml"
    path.write_text(
        '[site]\nbase_url = "https://news.example.org/"\n[digest]\nsubscribe = true\n'
        'sender = "On this day <news@example.org>"\nreturn_path = "bounces@example.org"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp[1]}\nretries = 0\n',
        encoding="utf-8",
    )
    return path


def cli(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), "subscribers", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def opened(config: Path) -> Store:
    return Store(load_settings(config).ledger_url(), SECRET)


def test_add_sends_the_confirmation_mail(config: Path, smtp: tuple[Recorder, int]) -> None:
    """`subscribers add` without --confirmed leaves the address pending and mails it a link under
    site.base_url, from the return path; a second add within the hour mails nothing more."""
    code, output = cli(config, "add", "Reader@example.org")
    assert code == 0 and "pending, confirmation mail sent" in output
    recorder, _ = smtp
    [(envelope_from, rcpts, _)] = recorder.messages
    assert envelope_from == "bounces@example.org" and rcpts == ["reader@example.org"]
    [msg] = recorder.received()
    body = msg.get_body(("plain",))
    assert body is not None and "https://news.example.org/confirm/" in body.get_content()
    assert msg["Auto-Submitted"] == "auto-generated"
    code, output = cli(config, "add", "reader@example.org")
    assert code == 0 and "none sent now" in output and len(recorder.messages) == 1
    with opened(config) as store:
        assert store.get("reader@example.org").state == State.PENDING  # type: ignore[union-attr]


def test_add_confirmed_list_and_counts(config: Path, smtp: tuple[Recorder, int]) -> None:
    """`add --confirmed` makes addresses active without mail; a bad one is reported (exit 1) and the others
    still added; `list --state` filters and ends with the count of each state."""
    code, output = cli(config, "add", "--confirmed", "a@example.org", "nobody", "b@example.org")
    assert code == 1 and "nobody" in output
    assert smtp[0].messages == []
    cli(config, "remove", "b@example.org")
    code, output = cli(config, "list", "--state", "active")
    lines = output.splitlines()
    assert code == 0 and lines[0].startswith("a@example.org  active  added by command")
    assert len(lines) == 2 and lines[-1] == "0 pending, 1 active, 1 unsubscribed, 0 suppressed"


def test_import_reports_every_line(config: Path, tmp_path: Path) -> None:
    """`import` of one address a line: each line is imported or reported with its reason (not an address,
    a duplicate, unsubscribed earlier: never brought back)."""
    cli(config, "add", "--confirmed", "gone@example.org")
    cli(config, "remove", "gone@example.org")
    source = tmp_path / "list.txt"
    source.write_text(
        "# my list\none@example.org\nnot-an-address\n\nONE@example.org\ngone@example.org\ntwo@example.org\n",
        encoding="utf-8",
    )
    code, output = cli(config, "import", str(source))
    assert code == 0
    lines = output.splitlines()
    assert lines[0] == f"{source}:2: imported one@example.org"
    assert lines[1].startswith(f"{source}:3: not imported:") and "not an email address" in lines[1]
    assert lines[2] == f"{source}:5: not imported: one@example.org is already on line 2"
    assert lines[3].startswith(f"{source}:6: not imported: gone@example.org is unsubscribed")
    assert lines[4] == f"{source}:7: imported two@example.org"
    with opened(config) as store:
        assert active_addresses(store) == ["one@example.org", "two@example.org"]
        assert store.get("one@example.org").added_source == "import"  # type: ignore[union-attr]


def test_import_csv_with_an_email_column(config: Path, tmp_path: Path) -> None:
    """A CSV file is read by its email column, whatever its position; a CSV without one is an error."""
    source = tmp_path / "export.csv"
    source.write_text(
        'name,Email,joined\n"Doe, Jane",jane@example.org,2020\nBob,bob@example.org,2021\n', encoding="utf-8"
    )
    code, output = cli(config, "import", str(source))
    assert (
        code == 0
        and f"{source}:2: imported jane@example.org" in output
        and f"{source}:3: imported bob" in output
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("name,phone\nBob,123\n", encoding="utf-8")
    code, output = cli(config, "import", str(bad))
    assert code == 1 and "needs a column named email" in output


def test_export_is_csv_of_every_record(config: Path) -> None:
    """`export` writes every record as CSV with the consent record (source, times)."""
    cli(config, "add", "--confirmed", "a@example.org")
    cli(config, "suppress", "b@example.org", "--reason", "hard bounce")
    code, output = cli(config, "export")
    rows = list(csv.DictReader(io.StringIO(output)))
    assert code == 0
    assert [(r["email"], r["state"], r["confirmed_source"], r["reason"]) for r in rows] == [
        ("a@example.org", "active", "command", ""),
        ("b@example.org", "suppressed", "", "hard bounce"),
    ]


def test_suppress_and_unsuppress(config: Path) -> None:
    """A suppressed subscriber is excluded until unsuppressed, then active again; unsuppressing an address
    that is not suppressed is an error."""
    cli(config, "add", "--confirmed", "a@example.org")
    assert cli(config, "suppress", "a@example.org", "--reason", "mailbox full for weeks")[0] == 0
    with opened(config) as store:
        assert excluded(store) == {"a@example.org"}
    assert cli(config, "unsuppress", "a@example.org")[0] == 0
    with opened(config) as store:
        assert active_addresses(store) == ["a@example.org"] and excluded(store) == set()
    code, output = cli(config, "unsuppress", "a@example.org")
    assert code == 1 and "is not suppressed" in output


def test_forget_deletes_every_personal_record(config: Path) -> None:
    """`forget` deletes the subscription, the request log and the address's digest ledger rows, and
    leaves other recipients' rows alone."""
    settings = load_settings(config)
    with opened(config) as store:
        store.request("a@example.org", NOW, source="form", ip="192.0.2.1")
        store.log_request("a@example.org", "192.0.2.1", NOW, mailed=True)
    with Ledger.from_settings(settings) as ledger:
        for address in ("a@example.org", "b@example.org"):
            claim = ledger.claim(datetime.date(2026, 7, 1), digest_channel(address), NOW)
            assert claim is not None
            ledger.mark_done(claim, NOW)
    code, output = cli(config, "forget", "A@example.org")
    assert code == 0 and "1 ledger row(s)" in output
    with opened(config) as store:
        assert store.get("a@example.org") is None
        assert store.recent(NOW, datetime.timedelta(days=1), address="a@example.org") == 0
    with Ledger.from_settings(settings) as ledger:
        assert [r.channel for r in ledger.records()] == ["digest:b@example.org"]


def test_commands_without_subscribing_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`add` without --confirmed needs digest.subscribe (the link must work): a one-line error saying so."""
    monkeypatch.setenv("THISDAY_SECRET", SECRET.decode())
    path = tmp_path / "thisday.toml"
    path.write_text("", encoding="utf-8")
    code, output = cli(path, "add", "a@example.org")
    assert code == 1 and "subscribe = true" in output and "Traceback" not in output
    assert os.environ["THISDAY_SECRET"]


def test_each_subscriber_gets_the_digest_in_their_language(
    config: Path, smtp: tuple[Recorder, int], tmp_path: Path
) -> None:
    """With `site.languages = ["en", "de"]`, a subscriber who chose German on the form gets the day's digest in
    German and one who chose nothing gets it in the site's language; each gets one message, with their own link."""
    import datetime

    from thisday.channels.digest import send_day
    from thisday.ledger import Ledger
    from thisday.newsletter import subscribe
    from thisday.selection import day_selection
    from thisday.templates import environment

    config.write_text(config.read_text(encoding="utf-8").replace('[site]\n', '[site]\nlanguages = ["en", "de"]\n'))
    entries = Path(__file__).parent / "fixtures" / "entries"
    settings = load_settings(config, entries=entries)
    now = datetime.datetime(2026, 7, 12, 6, tzinfo=datetime.UTC)
    with opened(config) as store:
        env = environment(None)
        for address, language in (("anna@example.org", "de"), ("bob@example.org", "")):
            subscribe(settings, store, env, address, "192.0.2.1", now, {}, language=language)
            store.confirm(store.key_of(address), now, now, ip="192.0.2.1")
    recorder, _ = smtp
    recorder.messages.clear()
    from thisday.entries import load_tree
    from thisday.index import CalendarIndex

    selection = day_selection(CalendarIndex.build(load_tree(entries).entries), now.date(), settings)
    with Ledger.from_settings(settings) as ledger:
        report = send_day(settings, selection, ledger, clock=lambda: now)
    assert report.ok and len(recorder.messages) == 2
    subjects = {rcpts[0]: m["Subject"] for (_, rcpts, _), m in zip(recorder.messages, recorder.received(), strict=True)}
    assert "Juli" in subjects["anna@example.org"] and "July" in subjects["bob@example.org"]
