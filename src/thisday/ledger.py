"""The publication ledger: what went out on which day, on which channel, so that nothing goes out twice.

One row per (day, channel). A channel is a name such as ``feeds`` or ``digest:reader@example.org``. A row is
``claimed`` while someone is publishing it, then ``done`` or ``failed``. :meth:`Ledger.claim` is atomic: it
either INSERTs the row or UPDATEs a row that is ``failed`` (or a ``claimed`` row left by a process that died:
its owner, host and pid, is gone from this host, or the claim is older than ``stale_after``), and only the
caller whose statement changed the row holds the claim. Two processes on the same ledger therefore never both
publish the same (day, channel), and a daemon killed mid-publication is taken over at once when it restarts.

A digest delivery is marked ``sending`` just before the end of the message's data (its final ".") goes to the
SMTP server. If the process dies between then and the server's reply nobody can know whether the message went
out, so the row becomes ``uncertain`` instead of being sent again (a process that dies earlier leaves the row
``claimed``, which becomes ``failed`` and is sent by the next run): nothing is ever sent twice by the ledger, and ``thisday status`` shows the row so an operator
can resend with ``thisday send DATE --force``.

Stored with SQLAlchemy Core; SQLite in the state folder by default (``Settings.ledger_url()``). Times are
passed in (this module never reads the clock) and stored as UTC.

Faults: SQLite runs in WAL mode with ``synchronous=NORMAL`` (a killed process never loses a committed row) and
waits up to :data:`DEFAULT_BUSY_TIMEOUT` seconds for a lock held by another connection (``?timeout=SECONDS`` in
the URL changes it), then raises :class:`PublishError`. A damaged file (garbage, truncated) is a one-line
:class:`PublishError` naming the file and the fix, from whichever operation finds it. A ledger that is empty
while its marker file (:data:`MARKER_NAME` in the state folder, written with the first publication) exists was
lost or truncated: it refuses to open rather than publish every recipient's day again.

Several hosts: on PostgreSQL the schema is made and migrated by :mod:`thisday.db`, and each claim also carries a
lease (:mod:`thisday.lease`) on the database's own clock, renewed while its holder works: a claim whose holder
died on any host is settled as soon as its lease runs out, and a claim this process let go of without recording
how it ended (the database was unreachable at that moment) is settled at once by this process's next claim on it.
"""

from __future__ import annotations

import contextlib
import datetime
import enum
import logging
import os
import secrets
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    RowMapping,
    and_,
    bindparam,
    delete,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, IntegrityError, OperationalError
from sqlalchemy.sql.expression import Executable

from . import db
from .config import Settings
from .db import publications
from .errors import PublishError
from .lease import Renewer, db_later, db_now, lease_seconds

log = logging.getLogger("thisday")

DEFAULT_STALE_AFTER = datetime.timedelta(hours=1)
"""A claim older than this is taken to be left by a process that died, and may be taken over."""

DEFAULT_BUSY_TIMEOUT = db.SQLITE_BUSY_TIMEOUT
"""Seconds a SQLite ledger waits for a lock another connection holds before the operation fails."""

MARKER_NAME = "ledger.published"
"""Written in the state folder with the ledger's first publication: proof that an empty ledger was lost."""

FEEDS_CHANNEL = "feeds"


def digest_channel(address: str) -> str:
    """The ledger channel of one digest recipient: ``digest:<address>`` (the address lower-cased)."""
    return f"digest:{address.strip().lower()}"


class LedgerError(PublishError):
    """The ledger cannot be used right now (locked for too long, damaged, lost): nothing was recorded."""


class Status(enum.Enum):
    CLAIMED = "claimed"
    SENDING = "sending"
    DONE = "done"
    FAILED = "failed"
    """Did not go out, for a reason that may pass: the next run tries again."""
    REFUSED = "refused"
    """The server refused it for good (5xx): not tried again unless forced."""
    UNCERTAIN = "uncertain"


def process_owner() -> str:
    """This process as a claim owner: ``host:pid`` (the host as named by ``THISDAY_HOST``, else the machine)."""
    return f"{db.host_name()}:{os.getpid()}"


