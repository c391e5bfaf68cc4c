"""`thisday serve`, as a feed reader meets it: a real HTTP client against the real command on loopback.
Right media types, ETag / Last-Modified with 304 answers, HEAD, gzip when asked, and no way out of feeds/."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "entries"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built site (12 July 2026) beside a secret file that must never be served."""
    root = tmp_path_factory.mktemp("served")
    (root / "thisday.toml").write_text(
        f'timezone = "Europe/Berlin"\nentries = "{FIXTURES.as_posix()}"\nstate_dir = "state"\n',
        encoding="utf-8",
    )
    subprocess.run(
        [sys.executable, "-m", "thisday", "--config", str(root / "thisday.toml"), "build", "2026-07-12"],
        check=True,
        capture_output=True,
        env={k: v for k, v in os.environ.items() if k != "THISDAY_STATE_DIR"},
    )
    (root / "secret.txt").write_text("secret", encoding="utf-8")
    feeds = root / "feeds"
    (feeds / "leak.txt").symlink_to(root / "secret.txt")
    (feeds / "inside.atom").symlink_to(feeds / "onthisday.atom")
    (feeds / ".onthisday.atom.x1y2.tmp").write_text("<half a feed", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[httpx.Client]:
    """`thisday serve --port 0` in its own process; the client talks to the port it reports."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "thisday",
            "--config",
            str(site / "thisday.toml"),
            "serve",
            "--port",
            "0",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()  # "serving ... on http://127.0.0.1:PORT/ (Ctrl-C to stop)"
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", first)
    assert match, (
        f"unexpected first line {first!r}; stderr: {process.stderr.read() if process.stderr else ''}"
    )
    # The socket is listening before that line is printed: connections wait in its backlog until uvicorn runs.
    with httpx.Client(base_url=f"http://127.0.0.1:{match.group(1)}", trust_env=False, timeout=30) as client:
        yield client
    process.send_signal(signal.SIGTERM)
    process.communicate()


def test_feeds_and_pages_have_their_media_types(server: httpx.Client) -> None:
    """Atom as application/atom+xml, RSS as application/rss+xml, pages as text/html, all UTF-8."""
    for path, media_type in [
        ("/onthisday.atom", "application/atom+xml"),
        ("/onthisday.rss", "application/rss+xml"),
        ("/index.html", "text/html"),
        ("/", "text/html"),
        ("/days/2026-07-12.html", "text/html"),
    ]:
        response = server.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == f"{media_type}; charset=utf-8"


def test_a_feed_reader_subscribes_through_autodiscovery(server: httpx.Client) -> None:
    """From index.html's <link rel="alternate"> to a feed that parses with entries (no bozo)."""
    index = server.get("/").text
    links = re.findall(
        r'<link rel="alternate" type="([^"]+)" title="[^"]*" href="http://localhost:8080(/[^"]+)"', index
    )
    assert ("application/atom+xml", "/onthisday.atom") in links and (
        "application/rss+xml",
        "/onthisday.rss",
    ) in links
    for _, path in links:
        response = server.get(path)
        parsed = feedparser.parse(response.content, response_headers=dict(response.headers))
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert parsed.entries


def test_conditional_requests_get_304(server: httpx.Client) -> None:
    """A reader that sends back ETag or Last-Modified gets 304 Not Modified, with no body."""
    first = server.get("/onthisday.atom")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = server.get("/onthisday.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert server.get("/onthisday.atom", headers={"If-Modified-Since": modified}).status_code == 304
    assert server.get("/onthisday.atom", headers={"If-None-Match": 'W/"other"'}).status_code == 200


def test_head_answers_headers_only(server: httpx.Client) -> None:
    """HEAD gives the GET's status, type, length and validators, and no body."""
    get = server.get("/onthisday.rss", headers={"Accept-Encoding": "identity"})
    head = server.head("/onthisday.rss", headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.content == b""
    for name in ("content-type", "content-length", "etag", "last-modified"):
        assert head.headers[name] == get.headers[name]


def test_gzip_when_asked(server: httpx.Client) -> None:
    """With Accept-Encoding: gzip the feed comes compressed (and decompresses to the file); without, plain."""
    compressed = server.get("/onthisday.atom", headers={"Accept-Encoding": "gzip"})
    plain = server.get("/onthisday.atom", headers={"Accept-Encoding": "identity"})
    assert compressed.headers["content-encoding"] == "gzip"
    assert int(compressed.headers["content-length"]) < len(plain.content)
    assert "content-encoding" not in plain.headers
    assert compressed.content == plain.content  # httpx decompresses
    assert compressed.headers["etag"] == plain.headers["etag"]  # weak: one validator for both encodings
    revalidate = {"Accept-Encoding": "gzip", "If-None-Match": compressed.headers["etag"]}
    assert server.get("/onthisday.atom", headers=revalidate).status_code == 304


@pytest.mark.parametrize(
    "target",
    [
        b"/../secret.txt",
        b"/days/../../secret.txt",
        b"/%2e%2e/secret.txt",
        b"/days%2F..%2F..%2Fsecret.txt",
        b"/days/..%2f..%2fsecret.txt",
        b"/leak.txt",
        b"/.onthisday.atom.x1y2.tmp",
        b"/nothing-here.atom",
    ],
)
def test_no_way_out_of_feeds(server: httpx.Client, target: bytes) -> None:
    """Traversal (.., encoded dots and slashes), symlinks leading out, dotfiles and missing files: 404."""
    response = server.get("/", extensions={"target": target})  # sent as is, not normalised by the client
    assert response.status_code == 404
    assert b"secret" not in response.content


def test_symlinks_inside_feeds_are_served(server: httpx.Client) -> None:
    """A symlink that stays inside feeds/ (an alias of a feed) is served like the file itself."""
    assert server.get("/inside.atom").content == server.get("/onthisday.atom").content


def test_only_get_and_head(server: httpx.Client) -> None:
    """Anything but GET and HEAD is refused with 405."""
    assert server.post("/onthisday.atom").status_code == 405


def test_serve_without_a_site_is_a_one_line_error(tmp_path: Path) -> None:
    """Serving before any build says to run `thisday build` first."""
    (tmp_path / "thisday.toml").write_text('timezone = "UTC"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "thisday", "--config", str(tmp_path / "thisday.toml"), "serve", "--port", "0"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.strip().endswith("feeds folder not found; run `thisday build` first")


def test_a_byte_identical_rebuild_keeps_every_etag(site: Path, server: httpx.Client) -> None:
    """Rebuilding the same day with the same publish time rewrites every file (new modification times) but not
    their bytes: every ETag stays, so a reader's conditional request still gets 304, not the whole feed again."""
    paths = ["/onthisday.atom", "/onthisday.rss", "/index.html", "/days/2026-07-12.html"]
    before = {path: server.get(path).headers["etag"] for path in paths}
    time.sleep(0.05)
    subprocess.run(
        [sys.executable, "-m", "thisday", "--config", str(site / "thisday.toml"), "build", "2026-07-12"],
        check=True,
        capture_output=True,
        env={k: v for k, v in os.environ.items() if k != "THISDAY_STATE_DIR"},
    )
    for path in paths:
        assert server.get(path).headers["etag"] == before[path], path
        assert server.get(path, headers={"If-None-Match": before[path]}).status_code == 304, path


def test_answers_say_nosniff_and_how_long_to_cache(server: httpx.Client) -> None:
    """Every file is sent with X-Content-Type-Options: nosniff and a Cache-Control that makes readers revalidate."""
    for path in ("/onthisday.atom", "/index.html", "/days/2026-07-12.html"):
        headers = server.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert "max-age=" in headers["cache-control"], path
