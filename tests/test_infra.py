"""The test infrastructure itself: the ``browser`` and ``postgres_url`` fixtures work as documented, so
tests that use them fail for their own reasons, not because the tools are missing or misconfigured."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from browser import Browser
from pgserver import PgServer

pytestmark = pytest.mark.slow

WIDE = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { margin: 0; background: rgb(255, 255, 255); }
  @media (prefers-color-scheme: dark) { body { background: rgb(0, 0, 0); } }
  .fits { width: 100%; height: 20px; }
  .wide { width: 600px; height: 20px; }
</style></head>
<body><div class="fits"></div>BODY</body></html>"""


def _page(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(WIDE.replace("BODY", body), encoding="utf-8")
    return path


@pytest.mark.browser
def test_browser_measures_sideways_overflow_at_phone_width(browser: Browser, tmp_path: Path) -> None:
    """The browser fixture opens pages at a 390 px viewport and ``scroll_width()`` tells a page that fits
    (scrollWidth == 390) from one that scrolls sideways (a 600 px element gives 600): later tests can assert
    ``browser.scroll_width() <= 390`` to pin "no horizontal scrolling on a phone"."""
    assert browser.viewport_width() == 390
    browser.load(_page(tmp_path, "fits.html", ""))
    assert browser.viewport_width() == 390
    assert browser.scroll_width() == 390
    browser.load(_page(tmp_path, "wide.html", '<div class="wide"></div>'))
    assert browser.scroll_width() == 600
    browser.set_size(1280, 800)
    browser.load(_page(tmp_path, "wide2.html", '<div class="wide"></div>'))
    assert browser.scroll_width() == 1280


@pytest.mark.browser
def test_browser_switches_colour_scheme_and_saves_screenshots(browser: Browser, tmp_path: Path) -> None:
    """``browser.dark()`` makes ``prefers-color-scheme: dark`` media queries apply (and ``dark(False)``
    undoes it), and ``screenshot()`` writes a real PNG: later tests can check dark-mode colours and keep
    screenshots of what a reader sees."""
    browser.load(_page(tmp_path, "scheme.html", ""))
    assert browser.style("body", "background-color") == "rgb(255, 255, 255)"
    browser.dark()
    assert browser.style("body", "background-color") == "rgb(0, 0, 0)"
    shot = browser.screenshot(tmp_path / "shots" / "dark.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    browser.dark(False)
    assert browser.style("body", "background-color") == "rgb(255, 255, 255)"


@pytest.mark.browser
def test_browser_starts_each_test_light_and_blank(browser: Browser, tmp_path: Path) -> None:
    """Each test gets the tab at phone width, light scheme, on a blank page, whatever the test before it left
    behind (the chromium process is shared by the session; the fixture calls ``reset()`` between tests)."""
    assert browser.driver.current_url == "about:blank"
    assert browser.viewport_width() == 390
    assert browser.js("return matchMedia('(prefers-color-scheme: dark)').matches") is False
    browser.set_size(1280, 800)
    browser.dark()
    browser.load(_page(tmp_path, "left.html", ""))
    assert browser.js("return matchMedia('(prefers-color-scheme: dark)').matches") is True
    browser.reset()
    assert browser.driver.current_url == "about:blank"
    assert browser.viewport_width() == 390
    assert browser.js("return matchMedia('(prefers-color-scheme: dark)').matches") is False


@pytest.mark.postgres
def test_postgres_url_is_a_fresh_writable_database(postgres_url: str) -> None:
    """``postgres_url`` is a SQLAlchemy ``postgresql+psycopg`` URL of an empty database on a real
    PostgreSQL server: tables can be created, written and read back, and nothing from another test is there."""
    assert postgres_url.startswith("postgresql+psycopg://")
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            assert (
                conn.execute(sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar()
                == 0
            )
            assert "PostgreSQL" in str(conn.execute(sa.text("SELECT version()")).scalar())
            conn.execute(sa.text("CREATE TABLE marker (day text PRIMARY KEY)"))
            conn.execute(sa.text("INSERT INTO marker VALUES ('07-12')"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT day FROM marker")).scalars().all() == ["07-12"]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_databases_are_separate_per_test(postgres_url: str, postgres_server: PgServer) -> None:
    """Two tests never share a database: the server holds this test's database and ``create_database()``
    makes another, different, empty one (the earlier test's table is not visible here either)."""
    other = postgres_server.create_database()
    try:
        assert postgres_server.url(other) != postgres_url
        engine = sa.create_engine(postgres_url)
        try:
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT to_regclass('marker')")).scalar() is None
        finally:
            engine.dispose()
    finally:
        postgres_server.drop_database(other)
