"""The email digest: templates, the HTML made for mail clients, the plain text, and the RFC 5322 message."""

from __future__ import annotations

import dataclasses
import datetime
import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from golden_files import check_golden
from thisday.cli import main
from thisday.config import DigestSettings, Settings, SiteSettings
from thisday.digest import (
    Digest,
    build_message,
    render_parts,
)
from thisday.entries import load_tree
from thisday.errors import PublishError, TemplateError
from thisday.index import CalendarIndex
from thisday.message import message_bytes, message_id
from thisday.model import DaySelection, Entry, Kind, Location, Occurrence
from thisday.selection import day_selection
from thisday.templates import shipped_templates_dir

FIXTURES = Path(__file__).parent / "fixtures" / "entries"
GOLDEN = Path(__file__).parent / "golden"
DAY = datetime.date(2026, 7, 12)
NOW = datetime.datetime(2026, 7, 12, 6, 0, tzinfo=datetime.UTC)


def settings(**digest: str) -> Settings:
    """Fixed settings for the fixture tree; keyword arguments replace [digest] values."""
    values: dict[str, Any] = {
        "sender": "On this day <digest@example.org>",
        "list_id": "onthisday.example.org",
        "unsubscribe_url": "https://example.org/unsubscribe?email={email}",
        **digest,
    }
    return Settings(
        entries=FIXTURES,
        timezone="UTC",
        site=SiteSettings(title="On this day", base_url="https://example.org/"),
        digest=DigestSettings(**values),
    )


def selection_on(day: datetime.date, cfg: Settings | None = None) -> DaySelection:
    result = load_tree(FIXTURES)
    return day_selection(CalendarIndex.build(result.entries), day, cfg or settings())


