"""Reading entry files: every format, stable ids, and bad input reported as path:line without losing the rest."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hostile
from thisday.entries import load_file, load_tree
from thisday.errors import EntryError
from thisday.model import Calendar, Kind, Precision

FIXTURES = Path(__file__).parent / "fixtures" / "entries"


def write(root: Path, name: str, text: str | bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def problems_of(root: Path) -> list[str]:
    return [str(p) for p in load_tree(root).problems]


def test_fixture_tree_loads_cleanly() -> None:
    """The fixture tree (Markdown story plus YAML bulk files) loads with no problems and every field kept."""
    result = load_tree(FIXTURES)
    assert result.problems == ()
    by_title = {e.title: e for e in result.entries}
    capture = by_title["Andrey Vlasov is captured by German forces"]
    assert capture.featured and capture.kind is Kind.EVENT
    assert capture.tags == ("world-war-ii", "ussr")
    assert (
        capture.sources[0].url is None
        and capture.sources[1].url == "https://en.wikipedia.org/wiki/Andrey_Vlasov"
    )
    assert capture.body.startswith("## The capture")
    assert capture.location.path == "stories/1942-07-12-capture.md"
    newton = by_title["Isaac Newton is born"]
    assert newton.date is not None and newton.date.calendar is Calendar.JULIAN
    gutenberg = by_title["Gutenberg prints with movable type"]
    assert (
        gutenberg.date is not None
        and gutenberg.date.approximate
        and gutenberg.date.precision is Precision.YEAR
    )


def test_markdown_and_json_and_yaml_agree(tmp_path: Path) -> None:
    """The same entry written as Markdown, YAML or JSON loads to the same values."""
    write(tmp_path, "a/one.md", "---\ntitle: Same\ndate: 1969-07-20\ntags: [space]\n---\nBody *here*.\n")
    write(
        tmp_path, "b/two.yaml", "- title: Same\n  date: 1969-07-20\n  tags: [space]\n  body: Body *here*.\n"
    )
    write(
        tmp_path,
        "c/three.json",
        json.dumps([{"title": "Same", "date": "1969-07-20", "tags": ["space"], "body": "Body *here*."}]),
    )
    entries = [load_file(p, tmp_path)[0][0] for p in sorted(tmp_path.rglob("*.*"))]
    assert len({(e.id, e.title, e.date, e.tags, e.body) for e in entries}) == 1


def test_ids_are_stable_when_files_move(tmp_path: Path) -> None:
    """An entry keeps its id when it moves inside a file or to another file; an explicit id wins."""
    write(
        tmp_path,
        "x.yaml",
        "- title: First\n  date: '1900-01-01'\n- title: Second\n  date: '1900-01-02'\n  id: my-id\n",
    )
    before = {e.title: e.id for e in load_tree(tmp_path).entries}
    (tmp_path / "x.yaml").unlink()
    write(
        tmp_path,
        "moved/y.yaml",
        "- title: Second\n  date: '1900-01-02'\n  id: my-id\n- title: First\n  date: '1900-01-01'\n",
    )
    after = {e.title: e.id for e in load_tree(tmp_path).entries}
    assert before == after == {"First": "1900-01-01-first", "Second": "my-id"}


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bad.yaml", "- title: A\n  date: 1942-07-12\n- title: [unclosed\n", "bad.yaml:3: YAML syntax error"),
        (
            "typo.yaml",
            "- tittle: A\n  date: 1942-07-12\n",
            "typo.yaml:1: unknown field 'tittle' (did you mean 'title'?)",
        ),
        ("notitle.yaml", "- date: 1942-07-12\n", "notitle.yaml:1: missing title"),
        ("day.yaml", "- title: A\n  date: 1942-02-30\n", "day.yaml:2: date '1942-02-30' does not exist"),
        (
            "rule.yaml",
            "- title: A\n  kind: observance\n  rule: eastr+1\n",
            "rule.yaml:3: rule 'eastr+1' is not understood",
        ),
        ("map.yaml", "title: A\ndate: 1942-07-12\n", "map.yaml:1: a bulk file must be a list of entries"),
        (
            "minutely.yaml",
            "- title: A\n  kind: observance\n  rule: FREQ=MINUTELY;BYMONTH=1\n",
            "minutely.yaml:3: rule 'FREQ=MINUTELY;BYMONTH=1' repeats minutely, but an observance comes once a year:"
            " write FREQ=YEARLY with the day",
        ),
        (
            "kind.yaml",
            "- title: A\n  date: '1942'\n  kind: brith\n",
            "kind.yaml:3: kind must be one of event, birth, death, observance, not 'brith' (did you mean 'birth'?)",
        ),
        (
            "obs.yaml",
            "- title: A\n  date: '1942-01-01'\n  calendar: gregorian\n  observe: julian\n",
            "obs.yaml:4: observe: julian keeps an Old Style day",
        ),
        (
            "src.yaml",
            "- title: A\n  date: '1942'\n  sources: [{title: X, url: 'javascript:alert(1)'}]\n",
            "src.yaml:3: source url",
        ),
        ("frontmatter.md", "title: A\n", "frontmatter.md:1: a Markdown entry starts with a '---' line"),
        ("open.md", "---\ntitle: A\n", "open.md:1: front matter is not closed"),
        (
            "json.json",
            '[{"title": "A", "date": "1942"},\n {"title": "B" "date": "1943"}]',
            "json.json:2: JSON syntax error",
        ),
        ("jsonobj.json", '{"title": "A"}', "jsonobj.json:1: a JSON bulk file must be a list"),
        ("twoline.yaml", "- title: \"A\\nB\"\n  date: '1942'\n", "twoline.yaml:1: title must be one line"),
    ],
)
def test_bad_input_is_reported_with_file_and_line(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    """Each kind of mistake is one 'path:line: message' problem naming the fix; a good file beside it still loads."""
    write(tmp_path, name, text)
    write(tmp_path, "good.yaml", "- title: Good\n  date: '1969-07-20'\n")
    result = load_tree(tmp_path)
    assert any(str(p).startswith(expected) for p in result.problems), [str(p) for p in result.problems]
    assert "Good" in {e.title for e in result.entries}


def test_non_utf8_file(tmp_path: Path) -> None:
    """A file that is not UTF-8 is reported with the line of the first bad byte."""
    write(tmp_path, "latin1.yaml", "- title: Ok\n  date: '1942'\n- title: Caf\xe9\n".encode("latin-1"))
    assert problems_of(tmp_path) == [
        "latin1.yaml:3: file is not UTF-8 (byte 0xe9 at offset 39); save it as UTF-8"
    ]


def test_one_bad_entry_skips_only_itself(tmp_path: Path) -> None:
    """In a bulk file, a bad entry is skipped and its neighbours load."""
    write(
        tmp_path,
        "mix.yaml",
        "- title: A\n  date: '1942-07-12'\n- title: B\n  date: '1942-02-30'\n- title: C\n  date: '1942-07-13'\n",
    )
    result = load_tree(tmp_path)
    assert [e.title for e in result.entries] == ["A", "C"]
    assert [str(p) for p in result.problems] == [
        "mix.yaml:4: date '1942-02-30' does not exist: February 1942 has 28 days"
    ]


def test_duplicate_ids(tmp_path: Path) -> None:
    """Two entries with the same id: the first loads, the second is a problem that points at the first."""
    write(tmp_path, "a.yaml", "- title: Same\n  date: '1942-07-12'\n")
    write(tmp_path, "b.md", "---\ntitle: Same\ndate: '1942-07-12'\n---\n")
    result = load_tree(tmp_path)
    assert len(result.entries) == 1
    assert [str(p) for p in result.problems] == [
        "b.md:1: duplicate id '1942-07-12-same' (also at a.yaml:1); give one of them an explicit id: or another title"
    ]


def test_ignored_files(tmp_path: Path) -> None:
    """README.md, dotfiles, _drafts and other file types are not entries."""
    write(tmp_path, "README.md", "# notes")
    write(tmp_path, "_drafts/x.yaml", "not: [a list")
    write(tmp_path, ".hidden.yaml", "nope")
    write(tmp_path, "notes.txt", "nope")
    result = load_tree(tmp_path)
    assert (result.files, result.entries, result.problems) == (0, (), ())


def test_missing_folder(tmp_path: Path) -> None:
    """A missing entries folder is one clear error, not a traceback."""
    with pytest.raises(EntryError, match="entries folder not found"):
        load_tree(tmp_path / "nope")


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200), st.sampled_from(["x.yaml", "x.json", "x.md"]))
def test_no_file_content_crashes_the_loader(tmp_path: Path, data: bytes, name: str) -> None:
    """Whatever bytes an entry file holds, loading returns entries and problems and never raises."""
    path = tmp_path / name
    path.write_bytes(data)
    _entries, problems = load_file(path, tmp_path)
    assert all(p.location.line >= 1 for p in problems)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "title",
                "date",
                "kind",
                "calendar",
                "observe",
                "rule",
                "tags",
                "featured",
                "sources",
                "id",
                "body",
                "x",
            ]
        ),
        st.one_of(
            st.text(max_size=12),
            st.integers(),
            st.booleans(),
            st.none(),
            st.lists(st.text(max_size=5), max_size=3),
        ),
        max_size=8,
    )
)
def test_no_field_values_crash_validation(tmp_path: Path, fields: dict[str, object]) -> None:
    """Any combination of field values yields an entry or problems, never an exception."""
    path = tmp_path / "x.json"
    path.write_text(json.dumps([fields]), encoding="utf-8")
    entries, problems = load_file(path, tmp_path)
    assert len(entries) + len(problems) >= 1


def test_yaml_means_what_editors_write(tmp_path: Path) -> None:
    """Unquoted years are decimal (-0043 is 44 BC, 0700 is AD 700) and only true/false are booleans ('No' is a word)."""
    write(
        tmp_path,
        "y.yaml",
        "- title: No\n  date: -0043\n  tags: [NO, on]\n- title: Tours\n  date: 0700\n  featured: yes\n",
    )
    result = load_tree(tmp_path)
    (no,) = result.entries
    assert no.title == "No" and no.date is not None and no.date.year == -43 and no.tags == ("no", "on")
    assert [str(p) for p in result.problems] == ["y.yaml:6: featured must be true or false, not 'yes'"]


def test_empty_rule_is_a_problem(tmp_path: Path) -> None:
    """An observance with an empty rule and no date is reported, not loaded as an entry that never appears."""
    write(tmp_path, "o.yaml", "- title: Feast\n  kind: observance\n  rule:\n")
    result = load_tree(tmp_path)
    assert result.entries == () and [p.message for p in result.problems] == [
        "missing date: write date: YYYY-MM-DD (or YYYY-MM, YYYY)"
    ]


# ---------------------------------------------------------------------------------------------
# Hostile input


def test_raw_entry_type_lives_in_model_without_an_import_cycle() -> None:
    """The YAML reader and the validator share the raw-entry type from model, so neither imports the other."""
    import ast
    import dataclasses

    from thisday import model, yamlfiles

    source = Path(yamlfiles.__file__).read_text(encoding="utf-8")
    imported = {
        node.module
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module is not None
    }
    assert "entries" not in imported and "thisday.entries" not in imported
    (raw,), problems = yamlfiles.read("- title: A\n  date: '1942'\n", "x.yaml", markdown=False)
    assert problems == [] and isinstance(raw, model.RawEntry)
    with pytest.raises(dataclasses.FrozenInstanceError):
        raw.line = 2  # type: ignore[misc]


def _json_item(**fields: object) -> str:
    base: dict[str, object] = {"title": "Fine", "date": "1942-07-12"}
    base.update(fields)
    return json.dumps(base)


@pytest.mark.parametrize(
    ("field", "item"),
    [
        ("title", _json_item(title="Bad \ud800 title")),
        ("body", _json_item(body="A body \udfff here")),
        ("tags", _json_item(tags=["ok", "x\ud800"])),
        ("sources", _json_item(sources=[{"title": "T\ud800"}])),
        ("sources", _json_item(sources=[{"title": "T", "url": "https://e.org/\ud800"}])),
    ],
)
def test_text_that_cannot_be_utf8_is_a_problem(tmp_path: Path, field: str, item: str) -> None:
    """A lone surrogate escape ("\\ud800") in any field is a path:line problem naming it; the rest loads."""
    write(tmp_path, "bulk.json", "[\n" + _json_item(title="Neighbour") + ",\n" + item + "\n]")
    write(tmp_path, "good.yaml", "- title: Good\n  date: '1969-07-20'\n")
    result = load_tree(tmp_path)
    assert {e.title for e in result.entries} == {"Good", "Neighbour"}
    (problem,) = result.problems
    assert str(problem).startswith(f"bulk.json:3: {field} holds U+D")
    assert "cannot be written as UTF-8" in problem.message


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "esc.json",
            '[{"title": "A \\u001b[31m red", "date": "1942"}]',
            "esc.json:1: title holds the control character U+001B (ESC)",
        ),
        (
            "nul.json",
            '[{"title": "A", "date": "1942", "body": "x\\u0000y"}]',
            "nul.json:1: body holds the control character U+0000 (NUL)",
        ),
        (
            "bel.yaml",
            '- title: A\n  date: "1942"\n  tags: ["a\\x07"]\n',
            "bel.yaml:3: tags holds the control character U+0007 (BEL)",
        ),
        (
            "raw.yaml",
            "- title: A\n  date: '1942'\n  body: a\x1bb\n",
            "raw.yaml:3: the control character U+001B is not allowed",
        ),
        (
            "del.md",
            "---\ntitle: A\ndate: '1942'\n---\nBody \x7f here\n",
            "del.md:5: body holds the control character U+007F (DEL)",
        ),
        (
            "deep.md",
            "---\ntitle: A\ndate: '1942'\n---\n\nOne.\n\nTwo, and a bell \x07 here.\n",
            "deep.md:8: body holds the control character U+0007 (BEL) at column 17",
        ),
        (
            "c1.yaml",
            '- title: "A\\x85"\n  date: "1942"\n',
            "c1.yaml:1: title holds the control character U+0085",
        ),
        (
            "src.json",
            '[{"title": "A", "date": "1942", "sources": [{"title": "S\\u0008"}]}]',
            "src.json:1: sources holds the control character U+0008 (BS)",
        ),
    ],
)
def test_control_characters_are_rejected(tmp_path: Path, name: str, text: str, expected: str) -> None:
    """ESC, NUL, BEL, DEL, C1 controls in any field are a path:line problem naming the character and the fix."""
    write(tmp_path, name, text)
    write(tmp_path, "good.yaml", "- title: Good\n  date: '1969-07-20'\n")
    result = load_tree(tmp_path)
    assert [e.title for e in result.entries] == ["Good"]
    (problem,) = result.problems
    assert str(problem).startswith(expected), str(problem)
    assert "delete" in problem.message


def test_tabs_and_line_breaks_stay_where_they_belong(tmp_path: Path) -> None:
    """Tabs and line breaks (also CRLF) in a body are ordinary text, not control-character problems."""
    write(tmp_path, "ok.md", b"---\r\ntitle: A\r\ndate: '1942'\r\n---\r\nLine\tone\r\nLine two\r\n")
    result = load_tree(tmp_path)
    assert result.problems == () and [e.title for e in result.entries] == ["A"]


@pytest.mark.parametrize("kind", sorted(hostile.MAKERS))
def test_hostile_files_are_problems_not_crashes(tmp_path: Path, kind: str) -> None:
    """FIFOs, broken or looping links, unreadable files, absurd nesting and numbers: a path:line problem each,
    the file skipped, every other file loaded (and the loader never blocks on a FIFO)."""
    if kind == "failing read" and not Path("/proc/self/mem").exists():
        pytest.skip("needs Linux /proc")
    _rel, expected = hostile.MAKERS[kind](tmp_path)
    write(tmp_path, "good.yaml", hostile.GOOD)
    with hostile.FifoUnblocker(tmp_path):
        result = load_tree(tmp_path)
    assert [e.title for e in result.entries] == ["Good"]
    assert [str(p) for p in result.problems if str(p).startswith(expected)], [str(p) for p in result.problems]
    assert len(result.problems) == 1, [str(p) for p in result.problems]


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary folder an unprivileged user can reach (pytest's own is private to the user running it)."""
    folder = Path(tempfile.mkdtemp(prefix="thisday-perm-"))
    folder.chmod(0o755)
    yield folder
    for path in folder.rglob("*"):
        path.chmod(0o755)
    shutil.rmtree(folder)


