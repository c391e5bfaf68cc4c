"""SIGKILL during a post, then a restart: every post appears exactly once (Mastodon and Bluesky)."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fakes.base import FakeServer, Fault
from fakes.bluesky import FakePDS
from fakes.mastodon import FakeMastodon
from fakes.post_once import MOMENT, config
from fakes.runs import make_run
from thisday.channels.social import find_channel
from thisday.ledger import Ledger, Status

HERE = Path(__file__).resolve().parent
DAY = datetime.date(2026, 7, 12)
POST_PATHS = {"mastodon": "/api/v1/statuses", "bluesky": "/xrpc/com.atproto.repo.createRecord"}


def posts(fake: FakeServer) -> int:
    if isinstance(fake, FakeMastodon):
        return len(fake.statuses)
    assert isinstance(fake, FakePDS)
    return len(fake.records)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["mastodon", "bluesky"])
def test_sigkill_after_the_server_took_the_post_then_restart_posts_once(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process posting the day is killed (SIGKILL) after the server received and stored the post, before the
    ledger was marked. The restarted run finds the row left 'sending' by a dead process, retries it with the same
    Idempotency-Key (Mastodon) or record key (Bluesky), and the server ends up with exactly one post."""
    env = dict(os.environ, THISDAY_MASTODON_TOKEN="good-token", THISDAY_BLUESKY_PASSWORD="app-pass")
    monkeypatch.setenv("THISDAY_MASTODON_TOKEN", "good-token")
    monkeypatch.setenv("THISDAY_BLUESKY_PASSWORD", "app-pass")
    fake: FakeServer = FakeMastodon() if kind == "mastodon" else FakePDS()
    with fake:
        fake.faults.append(Fault(POST_PATHS[kind], hold=True))
        child = subprocess.Popen(
            [sys.executable, str(HERE / "fakes" / "post_once.py"), kind, fake.url, str(tmp_path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert fake.received.wait(120), "the child never reached the server"
            assert posts(fake) == 1
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
            fake.release.set()
        conf = config(kind, fake.url, tmp_path)
        ledger = Ledger(conf.ledger_url())
        row = f"{kind}:day"
        assert ledger.get(DAY, row).status is Status.SENDING  # type: ignore[union-attr]
        now = datetime.datetime.fromisoformat(MOMENT) + datetime.timedelta(minutes=2)
        report = find_channel(conf, kind).publish_due(make_run(conf, now, ledger))
        assert report.ok, report.errors
        assert posts(fake) == 1
        assert ledger.get(DAY, row).status is Status.DONE  # type: ignore[union-attr]
        assert ledger.get(DAY, kind).status is Status.DONE  # type: ignore[union-attr]
