"""A throwaway PostgreSQL server for tests: one per test session, a fresh database per test.

The server is the Debian ``postgresql`` package's binaries (``/usr/lib/postgresql/*/bin``, newest version):
``initdb`` into a temporary folder, started as an unprivileged user (``postgres`` via ``runuser`` when the
tests run as root, otherwise the current user) on a free loopback port with its socket in that folder,
with trust authentication for loopback only, and stopped and removed at the end of the session.

When PostgreSQL is missing the tests that use it skip with a message naming the Debian package
(``scripts/test`` installs it when run as root); under ``CI=true`` they fail instead.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from browser import skip_or_fail

SUPERUSER = "thisday"


def find_bindir() -> Path | None:
    """The newest installed PostgreSQL's bin folder (holding initdb and pg_ctl), or None."""
    found = []
    for initdb in Path("/usr/lib/postgresql").glob("*/bin/initdb"):
        version = tuple(int(part) for part in re.findall(r"\d+", initdb.parent.parent.name))
        if os.access(initdb, os.X_OK) and (initdb.parent / "pg_ctl").exists():
            found.append((version, initdb.parent))
    return max(found)[1] if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgServer:
    """A running server. ``url(name)`` is the SQLAlchemy URL of database ``name`` on it."""

    bindir: Path
    folder: Path
    port: int
    run_as: list[str]

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        """The libpq connection string (for psycopg.connect) of database ``database``."""
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database}"

    def create_database(self) -> str:
        """Create an empty database with a unique name and return the name."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, closing any connections a test left open on it."""
        import psycopg

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run one of the server's programs (initdb, pg_ctl, ...) as the server's user."""
        return subprocess.run(
            [*self.run_as, str(self.bindir / tool), *args],
            cwd=self.folder,
            capture_output=True,
            text=True,
            check=False,
        )

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace") if path.exists() else "(no server log)"


def _run_as() -> list[str]:
    """The command prefix that runs a program as an unprivileged user: postgres refuses to run as root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        skip_or_fail(
            "running the tests as root needs the 'postgres' user (the Debian postgresql package makes it)"
        )
    runuser = shutil.which("runuser")
    if runuser is not None:
        return [runuser, "-u", "postgres", "--"]
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        skip_or_fail("running the tests as root needs runuser or setpriv (util-linux) to start PostgreSQL")
    entry = pwd.getpwnam("postgres")
    return [str(setpriv), f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups"]


def start_server() -> PgServer:
    """initdb and start a server in a new temporary folder; skip/fail when PostgreSQL is not installed."""
    bindir = find_bindir()
    if bindir is None:
        skip_or_fail(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): apt-get install postgresql "
            "(bash scripts/test does this when run as root)"
        )
        raise AssertionError("unreachable")  # pragma: no cover - skip_or_fail raises
    run_as = _run_as()
    # Not under pytest's tmp_path: that lives in a 0700 folder of the invoking user, which the postgres
    # user cannot enter.
    folder = Path(tempfile.mkdtemp(prefix="thisday-pg-"))
    if run_as:
        entry = pwd.getpwnam("postgres")
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    server = PgServer(bindir=bindir, folder=folder, port=_free_port(), run_as=run_as)
    init = server.run(
        "initdb", "-D", str(server.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-locale", "-N"
    )
    if init.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed ({init.returncode}):\n{init.stdout}\n{init.stderr}")
    options = (
        f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    start = server.run(
        "pg_ctl",
        "-D",
        str(server.data),
        "-l",
        str(folder / "server.log"),
        "-o",
        options,
        "-w",
        "-t",
        "180",
        "start",
    )
    if start.returncode != 0:
        log = server.log()
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(
            f"PostgreSQL did not start ({start.returncode}):\n{start.stdout}{start.stderr}\n{log}"
        )
    return server


def stop_server(server: PgServer) -> None:
    server.run("pg_ctl", "-D", str(server.data), "-m", "immediate", "-w", "stop")
    shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the whole test session (started on first use)."""
    server = start_server()
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
def postgres_url(postgres_server: PgServer) -> Iterator[str]:
    """The SQLAlchemy URL (``postgresql+psycopg://...``) of a new, empty database for this test only.
    Tests using it should be marked ``@pytest.mark.slow`` and ``@pytest.mark.postgres``."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)