def _titles_and_problems(root: Path) -> tuple[list[str], list[str]]:
    result = load_tree(root)
    return [e.title for e in result.entries], [str(p) for p in result.problems]


def test_unreadable_file(shared_tmp: Path) -> None:
    """A file without read permission is a path:1 problem saying so; the rest loads (read by a user other than
    root, whom permissions do not stop)."""
    write(shared_tmp, "good.yaml", hostile.GOOD)
    write(shared_tmp, "secret.yaml", hostile.GOOD.replace("Good", "Secret")).chmod(0)
    titles, problems = hostile.as_unprivileged(lambda: _titles_and_problems(shared_tmp))
    assert titles == ["Good"]
    assert problems == ["secret.yaml:1: cannot be read (Permission denied); check the file's permissions"]


@pytest.mark.parametrize(
    ("titles", "tags", "expected_tags"),
    [
        (["Запуск первого спутника", "Полёт Гагарина"], "[космос, наука]", ("космос", "наука")),
        (["Η μάχη του Μαραθώνα", "Η ναυμαχία της Σαλαμίνας"], "[Ιστορία]", ("ιστορία",)),
        (["明治維新", "大化の改新"], "[歴史]", ("歴史",)),
        (["Łódź uprising", "Łódź ghetto"], "[Łódź, Kraków]", ("łódź", "krakow")),
    ],
)
def test_non_latin_titles_and_tags_keep_their_letters(
    tmp_path: Path, titles: list[str], tags: str, expected_tags: tuple[str, ...]
) -> None:
    """Two non-Latin titles on one date get distinct ids made of their own letters, and tags keep their letters."""
    write(
        tmp_path,
        "x.yaml",
        "".join(f"- title: {t}\n  date: '1961-04-12'\n  tags: {tags}\n" for t in titles),
    )
    result = load_tree(tmp_path)
    assert result.problems == ()
    ids = [e.id for e in result.entries]
    assert len(set(ids)) == 2
    for entry, title in zip(result.entries, titles, strict=True):
        first_word = title.split()[0].lower()
        if title.isascii() or "Ł" not in title:  # Latin titles keep their old ASCII ids (Ł has no ASCII base)
            assert entry.id.startswith("1961-04-12-") and first_word in entry.id
        assert entry.tags == expected_tags


