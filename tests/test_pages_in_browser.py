"""The site and the digest as a reader's browser shows them (headless Debian chromium): they fit a phone's
width in light and dark mode, whatever words and URLs an entry carries, and no hostile entry content runs."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from browser import PHONE, Browser
from thisday.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "entries"
pytestmark = [pytest.mark.slow, pytest.mark.browser]

LONG_WORD = "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft" * 2
LONG_URL = "https://example.org/" + "very-long-path-segment-" * 12 + "?query=" + "x" * 80
HOSTILE = [
    "<script>window.__pwned = 1</script>",
    '<img src="x" onerror="window.__pwned = 2">',
    '<svg onload="window.__pwned = 3"></svg>',
    '<iframe src="javascript:parent.__pwned = 4"></iframe>',
    "[click](javascript:window.__pwned=5)",
    '<a href="javascript:window.__pwned=6">x</a>',
    '<body onload="window.__pwned = 7">',
    '<style>body { display: none }</style><div style="background:url(javascript:window.__pwned=8)">s</div>',
    '<math><mtext><table><mglyph><style><img src=x onerror="window.__pwned=9">',
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site built for 12 July 2026 from the fixture entries plus an entry with a very long word, a long URL as
    a source and in its body, and one entry per hostile payload (in titles, bodies and source titles)."""
    root = tmp_path_factory.mktemp("browser-site")
    entries = root / "entries"
    shutil.copytree(FIXTURES, entries)
    (entries / "long.yaml").write_text(
        f"- title: A {LONG_WORD} and {LONG_URL}\n  date: '1901-07-12'\n  body: |\n    {LONG_WORD} {LONG_URL}\n"
        f"  sources:\n    - title: {LONG_URL}\n      url: {LONG_URL}\n",
        encoding="utf-8",
    )
    (entries / "payloads.json").write_text(
        json.dumps(
            [
                {
                    "title": f"Payload {n} {payload}",
                    "date": "1900-07-12",
                    "body": payload,
                    "sources": [{"title": payload, "url": f"https://example.org/{n}"}],
                }
                for n, payload in enumerate(HOSTILE)
            ]
        ),
        encoding="utf-8",
    )
    (root / "thisday.toml").write_text(
        'timezone = "Europe/Berlin"\n[site]\nbase_url = "https://history.example.org/"\n'
        '[digest]\nsender = "News <news@example.org>"\n'
        'unsubscribe_url = "https://history.example.org/unsubscribe?email={email}"\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    config = ["--config", str(root / "thisday.toml")]
    build = runner.invoke(main, [*config, "build", "2026-07-12", "--now", "2026-07-12T06:00:00+02:00"])
    assert build.exit_code == 0, build.output
    digest = runner.invoke(main, [*config, "digest", "2026-07-12", "--to", "reader@example.org", "-o",
                                  str(root / "digest.eml")])
    assert digest.exit_code == 0, digest.output
    message = email.message_from_bytes((root / "digest.eml").read_bytes(), policy=email.policy.default)
    html = message.get_body(("html",))
    assert html is not None
    (root / "digest.html").write_text(str(html.get_content()), encoding="utf-8")
    return root


def pages(site: Path) -> list[Path]:
    return [site / "feeds" / "index.html", site / "feeds" / "days" / "2026-07-12.html", site / "digest.html"]


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_nothing_scrolls_sideways_on_a_phone(browser: Browser, site: Path, tmp_path: Path, dark: bool) -> None:
    """At 390 px wide, the index, a day page and the digest are no wider than the screen, in light and dark mode,
    although an entry carries a 160-letter word and a 400-character URL as its title, body and source."""
    browser.dark(dark)
    for page in pages(site):
        browser.load(page)
        shot = browser.screenshot(tmp_path / f"{page.stem}-{'dark' if dark else 'light'}.png")
        assert LONG_WORD[:40] in browser.js("return document.body.innerText"), page
        assert browser.scroll_width() <= PHONE[0], f"{page} is {browser.scroll_width()} px wide (see {shot})"


def test_the_site_and_the_digest_follow_the_readers_dark_mode(browser: Browser, site: Path) -> None:
    """With prefers-color-scheme: dark, the site's and the digest's backgrounds turn dark and their text light."""
    for page in (site / "feeds" / "index.html", site / "digest.html"):
        browser.load(page)
        selector = "body" if page.parent.name == "feeds" else ".container"
        light = browser.style(selector, "background-color")
        browser.dark()
        dark = browser.style(selector, "background-color")
        browser.dark(False)
        assert light != dark, page
        channels = [int(c) for c in dark.removeprefix("rgb(").removeprefix("rgba(").rstrip(")").split(",")[:3]]
        assert sum(channels) < 3 * 100, f"{page}: {dark} is not dark"


def test_no_payload_runs(browser: Browser, site: Path) -> None:
    """None of the hostile payloads in titles, bodies and source titles runs as script on any page or in the
    digest, and no page carries a script element, an event handler or a javascript: URL."""
    for page in pages(site):
        browser.load(page)
        for link in browser.driver.find_elements("css selector", "a[href]"):
            assert not link.get_attribute("href").lower().startswith("javascript:"), page
        assert browser.js("return window.__pwned === undefined"), page
        assert browser.js("return document.querySelectorAll('script, iframe, svg, math').length") == 0, page
        assert browser.js(
            "return [...document.querySelectorAll('*')].filter(e => [...e.attributes]"
            ".some(a => a.name.startsWith('on'))).length"
        ) == 0, page
        assert "Payload 0" in browser.js("return document.body.innerText"), page