def owner_is_dead(owner: str) -> bool:
    """True when ``owner`` (host:pid) is a process on this host that no longer runs."""
    host, _, pid = owner.rpartition(":")
    if host not in (db.host_name(), socket.gethostname()) or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False




@dataclass(frozen=True)
class Record:
    """One row of the ledger. Times are aware UTC datetimes."""

    day: datetime.date
    channel: str
    status: Status
    claimed_at: datetime.datetime
    finished_at: datetime.datetime | None
    attempts: int
    detail: str
    owner: str = ""
    """The claiming process, ``host:pid``."""


@dataclass(frozen=True)
class Claim:
    """Proof that the holder may publish (day, channel); pass it to :meth:`Ledger.mark_done` / ``mark_failed``."""

    day: datetime.date
    channel: str
    token: str
    attempts: int


def _utc(moment: datetime.datetime) -> datetime.datetime:
    """Naive UTC for storage; aware datetimes are required so that no local time is ever stored by mistake."""
    if moment.tzinfo is None:
        raise ValueError("ledger times must be timezone-aware datetimes")
    return moment.astimezone(datetime.UTC).replace(tzinfo=None)


def _aware(moment: datetime.datetime | None) -> datetime.datetime | None:
    return None if moment is None else moment.replace(tzinfo=datetime.UTC)


