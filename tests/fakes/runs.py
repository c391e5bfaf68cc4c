"""Building a publication :class:`Run` for the social channels' tests: real settings, a real SQLite ledger,
the fixture entries (or a folder the test writes)."""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thisday.channels import Loaded, Run
from thisday.config import DaemonSettings, Settings, SiteSettings
from thisday.entries import load_tree
from thisday.index import CalendarIndex
from thisday.ledger import Ledger

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "entries"
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def settings(tmp: Path, entries: Path = FIXTURES, **sections: Any) -> Settings:
    return Settings(
        entries=entries,
        state_dir=tmp / "state",
        timezone="Europe/Berlin",
        site=SiteSettings(base_url="https://example.org/"),
        daemon=DaemonSettings(time=datetime.time(6, 0), catch_up_days=7),
        **sections,
    )


def loader(entries: Path) -> Any:
    def load(days: Sequence[datetime.date]) -> Loaded:
        return Loaded(CalendarIndex.build(load_tree(entries).entries))

    return load


def make_run(config: Settings, now: datetime.datetime, ledger: Ledger | None = None) -> Run:
    return Run(
        settings=config,
        ledger=ledger or Ledger(config.ledger_url()),
        now=now,
        load=loader(config.entries),
    )


def at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def write_entries(folder: Path, items: list[dict[str, Any]]) -> Path:
    """A data file of entries (YAML list) in ``folder``: the tests' own entries tree."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "many.yaml").write_text(yaml.safe_dump(items, allow_unicode=True), encoding="utf-8")
    return folder
