"""Editorial fields: status, verification, embargo and dispute; `check --strict`; round anniversaries under
`selection.round`; the daily limit's rotation through a crowded day."""

from __future__ import annotations

import datetime
import json
import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from thisday.cli import main
from thisday.dates import is_round_anniversary
from thisday.entries import load_tree
from thisday.index import CalendarIndex
from thisday.model import Entry, HistoricDate, Kind, Location, Status
from thisday.selection import select

DAY = "2026-07-12"


def run(root: Path, *args: str, config: Path | None = None) -> tuple[int, str]:
    prefix = ["--config", str(config)] if config else ["--entries", str(root / "entries")]
    result = CliRunner().invoke(main, [*prefix, *args])
    return result.exit_code, result.output


def write(root: Path, name: str, text: str) -> Path:
    path = root / "entries" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def site(tmp_path: Path, extra: str = "") -> Path:
    """A site folder: thisday.toml (with ``extra`` settings) beside an entries folder; the config's path."""
    config = tmp_path / "thisday.toml"
    config.write_text('timezone = "UTC"\n' + textwrap.dedent(extra), encoding="utf-8")
    (tmp_path / "entries").mkdir(exist_ok=True)
    return config


READY = "A ready entry is published"
DRAFT = "A draft is never published"
EMBARGOED = "An embargoed entry waits"
FREED = "An entry whose embargo has ended"


def editorial_tree(root: Path) -> None:
    write(
        root,
        "day.md",
        f"""
        ---
        title: {READY}
        date: 1942-07-12
        ---
        Ready text.
        """,
    )
    write(
        root,
        "draft.md",
        f"""
        ---
        title: {DRAFT}
        date: 1950-07-12
        status: draft
        ---
        Draft text.
        """,
    )
    write(
        root,
        "embargo.md",
        f"""
        ---
        title: {EMBARGOED}
        date: 1960-07-12
        publish_after: {DAY}
        ---
        Embargoed text.
        """,
    )
    write(
        root,
        "freed.md",
        f"""
        ---
        title: {FREED}
        date: 1970-07-12
        status: verified
        verified_by: A. Editor
        publish_after: 2026-07-11
        ---
        Freed text.
        """,
    )


def test_editorial_fields_are_read(tmp_path: Path) -> None:
    """status, verified_by, verified_note, publish_after, disputed and dispute_note reach the Entry; an entry
    without them is ready, undisputed and not embargoed."""
    write(
        tmp_path,
        "a.md",
        """
        ---
        title: Checked
        date: 1942-07-12
        status: verified
        verified_by: A. Editor
        verified_note: against the archive
        publish_after: 2026-08-01
        disputed: true
        dispute_note: sources give 1942 and 1943
        ---
        """,
    )
    write(tmp_path, "b.md", "---\ntitle: Plain\ndate: 1942-07-12\n---\n")
    result = load_tree(tmp_path / "entries")
    assert not result.problems
    checked, plain = sorted(result.entries, key=lambda e: e.title)
    assert checked.status is Status.VERIFIED
    assert (checked.verified_by, checked.verified_note) == ("A. Editor", "against the archive")
    assert checked.publish_after == datetime.date(2026, 8, 1)
    assert checked.disputed and checked.dispute_note == "sources give 1942 and 1943"
    assert plain.status is Status.READY and plain.publish_after is None and not plain.disputed


@pytest.mark.parametrize(
    ("field_lines", "line", "words"),
    [
        ("status: drfat", 4, ["status must be one of draft, ready, verified", "did you mean 'draft'"]),
        ("publish_after: next week", 4, ["publish_after must be a day written YYYY-MM-DD"]),
        ("publish_after: 2026-02-30", 4, ["not a real day"]),
        ("status: draft\nverified_by: A. Editor", 5, ["verified_by belongs to a verified entry", "draft"]),
        ("disputed: sometimes", 4, ["disputed must be true or false"]),
        ("dispute_note: 1942 or 1943", 4, ["add disputed: true"]),
    ],
)
def test_bad_editorial_fields_are_path_line_problems(
    tmp_path: Path, field_lines: str, line: int, words: list[str]
) -> None:
    """An unknown status, a publish_after that is not a date, verified_by on a draft (and a bad disputed):
    `thisday check` names the file and the field's line, says how to fix it, and exits 1."""
    path = tmp_path / "entries" / "bad.md"
    path.parent.mkdir()
    path.write_text(f"---\ntitle: Bad\ndate: 1942-07-12\n{field_lines}\n---\n", encoding="utf-8")
    code, out = run(tmp_path, "check")
    assert code == 1
    assert f"{path}:{line}: " in out, out
    for word in words:
        assert word in out, out


