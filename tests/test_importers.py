"""Importing collections: Wikipedia day files, CSV and iCalendar, on real samples and malformed records.

Every source record is imported or reported with its reason; what is imported loads with no problems;
re-importing changes nothing.
"""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from thisday.cli import main
from thisday.dates import parse_rule
from thisday.entries import load_tree
from thisday.importers import REASONS, ImportOptions, ImportResult, ImportSourceError, import_source
from thisday.importers.common import RecordError, parse_year
from thisday.importers.output import MANIFEST, render_files, report_text, write_files
from thisday.index import CalendarIndex
from thisday.markup import render_markdown
from thisday.model import Calendar, Kind

FIXTURES = Path(__file__).parent / "fixtures" / "import"
SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "wikipedia-onthisday"


def by_title(result: ImportResult) -> dict[str, dict[str, Any]]:
    return {e["title"]: e for e in result.entries}


def reasons(result: ImportResult) -> dict[str, str]:
    """location -> reason of every reject."""
    return {r.location: r.reason for r in result.rejects}


def assert_accounted(result: ImportResult) -> None:
    """Nothing silently dropped: every record is imported or rejected, and every reason is a documented one."""
    assert result.imported_records + len(result.rejects) == result.records
    assert {r.reason for r in result.rejects} <= set(REASONS)


def write_and_load(result: ImportResult, root: Path, fmt: str = "test", source: str = "src") -> int:
    """Write the import into root/imported and load the tree: zero problems, every entry loaded."""
    files = render_files(result.entries)
    write_files(root / "imported", files, fmt, source)
    loaded = load_tree(root)
    assert loaded.problems == ()
    assert len(loaded.entries) == len(result.entries)
    return len(loaded.entries)


# ---------------------------------------------------------------------------------------------
# Years as sources write them


@pytest.mark.parametrize(
    ("text", "year", "approximate", "uncertain", "rest"),
    [
        ("1942", 1942, False, False, ""),
        ("44 BC", -43, False, False, ""),
        ("27 BCE", -26, False, False, ""),
        ("0475 BC", -474, False, False, ""),
        ("AD 70", 70, False, False, ""),
        ("4 AD", 4, False, False, ""),
        ("c. 1450", 1450, True, False, ""),
        ("before 160", 160, True, False, ""),
        ("1425 (or 1426)", 1425, False, True, ""),
        ("543 or 547", 543, False, True, ""),
        ("1093/1094", 1093, False, True, ""),
        ("1685[5]", 1685, False, False, ""),
        ("2013.", 2013, False, False, ""),
        ("1974 \xa0", 1974, False, False, ""),
        ("2018 –Michael Atiyah, mathematician", 2018, False, False, "Michael Atiyah, mathematician"),
        ("30 BC– Cleopatra, Egyptian queen", -29, False, False, "Cleopatra, Egyptian queen"),
        ("1821: Spain cedes Florida", 1821, False, False, "Spain cedes Florida"),
    ],
)
def test_parse_year_reads_years_as_written(
    text: str, year: int, approximate: bool, uncertain: bool, rest: str
) -> None:
    """BC/BCE years become astronomical (44 BC is -43), qualifiers mark approximate or uncertain years,
    footnotes and a trailing full stop go, and text run into the year is split off at the dash."""
    parsed = parse_year(text)
    assert (parsed.year, parsed.approximate, parsed.uncertain, parsed.rest) == (
        year,
        approximate,
        uncertain,
        rest,
    )


def test_parse_year_old_style_markers() -> None:
    """'(OS)' and '(O.S. 27 March)' mark Old Style dates, keeping the Old Style day when it is given."""
    assert parse_year("1642 (OS)").old_style
    marked = parse_year("1882 (O.S. 27 March)")
    assert marked.old_style and marked.old_style_day == "27 March"


@pytest.mark.parametrize("text", ["1990s", "1914-1918", "0", "", "sometime", "1942 – 1945"])
def test_parse_year_rejects_what_is_not_a_year(text: str) -> None:
    """Decades, ranges, year 0 and words are not years: the record is rejected with not-a-year."""
    with pytest.raises(RecordError) as caught:
        parse_year(text)
    assert caught.value.reason == "not-a-year"


# ---------------------------------------------------------------------------------------------
# Wikipedia day files


