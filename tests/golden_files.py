"""Golden files: compare output with tests/golden/, show a diff on failure, regenerate on purpose only."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
REGEN = "THISDAY_REGEN_GOLDEN"


def check_golden(path: Path, actual: str | bytes) -> None:
    """Fail with a unified diff unless ``actual`` equals the golden file; with THISDAY_REGEN_GOLDEN=1, write it."""
    text = actual.decode("utf-8") if isinstance(actual, bytes) else actual
    if os.environ.get(REGEN) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if not path.is_file():
        pytest.fail(f"{path.name} is missing: run with {REGEN}=1 to create it, then review it")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(True), text.splitlines(True), f"golden/{path.name}", "now"
            )
        )
        pytest.fail(f"{path.name} differs from the golden file ({REGEN}=1 to accept):\n{diff}")
