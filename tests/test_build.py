"""`thisday build`: the feeds/ site for a day, every configured feed, written atomically and reproducibly.
Every feed written here is parsed by feedparser with no bozo flag; a build killed midway leaves the previous
feeds intact."""

from __future__ import annotations

import dataclasses
import datetime
import os
import random
import re
import signal
import subprocess
import sys
import zoneinfo
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner

from thisday.cli import main
from thisday.config import FeedSettings, Settings, load_settings
from thisday.entries import load_tree
from thisday.errors import PublishError
from thisday.feeds import window
from thisday.index import CalendarIndex
from thisday.layout import published_feeds
from thisday.model import Kind
from thisday.publish import build_site, closed_archives, evergreen_current, render_site
from thisday.selection import day_selection
from thisday.switches import STALL_ENV

FIXTURES = Path(__file__).parent / "fixtures" / "entries"
BASE = "https://history.example.org/"
CONFIG = f"""\
timezone = "Europe/Berlin"
entries = "{FIXTURES.as_posix()}"

[site]
title = "History Daily"
base_url = "{BASE}"

[[feeds]]
name = "births"
kinds = ["birth"]
items = "entry"

[[feeds]]
name = "ww2"
tags = ["world-war-ii"]
"""
NOW = "2026-07-12T06:00:00+02:00"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "thisday.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def run(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.stdout, result.stderr


def site_files(feeds: Path) -> dict[str, bytes]:
    """Every file under feeds/ by relative path (temporary files included: there must be none)."""
    return {p.relative_to(feeds).as_posix(): p.read_bytes() for p in sorted(feeds.rglob("*")) if p.is_file()}


def assert_feeds_parse(feeds: Path) -> dict[str, feedparser.FeedParserDict]:
    parsed = {}
    for path in sorted(feeds.glob("*.atom")) + sorted(feeds.glob("*.rss")):
        result = feedparser.parse(path.read_bytes())
        assert not result.bozo, f"{path.name}: {result.get('bozo_exception')}"
        parsed[path.name] = result
    assert parsed, f"no feeds in {feeds}"
    return parsed


def test_build_writes_every_configured_feed_and_the_site(config: Path) -> None:
    """The default feed plus each [[feeds]] as Atom, RSS, JSON Feed and calendar, their monthly archives,
    index.html, 14 day pages, their month pages, their day API files and the 366 evergreen ones; links resolve."""
    code, out, err = run(config, "build", "2026-07-12", "--now", NOW)
    assert code == 0, err
    assert out == (
        f"2026-07-12: wrote 415 files to {config.parent / 'feeds'} "
        "(onthisday.atom/.rss/.json/.ics, births.atom/.rss/.json/.ics, ww2.atom/.rss/.json/.ics)\n"
    )
    feeds = config.parent / "feeds"
    files = site_files(feeds)
    assert {name for name in files if not name.startswith(("days/", "api/"))} == {
        "index.html",
        "months/2026-06.html",
        "months/2026-07.html",
        *(f"{name}.{fmt}" for name in ("onthisday", "births", "ww2") for fmt in ("atom", "rss", "json", "ics")),
        *(f"archive/{name}-2026-{m}.atom" for name in ("onthisday", "births", "ww2") for m in ("06", "07")),
    }
    assert len([name for name in files if name.startswith("api/onthisday/")]) == 366
    assert len([name for name in files if name.startswith("api/days/")]) == 14
    assert sorted(name for name in files if name.startswith("days/")) == [
        f"days/2026-{d.month:02}-{d.day:02}.html"
        for d in (datetime.date(2026, 6, 29) + datetime.timedelta(days=i) for i in range(14))
    ]
    parsed = assert_feeds_parse(feeds)
    births = parsed["births.atom"]
    assert [e.title.split(": ", 1)[1] for e in births.entries] == [
        "Julius Caesar is born",
        "Henry David Thoreau is born",
    ]
    assert [e.title for e in parsed["ww2.rss"].entries] == [
        "12 July 2026: on this day in 1942, Andrey Vlasov is captured by German forces"
    ]
    for feed in parsed.values():
        for entry in feed.entries:
            page = entry.link.removeprefix(BASE).split("#")[0]
            assert page in files, f"{entry.link} points to no page"
            anchor = entry.link.partition("#")[2]
            assert not anchor or f'id="{anchor}"'.encode() in files[page]
    index = files["index.html"].decode("utf-8")
    assert '<link rel="alternate" type="application/atom+xml" title="History Daily' in index
    for name in ("onthisday", "births", "ww2"):
        for fmt in ("atom", "rss"):
            assert f'href="{BASE}{name}.{fmt}"' in index


