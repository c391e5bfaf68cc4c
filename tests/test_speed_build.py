"""A build that finds the entries unchanged keeps the 366 evergreen API files and the calendars it wrote before
(a fingerprint in the state folder), and still shows every change: an edited entry, a missing file, an embargo
that ended. Nothing here is timed: these pin what the files say, whichever way the build took."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from click.testing import CliRunner

from thisday.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "entries"


def make_site(folder: Path) -> Path:
    entries = folder / "entries"
    shutil.copytree(FIXTURES, entries)
    config = folder / "thisday.toml"
    config.write_text(
        f'timezone = "Europe/Berlin"\nentries = "{entries.as_posix()}"\nstate_dir = "state"\n'
        '[site]\nbase_url = "https://history.example.org/"\n',
        encoding="utf-8",
    )
    return config


def build(config: Path, day: str) -> None:
    result = CliRunner().invoke(main, ["--config", str(config), "build", day, "--now", f"{day}T06:00:00+02:00"])
    assert result.exit_code == 0, result.output


def evergreen(feeds: Path) -> dict[str, bytes]:
    """The evergreen API files, and the calendar without its build stamps (DTSTAMP is the build's time)."""
    files = {p.name: p.read_bytes() for p in sorted((feeds / "api" / "onthisday").glob("*.json"))}
    files["onthisday.ics"] = re.sub(rb"DTSTAMP:[0-9TZ]+", b"DTSTAMP:-", (feeds / "onthisday.ics").read_bytes())
    return files


def add_entry(config: Path, text: str) -> None:
    path = config.parent / "entries" / "days" / "added.yaml"
    path.write_text(text, encoding="utf-8")


def test_an_unchanged_build_keeps_the_evergreen_files_a_full_build_would_write(tmp_path: Path) -> None:
    """Building the next day without any change to the entries gives the same evergreen API files and calendar
    events as a first build of that day in a fresh folder."""
    kept = make_site(tmp_path / "kept")
    build(kept, "2026-07-12")
    build(kept, "2026-07-13")
    fresh = make_site(tmp_path / "fresh")
    build(fresh, "2026-07-13")
    assert evergreen(kept.parent / "feeds") == evergreen(fresh.parent / "feeds")
    assert len(evergreen(kept.parent / "feeds")) == 367


def test_an_entry_edited_far_from_the_window_reaches_the_day_api_and_calendar(tmp_path: Path) -> None:
    """An entry added on a day outside the build's window (3 March, built in July) appears in
    api/onthisday/03-03.json and in the calendar on the next build."""
    config = make_site(tmp_path)
    feeds = tmp_path / "feeds"
    build(config, "2026-07-12")
    assert b"Marconi" not in (feeds / "api" / "onthisday" / "03-03.json").read_bytes()
    add_entry(config, '- title: Marconi sends a wireless message\n  date: "1899-03-03"\n')
    build(config, "2026-07-13")
    assert b"Marconi sends a wireless message" in (feeds / "api" / "onthisday" / "03-03.json").read_bytes()
    assert b"Marconi sends a wireless message" in (feeds / "onthisday.ics").read_bytes()


def test_an_evergreen_file_removed_from_feeds_is_written_again(tmp_path: Path) -> None:
    """A day API file deleted from feeds/ between two builds (entries unchanged) is back after the next build,
    with the same bytes."""
    config = make_site(tmp_path)
    target = tmp_path / "feeds" / "api" / "onthisday" / "03-15.json"
    build(config, "2026-07-12")
    before = target.read_bytes()
    target.unlink()
    build(config, "2026-07-13")
    assert target.read_bytes() == before


def test_an_embargo_that_ends_shows_the_entry_without_any_file_changing(tmp_path: Path) -> None:
    """An entry held until 20 July is absent from the day API built on 12 July, and present in the build of
    21 July although no entry file changed in between."""
    config = make_site(tmp_path)
    add_entry(
        config, '- title: Marconi sends a wireless message\n  date: "1899-03-03"\n  publish_after: "2026-07-20"\n'
    )
    day_file = tmp_path / "feeds" / "api" / "onthisday" / "03-03.json"
    build(config, "2026-07-12")
    assert b"Marconi" not in day_file.read_bytes()
    build(config, "2026-07-19")
    assert b"Marconi" not in day_file.read_bytes()
    build(config, "2026-07-21")
    assert b"Marconi sends a wireless message" in day_file.read_bytes()


def test_the_index_answers_days_with_one_query(tmp_path: Path) -> None:
    """Loading a day (a preview) or all 366 (a full build) reads the index with one SELECT of entries, and gives
    the same entries as reading the folder whole: each day's, in order, and the moveable feasts."""
    import datetime

    from thisday.entries import load_tree
    from thisday.index import CalendarIndex
    from thisday.indexcache import IndexStore
    from thisday.model import Feb29Policy
    from thisday.publish import index_days

    with IndexStore(tmp_path / "index.sqlite", FIXTURES) as store:
        store.refresh()
        statements: list[str] = []
        store._db.set_trace_callback(statements.append)
        day = store.calendar([datetime.date(2026, 7, 12)], Feb29Policy.FEB28)
        assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1, statements
        statements.clear()
        year = store.calendar(index_days(), Feb29Policy.FEB28)
        assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1, statements
    whole = CalendarIndex.build(load_tree(FIXTURES).entries)
    assert year.by_day == whole.by_day
    assert list(year.by_day) == sorted(whole.by_day)
    assert year.moveable == whole.moveable
    assert day.by_day[(7, 12)] == whole.by_day[(7, 12)]