def _outputs(tmp_path: Path, config: Path) -> dict[str, str]:
    """Every output of DAY: previews (text, json, email, html, atom, rss), the digest, and the built site."""
    outputs: dict[str, str] = {}
    for fmt in ("text", "json", "email", "html", "atom", "rss"):
        code, out = run(tmp_path, "preview", DAY, "--format", fmt, config=config)
        assert code == 0, out
        outputs[f"preview {fmt}"] = out
    code, out = run(tmp_path, "digest", DAY, config=config)
    assert code == 0, out
    outputs["digest"] = out
    code, out = run(tmp_path, "build", DAY, "--now", f"{DAY}T06:00:00+00:00", config=config)
    assert code == 0, out
    for path in sorted((tmp_path / "feeds").rglob("*")):
        if path.is_file():
            outputs[f"build {path.name}"] = path.read_text(encoding="utf-8")
    return outputs


def test_drafts_and_embargoed_entries_reach_no_output(tmp_path: Path) -> None:
    """A draft, and an entry whose publish_after is the day itself, are in no preview, digest, page or feed;
    the ready entry and the entry whose embargo ended the day before are in each of them."""
    config = site(tmp_path)
    editorial_tree(tmp_path)
    outputs = _outputs(tmp_path, config)
    assert len(outputs) >= 10
    for name, text in outputs.items():
        for title in (DRAFT, EMBARGOED):
            assert title not in text, f"{title!r} in {name}"
        if name.startswith(("preview", "digest")) or name in ("build index.html", f"build {DAY}.html"):
            assert READY in text and FREED in text, f"published entries missing from {name}"


def test_preview_drafts_shows_held_entries_marked(tmp_path: Path) -> None:
    """`thisday preview --drafts` shows drafts and embargoed entries in place, each marked with why it is
    held; the JSON says so too; --drafts with a publishing format is a usage error."""
    editorial_tree(tmp_path)
    code, out = run(tmp_path, "preview", DAY, "--drafts")
    assert code == 0, out
    assert f"[DRAFT, not published] {DRAFT}" in out
    assert f"[EMBARGOED UNTIL {DAY}, not published] {EMBARGOED}" in out
    assert f"• {READY}" in out and f"• {FREED}" in out
    code, out = run(tmp_path, "preview", DAY, "--drafts", "--format", "json")
    held = {e["title"]: e["held"] for e in json.loads(out)["entries"]}
    assert held == {READY: None, DRAFT: "draft", EMBARGOED: f"embargoed until {DAY}", FREED: None}
    code, out = run(tmp_path, "preview", DAY, "--drafts", "--format", "html")
    assert code == 2 and "--drafts" in out


def test_a_disputed_date_is_shown_wherever_the_date_is(tmp_path: Path) -> None:
    """`disputed: true` with a note puts 'Date disputed: <note>.' beside the date in the preview, the JSON,
    the digest (text and HTML), the day page and the feeds."""
    config = site(tmp_path)
    write(
        tmp_path,
        "d.md",
        """
        ---
        title: A battle of uncertain year
        date: 1942-07-12
        disputed: true
        dispute_note: sources give 1942 and 1943
        ---
        Text.
        """,
    )
    outputs = _outputs(tmp_path, config)
    wanted = "Date disputed: sources give 1942 and 1943."
    for name in ("preview text", "preview email", "digest", "build index.html", f"build {DAY}.html"):
        assert wanted in re.sub(r"=\n", "", outputs[name]).replace("=20", " "), name
    for name in ("build onthisday.atom", "build onthisday.rss", "preview json"):
        assert wanted in outputs[name], name


def test_check_strict_requires_sources_and_verification(tmp_path: Path) -> None:
    """`thisday check` accepts entries without sources or verification; `check --strict` lists each such
    entry as path:line and exits 1, and passes a tree where every entry has sources and is verified."""
    write(
        tmp_path,
        "good.md",
        """
        ---
        title: Verified and sourced
        date: 1942-07-12
        status: verified
        sources: [{title: An archive, url: "https://example.org/a"}]
        ---
        """,
    )
    assert run(tmp_path, "check", "--strict")[0] == 0
    nosource = write(tmp_path, "nosource.md", "---\ntitle: No sources\ndate: 1942-07-13\nstatus: verified\n---\n")
    ready = write(
        tmp_path, "ready.md", "---\ntitle: Only ready\ndate: 1942-07-14\nsources: [An archive]\n---\n"
    )
    assert run(tmp_path, "check")[0] == 0
    code, out = run(tmp_path, "check", "--strict")
    assert code == 1
    assert f"{nosource}:1: no sources" in out
    assert f"{ready}:1: status is ready, not verified" in out
    assert "good.md" not in out


