"""The on-disk index: parsed entries per file in SQLite, so a command reads only the days it needs.

Each use starts with :meth:`IndexStore.refresh`, which stats every entry file and re-parses only those whose
size, modification time, change time or inode differ from what the index recorded (new files are parsed,
deleted ones dropped). The index is therefore never trusted when stale, and a changed file costs one file's
parse. Refreshes take SQLite's write lock (``BEGIN IMMEDIATE``) and the database runs in WAL mode, so two
processes (the daemon and an editor's preview) can use it at once: one refreshes while the other waits or
reads the last committed state. An index that cannot be read (corrupt, another schema) is rebuilt.

Editors' files (Markdown, YAML) are parsed and validated in full, and their entries stored pickled (the cache is
a private file in the state folder, written and read only by thisday). Items of JSON bulk files, which is how big
collections are imported, are indexed cheaply: the index keeps each plain day-precise item's id, day and its
character offsets in the file, and the item is read and validated when a command needs it, or by
``thisday check``, which then records the file as checked until it changes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import os
import pickle
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .config import Settings
from .dates import anniversary_key
from .entries import (
    load_file,
    load_tree,
    quick_day,
    read_json_list,
    read_text,
    scan_tree,
    validate,
    validate_json_item,
    with_translations,
)
from .errors import EntryError
from .index import CalendarIndex
from .model import Entry, Feb29Policy, Location, Precision, Problem

SCHEMA_VERSION = "4"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL, problems BLOB NOT NULL, checked INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    path TEXT NOT NULL, pos INTEGER NOT NULL, id TEXT NOT NULL, slot TEXT NOT NULL,
    month INTEGER, day INTEGER, dup INTEGER NOT NULL DEFAULT 0, line INTEGER NOT NULL,
    data BLOB, start INTEGER, stop INTEGER,
    PRIMARY KEY (path, pos)
);
"""
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS entries_day ON entries (slot, month, day)",
    "CREATE INDEX IF NOT EXISTS entries_id ON entries (id)",
    "CREATE INDEX IF NOT EXISTS entries_dups ON entries (path, pos) WHERE dup = 1",
)


@dataclass(frozen=True)
class RefreshStats:
    """What a refresh did: files seen, re-parsed and dropped."""

    files: int
    parsed: int
    removed: int


def _slot(entry: Entry) -> tuple[str, int | None, int | None]:
    key = anniversary_key(entry)
    if key is not None:
        return "day", key[0], key[1]
    if entry.rule is not None:
        return "moveable", None, None
    if entry.date is not None and entry.date.precision is Precision.MONTH:
        return "month", entry.date.month, None
    return "undated", None, None


class _Foreign(Exception):
    """The index file belongs to another version of thisday or another entries folder."""


def _stored(db: sqlite3.Connection, key: str) -> str | None:
    """A value from the meta table; None when the table does not exist yet (a new index)."""
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    return None if row is None else str(row[0])


def _signature(stat: os.stat_result) -> tuple[int, int, int, int]:
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino


def _file_signature(path: str | Path) -> tuple[int, int, int, int] | None:
    """The signature of an entry file; of the link itself when it cannot be followed (broken, a loop), so that
    such a link is indexed with its problem and re-read once fixed; None when the file is gone."""
    try:
        return _signature(os.stat(path))
    except OSError:
        try:
            return _signature(os.lstat(path))
        except OSError:
            return None