def test_rebuild_is_byte_identical_and_leaves_no_temporary_files(config: Path) -> None:
    """The same entries and publish time give byte-identical files; nothing half-written stays behind."""
    assert run(config, "build", "2026-07-12", "--now", NOW)[0] == 0
    first = site_files(config.parent / "feeds")
    assert run(config, "build", "2026-07-12", "--now", NOW)[0] == 0
    second = site_files(config.parent / "feeds")
    assert first == second
    assert not [name for name in second if name.rsplit("/", 1)[-1].startswith(".")]


def test_rebuilding_and_moving_on_never_duplicates_items(config: Path) -> None:
    """Building a day again, then the next day, keeps one item per day per feed, with the same ids."""
    feeds = config.parent / "feeds"
    assert run(config, "build", "2026-07-12", "--now", NOW)[0] == 0
    assert run(config, "build", "2026-07-12", "--now", "2026-07-12T09:30:00+02:00")[0] == 0
    day_one = assert_feeds_parse(feeds)
    assert run(config, "build", "2026-07-13", "--now", "2026-07-13T06:00:00+02:00")[0] == 0
    day_two = assert_feeds_parse(feeds)
    for name, feed in day_two.items():
        ids = [e.id for e in feed.entries]
        assert len(ids) == len(set(ids))
        assert {e.id for e in day_one[name].entries} <= set(ids)
    atom = day_two["onthisday.atom"]
    assert atom.feed.updated == "2026-07-13T04:00:00+00:00"


def test_days_option_sets_the_window(config: Path) -> None:
    """--days N keeps N days in every feed and writes N day pages."""
    assert run(config, "build", "2026-07-14", "--days", "2", "--now", "2026-07-14T06:00:00+02:00")[0] == 0
    feeds = config.parent / "feeds"
    assert sorted(p.name for p in (feeds / "days").iterdir()) == ["2026-07-13.html", "2026-07-14.html"]
    assert all(not f.entries for f in assert_feeds_parse(feeds).values())  # 12 July is outside the window


@pytest.mark.parametrize(("fmt", "feed", "path"), [
    ("atom", None, "onthisday.atom"),
    ("rss", None, "onthisday.rss"),
    ("rss", "births", "births.rss"),
    ("html", None, "days/1999-07-12.html"),
])  # fmt: skip
def test_preview_prints_what_build_writes(config: Path, fmt: str, feed: str | None, path: str) -> None:
    """`preview DATE --format atom|rss|html` prints exactly the file `build DATE` writes."""
    assert run(config, "build", "1999-07-12")[0] == 0
    args = ["preview", "1999-07-12", "--format", fmt, *(["--feed", feed] if feed else [])]
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == (config.parent / "feeds" / path).read_bytes()


def test_preview_of_an_unknown_feed_is_a_usage_error(config: Path) -> None:
    """--feed must name a configured feed; --kind/--tag do not apply to feed previews."""
    code, _, err = run(config, "preview", "1999-07-12", "--format", "atom", "--feed", "nope")
    assert code == 2 and "no feed named 'nope'" in err and "births" in err
    code, _, err = run(config, "preview", "1999-07-12", "--format", "rss", "--kind", "birth")
    assert code == 2 and "--feed" in err


def test_build_runs_with_no_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no thisday.toml, `thisday build` writes today's feeds to ./feeds from ./entries."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "entries").symlink_to(FIXTURES)
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 0, result.stderr
    parsed = assert_feeds_parse(tmp_path / "feeds")
    assert set(parsed) == {"onthisday.atom", "onthisday.rss"}
    assert parsed["onthisday.atom"].feed.title == "On this day"


