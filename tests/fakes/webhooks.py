"""Webhook receivers: a Standard Webhooks consumer that verifies signatures and drops repeats by webhook-id,
Discord (execute webhook: 204, or 400 with Discord's limits on content, embeds and fields) and Slack (incoming
webhook: 200 "ok", or 400 "invalid_blocks" past Block Kit's limits)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from fakes.base import Answer, FakeServer, Request


class FakeReceivers(FakeServer):
    def __init__(self, secret: str = "") -> None:
        super().__init__()
        self.secret = secret
        self.seen: dict[str, Any] = {}
        self.discord: list[dict[str, Any]] = []
        self.slack: list[dict[str, Any]] = []

    def verify(self, request: Request) -> bool:
        message_id = request.headers.get("webhook-id", "")
        timestamp = request.headers.get("webhook-timestamp", "")
        key = base64.b64decode(self.secret.split("_", 1)[1])
        expected = hmac.new(key, f"{message_id}.{timestamp}.".encode() + request.body, hashlib.sha256).digest()
        offered = [s.split(",", 1) for s in request.headers.get("webhook-signature", "").split()]
        return any(
            v == "v1" and hmac.compare_digest(base64.b64decode(sig), expected) for v, sig in offered
        )

    def handle(self, request: Request) -> Answer:
        if request.path == "/json":
            if self.secret and not self.verify(request):
                return Answer(401, {"error": "bad signature"})
            message_id = request.headers["webhook-id"]
            if message_id not in self.seen:
                self.seen[message_id] = request.json()
            return Answer(204)
        if request.path == "/discord":
            problem = discord_problem(request.json())
            if problem:
                return Answer(400, {"message": "Invalid Form Body", "code": 50035, "errors": problem})
            self.discord.append(request.json())
            return Answer(204)
        if request.path == "/slack":
            problem = slack_problem(request.json())
            if problem:
                return Answer(400, b"invalid_blocks", {"content-type": "text/plain"})
            self.slack.append(request.json())
            return Answer(200, b"ok", {"content-type": "text/plain"})
        return Answer(404, {"message": "Unknown Webhook", "code": 10015})


def _n(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def discord_problem(message: dict[str, Any]) -> str:
    """Discord's documented limits: content 2000, 10 embeds, title 256, description 4096, 25 fields, field
    name 256 and value 1024, 6000 characters over all embeds."""
    if _n(message.get("content", "")) > 2000:
        return "content longer than 2000"
    embeds = message.get("embeds", [])
    if len(embeds) > 10:
        return "more than 10 embeds"
    total = 0
    for embed in embeds:
        title, description = embed.get("title", ""), embed.get("description", "")
        if _n(title) > 256 or _n(description) > 4096:
            return "embed title or description too long"
        fields = embed.get("fields", [])
        if len(fields) > 25:
            return "more than 25 fields"
        for f in fields:
            if not f.get("name") or not f.get("value") or _n(f["name"]) > 256 or _n(f["value"]) > 1024:
                return "field name or value empty or too long"
            total += _n(f["name"]) + _n(f["value"])
        total += _n(title) + _n(description)
    return "embeds longer than 6000 in all" if total > 6000 else ""


def slack_problem(message: dict[str, Any]) -> str:
    """Block Kit's limits: 50 blocks, header text 150 (plain_text), section text 3000."""
    blocks = message.get("blocks", [])
    if len(blocks) > 50:
        return "more than 50 blocks"
    for block in blocks:
        text = block.get("text", {})
        if block["type"] == "header" and (text.get("type") != "plain_text" or len(text["text"]) > 150):
            return "header"
        if block["type"] == "section" and not 0 < len(text.get("text", "")) <= 3000:
            return "section"
    return ""
