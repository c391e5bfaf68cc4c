"""`thisday send` shows a progress line (count and messages a second) when its stderr is a terminal, and nothing
of the kind when it is piped (scripts, cron, the daemon's logs)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from smtp_server import Recorder, free_port
from test_speed_send_crash import write_site

DAY = "2026-07-12"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, Recorder]]:
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield write_site(tmp_path, port), recorder
    controller.stop()


def send(config: Path, *, terminal: bool) -> str:
    """Run `thisday send` to the site's 2,000 recipients; its stderr, from a pseudo-terminal or a pipe."""
    env = {k: v for k, v in os.environ.items() if k not in ("THISDAY_STATE_DIR", "STATE_DIRECTORY")}
    args = [sys.executable, "-m", "thisday", "--config", str(config), "send", DAY]
    if not terminal:
        result = subprocess.run(args, cwd=config.parent, env=env, capture_output=True, timeout=300)
        assert result.returncode == 0, result.stderr.decode()
        return result.stderr.decode()
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, cwd=config.parent, env=env, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=300) == 0, b"".join(chunks).decode()
    return b"".join(chunks).decode()


@pytest.mark.slow
def test_a_send_on_a_terminal_shows_its_progress(site: tuple[Path, Recorder]) -> None:
    """On a terminal, the send rewrites one line ('sending: 2,000 done, N a second') as it goes, then the
    summary."""
    config, recorder = site
    shown = send(config, terminal=True)
    assert "sending: 2,000 done, " in shown
    assert " a second" in shown
    assert f"{DAY}: 2000 sent, 0 failed, 0 skipped" in shown
    assert len(recorder.messages) == 2000


@pytest.mark.slow
def test_a_piped_send_prints_no_progress(site: tuple[Path, Recorder]) -> None:
    """With stderr piped, the send prints only its summary: no progress line, no carriage returns."""
    config, _ = site
    shown = send(config, terminal=False)
    assert shown == f"{DAY}: 2000 sent, 0 failed, 0 skipped\n"
