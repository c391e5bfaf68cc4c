"""Benchmark: thisday with 133,000 real entries (and 1,000,000 synthetic ones), against its floors.

Run by hand, not in the test suite (machines are shared and noisy: read the ratios, measured in one run):

    .venv/bin/python bench/scale.py                  # needs ../shared/data/wikipedia-onthisday
    .venv/bin/python bench/scale.py --no-million     # skip the 1,000,000-entry corpus
    .venv/bin/python bench/scale.py --keep DIR       # keep the generated corpora in DIR

It imports the shared data set into a temporary entries folder, then measures, side by side:

- cold index build (in-process refresh of a new on-disk index) against the floor, a plain ``json.load`` of the
  shared data set's files;
- warm ``thisday preview 07-12`` as a whole process, against BSD ``calendar -t 0712`` (Debian package
  ``calendar``) reading the same items converted to its format;
- re-index after one changed file, against the cold index;
- ``thisday build`` for one day: its peak memory against the same build on the starter corpus;
- the same figures for a synthetic 1,000,000-entry corpus.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "wikipedia-onthisday"
THISDAY = [sys.executable, "-m", "thisday"]


def best(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def become_subreaper() -> None:
    """Adopt orphaned descendants (Linux PR_SET_CHILD_SUBREAPER), so that their CPU time reaches RUSAGE_CHILDREN:
    BSD calendar starts cpp (which starts cc1) and exits without waiting for it."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)


