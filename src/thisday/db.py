"""The database behind the ledger and the subscriber store: engines, the schema version, migrations, host identity.

One database holds the publication ledger and the subscriber store: SQLite in the state folder by default (one
host), or PostgreSQL (``daemon.ledger_url = "postgresql+psycopg://..."``, ``pip install 'thisday[postgres]'``)
shared by any number of hosts.

The schema is created and migrated by thisday itself. The table ``thisday_schema`` holds the version of the whole
schema; :func:`upgrade` brings a database from any earlier version (including an empty database, or one made
before versions were recorded) to :data:`SCHEMA_VERSION`, one step at a time, in one transaction, under a lock
that every thisday process takes first: an advisory transaction lock on PostgreSQL, ``BEGIN IMMEDIATE`` on
SQLite. So several daemons starting at once on an empty database create it once, and none of them fails. Every
step only adds (tables, nullable columns), so a host still running the previous release keeps working against
an upgraded database; a database newer than this release is refused with a message saying to upgrade thisday.
The ledger and the store run :func:`upgrade` when they open (cheap when the version is current), and
``thisday db upgrade`` runs it by hand.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path

import sqlalchemy
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from .errors import PublishError

SCHEMA_VERSION = 2
"""1: the ledger's ``publications`` and the subscriber store's tables. 2: ``publications.lease_until``."""

HOST_ENV = "THISDAY_HOST"
"""This host's name in the ledger (claim owners, its own ``feeds@<host>`` rows); default: the machine's name."""

_LOCK_KEY = 0x7468697364  # "thisd": the advisory lock every schema change takes on PostgreSQL

_metadata = MetaData()
schema_table = Table(
    "thisday_schema",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
)


class DatabaseUnreachable(PublishError):
    """The database server cannot be reached (down, network): nothing was read or recorded."""


def host_name(environ: Mapping[str, str] | None = None) -> str:
    """This host's identity in a shared database: ``THISDAY_HOST``, else the machine's host name."""
    configured = (os.environ if environ is None else environ).get(HOST_ENV, "").strip()
    if configured and (len(configured) > 100 or not configured.isprintable() or " " in configured):
        raise PublishError(
            f"{HOST_ENV}={configured!r} is not a host name: use up to 100 printable characters without spaces"
        )
    return configured or socket.gethostname()


def is_shared(url: str) -> bool:
    """Whether the database at ``url`` is a server several hosts may share (anything but SQLite)."""
    return make_url(url).get_backend_name() != "sqlite"


SQLITE_BUSY_TIMEOUT = 30.0
"""Seconds a SQLite connection waits for a lock another process holds before it gives up."""


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    """WAL: readers never block the writer and a killed process loses no committed row; NORMAL sync is safe
    against process crashes in WAL mode (only a power loss may drop the last commits)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def create_engine(url: str, connect_args: dict[str, object] | None = None) -> Engine:
    """An engine for ``url``. SQLite: the file's folder is created, WAL mode, and a lock held by another process
    is waited for (:data:`SQLITE_BUSY_TIMEOUT` unless ``connect_args`` says otherwise), for the ledger and the
    subscriber store alike. A server's connections are checked before use, so a restarted server is
    reconnected to at once."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        args: dict[str, object] = {"timeout": SQLITE_BUSY_TIMEOUT, **(connect_args or {})}
        if "timeout" in parsed.query:
            args.pop("timeout")  # the URL's own ?timeout= wins
        engine = sqlalchemy.create_engine(url, connect_args=args)
        sqlalchemy.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = dict(connect_args or {})
    if parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = 10
    return sqlalchemy.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database server could not be reached or the connection was lost."""
    if isinstance(exc, DatabaseUnreachable):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError)


def where(url: str) -> str:
    """``url`` without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def unreachable(url: str, exc: BaseException) -> DatabaseUnreachable:
    orig = getattr(exc, "orig", None) or exc
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return DatabaseUnreachable(
        f"the database at {where(url)} cannot be reached ({first}); start it or fix daemon.ledger_url"
    )


# ---------------------------------------------------------------------------------------------
# Versions and migrations


# ---------------------------------------------------------------------------------------------
# The tables (the ledger's and the subscriber store's): defined here, below both, so that the migrations and the
# modules that use the tables share one definition without importing each other.

METADATA = MetaData()
DEFAULT_LIST = "digest"
"""The subscriber store's list of a row that names none (a second list per site can come later)."""