@pytest.mark.parametrize(
    ("years", "expected"),
    [(30, True), (60, True), (75, True), (80, True), (100, True), (125, True), (150, True), (110, False),
     (10, True), (20, True), (25, True), (90, True), (175, True), (200, True),
     (5, False), (35, False), (99, False), (105, False), (120, False), (130, False), (0, False)],
)
def test_wikipedia_round_rule_is_the_default(years: int, expected: bool) -> None:
    """The default rule is Wikipedia's: under 100 years multiples of 10 and 25, from 100 on multiples of 25
    (so 30, 60, 75 and 80 are round, and so are 100, 125 and 150, but not 110)."""
    assert is_round_anniversary(years) is expected


def test_the_classic_rule_and_a_list_of_years() -> None:
    """'classic' is 10 and every multiple of 25 (30 and 60 are not round); a tuple is exactly those years."""
    assert [n for n in range(1, 160) if is_round_anniversary(n, "classic")] == [10, 25, 50, 75, 100, 125, 150]
    assert [n for n in range(1, 300) if is_round_anniversary(n, (50, 200))] == [50, 200]


def _round_flags(tmp_path: Path, config: Path) -> dict[int, bool]:
    code, out = run(tmp_path, "preview", DAY, "--format", "json", config=config)
    assert code == 0, out
    return {e["years_ago"]: e["round_anniversary"] for e in json.loads(out)["entries"]}


def test_selection_round_chooses_the_rule(tmp_path: Path) -> None:
    """`selection.round` in thisday.toml changes which of a day's entries are marked round: the default
    marks 30, 60, 100; "classic" only 100; [60] only 60; an unknown name is a one-line config error."""
    for year in (1996, 1966, 1926, 1916):  # 30, 60, 100, 110 years before 2026
        write(tmp_path, f"{year}.md", f"---\ntitle: In {year}\ndate: {year}-07-12\n---\n")
    default = site(tmp_path)
    assert _round_flags(tmp_path, default) == {30: True, 60: True, 100: True, 110: False}
    classic = site(tmp_path, '[selection]\nround = "classic"\n')
    assert _round_flags(tmp_path, classic) == {30: False, 60: False, 100: True, 110: False}
    listed = site(tmp_path, "[selection]\nround = [60]\n")
    assert _round_flags(tmp_path, listed) == {30: False, 60: True, 100: False, 110: False}
    bad = site(tmp_path, '[selection]\nround = "wikipdia"\n')
    code, out = run(tmp_path, "check", config=bad)
    assert code == 1 and "selection.round" in out and "did you mean 'wikipedia'" in out
    assert len(out.strip().splitlines()) == 1


def _crowded_day(n: int) -> CalendarIndex:
    return CalendarIndex.build(
        Entry(
            id=f"e{k}",
            title=f"Entry {k}",
            kind=Kind.EVENT,
            date=HistoricDate(1801 + k, 3, 4),
            location=Location("t.yaml", k + 1),
        )
        for k in range(n)
    )


@pytest.mark.parametrize(("entries", "limit"), [(5, 2), (7, 3), (4, 1), (6, 4)])
def test_the_daily_limit_shows_the_entries_shown_least_recently(entries: int, limit: int) -> None:
    """On a crowded day, each year's limited selection takes entries never shown yet, then those shown
    longest ago: over any ceil(n / limit) consecutive years every entry of the day appears."""
    index = _crowded_day(entries)
    last_shown: dict[str, int] = {}
    for year in range(2000, 2030):
        shown = [
            o.entry.id
            for o in select(index, datetime.date(year, 3, 4), limit=limit, round_rule=(10_000,)).occurrences
        ]
        assert len(shown) == limit
        if year > 2000:
            age = {e: year - last_shown.get(e, -10_000) for e in (f"e{k}" for k in range(entries))}
            ages = sorted(age.values(), reverse=True)
            # the shown entries are all among the `limit` oldest (ties with the cut-off count as oldest)
            assert all(age[e] >= ages[limit - 1] for e in shown), (year, shown, age)
        for e in shown:
            last_shown[e] = year
    per = -(-entries // limit)
    for start in range(2000, 2030 - per):
        seen = {
            o.entry.id
            for year in range(start, start + per)
            for o in select(index, datetime.date(year, 3, 4), limit=limit, round_rule=(10_000,)).occurrences
        }
        assert len(seen) == entries, (start, seen)
