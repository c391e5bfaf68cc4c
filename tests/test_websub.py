"""WebSub, as a hub sees it: with site.websub_hub set every feed carries rel="hub" and rel="self" links, and each
run after a build that changed feeds pings the hub once per changed feed (hub.mode=publish, hub.url=the feed),
recorded in the ledger: a failed ping is retried by the next run, and a repeated identical build pings nothing.
The hub is a real HTTP server on loopback that records what it receives."""

from __future__ import annotations

import dataclasses
import datetime
import http.server
import re
import threading
import urllib.parse
import zoneinfo
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from test_feeds import assert_parses, settings_for, w3c_problems
from thisday.channels import Loaded, Run
from thisday.channels.feeds import FeedsChannel
from thisday.channels.websub import WebSubChannel
from thisday.config import DaemonSettings, FeedSettings, Settings, load_settings
from thisday.entries import load_tree
from thisday.errors import ConfigError
from thisday.index import CalendarIndex
from thisday.ledger import Ledger, Status
from thisday.model import Kind
from thisday.runner import publish_due

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
BASE = "https://history.example.org/daily/"
FEEDS = ["onthisday.atom", "onthisday.rss", "onthisday.json", "births.atom", "births.rss", "births.json"]


@dataclass
class Hub:
    """A loopback WebSub hub: records every POST (content type and form fields); answers ``statuses`` in turn."""

    url: str = ""
    pings: list[dict[str, list[str]]] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def urls(self) -> list[str]:
        return [ping["hub.url"][0] for ping in self.pings]


@pytest.fixture
def hub() -> Iterator[Hub]:
    recorded = Hub()
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode("ascii")
            with lock:
                status = recorded.statuses.pop(0) if recorded.statuses else 204
                if status < 300:
                    recorded.pings.append(urllib.parse.parse_qs(body, strict_parsing=True))
                    recorded.content_types.append(self.headers.get("Content-Type", ""))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorded.url = f"http://127.0.0.1:{server.server_address[1]}/hub"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield recorded
    server.shutdown()
    server.server_close()
    thread.join()


def configured(tmp_path: Path, hub: Hub) -> Settings:
    settings = settings_for(websub_hub=hub.url)
    return dataclasses.replace(
        settings,
        feeds_dir=tmp_path / "feeds",
        state_dir=tmp_path / "state",
        feeds=(FeedSettings(), FeedSettings(name="births", kinds=(Kind.BIRTH,))),
        daemon=DaemonSettings(ledger_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}"),
    )


def at(day: int, hour: int = 6) -> datetime.datetime:
    return datetime.datetime(2026, 7, day, hour, tzinfo=BERLIN)


def run(settings: Settings, ledger: Ledger, now: datetime.datetime) -> list[str]:
    """One daemon run on the feeds and WebSub channels (the build, then the pings); the errors reported."""
    report = publish_due(settings, now, ledger, channels=[FeedsChannel(), WebSubChannel()])
    return report.errors


def test_every_feed_names_the_hub_and_itself(tmp_path: Path, hub: Hub) -> None:
    """Atom and RSS carry rel="hub" (the configured hub) and rel="self" (their own URL), and stay valid."""
    settings = configured(tmp_path, hub)
    with Ledger(settings.ledger_url()) as ledger:
        assert run(settings, ledger, at(12)) == []
    for name in ("onthisday", "births"):
        feed = next(f for f in settings.feeds if f.name == name)
        for fmt in ("atom", "rss"):
            data = (settings.feeds_dir / f"{name}.{fmt}").read_bytes()
            links = {(link["rel"], link["href"]) for link in assert_parses(data).feed.links}
            assert ("hub", hub.url) in links
            assert ("self", f"{BASE}{name}.{fmt}") in links
            assert w3c_problems(data, settings, feed, fmt) == []


