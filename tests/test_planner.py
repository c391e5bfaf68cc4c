"""`thisday upcoming`: the coming days' round anniversaries (centenaries first), empty days, held entries
due and embargoes ending, for a fixed first day."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from click.testing import CliRunner

from thisday.cli import main

ENTRIES = {
    "centenary.md": """
        ---
        title: A centenary
        date: 1926-12-10
        ---
        """,
    "twenty-five.md": """
        ---
        title: Twenty-five years
        date: 2001-12-01
        ---
        """,
    "thirty.md": """
        ---
        title: Thirty years
        date: 1996-12-05
        ---
        """,
    "draft.md": """
        ---
        title: A draft for a 75th anniversary
        date: 1951-12-08
        status: draft
        ---
        """,
    "embargo.md": """
        ---
        title: Embargoed until the third
        date: 1990-12-03
        publish_after: 2026-12-03
        ---
        """,
    "later.md": """
        ---
        title: Outside the window
        date: 1926-12-20
        ---
        """,
}


def tree(tmp_path: Path) -> Path:
    root = tmp_path / "entries"
    root.mkdir()
    for name, text in ENTRIES.items():
        (root / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def upcoming(root: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--entries", str(root), "upcoming", "--from", "2026-12-01", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_upcoming_json_for_a_fixed_date(tmp_path: Path) -> None:
    """Ten days from 1 December 2026: the centenary first, then the other round anniversaries by day (a draft
    among them, marked); the days with nothing published; the draft and the embargoed entry as held on their
    days; and the embargo ending the day after its publish_after."""
    root = tree(tmp_path)
    plan = json.loads(upcoming(root, "--days", "10", "--format", "json"))
    rounds = [(r["day"], r["years_ago"], r["title"], r["held"], r["centenary"]) for r in plan["round_anniversaries"]]
    assert rounds == [
        ("2026-12-10", 100, "A centenary", None, True),
        ("2026-12-01", 25, "Twenty-five years", None, False),
        ("2026-12-05", 30, "Thirty years", None, False),
        ("2026-12-08", 75, "A draft for a 75th anniversary", "draft", False),
    ]
    assert (plan["from"], plan["to"], plan["days"]) == ("2026-12-01", "2026-12-10", 10)
    assert plan["empty_days"] == [
        "2026-12-02", "2026-12-03", "2026-12-04", "2026-12-06", "2026-12-07", "2026-12-08", "2026-12-09"
    ]
    assert [(h["day"], h["title"], h["held"]) for h in plan["held"]] == [
        ("2026-12-03", "Embargoed until the third", "embargoed until 2026-12-03"),
        ("2026-12-08", "A draft for a 75th anniversary", "draft"),
    ]
    assert [(e["day"], e["title"]) for e in plan["embargoes_ending"]] == [
        ("2026-12-04", "Embargoed until the third")
    ]
    assert plan["round_anniversaries"][0]["file"] == "centenary.md:1"


def test_upcoming_round_only_and_text(tmp_path: Path) -> None:
    """--round-only leaves out everything but the round anniversaries; the text lists them centenary first,
    one line each with the day, the years and the file, and names each section."""
    root = tree(tmp_path)
    plan = json.loads(upcoming(root, "--days", "10", "--round-only", "--format", "json"))
    assert set(plan) == {"from", "to", "days", "round_anniversaries"}
    text = upcoming(root, "--days", "10")
    lines = text.splitlines()
    first = lines.index("Round anniversaries (centenaries first):")
    assert lines[first + 1] == "  2026-12-10   100 years  A centenary  (centenary.md:1)"
    assert lines[first + 4] == "  2026-12-08    75 years  A draft for a 75th anniversary [draft]  (draft.md:1)"
    assert "Days with nothing to publish (7):" in lines
    assert "  2026-12-04  Embargoed until the third  (embargo.md:1)" in lines
    assert "Outside the window" not in text
    short = upcoming(root, "--days", "10", "--round-only")
    assert "Days with nothing" not in short and "A centenary" in short


def test_upcoming_with_a_longer_window_reaches_later_days(tmp_path: Path) -> None:
    """--days sets how far ahead: 20 days from 1 December reach the centenary of 20 December."""
    root = tree(tmp_path)
    plan = json.loads(upcoming(root, "--days", "20", "--round-only", "--format", "json"))
    centenaries = [r["title"] for r in plan["round_anniversaries"] if r["centenary"]]
    assert centenaries == ["A centenary", "Outside the window"]