def parse(msg: EmailMessage) -> EmailMessage:
    """The message as a receiving mail client sees it: bytes on the wire, parsed back."""
    parsed = email.message_from_bytes(message_bytes(msg), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def part(msg: EmailMessage, subtype: str) -> str:
    body = msg.get_body((subtype,))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def entry(title: str, body: str = "", featured: bool = False) -> Occurrence:
    e = Entry(
        id="x",
        title=title,
        kind=Kind.EVENT,
        date=None,
        location=Location("x.yaml", 1),
        featured=featured,
        body=body,
    )
    return Occurrence(e, 7, 12, None, False, "12 July 1942")


# ---------------------------------------------------------------------------------------------
# Golden files


def test_golden_text_part() -> None:
    """The plain-text part of 12 July 2026 (fixture entries) is exactly the reviewed golden file."""
    msg = parse(build_message(selection_on(DAY), settings(), NOW, to="reader@example.org"))
    check_golden(GOLDEN / "digest.txt", part(msg, "plain"))


def test_golden_html_part() -> None:
    """The HTML part of 12 July 2026, CSS inlined, is exactly the reviewed golden file."""
    msg = parse(build_message(selection_on(DAY), settings(), NOW, to="reader@example.org"))
    check_golden(GOLDEN / "digest.html", part(msg, "html"))


def test_golden_headers() -> None:
    """The message's headers for 12 July 2026 (the MIME boundary, which is random, normalised)."""
    raw = message_bytes(build_message(selection_on(DAY), settings(), NOW, to="reader@example.org"))
    head = raw.decode("ascii").split("\r\n\r\n", 1)[0].replace("\r\n", "\n") + "\n"
    check_golden(GOLDEN / "digest.headers", re.sub(r'boundary="[^"]+"', 'boundary="BOUNDARY"', head))


# ---------------------------------------------------------------------------------------------
# The message


def test_message_is_multipart_alternative_text_first_with_the_headers_clients_need() -> None:
    """A complete RFC 5322 message: text then HTML, UTF-8, Subject with the date, From, To, Date, ids."""
    msg = parse(build_message(selection_on(DAY), settings(), NOW, to="Reader <reader@example.org>"))
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert msg["Subject"] == "On this day, 12 July 2026: Andrey Vlasov is captured by German forces"
    assert msg["From"] == "On this day <digest@example.org>"
    assert msg["To"] == "Reader <reader@example.org>"
    assert msg["Date"] == "Sun, 12 Jul 2026 06:00:00 +0000"
    assert msg["Message-ID"] == message_id(DAY, "onthisday.example.org", "reader@example.org")
    assert msg["Message-ID"].startswith("<digest-2026-07-12.") and msg["Message-ID"].endswith(
        "@onthisday.example.org>"
    )
    assert msg["List-Id"] == "On this day <onthisday.example.org>"
    assert msg["List-Unsubscribe"] == "<https://example.org/unsubscribe?email=reader@example.org>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["MIME-Version"] == "1.0"
    assert b"\r\n" in message_bytes(msg) and b"\n" not in message_bytes(msg).replace(b"\r\n", b"")


def test_message_id_is_stable_per_date_list_and_recipient() -> None:
    """Re-sending a day to someone keeps its Message-ID; another recipient, day or list, or a test send, changes it."""
    sel = selection_on(DAY)
    first = build_message(sel, settings(), NOW, to="a@example.org")
    later = build_message(sel, settings(), NOW + datetime.timedelta(hours=5), to="A@example.org")
    assert first["Message-ID"] == later["Message-ID"]
    other_reader = build_message(sel, settings(), NOW, to="b@example.org")
    test_send = build_message(sel, settings(), NOW, to="a@example.org", test=True)
    other_day = build_message(
        selection_on(DAY + datetime.timedelta(days=1)), settings(), NOW, to="a@example.org"
    )
    assert (
        len(
            {
                first["Message-ID"],
                other_reader["Message-ID"],
                test_send["Message-ID"],
                other_day["Message-ID"],
            }
        )
        == 4
    )
    assert test_send["Message-ID"].startswith("<test-digest-")
    other_list = build_message(sel, settings(list_id="Another <history.example.net>"), NOW)
    assert other_list["Message-ID"] == message_id(DAY, "history.example.net")
    assert other_list["List-Id"] == "Another <history.example.net>"


def test_list_id_defaults_to_the_sender_and_bad_list_ids_are_refused() -> None:
    """Without digest.list_id the list is named after the sender; a list_id that is not a dotted name is an error."""
    cfg = dataclasses.replace(settings(), digest=DigestSettings(sender="News <daily+news@hist.example.org>"))
    msg = build_message(selection_on(DAY, cfg), cfg, NOW)
    assert msg["List-Id"] == "On this day <daily-news.hist.example.org>"
    assert msg["To"] == "undisclosed-recipients:;"
    assert msg["List-Unsubscribe"] is None and msg["List-Unsubscribe-Post"] is None


def test_mailto_unsubscribe_has_no_one_click_header() -> None:
    """RFC 8058 one-click applies to HTTPS only: a mailto: unsubscribe gets List-Unsubscribe alone."""
    msg = build_message(selection_on(DAY), settings(unsubscribe_url="mailto:leave@example.org"), NOW)
    assert msg["List-Unsubscribe"] == "<mailto:leave@example.org>"
    assert msg["List-Unsubscribe-Post"] is None


def test_no_entry_content_can_inject_a_header() -> None:
    """A title with CR/LF (built directly, past entries.py's check) is folded into the one-line Subject."""
    evil = entry("Evil\r\nBcc: victim@example.org\r\n\r\n<b>body</b>", featured=True)
    sel = DaySelection(on=DAY, occurrences=(evil,))
    raw = message_bytes(build_message(sel, settings(), NOW, to="reader@example.org"))
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Bcc"] is None
    assert msg["Subject"] == "On this day, 12 July 2026: Evil Bcc: victim@example.org <b>body</b>"
    assert b"\r\nBcc:" not in raw.split(b"\r\n\r\n", 1)[0]
    assert "&lt;b&gt;body&lt;/b&gt;" in part(msg, "html")


def test_bad_addresses_cannot_reach_the_headers() -> None:
    """A recipient with a line break or without a domain is refused, never written into a header (a bad sender
    is refused when the settings load: see test_config)."""
    with pytest.raises(PublishError, match="recipient"):
        build_message(selection_on(DAY), settings(), NOW, to="a@example.org\nBcc: b@example.org")
    with pytest.raises(PublishError, match="recipient"):
        build_message(selection_on(DAY), settings(), NOW, to="nobody")


def test_non_ascii_subject_and_body_survive_the_trip() -> None:
    """Non-ASCII titles are encoded in the Subject (RFC 2047) and decode back exactly; bodies are UTF-8."""
    occ = entry("Gödel’s letter reaches Москва", body="Ünïcödé body — “quoted”.", featured=True)
    msg = parse(build_message(DaySelection(DAY, (occ,)), settings(), NOW))
    assert msg["Subject"] == "On this day, 12 July 2026: Gödel’s letter reaches Москва"
    assert "Ünïcödé body — “quoted”." in part(msg, "plain")
    assert "Ünïcödé body — “quoted”." in part(msg, "html")


def test_without_a_featured_entry_the_first_leads() -> None:
    """A day with no featured entry still has a lead: the first in publishing order, shown in full."""
    sel = selection_on(datetime.date(2026, 11, 7))
    assert sel.occurrences and not sel.occurrences[0].entry.featured
    parts = render_parts(sel, settings())
    assert parts.subject == "On this day, 7 November 2026: The October Revolution begins in Petrograd"
    assert "ALSO ON THIS DAY" not in parts.text


def test_empty_day_renders_a_short_message() -> None:
    """A day with nothing on it still renders (for previews): it says so, without an empty section."""
    parts = render_parts(DaySelection(datetime.date(2026, 1, 2)), settings())
    assert parts.subject == "On this day, 2 January 2026"
    assert "Nothing on this day yet." in parts.text
    assert "Nothing on this day yet." in parts.html
    assert "Also on this day" not in parts.html


# ---------------------------------------------------------------------------------------------
# HTML for mail clients, text for reading


def test_html_is_made_for_mail_clients() -> None:
    """Inlined CSS, one centered column of at most 600px, no scripts or external CSS, dark mode kept in @media."""
    html = render_parts(selection_on(DAY), settings()).html
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert "alert(" not in html
    assert re.search(r'<table[^>]*class="container"[^>]*style="[^"]*max-width: 600px', html)
    assert re.search(r'<h1 style="[^"]*font-size', html), "CSS is inlined into the elements"
    assert "@media (prefers-color-scheme: dark)" in html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert 'class="preheader"' in html and "and 3 more from this day in history" in html
    assert "Also on this day" in html
    assert '<a href="https://example.org/unsubscribe?email=">Unsubscribe</a>' in html.replace(
        ' style="color: #1d5b8f;text-decoration: underline;"', ""
    )


def test_images_always_have_alt_text() -> None:
    """Images in entry bodies keep (or get) an alt attribute, so the digest reads with images off."""
    body = '![A map of the front](https://example.org/map.png)\n\n<img src="https://example.org/x.png">'
    html = render_parts(DaySelection(DAY, (entry("Maps", body, featured=True),)), settings()).html
    images = re.findall(r"<img[^>]*>", html)
    assert len(images) == 2
    assert all(re.search(r'\balt="', img) for img in images)
    assert 'alt="A map of the front"' in html


def test_text_part_is_written_for_reading() -> None:
    """No markup in the text part, lines wrapped for mail (URLs stay whole), sources listed with their URLs."""
    text = render_parts(selection_on(DAY), settings()).text
    assert "<" not in text.replace("<https", "")
    assert "**" not in text and "](" not in text
    for line in text.splitlines():
        assert len(line) <= 78 or "://" in line, line
    assert "  https://en.wikipedia.org/wiki/Andrey_Vlasov" in text
    assert "ALSO ON THIS DAY" in text
    assert "1956 years ago" in text
    assert "\n-- \n" in text, "the footer starts with a signature separator"


# ---------------------------------------------------------------------------------------------
# Templates


def test_project_templates_are_found() -> None:
    """The shipped templates/ folder is found from the package (source checkout or editable install)."""
    found = shipped_templates_dir()
    assert (found / "email" / "body.html").is_file()


def test_user_templates_override_files_of_the_same_name(tmp_path: Path) -> None:
    """A file in the configured templates folder replaces the shipped one; the others still come from templates/."""
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "subject.txt").write_text("Today in history ({{ day.iso }}) {{ count }}\n")
    cfg = dataclasses.replace(settings(), templates=tmp_path)
    parts = render_parts(selection_on(DAY), cfg)
    assert parts.subject == "Today in history (2026-07-12) 4"
    assert "ALSO ON THIS DAY" in parts.text