def test_wikipedia_samples_import_every_record_on_purpose() -> None:
    """Real items: BC years, AD years, Old Style dates, nested lists and markers each land as documented."""
    result = import_source("wikipedia-day-files", FIXTURES / "wikipedia")
    assert_accounted(result)
    entries = by_title(result)

    caesar = entries["Julius Caesar, Roman politician and general (d. 44 BC)"]  # "[4]" removed
    assert caesar["date"] == "-0099-07-12" and caesar["kind"] == "birth"
    assert (
        caesar["calendar"] == "julian" and caesar["observe"] == "julian"
    )  # before 1582: Julian, kept on its day
    assert caesar["id"] == "wp-07-12-birth-100bc-julius-caesar-roman-politician-and-general-d-44-bc"
    assert caesar["sources"] == [
        {"title": "Wikipedia, 'July 12' (CC BY-SA 3.0)", "url": "https://wikipedia.org/wiki/July_12"},
        {"title": "Julius Caesar (Wikipedia)", "url": "https://wikipedia.org/wiki/Julius_Caesar"},
    ]
    augustus = next(e for t, e in entries.items() if t.startswith("Gaius Julius Caesar Octavianus"))
    assert augustus["date"] == "-0026-01-16"  # "27 BCE"

    newton = entries["Isaac Newton, English physicist and mathematician (d. 1726/1727)"]
    assert (newton["date"], newton["calendar"], newton["observe"]) == ("1642-12-25", "julian", "julian")
    assert newton["sources"][1]["title"] == "Isaac Newton (Wikipedia)"  # not the "Julian calendar" link
    doroshenko = next(e for t, e in entries.items() if t.startswith("Dmytro Doroshenko"))
    assert (
        doroshenko["date"] == "1882-03-27" and doroshenko["calendar"] == "julian"
    )  # shown 8 April (O.S. 27 March)
    assert "observe" not in doroshenko

    eleanor = next(e for t, e in entries.items() if t.startswith("Eleanor of Navarre"))
    assert eleanor["date"] == "1425-02-02?" and eleanor["body"] == "Year in the source: 1425 (or 1426)."
    maesa = next(e for t, e in entries.items() if t.startswith("Julia Maesa"))
    assert maesa["date"] == "~0160-05-07" and "before 160" in maesa["body"]
    swami = next(e for t, e in entries.items() if t.startswith("Swami Kalyan Dev"))
    assert swami["title"] == "Swami Kalyan Dev, philosopher. (d. 2004)"  # "[year disputed]" taken out ...
    assert swami["date"].endswith("?") and "year disputed" in swami["body"]  # ... and said
    assert "Michael Atiyah, British-Lebanese mathematician (b.1929)" in entries  # split from "2018 –..."
    assert "Rita Reys, Dutch jazz singer (b. 1924)" in entries  # "2013." and "[6]"


def test_wikipedia_nested_lists_import_each_line_once() -> None:
    """A nested list ("1967 – crew of Apollo 1" with one line per astronaut) gives the heading and each
    member once, with the list's year and the member's own (repaired) link; repeated lines are reported."""
    result = import_source("wikipedia-day-files", FIXTURES / "wikipedia")
    entries = by_title(result)
    crew = entries["Crew of Apollo 1"]
    assert crew["date"] == "1967-01-27" and crew["kind"] == "death"
    grissom = entries["Gus Grissom, American pilot and astronaut (b. 1926)"]
    assert grissom["date"] == "1967-01-27"
    assert grissom["sources"][1]["url"] == "https://wikipedia.org/wiki/Gus_Grissom"  # doubled prefix repaired
    assert sum(t.startswith(("Roger B. Chaffee", "Gus Grissom", "Ed White")) for t in entries) == 3
    leap = [e for e in result.entries if e["date"] == "1916-02-29"]
    assert sorted(e["title"][:12] for e in leap) == ["Child labor:", "Tokelau is a"]
    assert reasons(result)["02-29.json Events #3"] == "duplicate"
    notes = {n.location: n.message for n in result.notes}
    assert "the year 1967 of the list in 01-27.json Deaths #3" in notes["01-27.json Deaths #4"]


def test_wikipedia_samples_reject_with_reasons() -> None:
    """A year with no text and an exact repeat are reported, not imported."""
    result = import_source("wikipedia-day-files", FIXTURES / "wikipedia")
    assert reasons(result) == {
        "01-24.json Births #1": "no-text",
        "02-29.json Events #3": "duplicate",
        "03-11.json Births #2": "duplicate",
    }
    assert result.records == 29 and len(result.entries) == 26


def test_wikipedia_malformed_records_each_get_their_reason() -> None:
    """Hand-made broken records: each is reported with the reason that says what is wrong."""
    result = import_source("wikipedia-day-files", FIXTURES / "wikipedia-malformed")
    assert_accounted(result)
    assert reasons(result) == {
        "02-29.json Births #1": "date-does-not-exist",  # 29 February 1900
        "02-30.json Events #1": "date-does-not-exist",
        "07-04.json Events #1": "bad-file",  # the file says it is July 5
        "11-11.json Events #2": "not-a-year",  # 1990s
        "11-11.json Events #3": "not-a-year",  # 1914-1918
        "11-11.json Events #4": "not-a-year",  # 0
        "11-11.json Events #5": "no-year",  # empty
        "11-11.json Events #6": "no-text",
        "11-11.json Events #7": "no-text",  # only a footnote marker
        "11-11.json Events #8": "bad-record",  # year is a number
        "11-11.json Events #9": "bad-record",  # not an object
        "11-11.json Events #10": "no-year",
        "11-11.json Events #11": "duplicate",
        "11-11.json Holidays #1": "bad-record",
        "12-31.json": "bad-file",  # truncated JSON
        "index.json": "bad-file",
    }
    entries = by_title(result)
    assert (
        entries["Born on 29 February 1500, a leap day in the Julian calendar used then."]["calendar"]
        == "julian"
    )
    approximate = entries["An approximate year, as some lists write it."]
    assert approximate["date"] == "~1100-11-11" and "citation needed" in approximate["body"]
    # a list line with no record of its own is imported from the list's record, with the list's year
    ben = entries["Ben Example, navigator (b. 1901)"]
    assert ben["date"] == "1950-11-11" and ben["sources"][1]["url"] == "https://example.org/wiki/Ben_Example"
    assert entries["A death after the list: the list has ended."]["date"] == "1951-11-11"


