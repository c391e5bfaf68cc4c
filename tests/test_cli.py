"""The command line, as an editor uses it: preview, check, coverage; help for every command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import hostile
from thisday.cli import main

ROOT = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "entries"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--entries", str(FIXTURES), *args])
    return result.exit_code, result.stdout, result.stderr


def test_preview_text() -> None:
    """Preview shows the day, each entry with its displayed date and years ago, the lead story first."""
    code, out, _ = run("preview", "1942-07-12")
    assert code == 0
    assert out.startswith("Sunday 12 July 1942: 4 entries")
    lead = out.index("★ Andrey Vlasov is captured by German forces")
    # Thoreau (1817) is 125 years back in 1942, a round anniversary, so he comes before the older entries
    assert lead < out.index("Henry David Thoreau is born") < out.index("Julius Caesar is born")
    assert "125 years ago (round anniversary)" in out
    assert "12 July 100 BC (Julian calendar) · 2041 years ago" in out
    assert "<script>" not in out


def test_preview_json_shape() -> None:
    """--format json gives the documented fields, years as integers, BC negative."""
    code, out, _ = run("preview", "2026-07-12", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["date"] == "2026-07-12"
    caesar = next(e for e in data["entries"] if e["title"] == "Julius Caesar is born")
    assert caesar["year"] == -99 and caesar["years_ago"] == 2125 and caesar["round_anniversary"] is True
    assert {
        "id",
        "title",
        "kind",
        "year",
        "years_ago",
        "date_display",
        "round_anniversary",
        "tags",
        "featured",
        "sources",
    } <= set(caesar)
    lead = data["entries"][0]
    assert lead["featured"] and lead["sources"][1]["url"] == "https://en.wikipedia.org/wiki/Andrey_Vlasov"


def test_preview_filters_and_date_forms() -> None:
    """--kind and --tag filter; 'July 12' and '07-12' name the same day."""
    _, by_words, _ = run("preview", "July 12", "--kind", "birth", "--format", "json")
    _, by_digits, _ = run("preview", "07-12", "--kind", "birth", "--format", "json")
    assert json.loads(by_words) == json.loads(by_digits)
    assert [e["kind"] for e in json.loads(by_words)["entries"]] == ["birth", "birth"]


def test_bad_date_is_one_line_exit_1() -> None:
    """A date that does not exist is one error line on stderr and exit status 1, no traceback."""
    code, out, err = run("preview", "1942-02-30")
    assert code == 1 and out == ""
    assert err.startswith("thisday: error: '1942-02-30' is not a real day") and "Traceback" not in err


def test_check_clean_tree() -> None:
    """check on a clean tree exits 0 with a one-line summary."""
    code, out, _ = run("check")
    assert code == 0 and out.startswith("ok: 11 entries in 3 files")


def test_check_lists_problems(tmp_path: Path) -> None:
    """check prints each problem as path:line: message and exits 1."""
    (tmp_path / "bad.yaml").write_text("- tittle: X\n  date: '1942-02-30'\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--entries", str(tmp_path), "check"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert f"{tmp_path}/bad.yaml:1: unknown field 'tittle' (did you mean 'title'?)" in lines
    assert any(line.startswith(f"{tmp_path}/bad.yaml:2: date '1942-02-30' does not exist") for line in lines)


def test_preview_skips_bad_entries_but_shows_the_rest(tmp_path: Path) -> None:
    """A broken file does not stop the preview: good entries show, a warning goes to stderr."""
    (tmp_path / "bad.yaml").write_text("- title: [broken\n", encoding="utf-8")
    (tmp_path / "good.yaml").write_text("- title: Good\n  date: '1969-07-20'\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--entries", str(tmp_path), "preview", "2026-07-20"])
    assert result.exit_code == 0 and "• Good" in result.stdout
    assert "1 entry problem(s) skipped" in result.stderr


def test_coverage_grid() -> None:
    """coverage shows counts per day, '.' for empty days, and lists the empty days."""
    _code, out, _ = run("coverage")
    lines = out.splitlines()
    jul = next(line for line in lines if line.startswith("Jul"))
    assert jul.split()[12] == "4"  # 12 July: four fixed-day entries
    assert "(+1 month-only)" in jul
    assert "4 of 366 days have entries" in out and "Days with no entry: Jan 1, Jan 2" in out


def test_bad_config_stops_with_one_line(tmp_path: Path) -> None:
    """A broken thisday.toml stops every command with one clear line, exit 1."""
    config = tmp_path / "thisday.toml"
    config.write_text("timezon = 'UTC'\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "check"])
    assert result.exit_code == 1
    assert "unknown setting 'timezon' (did you mean 'timezone'?)" in result.stderr


def test_usage_error_exit_2() -> None:
    """A usage mistake (unknown option) exits 2."""
    code, _, _ = run("preview", "--frmat", "json")
    assert code == 2


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_has_help_and_is_documented(name: str) -> None:
    """Every command has help text and its own section in the README."""
    command = main.commands[name]
    assert command.help and command.help.strip()
    headings = [
        line
        for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("### `")
    ]
    assert any(h.startswith(f"### `thisday {name}") for h in headings), (
        f"no README section for thisday {name}"
    )


@pytest.mark.parametrize("kind", sorted(hostile.MAKERS))
def test_commands_never_trace_back_on_hostile_files(tmp_path: Path, kind: str) -> None:
    """check, preview, build and status report a hostile entry file as a problem and never show a traceback."""
    if kind == "failing read" and not Path("/proc/self/mem").exists():
        pytest.skip("needs Linux /proc")
    entries = tmp_path / "entries"
    entries.mkdir()
    rel, _expected = hostile.MAKERS[kind](entries)
    (entries / "good.yaml").write_text(hostile.GOOD, encoding="utf-8")
    config = tmp_path / "thisday.toml"
    config.write_text('timezone = "UTC"\n[site]\nbase_url = "https://example.org/"\n', encoding="utf-8")
    with hostile.FifoUnblocker(entries):
        for command in (["check"], ["preview", "2026-07-20"], ["build", "--date", "2026-07-20"], ["status"]):
            result = CliRunner().invoke(main, ["--config", str(config), *command])
            assert result.exception is None or isinstance(result.exception, SystemExit), (
                command,
                result.exception,
            )
            assert "Traceback" not in result.output, command
            if command == ["check"]:
                assert result.exit_code == 1 and f"{entries}/{rel}:" in result.stdout, result.output
            if command[0] == "preview":
                assert result.exit_code == 0 and "Good" in result.stdout, result.output