def _sqlite_damage(path: Path) -> str:
    """Why the SQLite file at ``path`` cannot be a whole database, or '' when it may be (or does not exist)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            header = handle.read(100)
    except FileNotFoundError:
        return ""
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if size == 0:
        return ""
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        return "is not a SQLite database"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    header_valid = header[24:28] == header[92:96]
    wal = path.with_name(path.name + "-wal")
    if header_valid and pages and not wal.exists() and size < pages * page_size:
        return f"is truncated ({size} of {pages * page_size} bytes)"
    return ""


class Ledger:
    """The ledger at a SQLAlchemy URL (``sqlite:///state/ledger.sqlite`` by default). Creates its table.

    ``marker``: the file that records that this ledger has published before (see :data:`MARKER_NAME`); when it
    exists and the ledger is empty, opening fails rather than publish everything again.
    """

    def __init__(self, url: str, *, marker: Path | None = None, lease: float | None = None) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise PublishError(
                f"ledger URL {url!r} is not a SQLAlchemy URL: set daemon.ledger_url in thisday.toml "
                "(e.g. sqlite:///state/ledger.sqlite) or leave it empty for the default"
            ) from None
        self.url = url
        self.marker = marker
        self.lease = lease_seconds() if lease is None else lease
        self._held: dict[str, tuple[datetime.date, str]] = {}
        """Claims this object holds now (token -> day, channel): their leases are renewed."""
        self._issued: set[str] = set()
        """Every claim token this object made: one it no longer holds but that is still claimed was let go."""
        self._renewer: Renewer | None = None
        self._lock = threading.Lock()
        """Guards the renewer's start and the in-memory bookkeeping: a digest's SMTP workers claim in parallel."""
        self._marked = False
        self._orphans: dict[str, tuple[datetime.date, str, Status, str, object]] = {}
        """Claims of this process whose final mark could not be written (the ledger was locked or broken):
        token -> (day, channel, status, detail, when in naive UTC), written by the next claim that can."""
        self.path: Path | None = None
        self.busy_timeout = DEFAULT_BUSY_TIMEOUT
        connect_args: dict[str, object] = {}
        sqlite = parsed.get_backend_name() == "sqlite"
        if sqlite:
            if "timeout" in parsed.query:
                try:
                    self.busy_timeout = float(str(parsed.query["timeout"]))
                except ValueError:
                    raise PublishError(
                        f"ledger URL {url!r}: timeout={parsed.query['timeout']!r} is not a number of seconds"
                    ) from None
            else:
                connect_args["timeout"] = DEFAULT_BUSY_TIMEOUT
            if parsed.database not in (None, "", ":memory:"):
                self.path = Path(str(parsed.database))
        self.where = str(self.path) if self.path is not None else parsed.render_as_string(hide_password=True)
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                damage = _sqlite_damage(self.path)
                if damage:
                    raise LedgerError(self._damaged(damage))
            self._engine: Engine = db.create_engine(url, connect_args=connect_args)
            with self._guard():
                db.upgrade(self._engine)  # the schema, made or migrated under a lock (several daemons may start)
        except OSError as exc:
            raise PublishError(
                f"cannot create the ledger's folder for {url}: {exc.strerror or exc}; set state_dir or daemon.ledger_url"
            ) from None
        except ModuleNotFoundError as exc:
            raise PublishError(
                f"the ledger URL {url} needs the database driver '{exc.name}': pip install it, or use sqlite"
            ) from None
        self._refuse_if_lost()

    @classmethod
    def from_settings(cls, settings: Settings) -> Ledger:
        return cls(settings.ledger_url(), marker=settings.state_dir / MARKER_NAME)

    def close(self) -> None:
        for day, channel, status, detail, _ in self._orphans.values():  # the ledger stayed unusable to the end
            log.error(
                "%s: could not record %s %s as %s (%s); the next run settles it (uncertain if it was being sent)",
                self.where,
                day.isoformat(),
                channel,
                status.value,
                detail or "no detail",
            )
        with self._lock:
            renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.stop()
        self._engine.dispose()

    @property
    def shared(self) -> bool:
        """Whether several hosts may use this ledger (a database server rather than a SQLite file)."""
        return db.is_shared(self.url)

    def _hold_token(self, token: str, day: datetime.date, channel: str) -> None:
        with self._lock:
            self._issued.add(token)
            self._held[token] = (day, channel)
            if self._renewer is None:
                self._renewer = Renewer(self.renew_leases, self.lease / 3)

    def renew_leases(self) -> int:
        """Push the lease of every claim this object holds forward (the renewer thread calls it); how many."""
        with self._lock:
            tokens = list(self._held)
        if not tokens:
            return 0
        with self._engine.begin() as conn:
            result = conn.execute(
                update(publications)
                .where(
                    publications.c.token.in_(tokens),
                    publications.c.status.in_([Status.CLAIMED.value, Status.SENDING.value]),
                )
                .values(lease_until=db_later(self._engine.dialect.name, self.lease))
            )
        return int(result.rowcount)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -----------------------------------------------------------------------------------------
    # Faults

    def _damaged(self, why: str) -> str:
        fix = f"move it aside (mv {self.where} {self.where}.damaged)"
        if self.marker is not None:
            fix += f" and delete {self.marker} to start a new ledger (recipients may then get that day again)"
        return f"{self.where}: the publication ledger {why}: restore it from a backup, or {fix}"

    def _error(self, exc: DatabaseError) -> LedgerError:
        orig = exc.orig
        text = str(orig) if orig is not None else str(exc)
        if isinstance(exc, OperationalError) and "locked" in text:
            return LedgerError(
                f"{self.where}: the publication ledger stayed locked by another process for more than "
                f"{self.busy_timeout:g} s ({text}); nothing was recorded. Stop the process holding it "
                f"(fuser {self.where}), or wait longer with ?timeout=SECONDS in daemon.ledger_url"
            )
        if isinstance(orig, sqlite3.DatabaseError) and not isinstance(orig, sqlite3.OperationalError):
            return LedgerError(self._damaged(f"is damaged ({text})"))
        if "malformed" in text or "not a database" in text:
            return LedgerError(self._damaged(f"is damaged ({text})"))
        return LedgerError(f"{self.where}: the publication ledger cannot be used: {text}")

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn a database error into a one-line :class:`PublishError` (IntegrityError passes: claims use it)."""
        try:
            yield
        except IntegrityError:
            raise
        except DatabaseError as exc:
            if db.is_shared(self.url) and db.is_unreachable(exc):  # a server that is down: the daemon goes offline
                raise db.unreachable(self.url, exc) from None
            raise self._error(exc) from None

    @contextlib.contextmanager
    def _begin(self) -> Iterator[Connection]:
        with self._guard(), self._engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Connection]:
        with self._guard(), self._engine.connect() as conn:
            yield conn

    def _refuse_if_lost(self) -> None:
        """Raise when the ledger is empty although its marker says it has published before."""
        if self.marker is None or not self.marker.exists():
            return
        with self._connect() as conn:
            empty = not conn.execute(select(exists().select_from(publications))).scalar()
        if empty:
            raise LedgerError(
                f"{self.where}: the publication ledger is empty or was replaced, but {self.marker} shows that "
                "thisday published with it before; refusing to publish so that nobody gets a day twice. "
                f"Restore {self.where} from a backup, or, to start a new ledger on purpose (recipients may then "
                f"get the latest day again), delete {self.marker}"
            )

    def _mark_first_publication(self) -> None:
        if self._marked or self.marker is None:
            return
        if not self.marker.exists():
            try:
                self.marker.parent.mkdir(parents=True, exist_ok=True)
                self.marker.write_text(
                    f"thisday has published with the ledger {self.where}.\n"
                    "While this file exists, an empty ledger is refused (it was lost or truncated).\n",
                    encoding="utf-8",
                )
            except OSError as exc:
                raise PublishError(
                    f"{self.marker}: cannot write the ledger's marker ({exc.strerror or exc}); "
                    "check that the state folder is writable"
                ) from None
        self._marked = True

    def _settle_orphans(self) -> None:
        """Write the final marks this process could not write before (the ledger was locked)."""
        with self._lock:
            orphans = list(self._orphans.items())
        for token, (day, channel, status, detail, when) in orphans:
            with self._begin() as conn:
                conn.execute(
                    update(publications)
                    .where(
                        publications.c.day == day,
                        publications.c.channel == channel,
                        publications.c.token == token,
                        publications.c.status.in_([Status.CLAIMED.value, Status.SENDING.value]),
                    )
                    .values(status=status.value, detail=detail, finished_at=when)
                )
            with self._lock:
                self._orphans.pop(token, None)

    # -----------------------------------------------------------------------------------------

    def claim(
        self,
        day: datetime.date,
        channel: str,
        now: datetime.datetime,
        *,
        stale_after: datetime.timedelta = DEFAULT_STALE_AFTER,
        force: bool = False,
        owner: str | None = None,
        retry_uncertain: bool = False,
    ) -> Claim | None:
        """Claim (day, channel) for publishing, or None when it is done or someone else holds a fresh claim.

        A ``failed`` row, or a ``claimed`` row older than ``stale_after``, is taken over. With ``force`` a
        ``done`` row is taken over too (to publish again on purpose); a fresh claim never is.
        """
        token = secrets.token_hex(16)
        self._issued.add(token)  # before it is written: a write that lands unacknowledged is still known as ours
        stamp = _utc(now)
        owner = owner or process_owner()
        self._settle_orphans()
        try:
            with self._begin() as conn:
                conn.execute(
                    insert(publications).values(
                        day=day,
                        channel=channel,
                        status=Status.CLAIMED.value,
                        claimed_at=stamp,
                        finished_at=None,
                        attempts=1,
                        detail="",
                        token=token,
                        owner=owner,
                        lease_until=db_later(self._engine.dialect.name, self.lease),
                    )
                )
            self._mark_first_publication()
            self._hold_token(token, day, channel)
            return Claim(day, channel, token, 1)
        except IntegrityError:
            pass
        takeable = [
            publications.c.status == Status.FAILED.value,
            and_(
                publications.c.status == Status.CLAIMED.value,
                publications.c.claimed_at < _utc(now - stale_after),
            ),
        ]
        if retry_uncertain:  # the channel's retries are idempotent: an unknown outcome is safe to redo
            takeable.append(publications.c.status == Status.UNCERTAIN.value)
        if force:
            takeable.append(
                publications.c.status.in_([Status.DONE.value, Status.UNCERTAIN.value, Status.REFUSED.value])
            )
        self._settle_dead_claim(day, channel, now, stale_after)
        with self._begin() as conn:
            result = conn.execute(
                update(publications)
                .where(publications.c.day == day, publications.c.channel == channel, or_(*takeable))
                .values(
                    status=Status.CLAIMED.value,
                    claimed_at=stamp,
                    finished_at=None,
                    attempts=publications.c.attempts + 1,
                    detail="",
                    token=token,
                    owner=owner,
                    lease_until=db_later(self._engine.dialect.name, self.lease),
                )
            )
            if result.rowcount != 1:
                return None
            attempts = conn.execute(
                select(publications.c.attempts).where(
                    publications.c.day == day, publications.c.channel == channel
                )
            ).scalar_one()
        self._mark_first_publication()
        self._hold_token(token, day, channel)
        return Claim(day, channel, token, int(attempts))

    def _settle_dead_claim(
        self, day: datetime.date, channel: str, now: datetime.datetime, stale_after: datetime.timedelta
    ) -> None:
        """A claim whose owner died (its process is gone from this host, its lease ran out, it is older than
        ``stale_after``, or this object let go of it): ``claimed`` becomes ``failed`` (safe to redo), ``sending``
        ``uncertain``."""
        with self._begin() as conn:
            row = conn.execute(
                select(
                    publications.c.status,
                    publications.c.owner,
                    publications.c.token,
                    publications.c.claimed_at,
                    (publications.c.lease_until < db_now(self._engine.dialect.name)).label("lease_expired"),
                ).where(publications.c.day == day, publications.c.channel == channel)
            ).first()
            if row is None or row.status not in (Status.CLAIMED.value, Status.SENDING.value):
                return
            stale = row.claimed_at < _utc(now - stale_after)
            let_go = row.token in self._issued and row.token not in self._held
            if not (stale or let_go or row.lease_expired or owner_is_dead(row.owner or "")):
                return
            stopped = (
                f"{row.owner or 'a process'} could not record how it ended (the database was unreachable)"
                if let_go
                else f"{row.owner or 'a process'} stopped"
            )
            if row.status == Status.CLAIMED.value:
                status, detail = (
                    Status.FAILED,
                    f"interrupted: {stopped} before publishing",
                )
            else:
                status = Status.UNCERTAIN
                detail = (
                    f"interrupted while sending: {stopped}, so delivery is unknown; "
                    "not sent again automatically (resend with thisday send DATE --force --to ADDRESS)"
                )
            conn.execute(
                update(publications)
                .where(
                    publications.c.day == day,
                    publications.c.channel == channel,
                    publications.c.token == row.token,
                )
                .values(status=status.value, finished_at=_utc(now), detail=detail)
            )

    def mark_sending(self, claim: Claim, now: datetime.datetime) -> bool:
        """Record that the message is being handed to the server now. False when the claim was lost."""
        # SENDING too: a retry after a temporary refusal of the data marks it again
        return self._update_held(
            claim,
            (Status.CLAIMED, Status.SENDING),
            (Status.FAILED, "the ledger could not record the send, so nothing was sent; tried again on the next run"),
            status=Status.SENDING.value,
            claimed_at=_utc(now),
        )

    def mark_done(self, claim: Claim, now: datetime.datetime, detail: str = "") -> bool:
        """Record that the claimed publication went out. False when the claim was taken over meanwhile."""
        return self._finish(claim, Status.DONE, now, detail)

    def mark_failed(self, claim: Claim, now: datetime.datetime, detail: str) -> bool:
        """Record that it did not go out (``detail`` says why); a later claim may try again."""
        return self._finish(claim, Status.FAILED, now, detail)

    def mark_refused(self, claim: Claim, now: datetime.datetime, detail: str) -> bool:
        """Record a permanent refusal (``detail`` says why): not tried again unless forced."""
        return self._finish(claim, Status.REFUSED, now, detail)

    def mark_uncertain(self, claim: Claim, now: datetime.datetime, detail: str) -> bool:
        """Record that nobody can know whether it went out (the server's answer was lost): not sent again
        automatically, unless the channel's retries are idempotent (``retry_uncertain``)."""
        return self._finish(claim, Status.UNCERTAIN, now, detail)

    @contextlib.contextmanager
    def hold(
        self,
        day: datetime.date,
        channel: str,
        clock: Callable[[], datetime.datetime],
        *,
        force: bool = False,
        retry_uncertain: bool = False,
    ) -> Iterator[Hold | None]:
        """Claim (day, channel) for the body of a ``with`` block; yields None when it is not ours to publish.

        The claim can never be left half done: on any exception (including KeyboardInterrupt and SystemExit)
        it is marked ``failed``, or ``uncertain`` when the exception came while the row was ``sending``, and the
        exception goes on; a block that ends normally without saying how it ended marks the row ``done``.
        """
        claim = self.claim(day, channel, clock(), force=force, retry_uncertain=retry_uncertain)
        if claim is None:
            yield None
            return
        held = Hold(self, claim, clock)
        try:
            yield held
        except BaseException as exc:
            if not held.finished:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if held.is_sending:
                    status, detail = Status.UNCERTAIN, f"interrupted while sending ({reason}); delivery unknown"
                else:
                    status, detail = Status.FAILED, f"interrupted ({reason})"
                if isinstance(exc, LedgerError):  # the ledger is unusable: written by the next operation that can
                    held.finished = True
                    self._orphans[claim.token] = (claim.day, claim.channel, status, detail, _utc(clock()))
                else:
                    with contextlib.suppress(LedgerError):  # kept as an orphan; the original exception goes on
                        (held.uncertain if status is Status.UNCERTAIN else held.failed)(detail)
            raise
        else:
            if not held.finished:
                held.done()

    def _finish(self, claim: Claim, status: Status, now: datetime.datetime, detail: str) -> bool:
        # no longer ours, even when the mark cannot be written (the database is unreachable): the lease is not
        # renewed, and this object's next claim of the row settles it
        with self._lock:
            self._held.pop(claim.token, None)
        return self._update_held(
            claim,
            (Status.CLAIMED, Status.SENDING),
            (status, detail),
            status=status.value,
            finished_at=_utc(now),
            detail=detail,
        )

    def _update_held(
        self, claim: Claim, held: tuple[Status, ...], orphan: tuple[Status, str], **values: object
    ) -> bool:
        """Update the claimed row, only while ``claim`` still holds it in one of the ``held`` states.

        When the ledger cannot be written (:class:`LedgerError`), ``orphan`` (status, detail) is kept and written
        by the next claim that can, so the row never stays ``claimed`` by a live process that let go of it.
        """
        try:
            with self._begin() as conn:
                result = conn.execute(
                    _held_update(held, tuple(sorted(values))),
                    {"w_day": claim.day, "w_channel": claim.channel, "w_token": claim.token}
                    | {f"v_{name}": value for name, value in values.items()},
                )
                return bool(result.rowcount == 1)
        except LedgerError:
            when = values.get("finished_at") or values.get("claimed_at")
            self._orphans[claim.token] = (claim.day, claim.channel, *orphan, when)
            raise

    # -----------------------------------------------------------------------------------------

    def get(self, day: datetime.date, channel: str) -> Record | None:
        """The row for (day, channel), if any."""
        with self._connect() as conn:
            row = conn.execute(
                select(publications).where(publications.c.day == day, publications.c.channel == channel)
            ).first()
        return None if row is None else _record(row._mapping)

    def last(self, channel: str, status: Status | None = Status.DONE) -> Record | None:
        """The latest day's row on ``channel`` (by default the latest day that is done); None if none."""
        query = select(publications).where(publications.c.channel == channel)
        if status is not None:
            query = query.where(publications.c.status == status.value)
        with self._connect() as conn:
            row = conn.execute(query.order_by(publications.c.day.desc()).limit(1)).first()
        return None if row is None else _record(row._mapping)

    def first(self, channel: str) -> Record | None:
        """The earliest day's row on ``channel``, whatever its status; None if the channel was never used."""
        query = select(publications).where(publications.c.channel == channel)
        with self._connect() as conn:
            row = conn.execute(query.order_by(publications.c.day).limit(1)).first()
        return None if row is None else _record(row._mapping)

    def records(self, day: datetime.date | None = None, channel_prefix: str = "") -> list[Record]:
        """Rows, optionally of one day and/or of channels starting with ``channel_prefix``, by day then channel."""
        query = select(publications)
        if day is not None:
            query = query.where(publications.c.day == day)
        if channel_prefix:
            query = query.where(publications.c.channel.startswith(channel_prefix, autoescape=True))
        with self._connect() as conn:
            rows = conn.execute(query.order_by(publications.c.day, publications.c.channel)).all()
        return [_record(row._mapping) for row in rows]

    def forget(self, channel: str) -> int:
        """Delete every row of ``channel`` (a forgotten recipient's ``digest:<address>``); how many went."""
        with self._engine.begin() as conn:
            result = conn.execute(delete(publications).where(publications.c.channel == channel))
        return int(result.rowcount)


