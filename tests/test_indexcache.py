"""The on-disk index: incremental, never stale, the same answers as reading everything, safe with two processes."""

from __future__ import annotations

import datetime
import json
import multiprocessing
import os
import shutil
from pathlib import Path

import pytest

import hostile
from thisday.entries import load_tree
from thisday.index import CalendarIndex
from thisday.indexcache import IndexStore, load_days
from thisday.model import Feb29Policy
from thisday.selection import select

FIXTURES = Path(__file__).parent / "fixtures" / "entries"


def tree(tmp_path: Path) -> Path:
    root = tmp_path / "entries"
    shutil.copytree(FIXTURES, root)
    return root


def test_refresh_parses_only_what_changed(tmp_path: Path) -> None:
    """A second refresh parses nothing; editing one file re-parses that file only; a deleted file's entries go."""
    root = tree(tmp_path)
    with IndexStore(tmp_path / "i.sqlite", root) as store:
        assert store.refresh().parsed == 3
        assert store.refresh().parsed == 0
        july = root / "days" / "july.yaml"
        july.write_text(
            july.read_text(encoding="utf-8").replace("Henry David Thoreau", "H. D. Thoreau"), encoding="utf-8"
        )
        stats = store.refresh()
        assert (stats.parsed, stats.removed) == (1, 0)
        titles = {e.title for e in store.full().by_day[(7, 12)]}
        assert "H. D. Thoreau is born" in titles and "Henry David Thoreau is born" not in titles
        (root / "days" / "calendar.yaml").unlink()
        assert store.refresh().removed == 1
        assert store.full().moveable == ()


