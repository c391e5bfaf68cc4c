"""The static day API as a program reads it: api/onthisday/MM-DD.json for all 366 days and api/days/DATE.json for
each published day, every file valid against the JSON Schema shipped in the package, with what only thisday
knows (precision, calendar, Old Style, approximate, rules) and valid whatever an entry holds."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from test_feeds import NOW, ON, hostile_tree, index_of, settings_for
from test_jsonfeed import with_broken_entry
from thisday.config import SelectionSettings, Settings
from thisday.dayapi import evergreen_entries, historic_year, schema
from thisday.index import CalendarIndex
from thisday.model import Feb29Policy
from thisday.publish import render_site
from thisday.selection import day_selection

__all__ = ["hostile_tree"]  # a fixture, imported for its use here

VALIDATOR = jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker())


def api_files(
    settings: Settings, entries: Path | None = None, index: CalendarIndex | None = None
) -> dict[str, Any]:
    """Every API file a build of 12 July 2026 writes, parsed, each checked against the schema."""
    index = index or (index_of(entries) if entries else index_of())
    files = {}
    for path, data in render_site(settings, index, ON, NOW):
        if path.startswith("api/"):
            document = json.loads(data.decode("utf-8"))
            errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(document)]
            assert errors == [], path
            files[path] = document
    return files


def test_the_schema_is_itself_valid_and_strict() -> None:
    """The shipped schema is a valid draft 2020-12 schema, and it rejects what the API never writes."""
    jsonschema.Draft202012Validator.check_schema(schema())
    document = api_files(settings_for())["api/days/2026-07-12.json"]
    for breakage in (
        lambda d: d.pop("births"),
        lambda d: d["events"][0].update(year=0),
        lambda d: d["events"][0]["date"].update(precision="hour"),
        lambda d: d["events"][0].update(unknown_field=1),
        lambda d: d.update(type="onthisday"),
    ):
        broken = copy.deepcopy(document)
        breakage(broken)
        assert not VALIDATOR.is_valid(broken)


def test_every_api_file_is_written_and_valid() -> None:
    """366 evergreen files (29 February included) and one per published day of the window, all valid."""
    settings = settings_for()
    files = api_files(settings)
    evergreen = sorted(p for p in files if p.startswith("api/onthisday/"))
    assert len(evergreen) == 366
    assert "api/onthisday/02-29.json" in evergreen
    days = sorted(p for p in files if p.startswith("api/days/"))
    assert days == [f"api/days/{ON - datetime.timedelta(days=n)}.json" for n in range(13, -1, -1)]


def test_a_published_day_is_that_years_selection() -> None:
    """api/days/2026-07-12.json lists the day's selection in publishing order, with years_ago and the lead story
    in selected, as the day's page shows it."""
    settings = settings_for()
    document = api_files(settings)["api/days/2026-07-12.json"]
    selection = day_selection(index_of(), ON, settings)
    listed = [item for name in ("events", "births", "deaths", "holidays") for item in document[name]]
    assert sorted(i["id"] for i in listed) == sorted(o.entry.id for o in selection.occurrences)
    by_id = {i["id"]: i for i in listed}
    for occ in selection.occurrences:
        assert by_id[occ.entry.id]["years_ago"] == occ.years_ago
        assert by_id[occ.entry.id]["url"] == f"https://history.example.org/daily/days/2026-07-12.html#{occ.entry.id}"
    assert [i["text"] for i in document["selected"]] == ["Andrey Vlasov is captured by German forces"]
    capture = document["selected"][0]
    assert capture["year"] == 1942 and capture["years_ago"] == 84
    assert capture["pages"] == [
        {"title": "Andrey Vlasov (Wikipedia)", "content_urls": {"desktop": {"page": "https://en.wikipedia.org/wiki/Andrey_Vlasov"}}}
    ]
    caesar = next(i for i in document["births"] if i["text"] == "Julius Caesar is born")
    assert caesar["year"] == -100 and caesar["year_display"] == "100 BC"
    assert caesar["date"]["calendar"] == "julian" and caesar["date"]["observe"] == "julian"


def test_a_limited_day_says_how_many_were_left_out() -> None:
    """With a daily limit the day file has the limited selection and left_out; the evergreen file keeps all."""
    settings = dataclasses.replace(settings_for(), selection=SelectionSettings(limit=2))
    files = api_files(settings)
    day = files["api/days/2026-07-12.json"]
    listed = [item for name in ("events", "births", "deaths", "holidays") for item in day[name]]
    assert len(listed) == 2
    everything = evergreen_entries(files["api/onthisday/07-12.json"])
    assert day["left_out"] == len(everything) - 2 > 0