_HELD_UPDATES: dict[tuple[tuple[Status, ...], tuple[str, ...]], Executable] = {}


def _held_update(held: tuple[Status, ...], names: tuple[str, ...]) -> Executable:
    """The UPDATE of a held row (by day, channel and token, while in one of the ``held`` states) setting
    ``names``, built once per shape and reused with parameters ``w_day``, ``w_channel``, ``w_token``, ``v_<name>``."""
    key = (held, names)
    statement = _HELD_UPDATES.get(key)
    if statement is None:
        statement = (
            update(publications)
            .where(
                publications.c.day == bindparam("w_day"),
                publications.c.channel == bindparam("w_channel"),
                publications.c.token == bindparam("w_token"),
                publications.c.status.in_([s.value for s in held]),
            )
            .values({name: bindparam(f"v_{name}") for name in names})
        )
        _HELD_UPDATES[key] = statement
    return statement


class Hold:
    """A claim held inside :meth:`Ledger.hold`: say how it ended with :meth:`done`, :meth:`failed`,
    :meth:`refused` or :meth:`uncertain`; :meth:`sending` just before the point of no return."""

    def __init__(self, ledger: Ledger, claim: Claim, clock: Callable[[], datetime.datetime]) -> None:
        self.ledger = ledger
        self.claim = claim
        self._clock = clock
        self.finished = False
        self.is_sending = False
        self.lost = False
        """True when the claim was taken over meanwhile (the row is someone else's now)."""

    @property
    def day(self) -> datetime.date:
        return self.claim.day

    @property
    def channel(self) -> str:
        return self.claim.channel

    def sending(self) -> bool:
        """Record that the publication is being handed over now. False when the claim was lost."""
        ok = self.ledger.mark_sending(self.claim, self._clock())
        self.is_sending = ok
        self.lost = not ok
        if not ok:
            self.finished = True
        return ok

    def _end(self, mark: Callable[[Claim, datetime.datetime, str], bool], detail: str) -> bool:
        self.finished = True  # even when the mark fails: the ledger keeps it for its next write (orphans)
        ok = mark(self.claim, self._clock(), detail)
        self.is_sending = False
        self.lost = self.lost or not ok
        return ok

    def done(self, detail: str = "") -> bool:
        return self._end(self.ledger.mark_done, detail)

    def failed(self, detail: str) -> bool:
        return self._end(self.ledger.mark_failed, detail)

    def refused(self, detail: str) -> bool:
        return self._end(self.ledger.mark_refused, detail)

    def uncertain(self, detail: str) -> bool:
        return self._end(self.ledger.mark_uncertain, detail)


def _record(values: RowMapping) -> Record:
    claimed = _aware(values["claimed_at"])
    assert claimed is not None
    return Record(
        day=values["day"],
        channel=values["channel"],
        status=Status(values["status"]),
        claimed_at=claimed,
        finished_at=_aware(values["finished_at"]),
        attempts=int(values["attempts"]),
        detail=values["detail"] or "",
        owner=values["owner"] or "",
    )