def test_wikipedia_import_loads_cleanly_and_lands_on_its_days(tmp_path: Path) -> None:
    """Every imported entry passes validation (load_tree: zero problems, all loaded) and falls on its day."""
    result = import_source("wikipedia-day-files", FIXTURES / "wikipedia")
    write_and_load(result, tmp_path / "entries")
    index = CalendarIndex.build(load_tree(tmp_path / "entries").entries)
    on_jan_27 = {e.title for e in index.by_day[(1, 27)]}
    assert "Crew of Apollo 1" in on_jan_27
    assert any(e.title.startswith("Isaac Newton") for e in index.by_day[(12, 25)])  # Old Style day kept
    assert any(e.title.startswith("Dmytro Doroshenko") for e in index.by_day[(4, 8)])  # Gregorian day of O.S.


def test_wikipedia_source_errors_say_what_to_give() -> None:
    """A missing folder or one with no day files is an error that names the folder, before anything is written."""
    with pytest.raises(ImportSourceError, match="not found"):
        import_source("wikipedia-day-files", FIXTURES / "no-such-folder")
    with pytest.raises(ImportSourceError, match=r"no \.json day files"):
        import_source("wikipedia-day-files", FIXTURES)


# ---------------------------------------------------------------------------------------------
# CSV


def test_csv_default_columns() -> None:
    """Columns named after the fields import directly; BC, AD, approximate and month-only dates are read."""
    result = import_source("csv", FIXTURES / "events.csv")
    assert_accounted(result)
    entries = by_title(result)
    moon = entries["The first crewed Moon landing"]
    assert moon["date"] == "1969-07-20" and moon["tags"] == ["space", "science"]
    assert moon["sources"] == [
        {"title": "Apollo 11 (Wikipedia)", "url": "https://en.wikipedia.org/wiki/Apollo_11"}
    ]
    assert moon["body"] == "Two astronauts walk on the Moon.\n\nThe third stays in orbit."
    assert moon["id"] == "csv-1969-07-20-the-first-crewed-moon-landing"
    assert entries["Julius Caesar is killed in Rome"]["date"] == "-0043-03-15"
    assert entries["Octavian takes the name Augustus"]["date"] == "-0026"
    assert entries["Octavian takes the name Augustus"]["kind"] == "event"  # empty kind: the default
    assert entries["Henry David Thoreau is born"] == {
        "id": "csv-1817-07-12-henry-david-thoreau-is-born",
        "title": "Henry David Thoreau is born",
        "kind": "birth",  # "born"
        "date": "1817-07-12",
        "tags": ["literature"],
    }
    assert entries["Gutenberg prints with movable type"]["date"] == "~1450"
    assert entries["A month-only event"]["date"] == "1850-02"
    assert entries["Titus's legions take Jerusalem"]["date"] == "0070"


def test_csv_malformed_rows_each_get_their_reason() -> None:
    """Bad rows are reported by line with the reason; the good rows still import."""
    result = import_source("csv", FIXTURES / "events.csv")
    assert reasons(result) == {
        "events.csv:11": "not-a-year",  # 1990s
        "events.csv:12": "date-does-not-exist",  # 1942-02-30
        "events.csv:13": "bad-date",  # 7/12/1942
        "events.csv:14": "no-text",
        "events.csv:15": "bad-kind",
        "events.csv:16": "bad-url",
        "events.csv:17": "bad-record",  # too few fields
        "events.csv:18": "no-date",
        "events.csv:19": "duplicate",
    }
    assert result.records == 16 and len(result.entries) == 7


def test_csv_column_mapping_ids_and_tags(tmp_path: Path) -> None:
    """--column maps other names (and a semicolon file is read); an id column gives explicit ids; --tags adds."""
    options = ImportOptions(
        columns={"date": "When", "title": "Headline", "tags": "Keywords", "id": "Catalogue no"},
        tags=("Museum",),
        default_kind="observance",
    )
    result = import_source("csv", FIXTURES / "museum.csv", options)
    assert [e["id"] for e in result.entries] == ["M-0001", "M-0002"]
    gift = by_title(result)["A gift of 300 maps arrives"]
    assert gift["date"] == "1900-04-01" and gift["tags"] == ["maps", "gifts", "museum"]
    assert gift["kind"] == "observance"
    assert reasons(result) == {"museum.csv:4": "date-does-not-exist"}
    write_and_load(result, tmp_path / "entries")


def test_csv_source_errors() -> None:
    """A missing title column, an unknown field or column, and a non-UTF-8 file are errors saying the fix."""
    with pytest.raises(ImportSourceError, match=r"no title column .* --column title=COLUMN"):
        import_source("csv", FIXTURES / "museum.csv", ImportOptions(columns={"date": "When"}))
    with pytest.raises(ImportSourceError, match="'when' is not a field"):
        import_source("csv", FIXTURES / "museum.csv", ImportOptions(columns={"when": "When"}))
    with pytest.raises(ImportSourceError, match="has no column 'Wen'"):
        import_source(
            "csv", FIXTURES / "museum.csv", ImportOptions(columns={"date": "Wen", "title": "Headline"})
        )


def test_csv_explicit_ids_checked(tmp_path: Path) -> None:
    """An explicit id that thisday check would refuse, or one used twice, is reported, not written."""
    path = tmp_path / "ids.csv"
    path.write_text(
        "id,date,title\nok-1,1900-01-01,First\nbad id!,1900-01-02,Second\nok-1,1900-01-03,Third\n",
        encoding="utf-8",
    )
    result = import_source("csv", path)
    assert reasons(result) == {"ids.csv:3": "invalid", "ids.csv:4": "duplicate-id"}
    assert "may use only letters" in result.rejects[0].detail
    assert [e["id"] for e in result.entries] == ["ok-1"]