def test_shipped_entry_ids_and_tags_never_change() -> None:
    """Every shipped entry keeps the id (its feed GUID) and tags recorded in tests/fixtures/shipped_ids.tsv."""
    recorded = (
        (Path(__file__).parent / "fixtures" / "shipped_ids.tsv").read_text(encoding="utf-8").splitlines()
    )
    result = load_tree(Path(__file__).parent.parent / "entries")
    assert result.problems == ()
    now = sorted(f"{e.id}\t{','.join(e.tags)}" for e in result.entries)
    assert now == recorded


def test_explicit_non_latin_id(tmp_path: Path) -> None:
    """An explicit id may use letters of any script; punctuation other than . _ / - is still refused."""
    write(
        tmp_path,
        "x.yaml",
        "- title: A\n  date: '1942'\n  id: спутник-1\n- title: B\n  date: '1942'\n  id: 'a b'\n",
    )
    result = load_tree(tmp_path)
    assert [e.id for e in result.entries] == ["спутник-1"]
    assert [str(p) for p in result.problems] == [
        "x.yaml:6: id 'a b' may use only letters, digits and . _ / - (and start with a letter or digit)"
    ]


def test_yaml_alias_bomb(tmp_path: Path) -> None:
    """A YAML alias 'bomb' (a list repeated by aliases into hundreds of millions of values) is a problem, found
    after looking at a bounded number of values; the rest loads."""
    aliases = "".join(f"  x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))
    write(
        tmp_path,
        "bomb.yaml",
        "- title: T\n  date: '1942'\n  x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + aliases,
    )
    write(tmp_path, "good.yaml", hostile.GOOD)
    result = load_tree(tmp_path)
    assert [e.title for e in result.entries] == ["Good"]
    (problem,) = result.problems
    assert problem.location.path == "bomb.yaml" and "more than 10000 values" in problem.message


@pytest.mark.parametrize("link", ["a-link", "z-link"])
def test_folder_linked_into_itself_is_read_once(tmp_path: Path, link: str) -> None:
    """A symbolic link to a folder of the tree (itself, an ancestor, a sibling) does not load its entries again,
    and they keep their real path, whatever the link is called."""
    write(tmp_path, "days/good.yaml", hostile.GOOD)
    (tmp_path / "days" / "again").symlink_to(tmp_path)
    (tmp_path / link).symlink_to(tmp_path / "days")
    result = load_tree(tmp_path)
    assert [(e.title, e.location.path) for e in result.entries] == [("Good", "days/good.yaml")]
    assert result.problems == () and result.files == 1


def test_unlistable_folder(shared_tmp: Path) -> None:
    """A folder that cannot be listed is a problem naming it; the rest loads (read by a user other than root)."""
    write(shared_tmp, "good.yaml", hostile.GOOD)
    write(shared_tmp, "locked/x.yaml", hostile.GOOD.replace("Good", "Locked"))
    (shared_tmp / "locked").chmod(0)
    titles, problems = hostile.as_unprivileged(lambda: _titles_and_problems(shared_tmp))
    assert titles == ["Good"]
    assert problems == ["locked:1: folder cannot be read (Permission denied); check its permissions"]