def reap_orphans() -> None:
    """Wait for every adopted descendant still running (see :func:`become_subreaper`)."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def process(
    args: Sequence[str], env: dict[str, str], runs: int, warmup: int = 2
) -> tuple[float, int, float]:
    """Median wall time of a whole process over ``runs`` runs after ``warmup``, its largest peak RSS (KiB), and
    its median CPU time (user + system) counting every process it started, waited for or not."""
    times = []
    cpus = []
    peak = 0
    for n in range(warmup + runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        reap_orphans()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(
                f"failed: {' '.join(args)}\n{proc.stderr.read().decode() if proc.stderr else ''}"
            )
        if n >= warmup:
            times.append(elapsed)
            cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
            peak = max(peak, usage.ru_maxrss)
    return statistics.median(times), peak, statistics.median(cpus)


def json_floor(data: Path) -> float:
    files = sorted((data / "days").glob("*.json"))

    def load_all() -> None:
        for path in files:
            with path.open(encoding="utf-8") as handle:
                json.load(handle)

    return best(load_all, 3)


def cold_index(entries: Path, state: Path) -> tuple[float, int]:
    from thisday.indexcache import IndexStore

    def build() -> None:
        shutil.rmtree(state, ignore_errors=True)
        with IndexStore(state / "bench.sqlite", entries) as store:
            store.refresh()

    elapsed = best(build, 2)
    with IndexStore(state / "bench.sqlite", entries) as store:
        count = store.counts()[0]
    return elapsed, count


def reindex_one(entries: Path, state: Path) -> float:
    from thisday.indexcache import IndexStore

    target = (sorted(entries.rglob("07-12.json")) or sorted(entries.rglob("07-*.yaml")))[0]
    original = target.read_text(encoding="utf-8")
    try:
        with IndexStore(state / "bench.sqlite", entries) as store:
            store.refresh()
            target.write_text(original + "\n", encoding="utf-8")  # an edit: the file's size and time change
            start = time.perf_counter()
            stats = store.refresh()
            elapsed = time.perf_counter() - start
            assert stats.parsed == 1, stats
        return elapsed
    finally:
        target.write_text(original, encoding="utf-8")


def write_config(folder: Path, entries: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "thisday.toml"
    config.write_text(
        f'timezone = "Europe/Berlin"\nentries = "{entries}"\nfeeds_dir = "{folder / "feeds"}"\n'
        f'state_dir = "{folder / "state"}"\n',
        encoding="utf-8",
    )
    return config


def calendar_file(entries: Path, target: Path) -> int:
    """The entries' day-precise items as BSD calendar lines ('MM/DD<TAB>year title')."""
    lines = []
    for path in sorted(entries.rglob("*.json")):
        if path.name.startswith("_"):  # not entries (the importer's own record)
            continue
        for item in json.loads(path.read_text(encoding="utf-8")):
            date = str(item.get("date", ""))
            parts = date.lstrip("-~").rstrip("?").split("-")
            if len(parts) == 3:
                lines.append(f"{parts[1]}/{parts[2]}\t{parts[0]} {item['title']}")
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def synthesize(source: Path, target: Path, factor: int) -> None:
    """A corpus ``factor`` times the size of ``source``: each item repeated with other years, ids and titles."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.rglob("*.json")):
        if path.name.startswith("_"):
            continue
        items = json.loads(path.read_text(encoding="utf-8"))
        out = []
        for copy in range(factor):
            for item in items:
                clone = dict(item)
                clone["id"] = f"{item.get('id', 'x')}-c{copy}"
                clone["title"] = f"{item['title']} ({copy})"
                out.append(clone)
        (target / path.name).write_text(
            "[\n" + ",\n".join(json.dumps(i, ensure_ascii=False, sort_keys=True) for i in out) + "\n]\n",
            encoding="utf-8",
        )


def measure(label: str, folder: Path, entries: Path, runs: int, calendar: bool) -> dict[str, float]:
    env = {**os.environ, "THISDAY_STATE_DIR": str(folder / "state")}
    config = write_config(folder, entries)
    cold, count = cold_index(entries, folder / "state")
    print(f"  {label}: cold index {cold:.2f} s for {count:,} entries", flush=True)
    reindex = reindex_one(entries, folder / "state")
    preview, _, preview_cpu = process([*THISDAY, "--config", str(config), "preview", "07-12"], env, runs)
    print(
        f"  {label}: re-index {reindex * 1000:.0f} ms, warm preview {preview * 1000:.0f} ms "
        f"(CPU {preview_cpu * 1000:.0f} ms)",
        flush=True,
    )
    now = "2026-07-12T06:00:00+02:00"
    build_args = [*THISDAY, "--config", str(config), "build", "2026-07-12", "--now", now]
    # the first build writes everything (evergreen API files and calendars included); the next ones find the
    # entries unchanged and keep those, as the daemon's daily build does on most days
    full, full_rss, full_cpu = process(build_args, env, 1, 0)
    build, build_rss, build_cpu = process(build_args, env, 3, 0)
    print(
        f"  {label}: first build {full:.2f} s (CPU {full_cpu:.2f} s, peak {full_rss / 1024:.0f} MiB), "
        f"unchanged build {build:.2f} s (CPU {build_cpu:.2f} s, peak {build_rss / 1024:.0f} MiB)",
        flush=True,
    )
    figures = {
        "entries": count,
        "cold": cold,
        "reindex": reindex,
        "preview": preview,
        "preview_cpu": preview_cpu,
        "full_build": full,
        "full_cpu": full_cpu,
        "full_rss": full_rss,
        "build": build,
        "build_cpu": build_cpu,
        "rss": build_rss,
    }
    if calendar and shutil.which("calendar"):
        lines = calendar_file(entries, folder / "calendar")
        figures["calendar_lines"] = lines
        figures["calendar"], _, figures["calendar_cpu"] = process(
            ["calendar", "-f", str(folder / "calendar"), "-t", "0712", "-A", "0", "-B", "0"], env, runs
        )
    print(f"  {label}: {count:,} entries indexed", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA, help="the shared Wikipedia data set")
    parser.add_argument("--runs", type=int, default=9, help="timed runs per process measurement")
    parser.add_argument("--no-million", action="store_true", help="skip the 1,000,000-entry corpus")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    become_subreaper()
    if not (args.data / "days").is_dir():
        raise SystemExit(f"{args.data}/days not found: pass --data PATH to the shared data set")
    if not shutil.which("calendar"):
        print("note: BSD calendar not found (apt-get install calendar): its comparison is skipped")
    work = args.keep or Path(tempfile.mkdtemp(prefix="thisday-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print("importing the shared data set ...", flush=True)
        big = work / "133k"
        entries = big / "entries"
        start = time.perf_counter()
        subprocess.run(
            [
                *THISDAY,
                "--entries",
                str(entries),
                "import",
                "wikipedia-day-files",
                str(args.data),
                "--into",
                str(entries / "wikipedia"),
            ],
            check=True,
            env={**os.environ, "THISDAY_STATE_DIR": str(big / "state")},
            stdout=subprocess.DEVNULL,
        )
        import_time = time.perf_counter() - start
        floor = json_floor(args.data)
        print("measuring ...", flush=True)
        starter = measure("starter corpus", work / "starter", ROOT / "entries", args.runs, calendar=False)
        real = measure("133k", big, entries, args.runs, calendar=True)
        million = None
        if not args.no_million:
            print("generating the 1,000,000-entry corpus ...", flush=True)
            synthesize(entries / "wikipedia", work / "1m" / "entries" / "synthetic", 8)
            million = measure("1M", work / "1m", work / "1m" / "entries", args.runs, calendar=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"import of the shared data set (one run): {import_time:.1f} s")
    print(f"json.load floor of the shared data set:  {floor:.2f} s")
    print()
    rows = [("starter", starter), ("133k", real)] + ([("1M", million)] if million else [])
    print(
        "| corpus | entries | cold index | re-index 1 file | warm preview (CPU) | `calendar -t` (CPU, with cpp) "
        "| first build (CPU, peak RSS) | unchanged build (CPU, peak RSS) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, f in rows:
        cal = f"{f['calendar'] * 1000:.0f} ms ({f['calendar_cpu'] * 1000:.0f} ms)" if "calendar" in f else "-"
        print(
            f"| {name} | {int(f['entries']):,} | {f['cold']:.2f} s | {f['reindex'] * 1000:.0f} ms "
            f"| {f['preview'] * 1000:.0f} ms ({f['preview_cpu'] * 1000:.0f} ms) | {cal} "
            f"| {f['full_build']:.2f} s ({f['full_cpu']:.2f} s, {f['full_rss'] / 1024:.0f} MiB) "
            f"| {f['build']:.2f} s ({f['build_cpu']:.2f} s, {f['rss'] / 1024:.0f} MiB) |"
        )
    print()
    print("ratios (target in brackets):")
    print(f"  cold index / json.load floor, 133k:       {real['cold'] / floor:5.2f}   (<= 5)")
    print(f"  re-index one file / cold index, 133k:      {real['reindex'] / real['cold']:5.3f}   (<= 0.1)")
    if "calendar" in real:
        print(
            f"  warm preview / calendar -t, 133k:          {real['preview'] / real['calendar']:5.2f}   (<= 0.5)"
        )
        print(
            f"  warm preview CPU / calendar -t CPU, 133k:  {real['preview_cpu'] / real['calendar_cpu']:5.2f}   (<= 1)"
        )
    print(f"  build peak memory, 133k / starter:         {real['rss'] / starter['rss']:5.2f}   (<= 1.5)")
    if million:
        per_entry = (million["cold"] / million["entries"]) / (real["cold"] / real["entries"])
        print(
            f"  preview, 1M / 133k:                        {million['preview'] / real['preview']:5.2f}   (<= 1.5)"
        )
        print(f"  cold index per entry, 1M / 133k:           {per_entry:5.2f}   (~1: linear)")
        if "calendar" in million:
            print(
                f"  warm preview / calendar -t, 1M:            {million['preview'] / million['calendar']:5.2f}"
            )


if __name__ == "__main__":
    main()