def test_template_errors_name_the_file_and_line(tmp_path: Path) -> None:
    """A broken user template is reported as path:line, not a traceback; a missing folder is a config error."""
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "body.txt").write_text("ok\n{% if %}\n")
    cfg = dataclasses.replace(settings(), templates=tmp_path)
    with pytest.raises(TemplateError, match=r"body\.txt:2: template error"):
        render_parts(selection_on(DAY), cfg)
    (tmp_path / "email" / "body.txt").write_text("{{ no_such_name }}\n")
    with pytest.raises(TemplateError, match="no_such_name"):
        render_parts(selection_on(DAY), cfg)
    with pytest.raises(TemplateError, match="templates folder"):
        render_parts(selection_on(DAY), dataclasses.replace(settings(), templates=tmp_path / "missing"))


# ---------------------------------------------------------------------------------------------
# The commands


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "thisday.toml"
    config.write_text(
        f'entries = "{FIXTURES.as_posix()}"\n'
        'timezone = "UTC"\n'
        'state_dir = "state"\n'
        "[digest]\n"
        'sender = "On this day <digest@example.org>"\n'
        'list_id = "onthisday.example.org"\n'
        'unsubscribe_url = "https://example.org/unsubscribe"\n',
        encoding="utf-8",
    )
    return config


