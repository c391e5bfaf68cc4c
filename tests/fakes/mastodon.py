"""A Mastodon server's status API: /api/v2/instance and POST /api/v1/statuses with bearer tokens, the
Idempotency-Key (a repeated key returns the status made the first time and posts nothing), the character limit
(grapheme clusters; every URL counts as 23) answered with 422, replies to existing statuses only."""

from __future__ import annotations

import re
from typing import Any

import regex

from fakes.base import Answer, FakeServer, Request

URL = re.compile(r"https?://\S+")


class FakeMastodon(FakeServer):
    def __init__(self, token: str = "good-token", max_characters: int = 500) -> None:
        super().__init__()
        self.token = token
        self.max_characters = max_characters
        self.statuses: list[dict[str, Any]] = []
        self.keys: dict[str, dict[str, Any]] = {}

    def length(self, text: str) -> int:
        urls = URL.findall(text)
        return len(regex.findall(r"\X", URL.sub("", text))) + 23 * len(urls)

    def handle(self, request: Request) -> Answer:
        if request.method == "GET" and request.path == "/api/v2/instance":
            return Answer(
                200,
                {
                    "domain": "fake.example",
                    "configuration": {
                        "statuses": {"max_characters": self.max_characters, "characters_reserved_per_url": 23}
                    },
                },
            )
        if request.method == "POST" and request.path == "/api/v1/statuses":
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return Answer(401, {"error": "The access token is invalid"})
            key = request.headers.get("idempotency-key")
            if key and key in self.keys:
                return Answer(200, self.keys[key])
            data = request.json()
            text = data.get("status", "")
            if not text:
                return Answer(422, {"error": "Validation failed: Text can't be blank"})
            if self.length(text) > self.max_characters:
                return Answer(
                    422, {"error": f"Validation failed: Text character limit of {self.max_characters} exceeded"}
                )
            reply = data.get("in_reply_to_id")
            if reply is not None and not any(s["id"] == reply for s in self.statuses):
                return Answer(404, {"error": "Record not found"})
            number = str(100 + len(self.statuses))
            status = {
                "id": number,
                "uri": f"https://fake.example/users/bot/statuses/{number}",
                "url": f"https://fake.example/@bot/{number}",
                "content": text,
                "visibility": data.get("visibility"),
                "language": data.get("language"),
                "in_reply_to_id": reply,
            }
            self.statuses.append(status)
            if key:
                self.keys[key] = status
            return Answer(200, status)
        return Answer(404, {"error": "Record not found"})
