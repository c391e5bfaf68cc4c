"""thisday works when installed as a user installs it: from a built wheel into a fresh virtualenv (not an
editable install of this checkout), run from a folder holding nothing but an ``entries/`` folder.

The sdist and the wheel are built once per test session (the wheel from the sdist, as a packager would),
and installed once; each test then runs the installed ``thisday`` command in its own empty folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "entries"
DAY = "2026-07-12"
NOW = "2026-07-12T06:00:00+00:00"


@dataclass
class Installed:
    sdist: Path
    wheel: Path
    venv: Path

    @property
    def thisday(self) -> Path:
        return self.venv / "bin" / "thisday"


def _run(cmd: Sequence[str | Path], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the sdist, then the wheel from the sdist, and install the wheel into a new virtualenv."""
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", dist, ROOT], cwd=ROOT)
    (sdist,) = dist.glob("thisday-*.tar.gz")
    (wheel,) = dist.glob("thisday-*.whl")
    venv = tmp_path_factory.mktemp("installed") / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=dist)
    _run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel], cwd=dist)
    return Installed(sdist=sdist, wheel=wheel, venv=venv)


def _user_folder(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An empty folder holding only a copy of the test entries, and a user's environment (no state or
    settings from the test run, no access to this checkout's sources)."""
    folder = tmp_path / "site"
    folder.mkdir()
    shutil.copytree(FIXTURES, folder / "entries")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THISDAY_", "PYTHON", "VIRTUAL_ENV"))}
    env.pop("STATE_DIRECTORY", None)
    env["HOME"] = str(tmp_path / "home")
    return folder, env


def _titles_on(day: str) -> list[str]:
    """The titles of the fixture entries dated on ``day``'s month and day (read from the YAML itself)."""
    month_day = day[4:]
    entries = yaml.safe_load((FIXTURES / "days" / "july.yaml").read_text(encoding="utf-8"))
    return [e["title"] for e in entries if str(e["date"]).endswith(month_day)]


def test_installed_wheel_builds_the_site_feeds_and_digest(installed: Installed, tmp_path: Path) -> None:
    """A user who installs the wheel (not this checkout) and runs ``thisday build``, ``thisday digest`` and
    ``thisday preview --format email`` next to an ``entries/`` folder gets exit 0, a rendered
    ``feeds/index.html`` naming that day's entries, non-empty Atom and RSS feeds, and a digest message: the
    templates ship inside the package."""
    folder, env = _user_folder(tmp_path)
    titles = _titles_on(DAY)
    assert titles, "the fixture entries should have entries on the test day"
    thisday = installed.thisday
    _run([thisday, "build", "--now", NOW, DAY], cwd=folder, env=env)
    _run([thisday, "digest", DAY, "-o", "digest.eml"], cwd=folder, env=env)
    preview = _run([thisday, "preview", DAY, "--format", "email"], cwd=folder, env=env)

    feeds = folder / "feeds"
    index = (feeds / "index.html").read_text(encoding="utf-8")
    assert "<html" in index.lower()
    for title in titles:
        assert title.replace("'", "&#39;") in index or title in index, f"{title!r} missing from index.html"
    atoms, rsses = sorted(feeds.glob("*.atom")), sorted(feeds.glob("*.rss"))
    assert atoms and rsses
    for feed in (*atoms, *rsses):
        assert feed.stat().st_size > 0, f"{feed.name} is empty"
    digest = (folder / "digest.eml").read_bytes()
    assert digest and b"Subject:" in digest
    assert "Subject:" in preview


def test_wheel_carries_the_templates(installed: Installed) -> None:
    """Every file under the checkout's ``templates/`` is in the wheel as ``thisday/templates/...``, so no
    template can go missing from an install while the editable checkout still renders."""
    shipped = {
        p.relative_to(ROOT / "templates").as_posix() for p in (ROOT / "templates").rglob("*") if p.is_file()
    }
    assert shipped
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    missing = sorted(f for f in shipped if f"thisday/templates/{f}" not in names)
    assert not missing, f"templates not in the wheel: {missing}"


def test_sdist_carries_templates_and_tests(installed: Installed) -> None:
    """The source archive a packager downloads holds ``templates/`` and ``tests/`` (with the test
    fixtures), so it can be built and tested on its own (the wheel above was built from it)."""
    with tarfile.open(installed.sdist) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    for path in (ROOT / "templates").rglob("*"):
        if path.is_file():
            assert path.relative_to(ROOT).as_posix() in names, f"{path.relative_to(ROOT)} not in the sdist"
    assert "tests/conftest.py" in names
    assert "tests/fixtures/entries/days/july.yaml" in names


def test_installed_init_then_build_then_digest(installed: Installed, tmp_path: Path) -> None:
    """From the installed wheel, in an empty folder: ``thisday init`` writes a site from the package's starter
    files, and ``thisday check``, ``thisday build`` and ``thisday digest`` then work in it; the built page
    shows a starter entry of that day, and the starter draft appears in no output."""
    folder, env = _user_folder(tmp_path)
    shutil.rmtree(folder / "entries")
    site = folder / "museum"
    thisday = installed.thisday
    out = _run([thisday, "init", site], cwd=folder, env=env)
    assert "thisday check" in out
    assert (site / "thisday.toml").is_file() and (site / "README.md").is_file()
    assert _run([thisday, "check"], cwd=site, env=env).startswith("ok:")
    _run([thisday, "build", "--now", "1969-07-20T06:00:00+00:00", "2026-07-20"], cwd=site, env=env)
    _run([thisday, "digest", "2026-07-20", "-o", "digest.eml"], cwd=site, env=env)
    page = (site / "feeds" / "days" / "2026-07-20.html").read_text(encoding="utf-8")
    assert "Apollo 11" in page
    assert b"Apollo 11" in (site / "digest.eml").read_bytes()
    draft = _run([thisday, "preview", "04-06", "--drafts"], cwd=site, env=env)
    assert "[DRAFT, not published]" in draft
    assert "Olympic" not in _run([thisday, "preview", "2026-04-06"], cwd=site, env=env)
