"""Every ledger and subscriber test runs on both databases: SQLite (a file) and PostgreSQL (``pgserver``).

``db_url`` is a factory: each call returns the URL of a new, empty database on the test's backend (a SQLite file
in the test's folder, or a database on the session's throwaway PostgreSQL server, dropped at the end).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=[pytest.mark.slow, pytest.mark.postgres]),
]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """A factory of URLs of new, empty databases on the backend this test runs on (sqlite or postgres)."""
    if request.param == "sqlite":
        numbers = itertools.count()
        yield lambda: f"sqlite:///{tmp_path / f'db{next(numbers)}.sqlite'}"
        return
    server = request.getfixturevalue("postgres_server")
    made: list[str] = []

    def new() -> str:
        made.append(server.create_database())
        return str(server.url(made[-1]))

    try:
        yield new
    finally:
        for name in made:
            server.drop_database(name)
