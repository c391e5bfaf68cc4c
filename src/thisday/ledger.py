"""The publication ledger: what went out on which day, on which channel, so that nothing goes out twice.

One row per (day, channel). A channel is a name such as ``feeds`` or ``digest:reader@example.org``. A row is
``claimed`` while someone is publishing it, then ``done`` or ``failed``. :meth:`Ledger.claim` is atomic: it
either INSERTs the row or UPDATEs a row that is ``failed`` (or a ``claimed`` row left by a process that died:
its owner, host and pid, is gone from this host, or the claim is older than ``stale_after``), and only the
caller whose statement changed the row holds the claim. Two processes on the same ledger therefore never both
publish the same (day, channel), and a daemon killed mid-publication is taken over at once when it restarts.

A digest delivery is marked ``sending`` just before the message is handed to the SMTP server. If the process
dies in that window nobody can know whether the message went out, so the row becomes ``uncertain`` instead of
being sent again: nothing is ever sent twice by the ledger, and ``thisday status`` shows the row so an operator
can resend with ``thisday send DATE --force``.

Stored with SQLAlchemy Core; SQLite in the state folder by default (``Settings.ledger_url()``), or PostgreSQL
shared by several hosts; the schema is made and migrated by :mod:`thisday.db`. Times are passed in (this module
never reads the clock) and stored as UTC. Each claim also carries a lease (:mod:`thisday.lease`) on the
database's own clock, renewed while its holder works: a claim whose holder died on any host is settled as
soon as its lease runs out, and a claim this process let go of without recording how it ended (the database
was unreachable at that moment) is settled at once by this process's next claim on it.
"""

from __future__ import annotations

import contextlib
import datetime
import enum
import os
import secrets
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    RowMapping,
    String,
    Table,
    Text,
    and_,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError

from . import db
from .config import Settings
from .errors import PublishError
from .lease import Renewer, db_later, db_now, lease_seconds

DEFAULT_STALE_AFTER = datetime.timedelta(hours=1)
"""A claim older than this is taken to be left by a process that died, and may be taken over."""

FEEDS_CHANNEL = "feeds"


def digest_channel(address: str) -> str:
    """The ledger channel of one digest recipient: ``digest:<address>`` (the address lower-cased)."""
    return f"digest:{address.strip().lower()}"


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