def test_the_default_feed_is_always_published(tmp_path: Path) -> None:
    """[[feeds]] tables add feeds beside the default one; a table named like the default changes it."""
    path = tmp_path / "thisday.toml"
    path.write_text('[[feeds]]\nname = "births"\nkinds = ["birth"]\n', encoding="utf-8")
    assert [f.name for f in published_feeds(load_settings(path))] == ["onthisday", "births"]
    path.write_text('[[feeds]]\nname = "onthisday"\ntitle = "Daily"\ndays = 7\n', encoding="utf-8")
    assert published_feeds(load_settings(path)) == (FeedSettings(title="Daily", days=7),)


def test_an_unwritable_feeds_folder_is_a_one_line_error(tmp_path: Path) -> None:
    """When feeds/ cannot be written, the build stops with a PublishError naming the file and the fix."""
    blocker = tmp_path / "feeds"
    blocker.write_text("not a folder", encoding="utf-8")
    settings = Settings(entries=FIXTURES, feeds_dir=blocker, timezone="UTC")
    index = CalendarIndex.build(load_tree(FIXTURES).entries)
    now = datetime.datetime(2026, 7, 12, 6, tzinfo=datetime.UTC)
    with pytest.raises(PublishError, match=r"cannot write .*feeds/.*check that its folder is writable"):
        build_site(settings, index, datetime.date(2026, 7, 12), now)


def test_build_site_reports_each_file_in_writing_order(tmp_path: Path) -> None:
    """Day pages are written first, then month pages, the day API, archives, the feeds and their calendars, the
    evergreen API and index.html last, so no link points to a missing file."""
    settings = Settings(
        entries=FIXTURES, feeds_dir=tmp_path / "feeds", timezone="UTC", feeds=(FeedSettings(days=2),)
    )
    index = CalendarIndex.build(load_tree(FIXTURES).entries)
    seen: list[str] = []
    now = datetime.datetime(2026, 7, 12, 6, tzinfo=datetime.UTC)
    written = build_site(
        settings, index, datetime.date(2026, 7, 12), now, progress=lambda p: seen.append(p.name)
    )
    assert seen == [
        "2026-07-11.html",
        "2026-07-12.html",
        "2026-07.html",
        "2026-07-11.json",
        "2026-07-12.json",
        "onthisday-2026-07.atom",
        "onthisday.atom",
        "onthisday.rss",
        "onthisday.json",
        "onthisday.ics",
        *(f"{d:%m-%d}.json" for d in (datetime.date(2000, 1, 1) + datetime.timedelta(days=n) for n in range(366))),
        "index.html",
    ]
    assert [p.name for p in written] == seen


# ---------------------------------------------------------------------------------------------
# Killed builds


