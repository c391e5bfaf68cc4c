"""Benchmark: `thisday send` to N recipients against the floor, a bare smtplib loop over one connection.

Run by hand, not in the test suite (machines are shared and noisy: read the ratios, measured in one run):

    .venv/bin/python bench/send.py                        # 100, 2,000 and 10,000 recipients
    .venv/bin/python bench/send.py --sizes 100 2000       # fewer sizes
    .venv/bin/python bench/send.py --connections 1 4      # smtp.connections settings to compare

For each size it starts a loopback SMTP sink in its own process (aiosmtpd's ``Sink`` handler, accepting
everything), writes a recipients file of N addresses and a fresh state folder, runs ``thisday send`` as a whole
process, and in the same run times the floor: a plain ``smtplib`` loop sending the same rendered message (the
output of ``thisday digest``) to the same sink over one connection. It prints messages per second, the ratio to
the floor, CPU seconds (user + system) and peak memory (max RSS) of each.
"""

from __future__ import annotations

import argparse
import os
import resource
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THISDAY = [sys.executable, "-m", "thisday"]
DAY = "2026-07-12"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sink(port: int) -> subprocess.Popen[bytes]:
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return sink
        except OSError:
            time.sleep(0.05)
    sink.kill()
    raise SystemExit("the SMTP sink did not start")


def write_site(folder: Path, port: int, recipients: int, connections: int) -> Path:
    (folder / "recipients.txt").write_text(
        "".join(f"reader{n}@example.org\n" for n in range(recipients)), encoding="utf-8"
    )
    config = folder / "thisday.toml"
    config.write_text(
        f"""timezone = "Europe/Berlin"
entries = "{(ROOT / "entries").as_posix()}"
state_dir = "state"
[site]
base_url = "https://history.example.org/"
[digest]
sender = "On this day <news@example.org>"
recipients_file = "recipients.txt"
unsubscribe_url = "https://history.example.org/unsubscribe?email={{email}}"
[smtp]
host = "127.0.0.1"
port = {port}
"""
        + (f"connections = {connections}\n" if connections != 1 else ""),
        encoding="utf-8",
    )
    return config


def run_process(args: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) of one whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def floor(message: bytes, port: int, recipients: int) -> tuple[float, float]:
    """Wall and CPU seconds of a bare smtplib loop: one connection, the same message to each recipient."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as conn:
        for n in range(recipients):
            conn.sendmail("news@example.org", [f"reader{n}@example.org"], message)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 2000, 10000])
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("THISDAY_STATE_DIR", "STATE_DIRECTORY")}
    rows = []
    peaks: dict[int, int] = {}
    for size in args.sizes:
        for connections in args.connections:
            port = free_port()
            sink = start_sink(port)
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    folder = Path(tmp)
                    config = write_site(folder, port, size, connections)
                    digest = folder / "digest.eml"
                    subprocess.run(
                        [*THISDAY, "--config", str(config), "digest", DAY, "--to", "reader0@example.org", "-o",
                         str(digest)],
                        check=True, env=env, capture_output=True,
                    )
                    floor_wall, floor_cpu = floor(digest.read_bytes(), port, size)
                    wall, cpu, peak = run_process([*THISDAY, "--config", str(config), "send", DAY], env)
            finally:
                sink.kill()
                sink.wait()
            if connections == 1:
                peaks[size] = peak
            rows.append((size, connections, wall, cpu, peak, floor_wall, floor_cpu))
            print(
                f"{size:>6} recipients, smtp.connections={connections}: thisday send {wall:6.2f} s "
                f"({size / wall:6.0f} msg/s, CPU {cpu:5.2f} s, peak {peak} MiB); floor {floor_wall:6.2f} s "
                f"({size / floor_wall:6.0f} msg/s, CPU {floor_cpu:5.2f} s); ratio {wall / floor_wall:4.2f}",
                flush=True,
            )
    print()
    print("| recipients | smtp.connections | thisday send | msg/s | CPU | peak RSS | floor (smtplib, 1 connection) | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for size, connections, wall, cpu, peak, floor_wall, _ in rows:
        print(
            f"| {size:,} | {connections} | {wall:.2f} s | {size / wall:,.0f} | {cpu:.2f} s | {peak} MiB "
            f"| {floor_wall:.2f} s ({size / floor_wall:,.0f} msg/s) | {wall / floor_wall:.2f}x |"
        )
    if len(peaks) > 1:
        smallest, largest = min(peaks), max(peaks)
        print(f"\npeak memory, {largest:,} / {smallest:,} recipients: {peaks[largest] / peaks[smallest]:.2f}x")


if __name__ == "__main__":
    main()
