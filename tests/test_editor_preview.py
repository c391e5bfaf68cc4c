"""`thisday serve --preview`: the editor's view of any day (site page, digest, feeds; drafts marked), the year's
coverage heatmap, the problems with path:line, reloading on changes, and loopback only.

The quick tests drive the ASGI app in-process with Starlette's test client (real HTTP semantics, no socket);
the browser tests run `thisday serve --preview` in its own process and open its pages in headless chromium.
"""

from __future__ import annotations

import datetime
import html
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from thisday.cli import main
from thisday.config import load_settings
from thisday.serve import create_preview_app

DAY = datetime.date(2026, 7, 12)
READY = "Andrey Vlasov is captured"
DRAFT = "A draft about the capture"
EMBARGOED = "A story under embargo"
HOSTILE = "<script>window.pwned=1</script>Hostile title"


def make_site(root: Path) -> Path:
    """A site: thisday.toml, a births feed, entries on 12 July (ready, draft, embargoed, hostile title), one
    entry with a problem. Returns the config's path."""
    config = root / "thisday.toml"
    config.write_text(
        textwrap.dedent(
            """
            timezone = "UTC"
            [site]
            title = "Museum days"
            [[feeds]]
            name = "births"
            kinds = ["birth"]
            """
        ),
        encoding="utf-8",
    )
    entries = root / "entries"
    entries.mkdir()
    files = {
        "ready.md": f"---\ntitle: {READY}\ndate: 1942-07-12\nfeatured: true\n---\nThe ready text.\n",
        "draft.md": f"---\ntitle: {DRAFT}\ndate: 1943-07-12\nstatus: draft\n---\nDraft text.\n",
        "embargo.md": f"---\ntitle: {EMBARGOED}\ndate: 1944-07-12\npublish_after: 2026-07-31\n---\nLater.\n",
        "hostile.md": f"---\ntitle: '{HOSTILE}'\ndate: 1945-07-12\n---\nText.\n",
        "birth.md": "---\ntitle: Henry David Thoreau is born\ndate: 1817-07-12\nkind: birth\n---\nBorn.\n",
        "broken.md": "---\ntitle: Broken\ndate: 1942-07-13\nstatus: drfat\n---\n",
    }
    for name, text in files.items():
        (entries / name).write_text(text, encoding="utf-8")
    return config


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return make_site(tmp_path)


@pytest.fixture
def client(site: Path) -> Iterator[TestClient]:
    app = create_preview_app(load_settings(site), today=DAY)
    with TestClient(app, base_url="http://127.0.0.1:8080") as test_client:
        yield test_client


def srcdoc(page: str, frame_id: str) -> str:
    """The HTML a sandboxed frame shows (its srcdoc attribute, unescaped)."""
    match = re.search(rf'<iframe id="{frame_id}"[^>]*srcdoc="([^"]*)"', page)
    assert match, f"no frame {frame_id}"
    return html.unescape(match.group(1))


def test_the_editor_opens_on_today_and_any_date(client: TestClient) -> None:
    """/_editor/ opens today's page; the date picker's form (?date=) and previous/next go to other days."""
    response = client.get("/_editor/", follow_redirects=False)
    assert response.headers["location"].endswith(f"/_editor/day/{DAY.isoformat()}")
    response = client.get("/_editor/day", params={"date": "1999-12-31"})
    assert response.status_code == 200 and 'data-date="1999-12-31"' in response.text
    page = client.get(f"/_editor/day/{DAY.isoformat()}").text
    assert 'href="/_editor/day/2026-07-11" rel="prev"' in page
    assert 'href="/_editor/day/2026-07-13" rel="next"' in page
    assert '<input type="date" name="date" value="2026-07-12"' in page
    bad = client.get("/_editor/day/2026-02-30")
    assert bad.status_code == 404 and "not a date" in bad.text