_metadata = MetaData()
publications = Table(
    "publications",
    _metadata,
    Column("day", Date, primary_key=True),
    Column("channel", String(400), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("claimed_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=True),
    Column("attempts", Integer, nullable=False, default=1),
    Column("detail", Text, nullable=False, default=""),
    Column("token", String(64), nullable=False),
    Column("owner", String(300), nullable=False, default=""),
    Column("lease_until", DateTime, nullable=True),
)


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


class Ledger:
    """The ledger at a SQLAlchemy URL (``sqlite:///state/ledger.sqlite`` by default). Creates its table."""

    def __init__(self, url: str, *, lease: float | None = None) -> None:
        try:
            make_url(url)
        except ArgumentError:
            raise PublishError(
                f"ledger URL {url!r} is not a SQLAlchemy URL: set daemon.ledger_url in thisday.toml "
                "(e.g. sqlite:///state/ledger.sqlite) or leave it empty for the default"
            ) from None
        self.url = url
        self.lease = lease_seconds() if lease is None else lease
        self._held: dict[str, tuple[datetime.date, str]] = {}
        """Claims this object holds now (token -> day, channel): their leases are renewed."""
        self._issued: set[str] = set()
        """Every claim token this object made: one it no longer holds but that is still claimed was let go."""
        self._renewer: Renewer | None = None
        try:
            self._engine: Engine = db.create_engine(url)
            db.upgrade(self._engine)
        except OperationalError as exc:
            raise PublishError(f"cannot open the ledger at {url}: {exc.orig}") from None
        except OSError as exc:
            raise PublishError(
                f"cannot create the ledger's folder for {url}: {exc.strerror or exc}; set state_dir or daemon.ledger_url"
            ) from None
        except ModuleNotFoundError as exc:
            raise PublishError(
                f"the ledger URL {url} needs the database driver '{exc.name}': pip install it, or use sqlite"
            ) from None

    @classmethod
    def from_settings(cls, settings: Settings) -> Ledger:
        return cls(settings.ledger_url())

    def close(self) -> None:
        if self._renewer is not None:
            self._renewer.stop()
            self._renewer = None
        self._engine.dispose()

    @property
    def shared(self) -> bool:
        """Whether several hosts may use this ledger (a database server rather than a SQLite file)."""
        return db.is_shared(self.url)

    def _hold_token(self, token: str, day: datetime.date, channel: str) -> None:
        self._issued.add(token)
        self._held[token] = (day, channel)
        if self._renewer is None:
            self._renewer = Renewer(self.renew_leases, self.lease / 3)

    def renew_leases(self) -> int:
        """Push the lease of every claim this object holds forward (the renewer thread calls it); how many."""
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
        try:
            with self._engine.begin() as conn:
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
        with self._engine.begin() as conn:
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
        self._hold_token(token, day, channel)
        return Claim(day, channel, token, int(attempts))

    def _settle_dead_claim(
        self, day: datetime.date, channel: str, now: datetime.datetime, stale_after: datetime.timedelta
    ) -> None:
        """A claim whose owner died (its process is gone from this host, its lease ran out, it is older than
        ``stale_after``, or this object let go of it): ``claimed`` becomes ``failed`` (safe to redo), ``sending``
        ``uncertain``."""
        with self._engine.begin() as conn:
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
        return self._update_held(claim, (Status.CLAIMED,), status=Status.SENDING.value, claimed_at=_utc(now))

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
                    held.uncertain(f"interrupted while sending ({reason}); delivery unknown")
                else:
                    held.failed(f"interrupted ({reason})")
            raise
        else:
            if not held.finished:
                held.done()

    def _finish(self, claim: Claim, status: Status, now: datetime.datetime, detail: str) -> bool:
        # no longer ours, even when the mark cannot be written (the database is unreachable): the lease is not
        # renewed, and this object's next claim of the row settles it
        self._held.pop(claim.token, None)
        return self._update_held(
            claim, (Status.CLAIMED, Status.SENDING), status=status.value, finished_at=_utc(now), detail=detail
        )

    def _update_held(self, claim: Claim, held: tuple[Status, ...], **values: object) -> bool:
        """Update the claimed row, only while ``claim`` still holds it in one of the ``held`` states."""
        with self._engine.begin() as conn:
            result = conn.execute(
                update(publications)
                .where(
                    publications.c.day == claim.day,
                    publications.c.channel == claim.channel,
                    publications.c.token == claim.token,
                    publications.c.status.in_([s.value for s in held]),
                )
                .values(**values)
            )
            return bool(result.rowcount == 1)

    # -----------------------------------------------------------------------------------------

    def get(self, day: datetime.date, channel: str) -> Record | None:
        """The row for (day, channel), if any."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(publications).where(publications.c.day == day, publications.c.channel == channel)
            ).first()
        return None if row is None else _record(row._mapping)

    def last(self, channel: str, status: Status | None = Status.DONE) -> Record | None:
        """The latest day's row on ``channel`` (by default the latest day that is done); None if none."""
        query = select(publications).where(publications.c.channel == channel)
        if status is not None:
            query = query.where(publications.c.status == status.value)
        with self._engine.connect() as conn:
            row = conn.execute(query.order_by(publications.c.day.desc()).limit(1)).first()
        return None if row is None else _record(row._mapping)

    def first(self, channel: str) -> Record | None:
        """The earliest day's row on ``channel``, whatever its status; None if the channel was never used."""
        query = select(publications).where(publications.c.channel == channel)
        with self._engine.connect() as conn:
            row = conn.execute(query.order_by(publications.c.day).limit(1)).first()
        return None if row is None else _record(row._mapping)

    def records(self, day: datetime.date | None = None, channel_prefix: str = "") -> list[Record]:
        """Rows, optionally of one day and/or of channels starting with ``channel_prefix``, by day then channel."""
        query = select(publications)
        if day is not None:
            query = query.where(publications.c.day == day)
        if channel_prefix:
            query = query.where(publications.c.channel.startswith(channel_prefix, autoescape=True))
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(publications.c.day, publications.c.channel)).all()
        return [_record(row._mapping) for row in rows]

    def forget(self, channel: str) -> int:
        """Delete every row of ``channel`` (a forgotten recipient's ``digest:<address>``); how many went."""
        with self._engine.begin() as conn:
            result = conn.execute(delete(publications).where(publications.c.channel == channel))
        return int(result.rowcount)


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
        ok = mark(self.claim, self._clock(), detail)
        self.finished = True
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