def cli(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "thisday", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def build_ok(config: Path, *args: str) -> None:
    """A complete `thisday build` in its own process."""
    subprocess.run(
        [sys.executable, "-m", "thisday", "--config", str(config), "build", *args],
        check=True,
        capture_output=True,
    )


def kill_when_stalled(build: subprocess.Popen[str]) -> None:
    """Wait (reading its stderr, no clock) until the build says it stalled, then kill -9 it."""
    assert build.stderr is not None
    for line in build.stderr:
        if "stalled after" in line:
            break
    else:
        pytest.fail(f"the build never stalled (exit {build.wait()})")
    build.send_signal(signal.SIGKILL)
    assert build.wait() == -signal.SIGKILL
    build.stderr.close()
    if build.stdout is not None:
        build.stdout.close()


def expected_files(config: Path, on: datetime.date, now: str) -> dict[str, bytes]:
    """What a complete build of ``on`` at ``now`` writes after a first build on 11 July (rendered in-process,
    written nowhere): the site's first published day is the start of that first build's window, 28 June, and the
    archives of months that are over, already in feeds/, are left alone."""
    state = os.environ.get("THISDAY_STATE_DIR")  # the commands' own state folder (see conftest)
    settings = load_settings(config, state_dir=Path(state) if state else None)
    index = CalendarIndex.build(load_tree(settings.entries).entries)
    publish = datetime.datetime.fromisoformat(now).astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
    closed = closed_archives(config.parent / "feeds")
    # as the build does: the evergreen day API and calendars only when what they are built from changed
    evergreen = not evergreen_current(settings, on)
    return dict(
        render_site(
            settings, index, on, publish, since=datetime.date(2026, 6, 28), closed=closed, evergreen=evergreen
        )
    )


def assert_old_or_new(feeds: Path, old: dict[str, bytes], new: dict[str, bytes]) -> dict[str, str]:
    """Every file is whole: byte-identical to the previous build or to the new one. Returns which, per file."""
    assert_feeds_parse(feeds)
    state = {}
    for name, data in site_files(feeds).items():
        if name.rsplit("/", 1)[-1].startswith("."):
            continue  # a temporary file the kill interrupted: never served, never a feed
        assert data in (old.get(name), new.get(name)), f"{name} is neither the old nor the new file"
        state[name] = "new" if data == new.get(name) and data != old.get(name) else "old"
    return state


@pytest.mark.slow
@pytest.mark.parametrize("stall_at", ["days/2026-06-29.html", "onthisday.atom", "births.atom"])
def test_a_build_killed_midway_leaves_the_previous_feeds_intact(config: Path, stall_at: str) -> None:
    """Kill -9 a real `thisday build` between files: every feed is the previous or the new one, never partial.

    The test switch THISDAY_TEST_STALL_AFTER=N makes the build stop after N files until it is killed:
    after the first file (a day page) every feed is still the previous build's; after the default Atom feed
    it is new and its RSS twin still old.
    """
    feeds = config.parent / "feeds"
    build_ok(config, "2026-07-11", "--now", "2026-07-11T06:00:00+02:00")
    old = site_files(feeds)
    new = expected_files(config, datetime.date(2026, 7, 12), NOW)
    stall_after = list(new).index(stall_at) + 1
    kill_when_stalled(cli(config, "build", "2026-07-12", "--now", NOW, env={STALL_ENV: str(stall_after)}))
    state = assert_old_or_new(feeds, old, new)
    feeds_state = {name: state[name] for name in state if not name.endswith(".html")}
    feed_files = {name: value for name, value in feeds_state.items() if name.endswith((".atom", ".rss")) and "/" not in name}
    if stall_after == 1:
        assert set(feed_files.values()) == {"old"}
    if stall_at == "onthisday.atom":
        assert feed_files["onthisday.atom"] == "new" and feed_files["onthisday.rss"] == "old"
    if stall_at == "births.atom":
        assert feed_files["births.atom"] == "new" and feed_files["ww2.atom"] == "old"


@pytest.mark.slow
def test_builds_killed_at_random_points_leave_exactly_the_files_written_so_far(config: Path) -> None:
    """Killed after a random number of files (seeded), a build has replaced exactly the files it got to,
    in writing order, and every other file is still the previous build's."""
    feeds = config.parent / "feeds"
    build_ok(config, "2026-07-11", "--now", "2026-07-11T06:00:00+02:00")
    old = site_files(feeds)
    order = list(expected_files(config, datetime.date(2026, 7, 12), NOW))
    new = expected_files(config, datetime.date(2026, 7, 12), NOW)
    for stall_after in random.Random(20260712).sample(range(1, len(order)), 4):
        kill_when_stalled(cli(config, "build", "2026-07-12", "--now", NOW, env={STALL_ENV: str(stall_after)}))
        assert_old_or_new(feeds, old, new)
        current = site_files(feeds)
        assert [current[name] for name in order[:stall_after]] == [new[name] for name in order[:stall_after]]
        assert [current.get(name) for name in order[stall_after:]] == [
            old.get(name) for name in order[stall_after:]
        ]
        for name in order:  # back to the previous day's site for the next round
            if name in old:
                (feeds / name).write_bytes(old[name])
            else:
                (feeds / name).unlink(missing_ok=True)


def test_feeds_do_not_depend_on_the_machines_zone(tmp_path: Path) -> None:
    """With no timezone configured, the same DATE and --now give byte-identical feeds on a machine in UTC and one
    in Asia/Tokyo: feed times are written in UTC, and the zone is resolved once, in the settings."""
    (tmp_path / "thisday.toml").write_text(
        f'entries = "{FIXTURES.as_posix()}"\n[site]\nbase_url = "{BASE}"\n', encoding="utf-8"
    )
    outputs = []
    for zone in ("UTC", "Asia/Tokyo"):
        feeds = tmp_path / f"feeds-{zone.replace('/', '-')}"
        env = {**os.environ, "TZ": zone, "THISDAY_STATE_DIR": str(tmp_path / f"state-{zone[:3]}")}
        subprocess.run(
            [sys.executable, "-m", "thisday", "--config", str(tmp_path / "thisday.toml"), "build", "2026-07-12",
             "--now", NOW],
            check=True, env=env, cwd=tmp_path, capture_output=True,
        )
        (tmp_path / "feeds").rename(feeds)
        outputs.append({p.name: p.read_bytes() for p in sorted(feeds.glob("*.*"))})
    assert outputs[0].keys() == outputs[1].keys() and outputs[0]["onthisday.atom"]
    assert outputs[0] == outputs[1]


def test_a_build_renders_each_body_once() -> None:
    """However many pages and feed items show an entry (its day page, the index, three feeds in two formats),
    a build renders its Markdown body once."""
    from thisday.views import Views

    settings = load_settings(None, entries=FIXTURES)
    settings = dataclasses.replace(
        settings,
        feeds=(FeedSettings(), FeedSettings(name="births", kinds=(Kind.BIRTH,), items="entry")),
    )
    index = CalendarIndex.build(load_tree(FIXTURES).entries)
    views = Views(settings)
    on = datetime.date(2026, 7, 12)
    now = datetime.datetime(2026, 7, 12, 6, tzinfo=datetime.UTC)
    files = list(render_site(settings, index, on, now, views=views))
    bodies = {
        (occ.entry.id, occ.entry.body)
        for d in window(on, 14)
        for occ in day_selection(index, d, settings).occurrences
    }
    assert len(files) > 14 and len(bodies) > 3
    assert views.renders == len(bodies)


def test_a_build_ahead_of_time_does_not_stand_in_for_the_days_scheduled_build(config: Path) -> None:
    """`thisday build` for a day whose publish time has not come writes the files but records nothing, so the
    daemon still builds that day when it is due; a build for a past day is recorded as that day's publication."""
    from thisday.ledger import FEEDS_CHANNEL, Ledger

    assert run(config, "build", "2099-07-12")[0] == 0
    assert run(config, "build", "2026-07-12", "--now", NOW)[0] == 0
    state = Path(os.environ["THISDAY_STATE_DIR"])
    with Ledger.from_settings(load_settings(config, state_dir=state)) as ledger:
        assert ledger.get(datetime.date(2099, 7, 12), FEEDS_CHANNEL) is None
        done = ledger.get(datetime.date(2026, 7, 12), FEEDS_CHANNEL)
        assert done is not None and done.status.value == "done"


def test_an_offline_build_writes_the_same_site_as_the_recorded_one(config: Path, tmp_path: Path) -> None:
    """With the database unreachable, a host builds its own site from its entries (runner.publish_offline): the
    same bytes as the recorded build of that day, evergreen day API and calendars included."""
    from thisday.ledger import Ledger
    from thisday.runner import publish_due, publish_offline

    settings = load_settings(config, state_dir=Path(os.environ["THISDAY_STATE_DIR"]))
    now = datetime.datetime(2026, 7, 12, 9, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))
    with Ledger.from_settings(settings) as ledger:
        publish_due(settings, now, ledger)
    recorded = site_files(config.parent / "feeds")
    offline = dataclasses.replace(settings, feeds_dir=tmp_path / "offline")
    publish_offline(offline, now)
    assert site_files(tmp_path / "offline") == recorded
    assert any(name.startswith("api/onthisday/") for name in recorded)


def test_translated_pages_link_to_month_pages_that_exist(tmp_path: Path) -> None:
    """With a second site language, a German day page's link to its month leads to a page the build wrote."""
    (tmp_path / "thisday.toml").write_text(
        f'entries = "{FIXTURES.as_posix()}"\n[site]\nbase_url = "{BASE}"\nlanguages = ["en", "de"]\n',
        encoding="utf-8",
    )
    assert run(tmp_path / "thisday.toml", "build", "2026-07-12", "--now", NOW)[0] == 0
    page = (tmp_path / "feeds" / "de" / "days" / "2026-07-12.html").read_text(encoding="utf-8")
    link = re.search(r'href="([^"]*months/[^"]*)"', page)
    assert link and link.group(1).startswith(BASE), link
    assert (tmp_path / "feeds" / link.group(1).removeprefix(BASE)).is_file()
