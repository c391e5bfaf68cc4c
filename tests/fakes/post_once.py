"""Run one channel's publish_due in a process of its own (the crash test kills it mid-post).

Usage: python post_once.py mastodon|bluesky SERVICE_URL TMP_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fakes.runs import make_run, settings
from thisday.channels.social import find_channel
from thisday.config import BlueskySettings, MastodonSettings

MOMENT = "2026-07-12T06:05:00+02:00"


def config(kind: str, url: str, tmp: Path):  # type: ignore[no-untyped-def]
    if kind == "mastodon":
        return settings(tmp, mastodon=MastodonSettings(instance=url, retry_delay=0.0, timeout=120.0))
    return settings(tmp, bluesky=BlueskySettings(service=url, handle="bot.example", retry_delay=0.0, timeout=120.0))


def main() -> None:
    import datetime

    kind, url, tmp = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    conf = config(kind, url, tmp)
    report = find_channel(conf, kind).publish_due(make_run(conf, datetime.datetime.fromisoformat(MOMENT)))
    print("ok" if report.ok else report.errors)


if __name__ == "__main__":
    main()