def test_progress_is_reported_per_unit() -> None:
    """The importer calls progress(done, total) as it goes, ending at total (the CLI draws the bar)."""
    calls: list[tuple[int, int]] = []
    import_source("wikipedia-day-files", FIXTURES / "wikipedia", progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (14, 14) and len(calls) == 14


def test_csv_not_utf8(tmp_path: Path) -> None:
    """A file in another encoding is refused with the line of the first bad byte."""
    path = tmp_path / "latin1.csv"
    path.write_bytes("date,title\n1900-01-01,Caf\xe9 opens\n".encode("latin-1"))
    with pytest.raises(ImportSourceError, match=r"latin1.csv:2: not UTF-8"):
        import_source("csv", path)


# ---------------------------------------------------------------------------------------------
# iCalendar


def test_ical_events_become_entries() -> None:
    """Yearly events become observances (a plain one keeps its date, others get a rule); one-off events,
    timed or all-day, become entries on their day; the calendar's name is the source."""
    result = import_source("ical", FIXTURES / "history.ics")
    assert_accounted(result)
    entries = by_title(result)
    founding = entries["Founding Day of the town library"]
    assert founding["kind"] == "observance" and founding["date"] == "1902-06-11" and "rule" not in founding
    assert founding["tags"] == ["libraries", "local-history"]
    assert founding["sources"] == [
        {"title": "Local history society", "url": "https://history.example.org/library"}
    ]
    assert founding["id"] == "ical-founding-day-history-example-org"
    fair = entries["Harvest fair"]
    assert fair["date"] == "1951" and fair["rule"] == "FREQ=YEARLY;BYMONTH=9;BYDAY=3SA"
    assert parse_rule(fair["rule"]).dates_in(2026) == (datetime.date(2026, 9, 19),)
    centenary = entries["Library centenary week opens"]
    assert centenary["rule"] == "FREQ=YEARLY;UNTIL=20040611;BYMONTH=6;BYMONTHDAY=11"  # COUNT=3
    bridge = entries["The new Rhine bridge opens to traffic"]
    assert bridge["date"] == "1969-07-20" and bridge["kind"] == "event"
    assert entries["The great New Year flood"]["date"] == "1882-01-01"
    assert any("22:17 dropped" in n.message for n in result.notes)


def test_ical_malformed_and_unsupported_components_get_their_reason(tmp_path: Path) -> None:
    """Weekly rules, impossible or missing dates, missing titles, cancelled events, changed occurrences and
    to-dos are reported; what is imported loads cleanly."""
    result = import_source("ical", FIXTURES / "history.ics")
    assert sorted((r.location.split(" (")[0], r.reason) for r in result.rejects) == [
        ("history.ics VEVENT #10", "not-an-event"),  # RECURRENCE-ID
        ("history.ics VEVENT #11", "not-an-event"),  # cancelled
        ("history.ics VEVENT #13", "bad-date"),
        ("history.ics VEVENT #5", "not-yearly"),
        ("history.ics VEVENT #6", "date-does-not-exist"),
        ("history.ics VEVENT #7", "no-date"),
        ("history.ics VEVENT #8", "no-text"),
        ("history.ics VTODO #12", "not-an-event"),
    ]
    write_and_load(result, tmp_path / "entries")


def test_ical_not_a_calendar(tmp_path: Path) -> None:
    """A file that is not iCalendar is refused as a whole."""
    path = tmp_path / "notes.ics"
    path.write_text("just some notes\n", encoding="utf-8")
    with pytest.raises(ImportSourceError, match=r"notes\.ics"):
        import_source("ical", path)


# ---------------------------------------------------------------------------------------------
# Output: layout, idempotency, the report


def test_files_are_laid_out_by_day_and_reimport_rewrites_nothing(tmp_path: Path) -> None:
    """Entries go to MM-DD.json by anniversary (month-MM, undated, moveable otherwise), one object per line;
    importing the same source again writes no file and leaves the bytes identical."""
    result = import_source("csv", FIXTURES / "events.csv")
    folder = tmp_path / "entries" / "imported"
    first = write_files(folder, render_files(result.entries), "csv", "events.csv")
    assert sorted(first.written) == [
        "03-15.json",
        "07-12.json",
        "07-20.json",
        "month-02.json",
        "undated.json",
    ]
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    again = import_source("csv", FIXTURES / "events.csv")
    second = write_files(folder, render_files(again.entries), "csv", "events.csv")
    assert second.written == () and len(second.unchanged) == 5
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    undated = json.loads((folder / "undated.json").read_text(encoding="utf-8"))
    assert [e["date"] for e in undated] == ["-0026", "0070", "~1450"]  # by year, BC first


def test_a_folder_holds_one_source(tmp_path: Path) -> None:
    """Importing another source into a folder that holds an import is refused unless replace is asked;
    a file not written by an import is never overwritten; files the new import no longer has are removed."""
    folder = tmp_path / "imported"
    csv_files = render_files(import_source("csv", FIXTURES / "events.csv").entries)
    write_files(folder, csv_files, "csv", "events.csv")
    museum = render_files(
        import_source(
            "csv", FIXTURES / "museum.csv", ImportOptions(columns={"date": "When", "title": "Headline"})
        ).entries
    )
    with pytest.raises(ImportSourceError, match=r"holds the csv import of 'events\.csv'.*--replace"):
        write_files(folder, museum, "csv", "museum.csv")
    replaced = write_files(folder, museum, "csv", "museum.csv", replace=True)
    assert "07-20.json" in replaced.removed and not (folder / "07-20.json").exists()
    other = tmp_path / "hand"
    other.mkdir()
    (other / "07-20.json").write_text("[]\n", encoding="utf-8")
    with pytest.raises(ImportSourceError, match="not written by thisday import"):
        write_files(other, csv_files, "csv", "events.csv")


def test_report_lists_every_reject_and_note() -> None:
    """The report gives the counts, the reasons by count, one line per reject and per note."""
    result = import_source("csv", FIXTURES / "events.csv")
    text = report_text(result, "csv", "events.csv")
    lines = text.splitlines()
    assert lines[1] == "# 16 records: 7 imported as 7 entries, 9 not imported"
    assert "events.csv:12\tdate-does-not-exist\t30 February 1942 does not exist" in text
    assert sum(1 for line in lines if not line.startswith("#")) == len(result.rejects) + len(result.notes)


# ---------------------------------------------------------------------------------------------
# The command


def test_cli_import_csv_with_report(tmp_path: Path) -> None:
    """`thisday import csv` maps columns, writes the report, prints both counts; no progress bar off a
    terminal; a second run writes nothing; the imported folder passes `thisday check`."""
    entries = tmp_path / "entries"
    entries.mkdir()
    report = tmp_path / "report.txt"
    args = [
        "--entries", str(entries), "import", "csv", str(FIXTURES / "museum.csv"),
        "--column", "date=When", "--column", "title=Headline", "--column", "tags=Keywords",
        "--tags", "museum", "--report", str(report),
    ]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"imported 2 of 3 records as 2 entries into {entries / 'imported' / 'csv'} (2 files written, 0 unchanged)",
        "not imported: 1 record (date-does-not-exist 1)",
        f"report: {report} (1 not imported, 1 notes)",
    ]
    assert "importing" not in result.stderr
    text = report.read_text(encoding="utf-8")
    assert "museum.csv:4\tdate-does-not-exist" in text
    assert "museum.csv:1\tnote\tcolumns ignored (not entry fields): Catalogue no, Type;" in text
    again = CliRunner().invoke(main, args)
    assert "(0 files written, 2 unchanged)" in again.stdout
    check = CliRunner().invoke(main, ["--entries", str(entries), "check"])
    assert check.exit_code == 0 and check.stdout.startswith("ok: 2 entries")


