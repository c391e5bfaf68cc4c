"""Headless Debian chromium for tests, driven through selenium with the Debian chromedriver.

One chromium runs per test session; the ``browser`` fixture hands each test a :class:`Browser` reset to a
blank page, a phone-width viewport (390 x 844 CSS px) and the light colour scheme. Nothing is downloaded:
the driver is ``/usr/bin/chromedriver`` (given explicitly, so selenium's driver manager never runs).

When chromium or its driver is missing the tests that use the fixture skip with a message naming the
Debian packages (``scripts/test`` installs them when run as root); under ``CI=true`` they fail instead,
so CI proves the browser tests really ran.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PHONE = (390, 844)
"""A phone's viewport in CSS px (an iPhone 12-15): the width the site must fit without sideways scrolling."""
DESKTOP = (1280, 800)

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_NAMES = ("chromium", "chromium-browser")


def skip_or_fail(message: str) -> None:
    """Skip the test with ``message``, or fail it when running under CI (``CI=true``), where every tool the
    suite needs is installed and a skip would hide a test that never ran."""
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(message + " (CI=true: required here, not skipped)", pytrace=False)
    pytest.skip(message)


def find_chromium() -> tuple[str, str] | None:
    """The paths of the chromium binary and of its chromedriver, or None when either is missing."""
    binary = next((p for p in (shutil.which(n) for n in CHROMIUM_NAMES) if p), None)
    driver = CHROMEDRIVER if os.access(CHROMEDRIVER, os.X_OK) else shutil.which("chromedriver")
    if binary is None or driver is None:
        return None
    return binary, driver


class Browser:
    """One chromium tab. ``driver`` is the selenium WebDriver, for anything the helpers do not cover."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.width, self.height = PHONE

    def set_size(self, width: int, height: int | None = None, *, mobile: bool = False) -> None:
        """Make the viewport exactly ``width`` x ``height`` CSS px (device scale 1). With ``mobile=True``
        chromium also behaves like a phone browser: it honours ``<meta name="viewport">`` (a page without
        one is laid out 980 px wide and scaled down, as on a real phone)."""
        self.width, self.height = width, height if height is not None else self.height
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": mobile},
        )

    def load(self, target: str | Path) -> None:
        """Open a page: a file path (made an absolute file:// URL) or an http(s):// or file:// URL.
        Returns once the document has loaded (selenium waits for the load event)."""
        url = target.resolve().as_uri() if isinstance(target, Path) else target
        self.driver.get(url)

    def js(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body: use ``return``) in the page and give back its result."""
        return self.driver.execute_script(script, *args)

    def scroll_width(self) -> int:
        """The document's full width (``document.documentElement.scrollWidth``): more than the viewport
        width means the page scrolls sideways."""
        return int(self.js("return document.documentElement.scrollWidth"))

    def viewport_width(self) -> int:
        """The layout viewport's width (``document.documentElement.clientWidth``)."""
        return int(self.js("return document.documentElement.clientWidth"))

    def dark(self, on: bool = True) -> None:
        """Emulate the reader's ``prefers-color-scheme: dark`` (or light, with ``on=False``) through the
        DevTools protocol; stylesheets' media queries react without a reload."""
        self.cdp(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": "dark" if on else "light"}]},
        )

    def style(self, selector: str, prop: str) -> str:
        """The computed value of CSS property ``prop`` on the first element matching ``selector``."""
        value = self.js(
            "const e = document.querySelector(arguments[0]);"
            "return e ? getComputedStyle(e).getPropertyValue(arguments[1]) : null;",
            selector,
            prop,
        )
        if value is None:
            raise AssertionError(f"no element matches {selector!r} on {self.driver.current_url}")
        return str(value)

    def screenshot(self, path: str | Path) -> Path:
        """Save what the viewport shows as a PNG at ``path`` and return the path."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not self.driver.save_screenshot(str(out)):
            raise AssertionError(f"chromium could not save a screenshot to {out}")
        return out

    def cdp(self, command: str, params: dict[str, Any]) -> Any:
        """Send one DevTools protocol command to the tab."""
        return self.driver.execute_cdp_cmd(command, params)

    def reset(self) -> None:
        """Back to a blank page at phone width in the light scheme (between tests)."""
        self.driver.get("about:blank")
        self.cdp("Emulation.setEmulatedMedia", {"features": []})
        self.set_size(*PHONE)


def start_chromium() -> Any:
    """Start headless chromium under the Debian chromedriver, or skip/fail when it is not installed."""
    found = find_chromium()
    if found is None:
        skip_or_fail(
            "headless chromium is not installed: apt-get install chromium chromium-driver "
            "(bash scripts/test does this when run as root)"
        )
        raise AssertionError("unreachable")  # pragma: no cover - skip_or_fail raises
    binary, driver_path = found
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in (
        "--headless=new",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
    ):
        options.add_argument(arg)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # chromium refuses to run as root with its sandbox on
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


@pytest.fixture(scope="session")
def _chromium_session() -> Iterator[Any]:
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(_chromium_session: Any) -> Browser:
    """A headless chromium tab at phone width (390 px), light scheme, on a blank page. Tests using it
    should be marked ``@pytest.mark.slow`` and ``@pytest.mark.browser``."""
    tab = Browser(_chromium_session)
    tab.reset()
    return tab
