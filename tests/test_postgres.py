"""The database behind the ledger and the subscribers: schema versions and migrations, concurrent creation, leases
on claims, and an unreachable server. Runs on SQLite and on a real PostgreSQL server (``db_url``)."""

from __future__ import annotations

import datetime
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy
from click.testing import CliRunner

from smtp_server import free_port
from thisday import db
from thisday.cli import main
from thisday.errors import PublishError
from thisday.ledger import Ledger, Status
from thisday.subscribers import Store

DAY = datetime.date(2026, 7, 12)
NOW = datetime.datetime(2026, 7, 12, 6, tzinfo=datetime.UTC)
SECRET = b"a-secret-of-enough-length"


def schema_version(url: str) -> int:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            return db.current_version(conn)
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------------
# Schema


_OPENER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from thisday.ledger import Ledger
    from thisday.subscribers import Store
    url, go = sys.argv[1], Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.005)
    Ledger(url).close()
    Store(url, b"a-secret-of-enough-length").close()
    print("ok")
    """
)


@pytest.mark.slow
def test_daemons_starting_at_once_on_an_empty_database_all_start(
    db_url: Callable[[], str], tmp_path: Path
) -> None:
    """Eight processes opening the ledger and the subscriber store of one empty database at the same moment:
    none fails (no 'already exists', no UniqueViolation), and the schema ends at the current version."""
    url = db_url()
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, url, str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(8)
    ]
    time.sleep(1.5)  # every process is waiting at the start line (slower starts only lessen the race)
    go.write_text("go")
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        assert out.decode().strip() == "ok"
    assert schema_version(url) == db.SCHEMA_VERSION


def test_a_database_from_before_versions_is_migrated_and_keeps_its_rows(db_url: Callable[[], str]) -> None:
    """A ledger made by an earlier release (no version table, no lease column) is upgraded when opened: its rows
    are kept, the lease column is added, and claims work as before."""
    url = db_url()
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sqlalchemy.text(
                "CREATE TABLE publications (day DATE NOT NULL, channel VARCHAR(400) NOT NULL, "
                "status VARCHAR(16) NOT NULL, claimed_at TIMESTAMP NOT NULL, finished_at TIMESTAMP, "
                "attempts INTEGER NOT NULL, detail TEXT NOT NULL, token VARCHAR(64) NOT NULL, "
                "owner VARCHAR(300) NOT NULL, PRIMARY KEY (day, channel))"
            )
        )
        conn.execute(
            sqlalchemy.text(
                "INSERT INTO publications VALUES ('2026-07-11', 'digest', 'done', '2026-07-11 06:00:00', "
                "'2026-07-11 06:01:00', 1, 'sent', 'abc', 'old:1')"
            )
        )
    engine.dispose()
    assert schema_version(url) == 0
    with Ledger(url) as ledger:
        old = ledger.get(datetime.date(2026, 7, 11), "digest")
        assert old is not None and old.status is Status.DONE and old.detail == "sent"
        assert ledger.claim(DAY, "digest", NOW) is not None
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        columns = {c["name"] for c in sqlalchemy.inspect(conn).get_columns("publications")}
        assert "lease_until" in columns
        assert sqlalchemy.inspect(conn).has_table("subscribers")
    engine.dispose()
    assert schema_version(url) == db.SCHEMA_VERSION


def test_a_database_newer_than_this_release_is_refused(db_url: Callable[[], str]) -> None:
    """A database upgraded by a later release is not used by this one: the error says to upgrade thisday."""
    url = db_url()
    Ledger(url).close()
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.execute(db.schema_table.update().values(version=db.SCHEMA_VERSION + 1))
    engine.dispose()
    with pytest.raises(PublishError, match=r"newer than this thisday knows.*upgrade thisday"):
        Ledger(url)
    with pytest.raises(PublishError, match="upgrade thisday"):
        Store(url, SECRET)


def test_thisday_db_upgrade_creates_then_has_nothing_to_do(db_url: Callable[[], str], tmp_path: Path) -> None:
    """`thisday db upgrade` makes the schema of an empty database, then says there is nothing to do."""
    url = db_url()
    config = tmp_path / "thisday.toml"
    config.write_text(f'[daemon]\nledger_url = "{url}"\n', encoding="utf-8")
    first = CliRunner().invoke(main, ["--config", str(config), "db", "upgrade"])
    assert first.exit_code == 0, first.output
    assert f"schema upgraded from version 0 to {db.SCHEMA_VERSION}" in first.stdout
    again = CliRunner().invoke(main, ["--config", str(config), "db", "upgrade"])
    assert again.exit_code == 0 and "nothing to do" in again.stdout
    assert schema_version(url) == db.SCHEMA_VERSION


# ---------------------------------------------------------------------------------------------
# Leases


@pytest.mark.slow
def test_a_claim_whose_lease_ran_out_is_settled_by_another_host(db_url: Callable[[], str]) -> None:
    """A claim held by a process on another host that stopped renewing its lease is settled as soon as the lease
    runs out (not after the hour of stale_after): a claimed row is taken over, a sending row becomes uncertain."""
    url = db_url()
    with Ledger(url, lease=1) as gone, Ledger(url) as survivor:
        assert gone.claim(DAY, "feeds", NOW, owner="host-gone:4242") is not None
        sending = gone.claim(DAY, "digest:a@example.org", NOW, owner="host-gone:4242")
        assert sending is not None and gone.mark_sending(sending, NOW)
        gone.close()  # stops its renewer: as if the host died
        time.sleep(1.5)
        taken = survivor.claim(DAY, "feeds", NOW + datetime.timedelta(seconds=2))
        assert taken is not None and taken.attempts == 2
        assert survivor.claim(DAY, "digest:a@example.org", NOW) is None
        record = survivor.get(DAY, "digest:a@example.org")
        assert record is not None and record.status is Status.UNCERTAIN


@pytest.mark.slow
def test_a_renewed_lease_keeps_the_claim(db_url: Callable[[], str]) -> None:
    """While its holder renews the lease, a claim of another host is never taken over, however long it is held."""
    url = db_url()
    with Ledger(url, lease=3) as holder, Ledger(url) as other:
        held = holder.claim(DAY, "feeds", NOW, owner="host-busy:4242")
        assert held is not None
        for _ in range(4):
            assert holder.renew_leases() == 1
            time.sleep(1)
            assert other.claim(DAY, "feeds", NOW) is None
        assert holder.mark_done(held, NOW)


# ---------------------------------------------------------------------------------------------
# An unreachable server


def test_an_unreachable_server_is_said_so_in_one_line_and_in_status(tmp_path: Path) -> None:
    """A PostgreSQL ledger that cannot be reached is a one-line DatabaseUnreachable naming the server (no
    password), and `thisday status` says so and fails, rather than tracing back."""
    url = f"postgresql+psycopg://thisday:hunter2@127.0.0.1:{free_port()}/thisday"
    with pytest.raises(db.DatabaseUnreachable, match="cannot be reached") as caught:
        Ledger(url)
    assert "hunter2" not in str(caught.value) and "127.0.0.1" in str(caught.value)
    config = tmp_path / "thisday.toml"
    config.write_text(f'[daemon]\nledger_url = "{url}"\n', encoding="utf-8")
    (tmp_path / "entries").mkdir()
    result = CliRunner().invoke(
        main, ["--config", str(config), "status"], env={"THISDAY_HOST": "host-x"}
    )
    assert result.exit_code == 1
    assert "database:   UNREACHABLE" in result.stdout and "host-x" in result.stdout
    assert "health:     FAILING: the database is unreachable" in result.stdout
    assert "hunter2" not in result.stdout


def test_the_host_name_comes_from_thisday_host() -> None:
    """THISDAY_HOST names this host in a shared ledger (its claims, its own site rows); a name with spaces is
    refused with the fix."""
    assert db.host_name({"THISDAY_HOST": "web-2"}) == "web-2"
    assert db.host_name({}) == __import__("socket").gethostname()
    with pytest.raises(PublishError, match="THISDAY_HOST"):
        db.host_name({"THISDAY_HOST": "two words"})