publications = Table(
    "publications",
    METADATA,
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

subscribers_table = Table(
    "subscribers",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("list", String(64), nullable=False, default=DEFAULT_LIST),
    Column("address", String(320), nullable=False),
    Column("key", String(64), nullable=False, index=True),
    Column("state", String(16), nullable=False),
    Column("language", String(35), nullable=False),
    Column("added_at", DateTime, nullable=False),
    Column("added_source", String(16), nullable=False),
    Column("added_ip", String(64), nullable=True),
    Column("requested_at", DateTime, nullable=False),
    Column("confirmed_at", DateTime, nullable=True),
    Column("confirmed_source", String(16), nullable=True),
    Column("confirmed_ip", String(64), nullable=True),
    Column("changed_at", DateTime, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("mailed_at", DateTime, nullable=True),
    UniqueConstraint("list", "address", name="uq_subscribers_list_address"),
)

confirmations_table = Table(
    "subscriber_confirmations",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("address", String(320), nullable=True),
    Column("client_ip", String(64), nullable=True),
    Column("at", DateTime, nullable=False, index=True),
    Column("mailed", Integer, nullable=False, default=0),
)

meta_table = Table(
    "subscriber_meta",
    METADATA,
    Column("name", String(64), primary_key=True),
    Column("value", String(200), nullable=False),
)


def _v1_tables(conn: Connection) -> None:
    """The ledger's and the subscriber store's tables (those that exist already are left as they are)."""
    for table in (publications, subscribers_table, confirmations_table, meta_table):
        table.create(conn, checkfirst=True)


def _v2_lease(conn: Connection) -> None:
    """``publications.lease_until``: until when a claim's holder vouches that it is alive (renewed as it works)."""
    columns = {column["name"] for column in inspect(conn).get_columns("publications")}
    if "lease_until" not in columns:
        conn.execute(text("ALTER TABLE publications ADD COLUMN lease_until TIMESTAMP"))


MIGRATIONS: tuple[Callable[[Connection], None], ...] = (_v1_tables, _v2_lease)
"""Step n (1-based) brings the schema from version n-1 to n."""


def current_version(conn: Connection) -> int:
    """The recorded schema version (0: no version recorded: an empty database or one made before versions)."""
    if not inspect(conn).has_table(schema_table.name):
        return 0
    found = conn.execute(select(schema_table.c.version).where(schema_table.c.id == 1)).scalar()
    return int(found or 0)


def _check_not_newer(version: int, url: str) -> None:
    if version > SCHEMA_VERSION:
        raise PublishError(
            f"the database at {where(url)} has schema version {version}, newer than this thisday knows "
            f"({SCHEMA_VERSION}): upgrade thisday on this host (pip install -U thisday)"
        )


def upgrade(engine: Engine) -> tuple[int, int]:
    """Bring the schema to :data:`SCHEMA_VERSION`; returns (version before, version after).

    Safe to run from any number of processes at once: the version is read again under the lock, so each step
    runs once. Raises :class:`DatabaseUnreachable` when the server cannot be reached.
    """
    url = engine.url.render_as_string(hide_password=False)
    try:
        with engine.connect() as conn:
            version = current_version(conn)
        _check_not_newer(version, url)
        if version == SCHEMA_VERSION:
            return version, version
        with engine.connect() as conn:
            _lock(conn)
            before = current_version(conn)
            _check_not_newer(before, url)
            for step in range(before, SCHEMA_VERSION):
                MIGRATIONS[step](conn)
            schema_table.create(conn, checkfirst=True)
            if before == 0:
                conn.execute(schema_table.insert().values(id=1, version=SCHEMA_VERSION))
            else:
                conn.execute(schema_table.update().where(schema_table.c.id == 1).values(version=SCHEMA_VERSION))
            conn.commit()
        return before, SCHEMA_VERSION
    except (OperationalError, InterfaceError) as exc:
        if engine.dialect.name != "sqlite":
            raise unreachable(url, exc) from None
        raise PublishError(f"cannot open the database at {where(url)}: {getattr(exc, 'orig', exc)}") from None


def _lock(conn: Connection) -> None:
    """Take the schema lock for the rest of ``conn``'s transaction (every other upgrader waits for it)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:  # other servers: no lock here; the version read and the steps stay idempotent (checkfirst)
        pass
