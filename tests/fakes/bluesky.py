"""A Bluesky PDS's repo API: createSession, createRecord and getRecord of app.bsky.feed.post. Checks what the
lexicon and the reference PDS check: a TID record key, at most 300 graphemes (3000 bytes), facets whose byte
ranges lie inside the UTF-8 text; a second createRecord with an existing key answers 500 (as the reference PDS
does); an unknown key to getRecord answers 400 RecordNotFound."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import regex

from fakes.base import Answer, FakeServer, Request

TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")


class FakePDS(FakeServer):
    def __init__(self, handle: str = "bot.example", password: str = "app-pass") -> None:
        super().__init__()
        self.account = handle
        self.password = password
        self.did = "did:plc:fakefakefake"
        self.records: dict[str, dict[str, Any]] = {}
        self.tokens: set[str] = set()
        self.expired: set[str] = set()
        """Access tokens that have expired: createRecord answers 400 ExpiredToken."""

    def handle(self, request: Request) -> Answer:
        path = request.path
        if path == "/xrpc/com.atproto.server.createSession" and request.method == "POST":
            data = request.json()
            if data.get("identifier") != self.account or data.get("password") != self.password:
                return Answer(401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"})
            token = f"jwt-{len(self.tokens)}"
            self.tokens.add(token)
            return Answer(200, {"did": self.did, "handle": self.account, "accessJwt": token, "refreshJwt": "r"})
        if path == "/xrpc/com.atproto.repo.createRecord" and request.method == "POST":
            auth = request.headers.get("authorization", "")
            if auth.removeprefix("Bearer ") in self.expired:
                return Answer(400, {"error": "ExpiredToken", "message": "Token has expired"})
            if auth.removeprefix("Bearer ") not in self.tokens:
                return Answer(401, {"error": "AuthMissing", "message": "Authentication Required"})
            data = request.json()
            if data.get("repo") != self.did or data.get("collection") != "app.bsky.feed.post":
                return Answer(400, {"error": "InvalidRequest", "message": "bad repo or collection"})
            rkey = data.get("rkey", "")
            if not TID.match(rkey):
                return Answer(400, {"error": "InvalidRequest", "message": "rkey must be a TID"})
            problem = self.invalid(data.get("record", {}))
            if problem:
                return Answer(400, {"error": "InvalidRequest", "message": problem})
            if rkey in self.records:
                return Answer(500, {"error": "InternalServerError", "message": "Internal Server Error"})
            cid = "bafy" + hashlib.sha256(json.dumps(data["record"], sort_keys=True).encode()).hexdigest()[:40]
            uri = f"at://{self.did}/app.bsky.feed.post/{rkey}"
            self.records[rkey] = {"uri": uri, "cid": cid, "value": data["record"]}
            return Answer(200, {"uri": uri, "cid": cid})
        if path == "/xrpc/com.atproto.repo.getRecord" and request.method == "GET":
            rkey = request.query.get("rkey", [""])[0]
            if rkey not in self.records:
                return Answer(400, {"error": "RecordNotFound", "message": f"Could not locate record: {rkey}"})
            return Answer(200, self.records[rkey])
        return Answer(404, {"error": "MethodNotImplemented"})

    @staticmethod
    def invalid(record: dict[str, Any]) -> str:
        text = record.get("text", "")
        raw = text.encode("utf-8")
        if len(regex.findall(r"\X", text)) > 300 or len(raw) > 3000:
            return "Record/text must not be longer than 300 graphemes"
        if not record.get("createdAt"):
            return "Record/createdAt is required"
        for facet in record.get("facets", []):
            start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
            if not 0 <= start < end <= len(raw):
                return "facet index outside the text"
        return ""

    def posts(self) -> list[dict[str, Any]]:
        return [r["value"] for r in self.records.values()]
