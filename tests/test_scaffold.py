"""`thisday init` writes a working site and refuses to overwrite anything; `thisday new` writes a draft entry
and opens $EDITOR only when a terminal is attached."""

from __future__ import annotations

import dataclasses
import os
import pty
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from thisday import config as config_module
from thisday.cli import main
from thisday.config import load_settings
from thisday.entries import load_tree
from thisday.model import Calendar, Kind, Status


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_init_writes_a_site_that_checks_clean(tmp_path: Path) -> None:
    """`thisday init FOLDER` writes thisday.toml, a README naming the next commands and entries with one of each
    kind, an Old Style date and a moveable observance; `thisday check` on it finds no problem."""
    site = tmp_path / "museum"
    code, out = invoke("init", str(site))
    assert code == 0, out
    assert "thisday check" in out
    assert {"thisday.toml", "README.md", "entries"} <= set(os.listdir(site))
    readme = (site / "README.md").read_text(encoding="utf-8")
    for command in ("thisday check", "thisday preview", "thisday build", "thisday new", "thisday serve --preview"):
        assert command in readme
    loaded = load_tree(site / "entries")
    assert not loaded.problems
    assert {e.kind for e in loaded.entries} == set(Kind)
    assert any(e.date is not None and e.date.calendar is Calendar.JULIAN for e in loaded.entries)
    assert any(e.rule is not None for e in loaded.entries)
    code, out = invoke("--config", str(site / "thisday.toml"), "check")
    assert code == 0 and out.startswith("ok:"), out


def _setting_names(cls: type) -> list[str]:
    names = []
    for field in dataclasses.fields(cls):
        if not field.init or field.name == "source":
            continue
        names.append(field.name)
    return names


def test_init_config_shows_every_setting(tmp_path: Path) -> None:
    """The written thisday.toml names every setting of every section (commented with its default where not
    set), and with every commented setting line switched on it still loads: what it shows is valid."""
    assert invoke("init", str(tmp_path / "s"))[0] == 0
    text = (tmp_path / "s" / "thisday.toml").read_text(encoding="utf-8")
    sections = {
        "": config_module.Settings,
        "site": config_module.SiteSettings,
        "selection": config_module.SelectionSettings,
        "feeds": config_module.FeedSettings,
        "digest": config_module.DigestSettings,
        "smtp": config_module.SmtpSettings,
        "daemon": config_module.DaemonSettings,
        "mastodon": config_module.MastodonSettings,
        "bluesky": config_module.BlueskySettings,
        "webhooks": config_module.WebhookSettings,
    }
    for section, cls in sections.items():
        for name in _setting_names(cls):
            if section == "" and name in sections:
                assert re.search(rf"^#{{0,2}} ?\[\[?{name}\]\]?", text, re.MULTILINE), f"[{name}] not shown"
                continue
            assert re.search(rf"^#{{0,2}} ?{name} = ", text, re.MULTILINE), f"{section}.{name} not shown"
    switched_on = re.sub(r"^# ((?:\[\[feeds\]\])|(?:[a-z_]+ = ))", r"\1", text, flags=re.MULTILINE)
    tomllib.loads(switched_on)
    full = tmp_path / "full.toml"
    full.write_text(switched_on, encoding="utf-8")
    settings = load_settings(full)
    assert settings.feeds[0].name == "births"