def test_preview_format_email_prints_the_message(tmp_path: Path) -> None:
    """`thisday preview DATE --format email` prints the message as it would be sent."""
    config = write_config(tmp_path)
    result = CliRunner().invoke(main, ["--config", str(config), "preview", "2026-07-12", "--format", "email"])
    assert result.exit_code == 0, result.output
    msg = email.message_from_string(result.stdout, policy=email.policy.default)
    assert msg["Subject"] == "On this day, 12 July 2026: Andrey Vlasov is captured by German forces"
    assert msg["List-Unsubscribe"] == "<https://example.org/unsubscribe>"
    assert isinstance(msg, EmailMessage)
    assert "ALSO ON THIS DAY" in part(msg, "plain")


def test_digest_command_writes_an_eml_file(tmp_path: Path) -> None:
    """`thisday digest DATE -o FILE.eml` writes a message that parses into a text and an HTML part."""
    config = write_config(tmp_path)
    out = tmp_path / "out" / "digest.eml"
    result = CliRunner().invoke(
        main, ["--config", str(config), "digest", "2026-07-12", "-o", str(out), "--to", "me@example.org"]
    )
    assert result.exit_code == 0, result.output
    msg = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg["To"] == "me@example.org"
    assert "Andrey Vlasov" in part(msg, "plain") and "<h1" in part(msg, "html")
    html = tmp_path / "digest.html"
    result = CliRunner().invoke(
        main, ["--config", str(config), "digest", "2026-07-12", "--part", "html", "-o", str(html)]
    )
    assert result.exit_code == 0, result.output
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_links_in_bodies_are_absolute_and_the_text_part_keeps_their_urls() -> None:
    """A relative link in an entry body points at the site in the HTML part (as on the site and in the feeds),
    and the plain-text part keeps every link's URL as a numbered reference under its paragraph."""
    body = "Read [the notes](notes/vlasov.html) and [a source](https://example.net/a?b=1&c=2).\n\nMore [here](#top)."
    msg = parse(build_message(DaySelection(DAY, (entry("Linked", body=body, featured=True),)), settings(), NOW))
    html = part(msg, "html")
    assert 'href="https://example.org/notes/vlasov.html"' in html
    assert 'href="notes/vlasov.html"' not in html
    text = part(msg, "plain")
    assert "the notes [1] and a source [2]" in text
    assert "[1] https://example.org/notes/vlasov.html" in text
    assert "[2] https://example.net/a?b=1&c=2" in text
    assert "[3] https://example.org/days/2026-07-12.html#top" in text


def test_no_control_character_reaches_the_subject() -> None:
    """A title carrying terminal escapes or other control characters (built directly, past the loader's check)
    never puts one into the Subject header."""
    evil = entry("Evil\x1b[31m title\x07 with\x00 controls\x9b", featured=True)
    msg = build_message(DaySelection(DAY, (evil,)), settings(), NOW)
    subject = str(msg["Subject"])
    assert "Evil[31m title with controls" in subject
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in subject)


@pytest.mark.parametrize(
    "unsubscribe",
    ["https://example.org/unsubscribe?email={email}", "mailto:leave@example.org", ""],
)
def test_a_prepared_message_is_the_same_message_for_each_recipient(unsubscribe: str) -> None:
    """The fast path a send uses (headers made once, bodies filled in per recipient) gives, for each recipient,
    the same headers and the same text and HTML as the message built whole by the email package."""
    cfg = settings(unsubscribe_url=unsubscribe)
    occ = entry("Gödel’s letter reaches Москва", body="Ünïcödé body — “quoted”, trailing space \n\n. a dot line", featured=True)
    digest = Digest.render(DaySelection(DAY, (occ, *selection_on(DAY).occurrences)), cfg)
    prepared = digest.prepare(NOW)
    for address in ("reader@example.org", "zoe.o'neil+news@example.org", "x@sub.example.co.uk"):
        fast = email.message_from_bytes(digest.message_bytes(prepared, NOW, address), policy=email.policy.default)
        whole = parse(digest.message(NOW, address))
        assert sorted(fast.keys()) == sorted(whole.keys())
        for header in whole:
            if header.lower() != "content-type":  # the MIME boundary differs, nothing else
                assert str(fast[header]).strip() == str(whole[header]).strip(), header
        assert part(fast, "plain") == part(whole, "plain")
        assert part(fast, "html") == part(whole, "html")
        assert address in str(fast["To"])
        assert all(len(line) <= 998 for line in digest.message_bytes(prepared, NOW, address).split(b"\r\n"))
