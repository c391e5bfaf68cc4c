"""A long `thisday send` (2,000 recipients, four SMTP connections) SIGKILLed at random moments and restarted until
it finishes: each address gets the digest once. The only recipients not known to be served are those whose message
was in flight when a kill came (between the end of its data and the server's reply: `uncertain`), at most one per
connection per kill, never sent again by themselves.

The moments come from a seeded generator; the seed is printed (replay with THISDAY_CRASH_SEED=N)."""

from __future__ import annotations

import datetime
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from smtp_server import Recorder
from thisday.config import load_settings
from thisday.ledger import Ledger, Status, digest_channel

ROOT = Path(__file__).resolve().parent.parent
DAY = "2026-07-12"
RECIPIENTS = [f"reader{n}@example.org" for n in range(2000)]
CONNECTIONS = 4
MAX_RUNS = 40




def write_site(folder: Path, port: int) -> Path:
    (folder / "recipients.txt").write_text("".join(f"{a}\n" for a in RECIPIENTS), encoding="utf-8")
    config = folder / "thisday.toml"
    config.write_text(
        f'timezone = "Europe/Berlin"\nentries = "{(ROOT / "entries").as_posix()}"\nstate_dir = "state"\n'
        '[site]\nbase_url = "https://history.example.org/"\n'
        '[digest]\nsender = "On this day <news@example.org>"\nrecipients_file = "recipients.txt"\n'
        'unsubscribe_url = "https://history.example.org/unsubscribe?email={email}"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nconnections = {CONNECTIONS}\nretry_delay = 0.05\n',
        encoding="utf-8",
    )
    return config


@pytest.mark.slow
def test_a_send_killed_at_random_moments_serves_each_address_once(
    tmp_path: Path, smtp: tuple[Recorder, int], capsys: pytest.CaptureFixture[str]
) -> None:
    """Kill `thisday send` (SIGKILL) 0.3 to 2.5 s after each start, restart, until a run finishes: no address
    receives the digest twice; every address is `done` and received it once, or is `uncertain` (at most one per
    connection per kill); a finished run exits 0."""
    recorder, port = smtp
    seed = int(os.environ.get("THISDAY_CRASH_SEED", random.randrange(1_000_000)))
    rng = random.Random(seed)
    config = write_site(tmp_path, port)
    env = {k: v for k, v in os.environ.items() if k not in ("THISDAY_STATE_DIR", "STATE_DIRECTORY")}
    kills = 0
    for _ in range(MAX_RUNS):
        proc = subprocess.Popen(
            [sys.executable, "-m", "thisday", "--config", str(config), "send", DAY],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            proc.wait(timeout=rng.uniform(0.3, 2.5) if kills < MAX_RUNS // 2 else 120)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
            kills += 1
            continue
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, (out + err).decode()
        break
    else:
        pytest.fail(f"the send did not finish in {MAX_RUNS} runs (seed {seed})")

    received = Counter(r.lower() for r in recorder.recipients())
    settings = load_settings(config, state_dir=tmp_path / "state")
    with Ledger.from_settings(settings) as ledger:
        rows = {r.channel: r.status for r in ledger.records(datetime.date.fromisoformat(DAY), "digest:")}
    twice = [a for a in RECIPIENTS if received[a] > 1]
    unserved = [
        a for a in RECIPIENTS
        if not (rows.get(digest_channel(a)) is Status.DONE and received[a] == 1)
        and rows.get(digest_channel(a)) is not Status.UNCERTAIN
    ]  # fmt: skip
    uncertain = [a for a in RECIPIENTS if rows.get(digest_channel(a)) is Status.UNCERTAIN]
    with capsys.disabled():
        print(
            f"\nseed {seed}: {kills} kills; {len(uncertain)} uncertain "
            f"({sum(received[a] for a in uncertain)} of them received by the server), {len(twice)} twice, "
            f"{len(unserved)} unserved"
        )
    assert kills >= 1, f"no kill landed before the send finished (seed {seed})"
    assert twice == [], f"seed {seed}"
    assert unserved == [], f"seed {seed}"
    # only the messages in flight when a kill came: one per connection per kill at most
    assert len(uncertain) <= kills * CONNECTIONS, f"seed {seed}"
    assert all(received[a] <= 1 for a in uncertain)