class IndexStore:
    """The SQLite index of one entries folder. Use as a context manager, or call :meth:`close`."""

    def __init__(self, db_path: Path, root: Path, *, timeout: float = 60.0) -> None:
        if not root.is_dir():
            raise EntryError(f"{root}: entries folder not found; create it or pass --entries PATH")
        self.root = root.resolve()
        self.db_path = db_path
        self.timeout = timeout
        """Seconds to wait for another process's lock before giving up."""
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = self._open()
        self.read_problems: list[Problem] = []
        """Problems found in entries read since the last refresh (JSON items are validated when read)."""

    def _open(self) -> sqlite3.Connection:
        """Open the index; rebuild it only when the file is not a database or is from another version or folder.

        A database that is locked or busy (another process is rebuilding it) is never deleted: the error is
        raised, and :func:`load_days` falls back to reading the tree.
        """
        for attempt in range(2):
            db = sqlite3.connect(self.db_path, timeout=self.timeout, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                version = _stored(db, "schema")
                if version is not None and (
                    version != self._version() or _stored(db, "root") != str(self.root)
                ):
                    raise _Foreign()
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(_SCHEMA)
                for statement in _INDEXES:
                    db.execute(statement)
                if version is None:
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (self._version(),))
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('root', ?)", (str(self.root),))
                return db
            except sqlite3.OperationalError:
                db.close()
                raise
            except (sqlite3.DatabaseError, _Foreign):
                db.close()
                if attempt:
                    raise
                for suffix in ("", "-wal", "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(f"{self.db_path}{suffix}")
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _version() -> str:
        from . import __version__

        return f"{SCHEMA_VERSION}:{__version__}"

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -----------------------------------------------------------------------------------------
    # Refresh

    def _scan(self) -> tuple[dict[str, tuple[int, int, int, int]], list[Problem]]:
        found = {}
        files, problems = scan_tree(self.root)
        for rel, path in files:
            signature = _file_signature(path)
            if signature is not None:  # else removed while we looked
                found[rel] = signature
        return found, problems

    def refresh(self) -> RefreshStats:
        """Bring the index up to date with the folder: re-parse changed files, drop removed ones."""
        on_disk, self.read_problems = self._scan()
        known, changed, removed = self._diff(on_disk)
        if not changed and not removed:
            return RefreshStats(len(on_disk), 0, 0)
        with self._write():
            # Another process may have refreshed while we waited for the lock: look again.
            known, changed, removed = self._diff(on_disk)
            cold = not known
            if cold:  # a first build: fill the table, then index it, which is much faster than row by row
                self._db.execute("DROP INDEX IF EXISTS entries_day")
                self._db.execute("DROP INDEX IF EXISTS entries_id")
            touched_ids: set[str] = set()
            for rel in removed + changed:
                touched_ids.update(
                    r[0] for r in self._db.execute("SELECT id FROM entries WHERE path = ?", (rel,))
                )
                self._db.execute("DELETE FROM entries WHERE path = ?", (rel,))
                self._db.execute("DELETE FROM files WHERE path = ?", (rel,))
            for rel in sorted(changed):
                path = self.root / rel
                signature = _file_signature(path)
                if signature is None:
                    continue
                rows, problems, checked = self._index_file(path, rel)
                touched_ids.update(str(row[2]) for row in rows)
                self._insert(rel, signature, rows, problems, checked=checked)
            if cold:
                for statement in _INDEXES:
                    self._db.execute(statement)
            self._mark_duplicates(touched_ids)
        return RefreshStats(len(on_disk), len(changed), len(removed))

    def _diff(
        self, on_disk: dict[str, tuple[int, int, int, int]]
    ) -> tuple[dict[str, tuple[int, ...]], list[str], list[str]]:
        """What the index knows (path -> signature), and which files changed or were removed since."""
        known = {
            row[0]: tuple(row[1:])
            for row in self._db.execute("SELECT path, size, mtime_ns, ctime_ns, inode FROM files")
        }
        changed = [p for p, sig in on_disk.items() if known.get(p) != sig]
        removed = [p for p in known if p not in on_disk]
        return known, changed, removed

    def _index_file(
        self, path: Path, rel: str, *, full: bool = False
    ) -> tuple[list[tuple[object, ...]], list[Problem], bool]:
        """Rows for one file, its problems so far, and whether every entry in it has been validated."""
        rows: list[tuple[object, ...]] = []
        if full or path.suffix.lower() != ".json":
            entries, problems = load_file(path, self.root)
            for pos, entry in enumerate(entries):
                slot, month, day = _slot(entry)
                data = pickle.dumps(entry, protocol=5)
                rows.append((rel, pos, entry.id, slot, month, day, entry.location.line, data, None, None))
            return rows, problems, True
        text, problems = read_text(path, rel)
        if text is None:
            return rows, problems, True
        raws, problems = read_json_list(text, rel)
        checked = True
        for pos, raw in enumerate(raws):
            quick = quick_day(raw.fields)
            if quick is not None and raw.span is not None:
                entry_id, month, day = quick
                rows.append((rel, pos, entry_id, "day", month, day, raw.line, None, raw.span[0], raw.span[1]))
                checked = False
                continue
            valid, entry_problems = validate(raw, rel)
            problems.extend(entry_problems)
            if valid is not None:
                slot, slot_month, slot_day = _slot(valid)
                data = pickle.dumps(valid, protocol=5)
                rows.append((rel, pos, valid.id, slot, slot_month, slot_day, raw.line, data, None, None))
        return rows, problems, checked

    def check(self) -> None:
        """Validate every entry not validated yet (JSON items indexed cheaply); their rows become exact."""
        unchecked = [row[0] for row in self._db.execute("SELECT path FROM files WHERE checked = 0")]
        for rel in unchecked:
            with self._write():
                path = self.root / rel
                signature = _file_signature(path)
                if signature is None:
                    continue
                rows, problems, _ = self._index_file(path, rel, full=True)
                touched = {r[0] for r in self._db.execute("SELECT id FROM entries WHERE path = ?", (rel,))}
                self._db.execute("DELETE FROM entries WHERE path = ?", (rel,))
                self._insert(rel, signature, rows, problems, checked=True)
                self._mark_duplicates(touched | {str(row[2]) for row in rows})

    def _insert(
        self,
        rel: str,
        signature: tuple[int, int, int, int],
        rows: list[tuple[object, ...]],
        problems: list[Problem],
        *,
        checked: bool,
    ) -> None:
        self._db.executemany(
            "INSERT INTO entries (path, pos, id, slot, month, day, line, data, start, stop)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        self._db.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
            (rel, *signature, pickle.dumps(problems, protocol=5), int(checked)),
        )

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _mark_duplicates(self, ids: set[str]) -> None:
        """For each id, the first entry in path order is kept; later ones are duplicates."""
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS touched (id TEXT PRIMARY KEY)")
        self._db.execute("DELETE FROM touched")
        self._db.executemany("INSERT OR IGNORE INTO touched VALUES (?)", ((i,) for i in ids))
        self._db.execute(
            """
            UPDATE entries SET dup = (
                SELECT COUNT(*) FROM entries AS f
                WHERE f.id = entries.id AND (f.path < entries.path OR (f.path = entries.path AND f.pos < entries.pos))
            ) > 0
            WHERE id IN (SELECT id FROM touched)
            """
        )

    # -----------------------------------------------------------------------------------------
    # Reading

    def _entries(self, where: str, params: Iterable[object] = (), order: str = "path, pos") -> list[Entry]:
        sql = f"SELECT path, pos, line, data, start, stop FROM entries WHERE dup = 0 AND ({where}) ORDER BY {order}"
        entries: list[Entry] = []
        current: str | None = None
        text: str | None = None
        validated: list[tuple[bytes, str, int, int, int]] = []
        invalid: list[tuple[str, int, int, int, list[Problem]]] = []
        for rel, pos, line, data, start, stop in self._db.execute(sql, tuple(params)).fetchall():
            if data is not None:
                entries.append(pickle.loads(data))
                continue
            if rel != current:  # rows come file by file: hold one file's text at a time
                if validated:
                    self._keep_validated(validated)
                    validated = []
                current = rel
                text, _ = read_text(self.root / rel, rel)
            if text is None:
                self.read_problems.append(
                    Problem(Location(rel, line), "the file could not be read; run the command again")
                )
                continue
            entry, problems = validate_json_item(text[start:stop], rel, line)
            if entry is not None:
                entries.append(entry)
                validated.append((pickle.dumps(entry, protocol=5), rel, pos, start, stop))
            else:
                invalid.append((rel, pos, start, stop, problems))
        if validated:
            self._keep_validated(validated)
        if invalid:
            if self._drop_invalid(
                invalid
            ):  # the entries they shadowed as duplicates may now be due: ask again
                return self._entries(where, params, order)
            self.read_problems.extend(p for *_, problems in invalid for p in problems)
        return entries

    def _drop_invalid(self, items: list[tuple[str, int, int, int, list[Problem]]]) -> bool:
        """Take JSON items that failed validation out of the index, their problems recorded with their file's.

        An invalid item never takes part in the contest for its id, so it cannot hide a valid entry with the
        same id in a later file. False when nothing was taken out: the database is busy, or the file changed
        meanwhile (the problems are then reported this time only).
        """
        try:
            with self._write():
                ids: set[str] = set()
                for rel, pos, start, stop, problems in items:
                    row = self._db.execute(
                        "SELECT id FROM entries WHERE path = ? AND pos = ? AND start = ? AND stop = ? AND data IS NULL",
                        (rel, pos, start, stop),
                    ).fetchone()
                    if row is None:  # the file changed meanwhile: the next refresh re-reads it
                        continue
                    ids.add(str(row[0]))
                    self._db.execute("DELETE FROM entries WHERE path = ? AND pos = ?", (rel, pos))
                    (blob,) = self._db.execute("SELECT problems FROM files WHERE path = ?", (rel,)).fetchone()
                    recorded: list[Problem] = pickle.loads(blob)
                    recorded.extend(p for p in problems if p not in recorded)
                    self._db.execute(
                        "UPDATE files SET problems = ? WHERE path = ?",
                        (pickle.dumps(recorded, protocol=5), rel),
                    )
                self._mark_duplicates(ids)
        except sqlite3.OperationalError:
            return False
        return bool(ids)  # something was taken out (so asking again cannot loop)

    def _keep_validated(self, rows: list[tuple[bytes, str, int, int, int]]) -> None:
        """Store JSON items validated on reading, so the next read of their day just unpickles them.

        Only rows still as they were read are updated (same offsets, not yet stored); a file that changes
        loses its rows at the next refresh anyway. A busy database just means no caching this time.
        """
        try:
            with self._write():
                self._db.executemany(
                    "UPDATE entries SET data = ? WHERE path = ? AND pos = ? AND start = ? AND stop = ? AND data IS NULL",
                    rows,
                )
        except sqlite3.OperationalError:
            pass

    def calendar(self, days: Iterable[datetime.date], policy: Feb29Policy) -> CalendarIndex:
        """A CalendarIndex holding what the given days need: their entries, leap-day ones, moveable feasts."""
        keys = set()
        for day in days:
            keys.add((day.month, day.day))
            if (day.month, day.day) in ((2, 28), (3, 1)):  # where a leap-day anniversary may move to
                keys.add((2, 29))
        # one query, in the order of one query per day (days in calendar order, each file by file), then moveable
        where = " OR ".join(["(slot = 'day' AND month = ? AND day = ?)"] * len(keys) + ["slot = 'moveable'"])
        params = [n for key in sorted(keys) for n in key]
        return CalendarIndex.build(self._entries(where, params, "slot = 'moveable', month, day, path, pos"))

    def full(self) -> CalendarIndex:
        return CalendarIndex.build(self._entries("1"))

    def day_counts(self) -> dict[tuple[int, int], int]:
        rows = self._db.execute(
            "SELECT month, day, COUNT(*) FROM entries WHERE dup = 0 AND slot = 'day' GROUP BY month, day"
        )
        return {(m, d): n for m, d, n in rows}

    def counts(self) -> tuple[int, int, int]:
        """(entries, files, moveable observances)."""
        entries = self._db.execute("SELECT COUNT(*) FROM entries WHERE dup = 0").fetchone()[0]
        files = self._db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        moveable = self._db.execute(
            "SELECT COUNT(*) FROM entries WHERE dup = 0 AND slot = 'moveable'"
        ).fetchone()[0]
        return entries, files, moveable

    def problems(self) -> list[Problem]:
        """Every file's recorded problems, those found in entries read since the refresh, then duplicate ids."""
        found: list[Problem] = []
        for (blob,) in self._db.execute("SELECT problems FROM files ORDER BY path"):
            found.extend(pickle.loads(blob))
        found.extend(p for p in self.read_problems if p not in found)
        rows = self._db.execute(
            """
            SELECT d.path, d.line, d.id, f.path, f.line
            FROM entries AS d JOIN entries AS f ON f.id = d.id AND f.dup = 0
            WHERE d.dup = 1 ORDER BY d.path, d.pos
            """
        )
        for path, line, entry_id, first_path, first_line in rows:
            found.append(
                Problem(
                    Location(path, line),
                    f"duplicate id '{entry_id}' (also at {first_path}:{first_line});"
                    " give one of them an explicit id: or another title",
                )
            )
        return found


def store_path(state_dir: Path, root: Path) -> Path:
    """One index file per entries folder, in the state folder."""
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    return state_dir / f"index-{digest}.sqlite"


@dataclass(frozen=True)
class Loaded:
    """The entries a command needs, through the on-disk index: a CalendarIndex, the problems, and counts."""

    index: CalendarIndex
    problems: tuple[Problem, ...]
    entries: int | None
    """How many entries and files in all; None when only some days were loaded (counting all costs a scan)."""
    files: int | None


def load_days(
    entries_root: Path,
    state_dir: Path,
    days: Iterable[datetime.date] | None,
    policy: Feb29Policy,
    *,
    check: bool = False,
) -> Loaded:
    """Refresh the index, then load what ``days`` need (None: everything).

    When the state folder cannot hold an index (read-only, say), the tree is read in full instead: slower, same result.
    """
    return _translated(_load_days(entries_root, state_dir, days, policy, check=check), entries_root, check)


def _translated(loaded: Loaded, root: Path, every_file: bool) -> Loaded:
    """``loaded`` with each entry's translation files (``NAME.LANG.md``) attached, and their problems."""
    index = loaded.index
    entries = [e for group in index.by_day.values() for e in group]
    entries += [*index.moveable, *(e for group in index.by_month.values() for e in group), *index.undated]
    translated, problems = with_translations(entries, root, every_file=every_file)
    if not problems and all(a is b for a, b in zip(entries, translated, strict=True)):
        return loaded
    return dataclasses.replace(
        loaded, index=CalendarIndex.build(translated), problems=(*loaded.problems, *problems)
    )


def _load_days(
    entries_root: Path,
    state_dir: Path,
    days: Iterable[datetime.date] | None,
    policy: Feb29Policy,
    *,
    check: bool = False,
) -> Loaded:
    try:
        store = IndexStore(store_path(state_dir, entries_root), entries_root)
    except (OSError, sqlite3.Error):
        store = None
    if store is None:
        result = load_tree(entries_root)
        return Loaded(CalendarIndex.build(result.entries), result.problems, len(result.entries), result.files)
    with store:
        store.refresh()
        if check:
            store.check()
        if days is not None:
            return Loaded(store.calendar(days, policy), tuple(store.problems()), None, None)
        count, files, _ = store.counts()
        return Loaded(store.full(), tuple(store.problems()), count, files)


def load(settings: Settings, days: Iterable[datetime.date] | None, *, check: bool = False) -> Loaded:
    """The one way to load entries: what ``days`` need (None: everything) for ``settings``, through the cache."""
    return load_days(settings.entries, settings.state_dir, days, settings.selection.feb29, check=check)