def test_cli_import_errors(tmp_path: Path) -> None:
    """A malformed --column is a usage error (exit 2); a source error is one line and exit 1."""
    entries = tmp_path / "entries"
    entries.mkdir()
    bad = CliRunner().invoke(
        main, ["--entries", str(entries), "import", "csv", str(FIXTURES / "museum.csv"), "--column", "date"]
    )
    assert bad.exit_code == 2 and "FIELD=COLUMN" in bad.stderr
    missing = CliRunner().invoke(
        main, ["--entries", str(entries), "import", "csv", str(FIXTURES / "museum.csv")]
    )
    assert missing.exit_code == 1
    assert missing.stderr.startswith("thisday: error: museum.csv: no date or title column")


def test_cli_import_wikipedia_into_folder(tmp_path: Path) -> None:
    """--into chooses the folder; rejects are summarised with reasons, the first listed on stderr; without
    --report the count of records imported with a note is said too."""
    entries = tmp_path / "entries"
    into = entries / "wikipedia"
    result = CliRunner().invoke(
        main,
        [
            "--entries",
            str(entries),
            "import",
            "wikipedia-day-files",
            str(FIXTURES / "wikipedia"),
            "--into",
            str(into),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "imported 26 of 29 records as 26 entries" in result.stdout
    assert "not imported: 3 records (duplicate 2, no-text 1)" in result.stdout
    notes = len(import_source("wikipedia-day-files", FIXTURES / "wikipedia").notes)
    assert f"notes: {notes} records imported with a note (--report FILE lists them)" in result.stdout
    assert "01-24.json Births #1: no-text" in result.stderr
    assert (into / "01-27.json").is_file()


# ---------------------------------------------------------------------------------------------
# The real data set (skipped when ../shared/data is absent)


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="the shared Wikipedia data set is not here")
def test_full_wikipedia_data_set(tmp_path: Path) -> None:
    """All ~133,000 records: each imported or reported with a documented reason, and all imported entries
    load with zero problems."""
    result = import_source("wikipedia-day-files", SHARED_DATA)
    assert_accounted(result)
    assert result.records > 130_000
    assert len(result.rejects) < 0.001 * result.records
    loaded = write_and_load(result, tmp_path / "entries", "wikipedia-day-files", "wikipedia-onthisday")
    assert loaded == len(result.entries)
    kinds = {e["kind"] for e in result.entries}
    assert kinds == {Kind.EVENT.value, Kind.BIRTH.value, Kind.DEATH.value}


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="the shared Wikipedia data set is not here")
def test_real_day_file_from_shared_data(tmp_path: Path) -> None:
    """One full real day (12 July) imports with every record accounted for and loads cleanly."""
    source = tmp_path / "days"
    source.mkdir()
    shutil.copy(SHARED_DATA / "days" / "07-12.json", source)
    result = import_source("wikipedia-day-files", source)
    assert_accounted(result)
    assert result.records == len(result.entries) + len(result.rejects)
    write_and_load(result, tmp_path / "entries")
    assert all(e["sources"][0]["title"] == "Wikipedia, 'July 12' (CC BY-SA 3.0)" for e in result.entries)
    julian = [e for e in result.entries if e.get("calendar") == Calendar.JULIAN.value]
    assert julian and all(e["date"].lstrip("~") < "1583" or e["date"].startswith("-") for e in julian)


