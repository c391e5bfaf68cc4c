"""A threaded HTTP server on loopback with a fault plan: answer a status, drop the connection after handling the
request (the client never hears back), or hold the request until released (to kill the client mid-post)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """What to do with the next request to ``path``: answer ``status`` without handling it, ``drop`` the
    connection after handling it, or ``hold`` it (handled, ``received`` set) until ``release`` is set."""

    path: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    drop: bool = False
    hold: bool = False


class FakeServer:
    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self.received = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                request = Request(
                    method,
                    split.path,
                    parse_qs(split.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                with fake.lock:
                    fake.requests.append(request)
                    fault = next((f for f in fake.faults if f.path == split.path), None)
                    if fault is not None:
                        fake.faults.remove(fault)
                    answer = None
                    if fault is None or fault.status is None:
                        answer = fake.handle(request)
                if fault is not None and fault.status is not None:
                    answer = Answer(fault.status, fault.body, fault.headers)
                if fault is not None and (fault.drop or fault.hold):
                    if fault.hold:
                        fake.received.set()
                        fake.release.wait(60)
                    self.close_connection = True
                    return
                assert answer is not None
                payload = b""
                if answer.body is not None:
                    payload = (
                        answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
                    )
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                if answer.body is not None and "content-type" not in {k.lower() for k in answer.headers}:
                    self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def handle(self, request: Request) -> Answer:  # pragma: no cover - overridden
        return Answer(404, {"error": "not found"})

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
