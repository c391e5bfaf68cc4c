"""Hostile entry files, shared by the loader, index, command-line and fuzz tests.

Each maker writes one bad file into an entries folder and returns its path relative to the folder and the start
of the problem the loader must report for it (``path:line: ...``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

GOOD = "- title: Good\n  date: '1969-07-20'\n"
"""A good bulk file that must still load beside every bad one (on 20 July)."""


def fifo(root: Path) -> tuple[str, str]:
    path = root / "pipe.yaml"
    os.mkfifo(path)
    return "pipe.yaml", "pipe.yaml:1: not a regular file"


def dangling(root: Path) -> tuple[str, str]:
    (root / "gone.yaml").symlink_to(root / "missing.yaml")
    return "gone.yaml", "gone.yaml:1: broken symbolic link"


def loop(root: Path) -> tuple[str, str]:
    (root / "loop.yaml").symlink_to(root / "loop-back")
    (root / "loop-back").symlink_to(root / "loop.yaml")
    return "loop.yaml", "loop.yaml:1: symbolic link loop"


def failing_read(root: Path) -> tuple[str, str]:
    """A regular file whose read fails even for root: the reader's own memory at offset 0 (Linux)."""
    (root / "mem.yaml").symlink_to("/proc/self/mem")
    return "mem.yaml", "mem.yaml:1: cannot be read"


def deep_json(root: Path) -> tuple[str, str]:
    (root / "deep.json").write_text(
        '[{"title": "Deep", "date": "1969-07-20", "tags": ' + "[" * 1000 + "]" * 1000 + "}]", encoding="utf-8"
    )
    return "deep.json", "deep.json:1: "


def big_int_yaml(root: Path) -> tuple[str, str]:
    (root / "bigint.yaml").write_text("- title: Big\n  date: " + "9" * 5000 + "\n", encoding="utf-8")
    return "bigint.yaml", "bigint.yaml:2: "


def big_int_json(root: Path) -> tuple[str, str]:
    (root / "bigint.json").write_text('[\n{"title": "Big", "date": ' + "9" * 5000 + "}]", encoding="utf-8")
    return "bigint.json", "bigint.json:2: "


def surrogate_json(root: Path) -> tuple[str, str]:
    (root / "surrogate.json").write_text(
        '[{"title": "Moon \\ud800", "date": "1969-07-20"}]', encoding="utf-8"
    )
    return "surrogate.json", "surrogate.json:1: title holds U+D800"


def escape_json(root: Path) -> tuple[str, str]:
    (root / "escape.json").write_text(
        '[{"title": "Moon", "date": "1969-07-20", "body": "\\u001b[2J"}]', encoding="utf-8"
    )
    return "escape.json", "escape.json:1: body holds the control character U+001B (ESC)"


MAKERS: dict[str, Callable[[Path], tuple[str, str]]] = {
    "lone surrogate in JSON": surrogate_json,
    "ESC in JSON": escape_json,
    "fifo": fifo,
    "dangling symlink": dangling,
    "symlink loop": loop,
    "failing read": failing_read,
    "JSON nested 1000 deep": deep_json,
    "5000-digit number in YAML": big_int_yaml,
    "5000-digit number in JSON": big_int_json,
}


class FifoUnblocker:
    """Opens every FIFO under a folder for writing once a few seconds have passed, then closes it.

    A loader that (wrongly) opens a FIFO blocks until a writer appears; this lets such a test finish and fail
    on its assertions instead of hanging the suite. A loader that never opens FIFOs never notices it.
    """

    def __init__(self, root: Path, after: float = 5.0) -> None:
        self.root = root
        self.after = after
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.after):
            for path in self.root.rglob("*"):
                if path.is_fifo():
                    try:
                        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                    except OSError:  # nobody is reading it: nothing to unblock
                        continue
                    os.close(fd)

    def __enter__(self) -> FifoUnblocker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def as_unprivileged(func: Callable[[], T]) -> T:
    """``func()`` run by a user that file permissions apply to.

    Root reads every file whatever its mode, so as root ``func`` runs in a forked child that has given up root
    (user and group ``nobody``) and its result comes back pickled; otherwise it simply runs. Modules the child
    needs must be imported before (the interpreter's own files may not be readable by ``nobody``).
    """
    if os.geteuid() != 0:
        return func()
    import encodings.utf_8_sig  # noqa: F401  # codecs are imported on first use: do it while still root
    import pickle

    import yaml  # noqa: F401

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root, run, send the result, leave without running the parent's clean-ups
        status = 0
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            payload = pickle.dumps((True, func()))
        except BaseException as exc:  # sent to the parent, which raises it
            payload = pickle.dumps((False, repr(exc)))
            status = 1
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
        os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as incoming:
        data = incoming.read()
    os.waitpid(pid, 0)
    ok, value = pickle.loads(data)
    if not ok:
        raise AssertionError(f"the unprivileged run failed: {value}")
    return value  # type: ignore[no-any-return]
