"""Subscribing through `thisday serve`, as a reader (and an abuser) meets it: a real HTTP client against the server
in its own process on a free port, a loopback SMTP server (aiosmtpd) that receives the confirmation mail, and the
subscriber store read back from the same SQLite database."""

from __future__ import annotations

import datetime
import html.parser
import os
import re
import signal
import subprocess
import sys
import textwrap
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller

from browser import PHONE, Browser, _chromium_session, browser  # noqa: F401  (the fixtures, also registered by conftest on main)
from smtp_server import Recorder, free_port
from thisday import newsletter
from thisday.config import Settings, load_settings
from thisday.newsletter_http import client_ip
from thisday.subscribers import CONFIRM, UNSUBSCRIBE, State, Store, excluded, make_token

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent / "fixtures" / "entries"
SECRET = "test-secret-for-the-subscription-links"
BASE = "https://news.example.org/"

SERVE_WITH_SETTINGS = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from thisday import serve
    from thisday.config import load_settings
    settings = load_settings(Path(sys.argv[1]))
    app = serve.create_app(settings.feeds_dir, settings)
    sock = serve.listen("127.0.0.1", 0)
    print(f"serving {settings.feeds_dir} on http://127.0.0.1:{sock.getsockname()[1]}/", flush=True)
    serve.run(app, sock, access_log=False)
    """
)
"""What `thisday serve` runs, with the settings passed to create_app (used while the command does not pass them)."""


@dataclass
class Site:
    root: Path
    settings: Settings
    client: httpx.Client
    smtp: Recorder

    def store(self) -> Store:
        return Store(self.settings.ledger_url(), SECRET.encode())

    def mails_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.smtp.received() if address in str(m["To"])]


def _start(command: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    first = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", first)
    if not match:
        process.kill()
        _, err = process.communicate()
        raise AssertionError(f"unexpected first line {first!r}; stderr: {err}")
    return process, int(match.group(1))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A built site with subscribing on, `thisday serve` for it, and the SMTP server it mails through.

    127.0.0.1 is a configured proxy, so each test names its client in X-Forwarded-For (as nginx would)."""
    root = tmp_path_factory.mktemp("newsletter")
    recorder = Recorder()
    smtp_port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    (root / "thisday.toml").write_text(
        textwrap.dedent(
            f"""
            timezone = "Europe/Berlin"
            entries = "{FIXTURES.as_posix()}"
            state_dir = "state"
            [site]
            title = "On <this> day"
            base_url = "{BASE}"
            [digest]
            subscribe = true
            sender = "On this day <news@example.org>"
            return_path = "bounces@example.org"
            recipients = ["Colleague <colleague@example.org>"]
            proxies = ["127.0.0.1"]
            requests_per_ip = 5
            [smtp]
            host = "127.0.0.1"
            port = {smtp_port}
            retries = 0
            """
        ),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k != "THISDAY_STATE_DIR"}
    env["THISDAY_SECRET"] = SECRET
    config = str(root / "thisday.toml")
    subprocess.run(
        [sys.executable, "-m", "thisday", "--config", config, "build", "2026-07-12"],
        check=True,
        capture_output=True,
        env=env,
    )
    # The real command when it passes its settings to the app; until then the same calls with the settings.
    process, port = _start(
        [sys.executable, "-m", "thisday", "--config", config, "serve", "--port", "0", "--quiet"], env
    )
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=30) as probe:
        wired = probe.get("/subscribe").status_code == 200
    if not wired:
        process.send_signal(signal.SIGTERM)
        process.communicate()
        process, port = _start([sys.executable, "-c", SERVE_WITH_SETTINGS, config], env)
    settings = load_settings(root / "thisday.toml")
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=30) as client:
        yield Site(root, settings, client, recorder)
    process.send_signal(signal.SIGTERM)
    process.communicate()
    controller.stop()


def post_form(site: Site, path: str, fields: dict[str, str], client: str) -> httpx.Response:
    return site.client.post(path, data=fields, headers={"X-Forwarded-For": client})


