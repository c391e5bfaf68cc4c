"""The config loader under generated and mutated thisday.toml files: it loads, or stops with a one-line
ConfigError, and never raises anything else or takes long (hypothesis, with the known hostile inputs as
examples: tables nested deep, integers of thousands of digits, a 300-character zone, a zero timeout)."""

from __future__ import annotations

import string
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from thisday.config import load_settings
from thisday.errors import ConfigError

SECTIONS = {
    "": ["timezone", "entries", "feeds_dir", "state_dir", "templates"],
    "site": ["title", "base_url", "language", "languages", "author_email", "websub_hub", "calendar_years"],
    "selection": ["limit", "feb29", "round"],
    "digest": ["sender", "recipients", "list_id", "unsubscribe_url", "catch_up", "subscribe", "proxies"],
    "smtp": ["host", "port", "security", "timeout", "retries", "retry_delay", "connections", "rate"],
    "daemon": ["time", "catch_up_days", "ledger_url"],
    "mastodon": ["instance", "token_env", "visibility", "mode", "times", "window"],
}
scalars = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.lists(st.text(alphabet=string.ascii_letters + ":-/ ", max_size=12), max_size=3),
    st.sampled_from(["06:00", "25:00", "Europe/Berlin", "https://example.org/", "x@example.org", "", "starttls"]),
)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'


@st.composite
def config_text(draw: st.DrawFn) -> str:
    lines = []
    for section in draw(st.lists(st.sampled_from(sorted(SECTIONS)), max_size=4, unique=True)):
        if section:
            lines.append(f"[{section}]")
        for key in draw(st.lists(st.sampled_from(SECTIONS[section]), max_size=4, unique=True)):
            lines.append(f"{key} = {toml_value(draw(scalars))}")
    text = "\n".join(lines) + "\n"
    if draw(st.booleans()):  # a mutation: a character dropped, doubled or replaced
        at = draw(st.integers(min_value=0, max_value=max(len(text) - 1, 0)))
        text = text[:at] + draw(st.sampled_from(["", "[", "]", '"', "=", "\n", "\x00", "é"])) + text[at + 1 :]
    return text


def load(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "thisday.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_settings(path)
        except ConfigError as exc:
            assert "\n" not in str(exc).strip() or len(str(exc)) < 2000


@settings(max_examples=150, deadline=1000)
@given(config_text())
@example("x = " + "[" * 1000 + "]" * 1000)
@example("[selection]\nlimit = " + "9" * 5000)
@example('timezone = "' + "A" * 300 + '"')
@example("[smtp]\ntimeout = 0")
@example("[daemon]\ncatch_up_days = 99999999")
@example('[site]\nbase_url = "https://exa\\"mple.org/"')
@example("[[feeds]]\nname = 'x'\ndays = 9999999")
@example("[digest]\nrecipients = [1, 2]")
@example("[mastodon]\ninstance = 'https://m.example'\nwindow = '20:00-08:00'")
def test_the_config_loader_only_ever_loads_or_explains(text: str) -> None:
    """Whatever thisday.toml holds, loading it either works or raises one ConfigError; never another exception."""
    load(text)