def test_a_day_shows_what_each_output_publishes_with_drafts_marked(client: TestClient) -> None:
    """A day's page holds the site page (held entries added, marked 'Not published'), the digest and each
    feed's items exactly as published (no held entry in them); ?drafts=0 gives the site page as published."""
    page = client.get(f"/_editor/day/{DAY.isoformat()}").text
    site_page = srcdoc(page, "site-page")
    assert READY in site_page and DRAFT in site_page and EMBARGOED in site_page
    assert "Not published: draft" in site_page
    assert "Not published: embargoed until 2026-07-31" in site_page
    assert "<strong>DRAFT</strong>: " + DRAFT in page
    digest = srcdoc(page, "digest-html")
    assert READY in digest and DRAFT not in digest and EMBARGOED not in digest
    assert "Museum days" in re.search(r'id="digest-subject">([^<]*)<', page).group(1)  # type: ignore[union-attr]
    births = page[page.index('id="feed-births"') :]
    assert "Henry David Thoreau is born" in html.unescape(births) and READY not in html.unescape(births)
    onthisday = html.unescape(page[page.index('id="feed-onthisday"') : page.index('id="feed-births"')])
    assert READY in onthisday and DRAFT not in onthisday
    published = srcdoc(client.get(f"/_editor/day/{DAY.isoformat()}?drafts=0").text, "site-page")
    assert READY in published and DRAFT not in published and EMBARGOED not in published
    assert 'id="published-count">3<' in page


def test_nothing_from_an_entry_runs_as_script(client: TestClient) -> None:
    """An entry title holding a <script> is text on the editor's page; the frames are sandboxed (no script
    runs in them) and the page's own script needs the response's nonce (Content-Security-Policy)."""
    response = client.get(f"/_editor/day/{DAY.isoformat()}")
    page = response.text
    assert "<script>window.pwned" not in page
    for frame in re.findall(r"<iframe[^>]*>", page):
        assert re.search(r"\ssandbox[\s>]", frame), frame
    policy = response.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)  # type: ignore[union-attr]
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert page.count("<script") == 1 and f'<script nonce="{nonce}">' in page


def test_the_year_heatmap_links_every_day(client: TestClient) -> None:
    """/_editor/year/2026 draws 365 days in an SVG, each linking to its preview, shaded by the number of
    published entries; days with nothing are marked empty and listed."""
    page = client.get("/_editor/year/2026").text
    assert '<svg class="heatmap"' in page
    rects = re.findall(r'<a href="/_editor/day/([\d-]+)" id="d[\d-]+"><rect class="day l(\d)" data-date="([\d-]+)" data-count="(\d+)"', page)
    assert len(rects) == 365
    assert all(href == date for href, _, date, _ in rects)
    counts = {date: (int(level), int(count)) for _, level, date, count in rects}
    assert counts["2026-07-12"] == (2, 3)  # ready, hostile, birth: the draft and the embargoed one do not count
    assert counts["2026-07-13"] == (0, 0)
    assert sum(1 for level, _ in counts.values() if level == 0) == 364
    assert "364</strong> have nothing" in page
    leap = re.findall(r'data-date="2028-02-29"', client.get("/_editor/year/2028").text)
    assert len(leap) == 1


def test_problems_are_listed_with_path_and_line(client: TestClient, site: Path) -> None:
    """/_editor/problems lists what `thisday check` finds, each as path:line: message, and every page's
    navigation counts them."""
    page = client.get("/_editor/problems").text
    broken = site.parent / "entries" / "broken.md"
    assert f"<strong>{broken}:4</strong>: status must be one of draft, ready, verified" in html.unescape(page)
    assert "Problems (1)" in page
    check = CliRunner().invoke(main, ["--config", str(site), "check"])
    assert f"{broken}:4:" in check.output


def test_the_version_changes_when_an_entry_file_changes(client: TestClient, site: Path) -> None:
    """/_editor/version (which the pages poll to reload) changes when an entry file is edited, added or
    removed, and stays the same otherwise."""
    first = client.get("/_editor/version").text
    assert client.get("/_editor/version").text == first
    ready = site.parent / "entries" / "ready.md"
    ready.write_text(ready.read_text(encoding="utf-8") + "More.\n", encoding="utf-8")
    second = client.get("/_editor/version").text
    assert second != first
    (site.parent / "entries" / "new.md").write_text("---\ntitle: New\ndate: 1990-07-12\n---\n", encoding="utf-8")
    assert client.get("/_editor/version").text != second
    page = client.get(f"/_editor/day/{DAY.isoformat()}").text
    assert "New" in srcdoc(page, "site-page")


def test_the_preview_answers_only_loopback_names(site: Path) -> None:
    """A request addressed to another host name (DNS rebinding) gets 421 and no page; 127.0.0.1 and
    localhost are answered."""
    app = create_preview_app(load_settings(site), today=DAY)
    with TestClient(app, base_url="http://attacker.example") as other:
        response = other.get(f"/_editor/day/{DAY.isoformat()}")
        assert response.status_code == 421 and READY not in response.text
    with TestClient(app, base_url="http://localhost:8080") as local:
        assert local.get(f"/_editor/day/{DAY.isoformat()}").status_code == 200