def link_in(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    match = re.search(r"https?://\S+", body.get_content())
    assert match, body.get_content()
    return match.group(0)


def path_of(url: str) -> str:
    return urllib.parse.urlsplit(url).path


class Forms(html.parser.HTMLParser):
    """The forms of a page: action, method and fields (name -> (type, value))."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, object]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.forms.append({"action": values.get("action"), "method": values.get("method"), "fields": {}})
        elif tag in ("input", "button") and self.forms and values.get("name"):
            fields = self.forms[-1]["fields"]
            assert isinstance(fields, dict)
            fields[values["name"]] = (values.get("type"), values.get("value") or "")


def forms_of(page: str) -> list[dict[str, object]]:
    parser = Forms()
    parser.feed(page)
    return parser.forms


# ---------------------------------------------------------------------------------------------


def test_subscribe_confirm_and_one_click_unsubscribe(site: Site) -> None:
    """The whole round trip: the form mails a confirmation link under site.base_url (envelope sender the
    return path); opening it (GET) only shows a button; pressing it (POST) makes the reader active with the
    client's address as proof of consent; a one-click POST to the List-Unsubscribe URL unsubscribes at once,
    with no cookie and no redirect."""
    address = "reader@example.org"
    answer = post_form(site, "/subscribe", {"email": "Reader@Example.org", "website": ""}, "203.0.113.10")
    assert answer.status_code == 200 and "Check your mail" in answer.text
    mails = site.mails_to(address)
    assert len(mails) == 1
    envelope_from = [frm for frm, rcpts, _ in site.smtp.messages if address in rcpts]
    assert envelope_from == ["bounces@example.org"]
    url = link_in(mails[0])
    assert url.startswith(BASE + "confirm/") and address not in url and "reader" not in url
    with site.store() as store:
        assert store.get(address).state == State.PENDING  # type: ignore[union-attr]

    shown = site.client.get(path_of(url))
    assert shown.status_code == 200
    [form] = [f for f in forms_of(shown.text) if f["method"] == "post" and f["action"] != "../subscribe"]
    with site.store() as store:
        assert store.get(address).state == State.PENDING, "a GET (a mail scanner) confirmed"  # type: ignore[union-attr]

    confirmed = site.client.post(
        urllib.parse.urljoin(path_of(url), str(form["action"])),
        data={k: v[1] for k, v in form["fields"].items()},  # type: ignore[union-attr]
        headers={"X-Forwarded-For": "203.0.113.11"},
    )
    assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
    with site.store() as store:
        row = store.get(address)
        assert row is not None and row.state == State.ACTIVE
        assert (row.added_source, row.added_ip, row.confirmed_ip) == ("form", "203.0.113.10", "203.0.113.11")

    unsubscribe = newsletter.unsubscribe_url(site.settings, SECRET.encode(), address)
    assert unsubscribe.startswith(BASE + "unsubscribe/") and address not in unsubscribe
    page = site.client.get(path_of(unsubscribe))
    assert page.status_code == 200 and "Unsubscribe me" in page.text
    with site.store() as store:
        assert store.get(address).state == State.ACTIVE, "a GET unsubscribed"  # type: ignore[union-attr]
    one_click = site.client.post(
        path_of(unsubscribe),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200 and "set-cookie" not in one_click.headers
    with site.store() as store:
        row = store.get(address)
        assert row is not None and row.state == State.UNSUBSCRIBED and row.reason == "one-click"


def test_one_click_as_multipart_form_data(site: Site) -> None:
    """RFC 8058 lets the mail provider send the one-click POST as multipart/form-data too: it unsubscribes."""
    address = "multipart@example.org"
    with site.store() as store:
        store.add_confirmed(address, datetime.datetime.now(datetime.UTC), source="command")
    url = newsletter.unsubscribe_url(site.settings, SECRET.encode(), address)
    answer = site.client.post(path_of(url), files={"List-Unsubscribe": (None, "One-Click")})
    assert answer.status_code == 200
    with site.store() as store:
        assert store.get(address).state == State.UNSUBSCRIBED  # type: ignore[union-attr]


def test_unsubscribe_link_of_a_fixed_list_recipient(site: Site) -> None:
    """A POST without the One-Click field does nothing (400); the link of a recipient on the fixed list
    (digest.recipients, never in the store) records it as unsubscribed, so the digest leaves it out; the
    link of an address nobody knows is answered and records nothing."""
    address = "colleague@example.org"
    url = newsletter.unsubscribe_url(site.settings, SECRET.encode(), address)
    refused = site.client.post(path_of(url), data={"something": "else"})
    assert refused.status_code == 400
    with site.store() as store:
        assert store.get(address) is None
    assert site.client.post(path_of(url), data={"List-Unsubscribe": "One-Click"}).status_code == 200
    with site.store() as store:
        assert store.get(address).state == State.UNSUBSCRIBED  # type: ignore[union-attr]
        assert address in excluded(store)
    stranger = newsletter.unsubscribe_url(site.settings, SECRET.encode(), "stranger@example.org")
    assert site.client.post(path_of(stranger), data={"List-Unsubscribe": "One-Click"}).status_code == 200
    with site.store() as store:
        assert store.get("stranger@example.org") is None


def test_the_answer_never_tells_who_subscribes(site: Site) -> None:
    """New, pending, active, unsubscribed and suppressed addresses get byte-identical answers."""
    now = datetime.datetime.now(datetime.UTC)
    with site.store() as store:
        store.request("pending@example.org", now, source="command")
        store.add_confirmed("active@example.org", now, source="command")
        store.add_confirmed("left@example.org", now, source="command")
        store.unsubscribe("left@example.org", now, "test")
        store.suppress("bounced@example.org", now, "test")
    answers = [
        post_form(site, "/subscribe", {"email": address, "website": ""}, f"198.51.100.{n}")
        for n, address in enumerate(
            [
                "new@example.org",
                "pending@example.org",
                "active@example.org",
                "left@example.org",
                "bounced@example.org",
            ]
        )
    ]
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert not site.mails_to("bounced@example.org") and not site.mails_to("active@example.org")


def test_forged_and_altered_tokens_change_nothing(site: Site) -> None:
    """A token altered in one character, made with another secret, or meant for the other link gets a 404
    on GET and POST, and the subscriber's state does not move."""
    address = "victim@example.org"
    now = datetime.datetime.now(datetime.UTC)
    with site.store() as store:
        store.request(address, now, source="command")
    confirm = make_token(SECRET.encode(), CONFIRM, address, now)
    unsubscribe = make_token(SECRET.encode(), UNSUBSCRIBE, address)
    flipped = confirm[:-3] + ("A" if confirm[-3] != "A" else "B") + confirm[-2:]
    other = make_token(b"another-secret-of-enough-length", CONFIRM, address, now)
    for token in (flipped, other, unsubscribe, confirm[:-1], "x" * 5000):
        assert site.client.get(f"/confirm/{token}").status_code == 404
        assert site.client.post(f"/confirm/{token}", data={"confirm": "yes"}).status_code == 404
    with site.store() as store:
        store.add_confirmed(address, now, source="command")
    altered = unsubscribe[:-3] + ("A" if unsubscribe[-3] != "A" else "B") + unsubscribe[-2:]
    for token in (altered, make_token(b"another-secret-of-enough-length", UNSUBSCRIBE, address), confirm):
        answer = site.client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 404
    with site.store() as store:
        assert store.get(address).state == State.ACTIVE  # type: ignore[union-attr]


def test_confirmation_links_expire(site: Site) -> None:
    """A confirmation link older than digest.confirm_days (7) is refused with 410 and confirms nothing."""
    address = "late@example.org"
    now = datetime.datetime.now(datetime.UTC)
    with site.store() as store:
        store.request(address, now - datetime.timedelta(days=9), source="command")
    old = make_token(SECRET.encode(), CONFIRM, address, now - datetime.timedelta(days=8))
    assert site.client.get(f"/confirm/{old}").status_code == 410
    assert site.client.post(f"/confirm/{old}", data={"confirm": "yes"}).status_code == 410
    fresh = make_token(SECRET.encode(), CONFIRM, address, now - datetime.timedelta(days=6))
    with site.store() as store:
        assert store.get(address).state == State.PENDING  # type: ignore[union-attr]
    assert site.client.post(f"/confirm/{fresh}", data={"confirm": "yes"}).status_code == 200
    with site.store() as store:
        assert store.get(address).state == State.ACTIVE  # type: ignore[union-attr]


def test_a_megabyte_body_gets_413(site: Site) -> None:
    """A 1 MB form body, announced or streamed without a length, is refused with 413 and stores nothing."""
    huge = "email=big%40example.org&website=&pad=" + "x" * (1024 * 1024)
    answer = site.client.post(
        "/subscribe", content=huge.encode(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert answer.status_code == 413

    def chunks() -> Iterator[bytes]:
        yield b"email=big%40example.org&pad="
        for _ in range(64):
            yield b"x" * 16384

    streamed = site.client.post(
        "/subscribe", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert streamed.status_code == 413
    with site.store() as store:
        assert store.get("big@example.org") is None


def test_a_flood_from_one_client_is_cut_off(site: Site) -> None:
    """After digest.requests_per_ip (5) requests in an hour one client gets 429; another client is still
    served; and however often an address is entered, it gets one confirmation mail an hour."""
    answers = [
        post_form(
            site, "/subscribe", {"email": "target@example.org", "website": ""}, "192.0.2.66"
        ).status_code
        for _ in range(8)
    ]
    assert answers == [200] * 5 + [429] * 3
    assert post_form(site, "/subscribe", {"email": "target@example.org"}, "192.0.2.67").status_code == 200
    assert len(site.mails_to("target@example.org")) == 1


def test_line_breaks_in_the_form_are_a_clear_400(site: Site) -> None:
    """An address with CR/LF (a header injection attempt) gets a 400 page saying so; nothing is mailed."""
    answer = post_form(
        site,
        "/subscribe",
        {"email": "inject@example.org\r\nBcc: many@example.net", "website": ""},
        "192.0.2.80",
    )
    assert answer.status_code == 400 and "line break" in answer.text
    assert not site.mails_to("many@example.net") and not site.mails_to("inject@example.org")
    with site.store() as store:
        assert store.get("inject@example.org") is None


def test_the_honeypot_is_answered_and_ignored(site: Site) -> None:
    """A filled-in hidden field (a bot) gets the usual page, but no row and no mail."""
    answer = post_form(
        site, "/subscribe", {"email": "bot@example.org", "website": "http://spam"}, "192.0.2.90"
    )
    assert answer.status_code == 200 and "Check your mail" in answer.text
    assert not site.mails_to("bot@example.org")
    with site.store() as store:
        assert store.get("bot@example.org") is None


def test_pages_escape_and_do_not_leak_the_token(site: Site) -> None:
    """The site's title is escaped on every page; pages send no Referer (the token stays private) and
    forbid scripts."""
    page = site.client.get("/subscribe")
    assert "On &lt;this&gt; day" in page.text and "<this>" not in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "script-src" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_the_built_pages_carry_the_form_and_it_works(site: Site) -> None:
    """Every built page has the subscribe form (email field, hidden honeypot) pointing at /subscribe from
    wherever the page is; submitted as a browser would, it subscribes."""
    index = (site.root / "feeds" / "index.html").read_text(encoding="utf-8")
    day = (site.root / "feeds" / "days" / "2026-07-12.html").read_text(encoding="utf-8")
    [form] = [f for f in forms_of(index) if f["action"] == "subscribe"]
    assert form["method"] == "post"
    assert [f for f in forms_of(day) if f["action"] == "../subscribe"]
    fields = form["fields"]
    assert isinstance(fields, dict) and fields["email"][0] == "email" and "website" in fields
    data = {name: ("form@example.org" if name == "email" else value) for name, (_, value) in fields.items()}
    answer = post_form(site, "/" + str(form["action"]), data, "192.0.2.100")
    assert answer.status_code == 200
    assert len(site.mails_to("form@example.org")) == 1


def test_x_forwarded_for_is_believed_only_from_proxies() -> None:
    """A client's own X-Forwarded-For is ignored; behind a configured proxy the right-most address that is
    not a proxy is the client (what the client wrote further left is not believed)."""
    assert client_ip("203.0.113.5", "10.9.9.9", ()) == "203.0.113.5"
    assert client_ip("203.0.113.5", "10.9.9.9", ("127.0.0.1",)) == "203.0.113.5"
    assert client_ip("127.0.0.1", "1.2.3.4, 203.0.113.7", ("127.0.0.1",)) == "203.0.113.7"
    assert client_ip("10.0.0.2", "203.0.113.7, 10.0.0.1", ("10.0.0.0/8",)) == "203.0.113.7"
    assert client_ip("127.0.0.1", "not-an-ip", ("127.0.0.1",)) == "127.0.0.1"


@pytest.mark.browser
def test_a_reader_subscribes_with_a_real_browser(site: Site, browser: Browser) -> None:  # noqa: F811
    """In headless chromium at phone width: the form on the home page fits the screen, its honeypot is out of
    sight, typing an address and pressing Subscribe shows "Check your mail"; the mailed link opens a page whose
    button, pressed, subscribes. The subscription pages do not scroll sideways."""
    base = str(site.client.base_url).rstrip("/")
    browser.load(f"{base}/index.html")
    form_right = browser.js(
        "return document.querySelector('form.subscribe-form').getBoundingClientRect().right"
    )
    assert form_right <= PHONE[0], "the subscribe form is wider than a phone"
    field = browser.driver.find_element("css selector", "form.subscribe-form input[type=email]")
    honeypot = browser.driver.find_element("css selector", "form.subscribe-form input[name=website]")
    rect = honeypot.rect
    assert rect["x"] + rect["width"] <= 0 or not honeypot.is_displayed(), "the honeypot is visible"
    field.send_keys("browser.reader@example.org")
    browser.driver.find_element("css selector", "form.subscribe-form button").click()
    assert "Check your mail" in browser.driver.find_element("tag name", "h1").text
    assert browser.scroll_width() <= PHONE[0]
    [mail] = site.mails_to("browser.reader@example.org")
    browser.load(base + path_of(link_in(mail)))
    with site.store() as store:
        assert store.get("browser.reader@example.org").state == State.PENDING  # type: ignore[union-attr]
    assert browser.scroll_width() <= PHONE[0]
    browser.driver.find_element("css selector", "form.action button").click()
    assert "You are subscribed" in browser.driver.find_element("tag name", "h1").text
    with site.store() as store:
        assert store.get("browser.reader@example.org").state == State.ACTIVE  # type: ignore[union-attr]
