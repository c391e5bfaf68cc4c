"""Bluesky: a day's posts through the AT Protocol, each under a record key that a retry cannot duplicate.

``com.atproto.server.createSession`` (handle and app password) once per run, then
``com.atproto.repo.createRecord`` of an ``app.bsky.feed.post`` with ``rkey`` = a TID derived from the post's
scheduled time and its index in the day: the same post always gets the same key, and a repository holds one
record per key. A second createRecord with an existing key is refused (the reference PDS answers 500), so on
any error the post is confirmed with ``com.atproto.repo.getRecord``: when the record is there with the same
text, the post is done. Links are facets with UTF-8 byte offsets; the day page is the link card; at most 300
graphemes. Plain HTTP with httpx: three XRPC calls, where the atproto SDK would bring a large model layer and
its own retry policy.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from ..config import BlueskySettings, Settings
from . import Run
from .posting import SocialChannel
from .text import URL_RE, Draft, Posted, graphemes
from .transport import AuthFailed, Refused, SocialError, Transient, Unknown, classify, retrying, secret

LIMIT = 300
COLLECTION = "app.bsky.feed.post"
_S32 = "234567abcdefghijklmnopqrstuvwxyz"


def tid(moment: datetime.datetime, index: int) -> str:
    """The record key of post ``index`` scheduled at ``moment``: a TID (13 base32-sortable characters of 53 bits
    of microseconds since 1970 and a 10-bit clock id) with the index as the clock id."""
    micros = int(moment.timestamp()) * 1_000_000 + moment.microsecond + index // 1024
    value = (micros << 10) | (index % 1024)
    return "".join(_S32[(value >> (5 * (12 - i))) & 31] for i in range(13))


def facets(text: str) -> list[dict[str, Any]]:
    """Link facets for every link in ``text``, with UTF-8 byte offsets as the AT Protocol requires."""
    found = []
    for match in URL_RE.finditer(text):
        start = len(text[: match.start()].encode("utf-8"))
        end = start + len(match.group().encode("utf-8"))
        found.append(
            {
                "index": {"byteStart": start, "byteEnd": end},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": match.group()}],
            }
        )
    return found


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def record(draft: Draft, language: str, created: datetime.datetime, thread: Sequence[Posted], card: bool) -> dict[str, Any]:
    """The ``app.bsky.feed.post`` record of ``draft``."""
    value: dict[str, Any] = {
        "$type": COLLECTION,
        "text": draft.text,
        "createdAt": _iso(created),
        "langs": [language],
    }
    links = facets(draft.text)
    if links:
        value["facets"] = links
    if card:
        value["embed"] = {
            "$type": "app.bsky.embed.external",
            "external": {"uri": draft.link, "title": draft.title[:300], "description": draft.description[:1000]},
        }
    if thread:
        root_uri, _, root_cid = thread[0].ref.partition(" ")
        parent_uri, _, parent_cid = thread[-1].ref.partition(" ")
        value["reply"] = {
            "root": {"uri": root_uri, "cid": root_cid},
            "parent": {"uri": parent_uri, "cid": parent_cid},
        }
    return value


class BlueskyBackend:
    def __init__(self, section: BlueskySettings, settings: Settings, sleep: Callable[[float], None]) -> None:
        self.section = section
        self.password = secret(section.password_env, "Bluesky app password", "bluesky")
        self.language = section.language or settings.site.language
        self.sleep = sleep
        self.client = httpx.Client(
            base_url=section.service.rstrip("/"), timeout=section.timeout, headers={"User-Agent": "thisday"}
        )
        self._session: tuple[str, str] | None = None

    def _hint(self) -> str:
        return (
            f"the handle {self.section.handle!r} or the app password in ${self.section.password_env} was refused: "
            "make an app password under Settings > Privacy and security > App passwords and export it"
        )

    def session(self, renew: bool = False) -> tuple[str, str]:
        """(did, access token), from createSession once per run (again when the token expired)."""
        if self._session is None or renew:
            body = {"identifier": self.section.handle, "password": self.password}
            response = retrying(
                lambda: self.client.post("/xrpc/com.atproto.server.createSession", json=body),
                self.section,
                self.sleep,
                "bluesky sign-in",
            )
            if response.status_code == 400 and _error(response) in ("AuthenticationRequired", "AccountTakedown"):
                raise AuthFailed(f"bluesky sign-in: {_error(response)}: {self._hint()}")
            classify(response, "bluesky sign-in", self._hint())
            data = response.json()
            self._session = (str(data["did"]), str(data["accessJwt"]))
        return self._session

    def limit(self) -> int:
        return LIMIT

    def count(self, text: str) -> int:
        return graphemes(text)

    def post(self, draft: Draft, row: str, thread: Sequence[Posted], run: Run) -> Posted:
        assert draft.due is not None
        rkey = tid(draft.due, draft.index)
        what = f"bluesky {draft.day.isoformat()} post {draft.index + 1}"
        value = record(draft, self.language, run.stamp(), thread, self.section.link_card)
        for renew in (False, True):
            did, token = self.session(renew)
            body = {"repo": did, "collection": COLLECTION, "rkey": rkey, "record": value}
            headers = {"Authorization": f"Bearer {token}"}

            def create(body: dict[str, Any] = body, headers: dict[str, str] = headers) -> httpx.Response:
                return self.client.post("/xrpc/com.atproto.repo.createRecord", json=body, headers=headers)

            try:
                response = retrying(create, self.section, self.sleep, what)
            except (Transient, Unknown):
                found = self.existing(rkey, draft, what)
                if found is not None:
                    return found
                raise
            if response.status_code == 200:
                data = response.json()
                return self._posted(str(data["uri"]), str(data["cid"]), rkey)
            if response.status_code in (400, 401) and _error(response) in ("ExpiredToken", "InvalidToken") and not renew:
                continue
            found = self.existing(rkey, draft, what)
            if found is not None:
                return found
            classify(response, what, self._hint())
            raise Transient(f"{what}: unexpected answer {response.status_code}")
        raise AuthFailed(f"{what}: the session expired again right after signing in: {self._hint()}")

    def existing(self, rkey: str, draft: Draft, what: str) -> Posted | None:
        """The record under ``rkey`` when it is there with ``draft``'s text (the post went out already)."""
        did, _token = self.session()
        params = {"repo": did, "collection": COLLECTION, "rkey": rkey}
        try:
            response = retrying(
                lambda: self.client.get("/xrpc/com.atproto.repo.getRecord", params=params), self.section, self.sleep, what
            )
        except SocialError:
            return None
        if response.status_code != 200:
            return None
        data = response.json()
        if data.get("value", {}).get("text") != draft.text:
            raise Refused(
                f"{what}: the record key {rkey} already holds a different post ({data.get('uri')}); "
                "delete that post or change the channel's times"
            )
        return self._posted(str(data["uri"]), str(data.get("cid", "")), rkey)

    def _posted(self, uri: str, cid: str, rkey: str) -> Posted:
        return Posted(f"https://bsky.app/profile/{self.section.handle}/post/{rkey}", f"{uri} {cid}")

    def close(self) -> None:
        self.client.close()


def _error(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", ""))
    except (ValueError, AttributeError):
        return ""


def channel(section: BlueskySettings, sleep: Callable[[float], None] = time.sleep) -> SocialChannel:
    return SocialChannel(
        name="bluesky",
        section=section,
        make_backend=lambda settings: BlueskyBackend(section, settings, sleep),
        offline_count=graphemes,
        offline_limit=LIMIT,
        idempotent=True,
        mode=section.mode,
        thread=section.thread,
    )