def test_serve_preview_refuses_another_host(site: Path) -> None:
    """`thisday serve --preview --host 0.0.0.0` is a usage error (exit 2): the preview shows drafts."""
    result = CliRunner().invoke(main, ["--config", str(site), "serve", "--preview", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "127.0.0.1 only" in result.output


# ---------------------------------------------------------------------------------------------
# In a real browser


@pytest.fixture
def preview_server(site: Path) -> Iterator[str]:
    """`thisday serve --preview --port 0` in its own process; its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "thisday", "--config", str(site), "serve", "--preview", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "THISDAY_TEST_STALL_AFTER"},
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/_editor/", first)
    assert match, f"unexpected first line {first!r}"
    try:
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate()


def _wait(browser: Any, condition: str, timeout: float = 30) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser.driver, timeout).until(lambda _: browser.js(condition))


@pytest.mark.slow
@pytest.mark.browser
def test_the_heatmap_renders_and_a_day_link_opens_that_day(
    browser: Any, preview_server: str, tmp_path: Path
) -> None:
    """In chromium, the coverage page draws the heatmap (365 visible day squares, empty ones in the empty
    colour); clicking 12 July opens that day's preview; each page's screenshot is saved for a person to see."""
    from browser import DESKTOP

    browser.set_size(*DESKTOP)
    browser.load(f"{preview_server}/_editor/year/2026")
    sizes = browser.js(
        "return Array.from(document.querySelectorAll('#heatmap rect.day')).map(r => {"
        "const b = r.getBoundingClientRect(); return [b.width, b.height, getComputedStyle(r).fill]; })"
    )
    assert len(sizes) == 365
    assert all(w > 5 and h > 5 for w, h, _ in sizes)
    empty_fill = browser.js("return getComputedStyle(document.querySelector('rect[data-count=\"0\"]')).fill")
    full_fill = browser.js("return getComputedStyle(document.querySelector('rect[data-date=\"2026-07-12\"]')).fill")
    assert empty_fill != full_fill
    shots = [browser.screenshot(tmp_path / "editor-year.png")]
    browser.driver.find_element("css selector", 'a[href="/_editor/day/2026-07-12"] rect').click()
    _wait(browser, "return document.querySelector('#day') && document.querySelector('#day').dataset.date === '2026-07-12'")
    assert browser.driver.current_url.endswith("/_editor/day/2026-07-12")
    assert browser.js("return window.pwned === undefined")
    held = browser.js("return document.querySelector('.held-list').textContent")
    assert DRAFT in held and EMBARGOED in held
    shots.append(browser.screenshot(tmp_path / "editor-day.png"))
    browser.load(f"{preview_server}/_editor/problems")
    assert "broken.md:4" in browser.js("return document.querySelector('#problems').textContent")
    shots.append(browser.screenshot(tmp_path / "editor-problems.png"))
    browser.set_size(390, 844)
    browser.load(f"{preview_server}/_editor/day/2026-07-12")
    shots.append(browser.screenshot(tmp_path / "editor-day-phone.png"))
    for shot in shots:
        assert shot.stat().st_size > 1000
        print(f"screenshot: {shot}")


@pytest.mark.slow
@pytest.mark.browser
def test_the_page_reloads_when_an_entry_file_changes(browser: Any, preview_server: str, site: Path) -> None:
    """An open day page reloads by itself when an entry file is saved, and then shows the change."""
    browser.load(f"{preview_server}/_editor/day/2026-07-12")
    browser.js("window.beforeEdit = true; return true")
    ready = site.parent / "entries" / "ready.md"
    ready.write_text(ready.read_text(encoding="utf-8").replace(READY, "A retitled capture"), encoding="utf-8")
    _wait(browser, "return window.beforeEdit === undefined && document.readyState === 'complete'")
    frame = browser.js("return document.querySelector('#site-page').getAttribute('srcdoc')")
    assert "A retitled capture" in frame


def test_the_day_shows_each_social_channels_posts(site: Path) -> None:
    """With a Mastodon channel configured, a day's editor page shows the post it would make (published entries
    only), as `thisday preview DATE --format mastodon` would."""
    site.write_text(
        site.read_text(encoding="utf-8") + '[mastodon]\ninstance = "https://mastodon.example"\n', encoding="utf-8"
    )
    with TestClient(create_preview_app(load_settings(site), today=DAY), base_url="http://127.0.0.1:8080") as client:
        page = client.get(f"/_editor/day/{DAY.isoformat()}").text
    section = page[page.index('id="posts-mastodon"') :]
    assert READY in section and DRAFT not in section
