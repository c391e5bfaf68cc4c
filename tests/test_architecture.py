"""The house rules of the code, checked: no import cycles between thisday's modules (counting imports inside
functions too), renderers that never import one another, and a core that never reads the clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "thisday"
RENDERERS = {"terminal", "site", "feeds", "digest"}
"""The four renderers of the design; the other feed formats (JSON Feed, archives, calendars, the day API) build
on feeds.py's items so that every format of a feed carries the same items."""
FORMATS = {"jsonfeed", "calendarfeed", "dayapi", "archives"}
CORE = {"model", "dates", "selection", "views", "markup", "index", "layout", "message", *RENDERERS, *FORMATS}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__")


def imports(path: Path) -> set[str]:
    """The thisday modules ``path`` imports, anywhere in the file except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
        target = [*base, *(node.module.split(".") if node.module else [])]
        if node.module is None:
            for alias in node.names:
                found.add(".".join([*target, alias.name]).strip("."))
        else:
            found.add(".".join(target).strip("."))
    known = {module_name(p) for p in PACKAGE.rglob("*.py")}
    return {name if name in known else name.rsplit(".", 1)[0] for name in found} & known - {module_name(path)}


GRAPH = {module_name(p): imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_no_import_cycles() -> None:
    """No chain of imports between thisday's modules comes back to where it started (a package's __init__ may
    import its own submodules), so every module can be understood and tested from the bottom up."""
    def edges(name: str) -> set[str]:
        return {t for t in GRAPH[name] if not (name and (t.startswith(name + ".")))} if name in GRAPH else set()

    cycles = []
    for start in GRAPH:
        stack = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for nxt in edges(node):
                if nxt == start:
                    cycles.append(" -> ".join([*path, nxt]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    assert not cycles, "\n".join(sorted(set(cycles))[:10])


@pytest.mark.parametrize("renderer", sorted(RENDERERS))
def test_renderers_do_not_import_each_other(renderer: str) -> None:
    """Each renderer takes views and gives text or bytes; none reaches into another (nor into the other feed
    formats) for its logic."""
    assert not GRAPH[renderer] & (RENDERERS | FORMATS) - {renderer}


@pytest.mark.parametrize("name", sorted(CORE))
def test_the_core_never_reads_the_clock(name: str) -> None:
    """The core gets today, now and the zone as arguments: no call to now(), today(), time() or tzlocal."""
    source = (PACKAGE / f"{name}.py").read_text(encoding="utf-8")
    for call in ("datetime.now(", "date.today(", "datetime.today(", "time.time(", "tzlocal", "utcnow("):
        assert call not in source, f"{name}.py calls {call}"