def test_same_size_same_second_edit_is_seen(tmp_path: Path) -> None:
    """An edit that keeps the file size and restores the modification time is still noticed (change time, inode)."""
    root = tree(tmp_path)
    july = root / "days" / "july.yaml"
    with IndexStore(tmp_path / "i.sqlite", root) as store:
        store.refresh()
        before = july.stat()
        text = july.read_text(encoding="utf-8").replace("Concord", "Cancord")
        july.write_text(text, encoding="utf-8")
        os.utime(july, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert store.refresh().parsed == 1
        assert "Cancord" in next(e.body for e in store.full().by_day[(7, 12)] if "Thoreau" in e.title)


def test_answers_match_reading_everything(tmp_path: Path) -> None:
    """For every day of a leap year and a common year, the index gives the selection a full read gives."""
    root = tree(tmp_path)
    full = CalendarIndex.build(load_tree(root).entries)
    with IndexStore(tmp_path / "i.sqlite", root) as store:
        store.refresh()
        for year in (2027, 2028):
            day = datetime.date(year, 1, 1)
            while day.year == year:
                partial = store.calendar([day], Feb29Policy.FEB28)
                assert select(partial, day) == select(full, day), day
                day += datetime.timedelta(days=1)


def test_problems_and_duplicates_match_the_loader(tmp_path: Path) -> None:
    """check through the index reports what the plain loader reports, duplicate ids included."""
    root = tree(tmp_path)
    (root / "dup.yaml").write_text(
        "- title: Isaac Newton is born\n  date: '1642-12-25'\n  calendar: julian\n- tittle: x\n",
        encoding="utf-8",
    )
    expected = sorted(str(p) for p in load_tree(root).problems)
    loaded = load_days(root, tmp_path / "state", None, Feb29Policy.FEB28)
    assert sorted(str(p) for p in loaded.problems) == expected
    assert any("duplicate id" in p for p in expected)
    assert loaded.entries == len(load_tree(root).entries)


def _refresh(db: str, root: str) -> int:
    with IndexStore(Path(db), Path(root)) as store:
        store.refresh()
        return sum(store.day_counts().values())


def test_two_processes_at_once(tmp_path: Path) -> None:
    """Two processes refreshing the same new index at the same time both succeed and agree."""
    root = tree(tmp_path)
    for n in range(30):
        (root / f"bulk{n:02d}.yaml").write_text(
            "".join(
                f"- title: Item {n}-{i}\n  date: '1900-{1 + i % 12:02d}-{1 + i % 28:02d}'\n"
                for i in range(40)
            ),
            encoding="utf-8",
        )
    db = str(tmp_path / "shared.sqlite")
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        counts = pool.starmap(_refresh, [(db, str(root)), (db, str(root))])
    day_entries = sum(len(v) for v in CalendarIndex.build(load_tree(root).entries).by_day.values())
    assert counts[0] == counts[1] == day_entries == 30 * 40 + 7


def test_corrupt_index_is_rebuilt(tmp_path: Path) -> None:
    """A damaged index file is discarded and rebuilt, not trusted and not fatal."""
    root = tree(tmp_path)
    db = tmp_path / "i.sqlite"
    db.write_bytes(b"this is not a database" * 100)
    with IndexStore(db, root) as store:
        assert store.refresh().parsed == 3
        assert store.counts()[0] == 11


def test_json_items_are_validated_when_read_and_by_check(tmp_path: Path) -> None:
    """A cheaply indexed JSON item that is invalid never shows; reading its day or running check reports it."""
    root = tmp_path / "entries"
    root.mkdir()
    items = [
        {"title": "Good", "date": "1950-07-12"},
        {"title": "Bad", "date": "1951-07-12", "colour": "red"},
        {"title": "Elsewhere", "date": "1952-03-01", "kind": "battle"},
    ]
    (root / "bulk.json").write_text(json.dumps(items, indent=1), encoding="utf-8")
    with IndexStore(tmp_path / "i.sqlite", root) as store:
        store.refresh()
        assert store.problems() == []  # nothing read yet, nothing checked yet
        july = store.calendar([datetime.date(2026, 7, 12)], Feb29Policy.FEB28)
        assert [e.title for e in july.on(datetime.date(2026, 7, 12), Feb29Policy.FEB28)] == ["Good"]
        assert [str(p) for p in store.problems()] == ["bulk.json:6: unknown field 'colour'"]
        store.check()
        assert [p.location.line for p in store.problems()] == [6, 11]
        assert store.counts()[0] == 1  # after check, only the valid entry is counted
    loaded = load_days(root, tmp_path / "state", None, Feb29Policy.FEB28, check=True)
    assert len(loaded.problems) == 2 and loaded.entries == 1


def test_a_locked_index_is_not_deleted(tmp_path: Path) -> None:
    """While another process holds the index's lock, opening it fails cleanly and deletes nothing."""
    import sqlite3

    root = tree(tmp_path)
    db_path = tmp_path / "i.sqlite"
    with IndexStore(db_path, root) as store:
        store.refresh()
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            IndexStore(db_path, root, timeout=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with IndexStore(db_path, root) as store:
        assert store.refresh().parsed == 0  # the index survived: nothing to re-parse


JULY_20 = datetime.date(2026, 7, 20)


@pytest.mark.parametrize("check", [False, True])
def test_invalid_json_item_never_hides_a_valid_one(tmp_path: Path, check: bool) -> None:
    """An invalid JSON item sharing its id with a valid entry in a later file does not hide it: the valid one shows
    (on a preview of its day and after check), and the invalid one is reported."""
    root = tmp_path / "entries"
    root.mkdir()
    (root / "a.json").write_text(
        json.dumps([{"id": "moon", "title": "Bad", "date": "1969-07-20", "kind": "brith"}]), encoding="utf-8"
    )
    (root / "b.yaml").write_text("- id: moon\n  title: Landing\n  date: '1969-07-20'\n", encoding="utf-8")
    for _ in range(2):  # the first read, then the second from what the index recorded
        loaded = load_days(root, tmp_path / "state", [JULY_20], Feb29Policy.FEB28, check=check)
        titles = [e.title for e in loaded.index.on(JULY_20, Feb29Policy.FEB28)]
        assert titles == ["Landing"]
        assert [str(p) for p in loaded.problems] == [
            "a.json:1: kind must be one of event, birth, death, observance, not 'brith' (did you mean 'birth'?)"
        ]


@pytest.mark.parametrize("check", [False, True])
def test_unencodable_json_item_is_a_problem_on_every_load(tmp_path: Path, check: bool) -> None:
    """A JSON item with a lone surrogate, placed cheaply by the index, is a problem when its day is read; the rest shows."""
    root = tmp_path / "entries"
    root.mkdir()
    (root / "bulk.json").write_text(
        '[{"title": "Bad \\ud800", "date": "1969-07-20"},\n {"title": "Landing", "date": "1969-07-20"}]',
        encoding="utf-8",
    )
    loaded = load_days(root, tmp_path / "state", [JULY_20], Feb29Policy.FEB28, check=check)
    assert [e.title for e in loaded.index.on(JULY_20, Feb29Policy.FEB28)] == ["Landing"]
    assert [str(p)[:26] for p in loaded.problems] == ["bulk.json:1: title holds U"]


@pytest.mark.parametrize("kind", sorted(hostile.MAKERS))
def test_index_reports_hostile_files(tmp_path: Path, kind: str) -> None:
    """Through the on-disk index too, each hostile file is one path:line problem and the rest loads, every time."""
    if kind == "failing read" and not Path("/proc/self/mem").exists():
        pytest.skip("needs Linux /proc")
    root = tmp_path / "entries"
    root.mkdir()
    _rel, expected = hostile.MAKERS[kind](root)
    (root / "good.yaml").write_text(hostile.GOOD, encoding="utf-8")
    with hostile.FifoUnblocker(root):
        for check in (False, True, False):
            loaded = load_days(root, tmp_path / "state", [JULY_20], Feb29Policy.FEB28, check=check)
            assert [e.title for e in loaded.index.on(JULY_20, Feb29Policy.FEB28)] == ["Good"]
            assert [str(p) for p in loaded.problems if str(p).startswith(expected)], [
                str(p) for p in loaded.problems
            ]