def test_each_change_is_pinged_exactly_once(tmp_path: Path, hub: Hub) -> None:
    """The first run pings every feed; a run with nothing new and a repeated identical build ping nothing; the
    next day's build pings once more each feed whose bytes changed, and only those (form-encoded,
    hub.mode=publish)."""
    settings = configured(tmp_path, hub)
    with Ledger(settings.ledger_url()) as ledger:
        assert run(settings, ledger, at(12)) == []
        assert hub.urls() == [BASE + name for name in FEEDS]
        assert all(ping["hub.mode"] == ["publish"] for ping in hub.pings)
        assert set(hub.content_types) == {"application/x-www-form-urlencoded"}
        assert run(settings, ledger, at(12, 9)) == []
        again = Run(settings, ledger, at(12), loader(settings))
        FeedsChannel().publish(again, datetime.date(2026, 7, 12), [datetime.date(2026, 7, 12)], force=True)
        assert run(settings, ledger, at(12, 10)) == []
        assert len(hub.pings) == len(FEEDS)
        before = {name: (settings.feeds_dir / name).read_bytes() for name in FEEDS}
        assert run(settings, ledger, at(13)) == []
        changed = [name for name in FEEDS if (settings.feeds_dir / name).read_bytes() != before[name]]
        assert "onthisday.atom" in changed and "onthisday.json" not in changed  # 13 July adds no item
        assert hub.urls() == [BASE + name for name in FEEDS] + [BASE + name for name in changed]


def test_a_failed_ping_is_retried_by_the_next_run(tmp_path: Path, hub: Hub) -> None:
    """The hub answers 503 to the first ping: the run reports it and the ledger row is failed; the next run pings
    that feed again (and only that one), and the row is done."""
    settings = configured(tmp_path, hub)
    hub.statuses = [503]
    with Ledger(settings.ledger_url()) as ledger:
        errors = run(settings, ledger, at(12))
        assert len(errors) == 1 and "onthisday.atom" in errors[0] and "503" in errors[0]
        assert hub.urls() == [BASE + name for name in FEEDS[1:]]
        rows = ledger.records(channel_prefix="websub:onthisday.atom:")
        assert [r.status for r in rows] == [Status.FAILED]
        assert run(settings, ledger, at(12, 6) + datetime.timedelta(minutes=5)) == []
        assert hub.urls() == [BASE + name for name in FEEDS[1:]] + [BASE + "onthisday.atom"]
        assert [r.status for r in ledger.records(channel_prefix="websub:onthisday.atom:")] == [Status.DONE]


def test_an_unreachable_hub_fails_without_stopping_the_build(tmp_path: Path, hub: Hub) -> None:
    """With the hub down, the site is still built and each feed's ping is failed in the ledger, to be retried."""
    down = dataclasses.replace(settings_for().site, websub_hub="http://127.0.0.1:9/hub")  # discard port: refused
    settings = dataclasses.replace(configured(tmp_path, hub), site=down)
    with Ledger(settings.ledger_url()) as ledger:
        errors = run(settings, ledger, at(12))
        assert len(errors) == len(FEEDS) and all("cannot reach the hub" in e for e in errors)
        assert (settings.feeds_dir / "onthisday.atom").exists()
        health = WebSubChannel().health(Run(settings, ledger, at(12, 7), loader(settings)))
        assert len(health.failures) == len(FEEDS)


def test_without_a_hub_nothing_is_pinged(tmp_path: Path, hub: Hub) -> None:
    """No site.websub_hub: no hub links in the feeds and no pings, no ledger rows."""
    settings = dataclasses.replace(configured(tmp_path, hub), site=settings_for().site)
    with Ledger(settings.ledger_url()) as ledger:
        assert run(settings, ledger, at(12)) == []
        assert hub.pings == []
        assert ledger.records(channel_prefix="websub") == []
    assert b'rel="hub"' not in (settings.feeds_dir / "onthisday.atom").read_bytes()


def loader(settings: Settings) -> Callable[[Sequence[datetime.date]], Loaded]:
    """The fixture entries, whatever days are asked for."""
    index = CalendarIndex.build(load_tree(settings.entries).entries)
    return lambda days: Loaded(index)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('websub_hub = "ftp://hub.example/"', "site.websub_hub must be an absolute http(s) URL"),
        ('websub_hub = "hub.example"', "site.websub_hub must be an absolute http(s) URL"),
        ("calendar_years = 0", "site.calendar_years must be between 1 and 100"),
    ],
)
def test_a_bad_hub_or_calendar_span_is_a_config_error(tmp_path: Path, setting: str, message: str) -> None:
    """site.websub_hub must be an http(s) URL and site.calendar_years 1 to 100: else a ConfigError naming the file,
    the setting and the fix."""
    path = tmp_path / "thisday.toml"
    path.write_text(f"[site]\n{setting}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_settings(path)
    assert str(path) in str(caught.value)
