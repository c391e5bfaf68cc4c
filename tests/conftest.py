"""Shared test set-up: every test gets its own state folder, so no test writes outside its tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point THISDAY_STATE_DIR (the index cache, the ledger) at a fresh folder for each test."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("THISDAY_STATE_DIR", str(state))
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    return state


# Shared fixtures for browser and PostgreSQL tests (see tests/browser.py and tests/pgserver.py):
# ``browser`` is a headless chromium tab at phone width; ``postgres_url`` is the SQLAlchemy URL of a fresh
# database on a throwaway server (``postgres_server`` is the server itself); ``db_url`` (tests/backends.py) makes
# new databases on SQLite and on PostgreSQL, so ledger and subscriber tests run on both; ``smtp`` is a loopback
# SMTP server that records what it receives (tests/smtp_server.py).
from backends import db_url  # noqa: E402, F401
from browser import _chromium_session, browser  # noqa: E402, F401
from pgserver import postgres_server, postgres_url  # noqa: E402, F401
from smtp_server import smtp  # noqa: E402, F401