def test_init_refuses_a_folder_that_holds_anything(tmp_path: Path) -> None:
    """`thisday init` into a folder holding a file refuses in one line, exit 1, and writes nothing: the
    folder's contents (and the file's bytes) are as before."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "notes.txt").write_text("mine", encoding="utf-8")
    before = listing(site)
    code, out = invoke("init", str(site))
    assert code == 1
    assert "not empty" in out and "nothing of yours is overwritten" in out
    assert len(out.strip().splitlines()) == 1
    assert listing(site) == before
    assert (site / "notes.txt").read_text(encoding="utf-8") == "mine"


@pytest.mark.slow
def test_init_refuses_a_folder_it_cannot_write(tmp_path: Path) -> None:
    """`thisday init` run by a user who cannot write the parent folder refuses in one line, exit 1, and
    nothing appears (run as an unprivileged user when the tests run as root, who may write anywhere)."""
    parent = Path(tempfile.mkdtemp(prefix="thisday-ro-"))
    try:
        parent.chmod(0o555)
        command = [sys.executable, "-m", "thisday", "init", str(parent / "site")]
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("setpriv (util-linux) is needed to run as an unprivileged user")
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
            probe = subprocess.run(
                [*command[:4], sys.executable, "-c", "import thisday"], capture_output=True, check=False, cwd="/"
            )
            if probe.returncode != 0:  # the checkout lies in a folder only root may read (mktemp -d makes 0700)
                pytest.skip("an unprivileged user cannot read this checkout, so cannot run thisday from it")
        env = dict(os.environ, HOME=str(parent))
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd="/", env=env)
        assert result.returncode == 1, result.stderr
        assert "cannot write" in result.stderr and "permission denied" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert os.listdir(parent) == []
    finally:
        parent.chmod(0o755)
        shutil.rmtree(parent)


def test_new_writes_a_draft_entry(tmp_path: Path) -> None:
    """`thisday new "Title" --date 1969-07-20 --kind birth` writes entries/<date>-<slug>.md: a draft of that
    kind and date, which check accepts and which preview leaves out until it is marked ready."""
    entries = tmp_path / "entries"
    code, out = invoke("--entries", str(entries), "new", 'Ada: "the first" programmer', "--date", "1815-12-10", "--kind", "birth")
    assert code == 0, out
    path = entries / "1815-12-10-ada-the-first-programmer.md"
    assert f"wrote {path}" in out
    (entry,) = load_tree(entries).entries
    assert entry.title == 'Ada: "the first" programmer'
    assert (entry.kind, entry.status) == (Kind.BIRTH, Status.DRAFT)
    assert entry.date is not None and (entry.date.year, entry.date.month, entry.date.day) == (1815, 12, 10)
    assert invoke("--entries", str(entries), "check")[0] == 0
    assert "programmer" not in invoke("--entries", str(entries), "preview", "2026-12-10")[1]
    code, out = invoke("--entries", str(entries), "new", "Old Style", "--date", "1917-10-25", "--julian")
    assert code == 0
    julian = next(e for e in load_tree(entries).entries if e.title == "Old Style")
    assert julian.date is not None and julian.date.calendar is Calendar.JULIAN


def test_new_refuses_an_existing_entry_and_a_bad_date(tmp_path: Path) -> None:
    """A second `thisday new` with the same title and date refuses (the file is kept as it was); a date that
    is not a date is a one-line error naming --date; neither writes a file."""
    entries = tmp_path / "entries"
    assert invoke("--entries", str(entries), "new", "Once", "--date", "1969-07-20")[0] == 0
    (path,) = entries.iterdir()
    path.write_text(path.read_text(encoding="utf-8") + "Edited.\n", encoding="utf-8")
    code, out = invoke("--entries", str(entries), "new", "Once", "--date", "1969-07-20")
    assert code == 1 and "exists already" in out
    assert path.read_text(encoding="utf-8").endswith("Edited.\n")
    code, out = invoke("--entries", str(entries), "new", "Bad", "--date", "1969-13-45")
    assert code == 1 and "--date" in out and len(out.strip().splitlines()) == 1
    assert len(list(entries.iterdir())) == 1


def _editor_script(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "edited.txt"
    script = tmp_path / "fake-editor"
    script.write_text(f'#!/bin/sh\necho "$1" > {marker}\n', encoding="utf-8")
    script.chmod(0o755)
    return script, marker


def test_new_does_not_open_the_editor_without_a_terminal(tmp_path: Path) -> None:
    """Without a terminal (a script, CI), `thisday new` writes the file and does not start $EDITOR."""
    script, marker = _editor_script(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "thisday", "--entries", str(tmp_path / "entries"), "new", "T", "--date", "1969"],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, EDITOR=str(script), VISUAL=str(script)),
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert not marker.exists()


@pytest.mark.slow
def test_new_opens_the_editor_in_a_terminal(tmp_path: Path) -> None:
    """With a terminal attached (a pseudo-terminal here), `thisday new` opens the new file in $EDITOR."""
    script, marker = _editor_script(tmp_path)
    entries = tmp_path / "entries"
    primary, secondary = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "thisday", "--entries", str(entries), "new", "In a terminal", "--date", "1969-07-20"],
            stdin=secondary,
            stdout=secondary,
            stderr=secondary,
            check=False,
            env=dict(os.environ, EDITOR=str(script), VISUAL=str(script)),
        )
    finally:
        os.close(secondary)
        os.close(primary)
    assert result.returncode == 0
    assert marker.read_text(encoding="utf-8").strip() == str(entries / "1969-07-20-in-a-terminal.md")