# ---------------------------------------------------------------------------------------------
# The package's shape


def test_importers_use_the_shared_error_and_import_no_cycle() -> None:
    """There is one ImportSourceError (thisday.errors'), re-exported by the package; no module the package is
    built from imports from the package itself (``from . import``), so each can be imported alone without a
    cycle. (``run.py``, the command's layer on top of the package, may.)"""
    import ast

    import thisday.errors
    import thisday.importers

    assert thisday.importers.ImportSourceError is thisday.errors.ImportSourceError
    assert issubclass(thisday.importers.ImportSourceError, thisday.errors.ThisdayError)
    folder = Path(thisday.importers.__file__).parent
    cyclic = []
    for path in sorted(folder.glob("*.py")):
        if path.name in ("__init__.py", "run.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None:
                cyclic.append(f"{path.name}:{node.lineno}")
    assert cyclic == []


# ---------------------------------------------------------------------------------------------
# Crashes become reports


def _ics(tmp_path: Path, *lines: str) -> Path:
    body = "\r\n".join(["BEGIN:VEVENT", "UID:x@example.org", "SUMMARY:An event", *lines, "END:VEVENT"])
    path = tmp_path / "cal.ics"
    path.write_bytes(f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{body}\r\nEND:VCALENDAR\r\n".encode())
    return path


def test_ical_broken_rule_and_time_zone_are_reported(tmp_path: Path) -> None:
    """RRULE:FREQ=YEARLX is a record reported as unsupported-rule; a TZID of 300 characters refuses the file
    with one line that says what to use, instead of a traceback."""
    broken = import_source("ical", _ics(tmp_path, "DTSTART;VALUE=DATE:19020611", "RRULE:FREQ=YEARLX"))
    assert [(r.reason, r.detail.split(":")[0]) for r in broken.rejects] == [
        ("unsupported-rule", "RRULE cannot be read")
    ]
    with pytest.raises(ImportSourceError, match="TZID is not a time zone name") as caught:
        import_source("ical", _ics(tmp_path, "DTSTART;TZID=" + "A" * 300 + ":19690720T221700"))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "data",
    [("[" * 1000 + "]" * 1000).encode(), ('{"data": {"Events": [{"year": ' + "1" * 4400 + "}]}}").encode()],
    ids=["nested-1000-deep", "4400-digit-number"],
)
def test_wikipedia_unreadable_json_is_a_bad_file(tmp_path: Path, data: bytes) -> None:
    """A day file nested 1,000 levels deep or holding a 4,400-digit number is one bad-file record."""
    (tmp_path / "07-12.json").write_bytes(data)
    result = import_source("wikipedia-day-files", tmp_path)
    assert reasons(result) == {"07-12.json": "bad-file"}


# ---------------------------------------------------------------------------------------------
# Control characters, CSV rows, CSV columns and dates


CONTROLS = "".join(map(chr, [*range(0, 9), *range(11, 32), 127, *range(128, 160)]))


def _all_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "".join(_all_text(v) for v in value.values())
    if isinstance(value, list):
        return "".join(_all_text(v) for v in value)
    return ""


def test_control_characters_are_stripped_and_noted(tmp_path: Path) -> None:
    """Terminal escapes, NUL, BEL, DEL and C1 characters from CSV and iCalendar never reach an entry (nor the
    report); each record that had some gets a note naming them; a body keeps its line breaks and tabs."""
    path = tmp_path / "c.csv"
    path.write_text(
        'date,title,body\n1942-07-12,"\x1b[31mRed\x1b[0m title\x07","line one\x00\n\tline two\x7f\x9b"\n'
        "1942-07-13,Clean,ok\n1990s,\x1b[2JA decade\x07,\n",
        encoding="utf-8",
    )
    result = import_source("csv", path)
    assert reasons(result) == {"c.csv:5": "not-a-year"}
    assert not set(report_text(result, "csv", "c.csv")) & set(CONTROLS)  # nor in what the report shows
    entry = by_title(result)["[31mRed[0m title"]
    assert entry["body"] == "line one\n\tline two"
    ics = _ics(
        tmp_path, "DTSTART;VALUE=DATE:19020611", "DESCRIPTION:\x1b]0;owned\x07text", "CATEGORIES:a\x00b"
    )
    ical = import_source("ical", ics)
    for imported in (result, ical):
        for entry in imported.entries:
            assert not set(_all_text(entry)) & set(CONTROLS)
    notes = {n.location: n.message for n in result.notes}
    assert notes == {
        "c.csv:2": "control characters removed: U+001B, U+0007 in title; U+0000, U+007F, U+009B in body"
    }
    assert [n.message for n in ical.notes] == [
        "control characters removed: U+0000 in CATEGORIES; U+001B, U+0007 in DESCRIPTION"
    ]


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c"])
def test_csv_rows_are_not_split_inside_cells(tmp_path: Path, separator: str) -> None:
    """Line and paragraph separators, NEL, VT and FF inside an unquoted cell do not end the row: the title is
    whole and no phantom record appears."""
    path = tmp_path / "s.csv"
    path.write_text(
        f"date,title\n1942-07-12,First part{separator}second part\n1942-07-13,Next\n", encoding="utf-8"
    )
    result = import_source("csv", path)
    assert result.records == 2 and result.rejects == ()
    assert [e["title"] for e in result.entries] == ["First part second part", "Next"]
    assert [e["date"] for e in result.entries] == ["1942-07-12", "1942-07-13"]


def test_csv_observe_column_and_ignored_columns(tmp_path: Path) -> None:
    """An observe column keeps a Julian row on its Old Style day (observe: julian, filed on that day); observe
    without calendar julian is reported; columns that are not fields are named in one note per import."""
    path = tmp_path / "o.csv"
    path.write_text(
        "date,title,calendar,observe,Notes,Shelf\n"
        "1642-12-25,Newton is born,julian,julian,x,1\n"
        "1642-12-25,Not kept on the Old Style day,julian,,y,2\n"
        "1900-01-01,Observe without calendar,,julian,z,3\n",
        encoding="utf-8",
    )
    result = import_source("csv", path)
    entries = by_title(result)
    newton = entries["Newton is born"]
    assert (newton["calendar"], newton["observe"]) == ("julian", "julian")
    assert "observe" not in entries["Not kept on the Old Style day"]
    assert reasons(result) == {"o.csv:4": "bad-record"}
    files = render_files(result.entries)
    assert "12-25.json" in files and "01-04.json" in files  # 25 Dec 1642 O.S. is 4 January 1643
    ignored = [n for n in result.notes if "ignored" in n.message]
    assert [(n.location, n.message.split(";")[0]) for n in ignored] == [
        ("o.csv:1", "columns ignored (not entry fields): Notes, Shelf")
    ]


def test_csv_bodies_say_the_year_as_written(tmp_path: Path) -> None:
    """As the README promises, a year that is not plain is said in the body: "Before 879" is published as
    c. 879 and the body says "Year in the source: Before 879."; a plain year adds nothing."""
    path = tmp_path / "y.csv"
    path.write_text(
        "date,title,body\nBefore 879,A treaty,Its text is lost.\n1425 (or 1426),A birth,\n1942,Plain,\n",
        encoding="utf-8",
    )
    entries = by_title(import_source("csv", path))
    assert entries["A treaty"]["date"] == "~0879"
    assert entries["A treaty"]["body"] == "Its text is lost.\n\nYear in the source: Before 879."
    assert entries["A birth"]["body"] == "Year in the source: 1425 (or 1426)."
    assert "body" not in entries["Plain"]


def test_csv_qualified_dates_import_as_approximate(tmp_path: Path) -> None:
    """'c. 30 Jun 862' and 'circa 1367-04' are approximate dates (~), not "not a year" or "a range of years";
    the body gives the date as the source wrote it."""
    path = tmp_path / "q.csv"
    path.write_text("date,title\nc. 30 Jun 862,Early\ncirca 1367-04,Month\n", encoding="utf-8")
    result = import_source("csv", path)
    assert result.rejects == ()
    entries = by_title(result)
    assert entries["Early"]["date"] == "~0862-06-30"
    assert entries["Early"]["body"] == "Date in the source: c. 30 Jun 862."
    assert entries["Month"]["date"] == "~1367-04"
    write_and_load(result, tmp_path / "entries")


# ---------------------------------------------------------------------------------------------
# iCalendar text and spans


def test_ical_description_keeps_its_lines_as_plain_text(tmp_path: Path) -> None:
    """A DESCRIPTION is plain text: lines starting '#', '*', '1.' are not made headings or lists, and each line
    break survives as a break when the body is published as Markdown."""
    ics = _ics(
        tmp_path,
        "DTSTART;VALUE=DATE:19020611",
        "DESCRIPTION:# Not a heading\\n* not a list\\n1. not numbered\\n<b>tags</b> & _under_\\n\\nNew paragraph",
    )
    html = render_markdown(import_source("ical", ics).entries[0]["body"])
    assert html == (
        "<p># Not a heading<br>\n* not a list<br>\n1. not numbered<br>\n&lt;b&gt;tags&lt;/b&gt; &amp; _under_</p>\n"
        "<p>New paragraph</p>"
    )


def test_ical_multi_day_event_is_noted_and_said(tmp_path: Path) -> None:
    """An all-day event over several days is imported on its first day with a note, and its body says the span."""
    ics = _ics(tmp_path, "DTSTART;VALUE=DATE:19690701", "DTEND;VALUE=DATE:19690706", "DESCRIPTION:A fair.")
    result = import_source("ical", ics)
    entry = result.entries[0]
    assert entry["date"] == "1969-07-01"
    assert entry["body"] == "From 1 July 1969 to 5 July 1969.\n\nA fair."
    assert [n.message for n in result.notes] == [
        "an event over 5 days (1969-07-01 to 1969-07-05): imported on its first day, the span said in the body"
    ]
    one_day = import_source(
        "ical", _ics(tmp_path, "DTSTART;VALUE=DATE:19690701", "DTEND;VALUE=DATE:19690702")
    )
    assert one_day.notes == () and "body" not in one_day.entries[0]


# ---------------------------------------------------------------------------------------------
# An import that imports nothing


def test_cli_import_of_nothing_exits_1_and_claims_nothing(tmp_path: Path) -> None:
    """When no record can be imported the command exits 1 with one line saying why, writes no entry file and
    no _import.json, so the next, correct import into the same folder is not refused."""
    entries = tmp_path / "entries"
    entries.mkdir()
    into = entries / "imported"
    bad = tmp_path / "bad.csv"
    bad.write_text("date,title\n1990s,A decade\n7/12/1942,Slashed\n", encoding="utf-8")
    report = tmp_path / "report.txt"
    args = ["--entries", str(entries), "import", "csv", "--into", str(into)]
    failed = CliRunner().invoke(main, [*args, str(bad), "--report", str(report)])
    assert failed.exit_code == 1
    assert failed.stderr.startswith(f"thisday: error: {bad}: none of its 2 records could be imported")
    assert not (into / MANIFEST).exists() and not (into.exists() and any(into.iterdir()))
    assert "bad.csv:2\tnot-a-year" in report.read_text(encoding="utf-8")  # the report still says why
    good = CliRunner().invoke(main, [*args, str(FIXTURES / "events.csv")])
    assert good.exit_code == 0, good.output
    assert (into / MANIFEST).is_file()


# ---------------------------------------------------------------------------------------------
# JSON collections


def test_json_wikimedia_shape_by_section() -> None:
    """The Wikimedia "on this day" shape: sections give the kind, the file name gives the day, numeric years
    (negative: BC) join it, the first page is the source; bad records are reported with their reason."""
    result = import_source("json", FIXTURES / "json" / "onthisday-07-20.json")
    assert_accounted(result)
    entries = by_title(result)
    apollo = entries["Apollo 11 lands on the Moon."]
    assert (apollo["date"], apollo["kind"]) == ("1969-07-20", "event")
    assert apollo["sources"] == [{"title": "Apollo 11", "url": "https://en.wikipedia.org/wiki/Apollo_11"}]
    assert apollo["id"] == "json-1969-07-20-apollo-11-lands-on-the-moon"
    assert entries["Julius Caesar's forces cross a river."]["date"] == "-0048-07-20"  # -49 is 49 BC
    assert entries["Edmund Hillary, New Zealand mountaineer (d. 2008)"]["kind"] == "birth"
    assert entries["Bruce Lee, martial artist (b. 1940)"]["kind"] == "death"
    assert reasons(result) == {
        "onthisday-07-20.json events #2": "not-a-year",
        "onthisday-07-20.json deaths #2": "bad-record",
        "onthisday-07-20.json holidays #1": "no-date",
    }


def test_json_list_with_column_mapping(tmp_path: Path) -> None:
    """Other layouts are mapped with --column FIELD=PATH (dotted key paths); dates read as in CSV."""
    options = ImportOptions(
        columns={"date": "when", "title": "what", "source_url": "link.href", "tags": "labels"}
    )
    result = import_source("json", FIXTURES / "json" / "collection.json", options)
    assert_accounted(result)
    entries = by_title(result)
    medal = entries["The Medal of Honor is created"]
    assert medal["date"] == "1862-07-12" and medal["tags"] == ["military", "awards"]
    assert medal["sources"][0]["url"] == "https://en.wikipedia.org/wiki/Medal_of_Honor"
    assert entries["An approximate early date"]["date"] == "~0862-06-30"
    assert entries["A year-only record"]["kind"] == "birth"
    assert reasons(result) == {
        "collection.json items #3": "date-does-not-exist",
        "collection.json items #4": "no-date",
    }
    write_and_load(result, tmp_path / "entries")
    with pytest.raises(ImportSourceError, match="'when' is not a field"):
        import_source("json", FIXTURES / "json" / "collection.json", ImportOptions(columns={"when": "x"}))


def test_json_source_errors(tmp_path: Path) -> None:
    """A file that is not JSON, or holds no records, is refused as a whole with what was expected."""
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(ImportSourceError, match=r"broken\.json: not a readable JSON file"):
        import_source("json", broken)
    empty = tmp_path / "empty.json"
    empty.write_text('{"title": "one object"}', encoding="utf-8")
    with pytest.raises(ImportSourceError, match=r"empty\.json: no records"):
        import_source("json", empty)


def test_cli_import_json(tmp_path: Path) -> None:
    """`thisday import json FILE --column ...` writes loadable entries and re-imports without writing."""
    entries = tmp_path / "entries"
    entries.mkdir()
    args = [
        "--entries", str(entries), "import", "json", str(FIXTURES / "json" / "collection.json"),
        "--column", "date=when", "--column", "title=what", "--column", "tags=labels",
    ]  # fmt: skip
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("imported 3 of 5 records as 3 entries")
    again = CliRunner().invoke(main, args)
    assert "(0 files written, 3 unchanged)" in again.stdout
    check = CliRunner().invoke(main, ["--entries", str(entries), "check"])
    assert check.exit_code == 0 and check.stdout.startswith("ok: 3 entries")


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="the shared Wikipedia data set is not here")
def test_json_reads_a_real_day_file(tmp_path: Path) -> None:
    """A real day file of the shared data set read as a plain JSON collection: the sections give the kinds, the
    file name the day, every record is accounted for and the entries load."""
    source = SHARED_DATA / "days" / "07-12.json"
    raw = json.loads(source.read_text(encoding="utf-8"))["data"]
    result = import_source("json", source)
    assert_accounted(result)
    assert result.records == sum(len(items) for items in raw.values())
    assert {e["kind"] for e in result.entries} == {"event", "birth", "death"}
    assert all(e["date"].endswith("-07-12") for e in result.entries)
    write_and_load(result, tmp_path / "entries")
