"""Test switches: environment variables that make a real ``thisday`` process stop or see another clock at a
chosen moment, so that tests can kill it mid-publication or step its clock. Offered here as a small API (the CLI
turns them into the hooks of a run); nothing is patched. Unset, they do nothing.
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STALL_ENV = "THISDAY_TEST_STALL_AFTER"
"""Test switch: `thisday build` stops (sleeps until killed) after writing this many files."""


STALL_MID_WRITE_ENV = "THISDAY_TEST_STALL_MID_WRITE"
"""Test switch: `thisday build` stops (sleeps until killed) halfway through writing its Nth file."""

STALL_MESSAGES_ENV = "THISDAY_TEST_STALL_AFTER_MESSAGES"
"""Test switch: `thisday run` stops (sleeps until killed) after serving this many digest recipients."""


CLOCK_OFFSET_ENV = "THISDAY_TEST_CLOCK_OFFSET_FILE"
"""Test switch: `thisday run` reads its wall clock as the system's plus the seconds in this file (re-read on every
reading), so a test can step the clock back or forward."""


def test_wall_clock(zone: datetime.tzinfo) -> Callable[[], datetime.datetime] | None:
    path = os.environ.get(CLOCK_OFFSET_ENV, "")
    if not path:
        return None

    def wall_clock() -> datetime.datetime:
        try:
            offset = float(Path(path).read_text(encoding="utf-8").strip() or 0)
        except (OSError, ValueError):  # being rewritten by the test: no step this time
            offset = 0.0
        return datetime.datetime.now(zone) + datetime.timedelta(seconds=offset)

    return wall_clock


def stall_hook(variable: str = STALL_ENV) -> Callable[[Any], None] | None:
    after = os.environ.get(variable, "")
    if not after.isdigit():
        return None
    done: list[object] = []

    def stall(what: object) -> None:
        done.append(what)
        if len(done) == int(after):
            print(f"thisday: test switch {variable}: stalled after {what}", file=sys.stderr, flush=True)
            while True:  # until killed: the test this switch exists for kills the process here
                time.sleep(3600)

    return stall