def test_evergreen_days_hold_every_entry_of_the_day() -> None:
    """07-12 lists every entry that ever falls on 12 July (all years, no limit, no year of publication);
    an Old Style date is on its Gregorian day with the Old Style date shown; a month-only entry is nowhere."""
    files = api_files(settings_for())
    july = files["api/onthisday/07-12.json"]
    ids = evergreen_entries(july)
    for year in (1942, 2030, 2100):
        assert ids == {o.entry.id for o in day_selection(index_of(), datetime.date(year, 7, 12), settings_for()).occurrences}
    assert all("years_ago" not in item for item in july["events"] + july["births"])
    revolution = next(i for i in files["api/onthisday/11-07.json"]["events"] if "October Revolution" in i["text"])
    assert revolution["date"] == {
        "value": "1917-10-25",
        "precision": "day",
        "calendar": "julian",
        "display": "7 November 1917 (O.S. 25 October)",
        "old_style": "25 October 1917",
        "gregorian": "1917-11-07",
        "observe": "gregorian",
        "approximate": False,
        "uncertain": False,
    }
    printing = [i for name in ("events",) for f in files.values() for i in f.get(name, []) if "month-only" in i["text"]]
    assert printing == []


def test_moveable_observances_are_listed_with_their_rule_and_dates() -> None:
    """Easter appears on the days it falls on in the calendar span (28 March: 2027 and 2032), with its rule and
    those dates; Thanksgiving on each fourth Thursday of November of the span."""
    files = api_files(settings_for())
    easter_2027 = files["api/onthisday/03-28.json"]["holidays"]
    assert [(i["text"], i["rule"], i["dates"]) for i in easter_2027] == [("Easter Sunday", "easter", ["2027-03-28", "2032-03-28"])]
    thanksgiving = [
        (path, item["dates"])
        for path, document in files.items()
        for item in document["holidays"]
        if item["text"] == "Thanksgiving in the United States"
    ]
    assert sorted(d for _, dates in thanksgiving for d in dates) == [
        f"{year}-11-{day:02d}" for year, day in zip(range(2026, 2036), (26, 25, 23, 22, 28, 27, 25, 24, 23, 22), strict=True)
    ]


@pytest.mark.parametrize(
    ("policy", "moved_to"), [(Feb29Policy.FEB28, "02-28"), (Feb29Policy.MAR1, "03-01"), (Feb29Policy.SKIP, None)]
)
def test_a_leap_day_entry_is_also_where_the_policy_moves_it(policy: Feb29Policy, moved_to: str | None) -> None:
    """The 29 February entry is on 02-29, and on the day selection.feb29 moves it to in common years, with a note."""
    settings = dataclasses.replace(settings_for(), selection=SelectionSettings(feb29=policy))
    files = api_files(settings)
    title = "Hattie McDaniel wins an Academy Award"
    holders = sorted(
        path.removeprefix("api/onthisday/")
        for path, document in files.items()
        if path.startswith("api/onthisday/") and any(i["text"] == title for i in document["events"])
    )
    assert holders == sorted(["02-29.json", *([f"{moved_to}.json"] if moved_to else [])])
    if moved_to:
        moved = next(i for i in files[f"api/onthisday/{moved_to}.json"]["events"] if i["text"] == title)
        assert moved["note"].startswith("A 29 February anniversary")


def test_historic_years_have_no_year_zero() -> None:
    """Astronomical 0 is 1 BC (-1), -43 is 44 BC (-44), AD years stay as they are."""
    assert [historic_year(y) for y in (1942, 1, 0, -43)] == [1942, 1, -1, -44]


def test_hostile_entries_leave_every_api_file_valid(hostile_tree: Path) -> None:
    """Markup, control characters, a lone surrogate and a NUL in entries: every API file is still valid UTF-8 JSON
    that meets the schema, the text kept as text (no markup interpreted)."""
    files = api_files(settings_for(hostile_tree), index=with_broken_entry(hostile_tree))
    day = files["api/days/2026-07-12.json"]
    texts = [i["text"] for name in ("events", "births") for i in day[name]]
    assert "Bell and a lone  half" in texts
    assert 'Ada <b>Lovelace</b> & <script>alert(1)</script> is born' in texts


def test_api_files_are_byte_identical_for_the_same_inputs() -> None:
    """Two renders of the same entries at the same publish time give the same API bytes."""
    first = {p: d for p, d in render_site(settings_for(), index_of(), ON, NOW) if p.startswith("api/")}
    second = {p: d for p, d in render_site(settings_for(), index_of(), ON, NOW) if p.startswith("api/")}
    assert first == second
