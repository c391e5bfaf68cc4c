"""Faults: nothing silent, nothing stuck, nothing lost. Killed writes, stale temporary files, an honest
`thisday status`, a locked, damaged or lost ledger, `thisday send` stopped by SIGTERM, and clock steps."""

from __future__ import annotations

import datetime
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from smtp_server import Recorder, free_port
from test_build import NOW, assert_old_or_new, build_ok, cli, expected_files, kill_when_stalled, site_files
from test_build import config as config  # noqa: F401  (the fixture)
from test_daemon import RECIPIENTS, at, settings_for, write_config
from thisday.channels.digest import DIGEST_CHANNEL
from thisday.cli import STALL_MID_WRITE_ENV, main
from thisday.config import Settings, load_settings
from thisday.ledger import FEEDS_CHANNEL, MARKER_NAME, Ledger, Status, digest_channel
from thisday.runner import health, publish_due

DAY = datetime.date(2026, 7, 12)


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, int]]:
    """A real SMTP server on loopback that records what it receives."""
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield recorder, port
    controller.stop()


def temp_files(feeds: Path) -> list[str]:
    return sorted(p.relative_to(feeds).as_posix() for p in feeds.rglob(".*.tmp"))


# ---------------------------------------------------------------------------------------------
# 1, 2: atomic writes, and the temporary files a killed build leaves


@pytest.mark.slow
@pytest.mark.parametrize("stall_in", [1, 15, 16])
def test_a_build_killed_in_the_middle_of_a_write_leaves_every_file_whole(config: Path, stall_in: int) -> None:
    """SIGKILL a real `thisday build` when half of one file's bytes are written (THISDAY_TEST_STALL_MID_WRITE=N):
    every file in feeds/ is byte-identical to the previous build's or the new one's, and every feed parses.
    File 1 is a day page, 15 the Atom feed (replacing an old one), 16 its RSS twin."""
    feeds = config.parent / "feeds"
    build_ok(config, "2026-07-11", "--now", "2026-07-11T06:00:00+02:00")
    old = site_files(feeds)
    new = expected_files(config, DAY, NOW)
    kill_when_stalled(cli(config, "build", "2026-07-12", "--now", NOW, env={STALL_MID_WRITE_ENV: str(stall_in)}))
    assert len(temp_files(feeds)) == 1, "the kill did not land inside a write"
    assert_old_or_new(feeds, old, new)


@pytest.mark.slow
def test_the_next_build_removes_the_temporary_files_a_killed_build_left(config: Path) -> None:
    """A build killed mid-write leaves `.NAME.XXXXXXXX.tmp`; the next build removes it (in feeds/ and days/),
    and leaves alone every file that is not one of its own temporary files."""
    feeds = config.parent / "feeds"
    kill_when_stalled(cli(config, "build", "2026-07-12", "--now", NOW, env={STALL_MID_WRITE_ENV: "2"}))
    first = temp_files(feeds)
    assert len(first) == 1 and first[0].startswith("days/.2026-06-30.html.")
    kill_when_stalled(cli(config, "build", "2026-07-12", "--now", NOW, env={STALL_MID_WRITE_ENV: "15"}))
    second = temp_files(feeds)
    assert len(second) == 1 and second[0].startswith(".onthisday.atom.")  # the first one was removed
    keep = {
        "notes.tmp": b"a user's file",
        ".onthisday.atom.tmp": b"not eight random characters",
        ".draft.ABCDEFGH.tmp": b"upper case: not ours",
        ".hidden/.x.abcdefgh.tmp": b"in a hidden folder",
    }
    for name, data in keep.items():
        (feeds / name).parent.mkdir(parents=True, exist_ok=True)
        (feeds / name).write_bytes(data)
    outside = config.parent / ".elsewhere.abcdefgh.tmp"
    outside.write_bytes(b"outside feeds/")
    build_ok(config, "2026-07-12", "--now", NOW)
    assert [name for name in temp_files(feeds) if name not in keep] == []
    assert {name: (feeds / name).read_bytes() for name in keep} == keep
    assert outside.exists()
