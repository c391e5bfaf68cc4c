"""Mastodon: a day's posts through POST /api/v1/statuses, each with an ``Idempotency-Key``.

The key is derived from the post's ledger row (sha256 of the day and ``mastodon:<post key>``), so it is the same
on every retry: a retry after a crash or a lost answer returns the status already made instead of posting again
(Mastodon keeps keys for an hour). The character limit is read from /api/v2/instance
(``configuration.statuses.max_characters``, 500 when it does not say); links count as
``characters_reserved_per_url`` (23). Plain HTTP with httpx: the two calls need nothing more, and the retry,
Retry-After and status-code handling stay in one place for every channel.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from ..config import MastodonSettings, Settings
from . import Run
from .posting import SocialChannel
from .text import Draft, Posted, mastodon_counter
from .transport import Transient, classify, idempotency_key, retrying, secret

DEFAULT_LIMIT = 500
DEFAULT_URL_WEIGHT = 23
IDEMPOTENCY_WINDOW = datetime.timedelta(minutes=55)
"""Mastodon keeps an Idempotency-Key for an hour; a scheduled retry comes within this margin or not at all."""


class MastodonBackend:
    def __init__(self, section: MastodonSettings, settings: Settings, sleep: Callable[[float], None]) -> None:
        self.section = section
        self.token_env = section.token_env
        token = secret(section.token_env, "Mastodon access token", "mastodon")
        self.language = section.language or settings.site.language
        self.sleep = sleep
        self.client = httpx.Client(
            base_url=section.instance.rstrip("/"),
            timeout=section.timeout,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "thisday"},
        )
        self._limits: tuple[int, int] | None = None

    def _instance(self) -> tuple[int, int]:
        if self._limits is None:
            limit, weight = DEFAULT_LIMIT, DEFAULT_URL_WEIGHT
            try:
                response = retrying(
                    lambda: self.client.get("/api/v2/instance"), self.section, self.sleep, "mastodon instance"
                )
                statuses = response.json().get("configuration", {}).get("statuses", {})
                limit = int(statuses.get("max_characters", limit))
                weight = int(statuses.get("characters_reserved_per_url", weight))
            except (Transient, ValueError, TypeError, AttributeError):
                pass  # an instance that does not say: Mastodon's defaults
            if self.section.max_characters:
                limit = self.section.max_characters
            self._limits = (limit, weight)
        return self._limits

    def limit(self) -> int:
        return self._instance()[0]

    def count(self, text: str) -> int:
        return mastodon_counter(self._instance()[1])(text)

    def post(self, draft: Draft, row: str, thread: Sequence[Posted], run: Run) -> Posted:
        data: dict[str, Any] = {
            "status": draft.text,
            "visibility": self.section.visibility,
            "language": self.language,
        }
        if thread:
            data["in_reply_to_id"] = thread[-1].ref
        headers = {"Idempotency-Key": idempotency_key(draft.day, row)}
        what = f"mastodon {draft.day.isoformat()} post {draft.index + 1}"
        response = retrying(
            lambda: self.client.post("/api/v1/statuses", json=data, headers=headers), self.section, self.sleep, what
        )
        classify(
            response,
            what,
            f"the access token in ${self.token_env} was refused (expired or revoked?): make a new one under "
            "Preferences > Development with the write:statuses scope and export it",
        )
        try:
            status = response.json()
            return Posted(str(status.get("url") or status["uri"]), str(status["id"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise Transient(f"{what}: the server's answer is not a Mastodon status: {response.text[:200]}") from None

    def close(self) -> None:
        self.client.close()


def channel(section: MastodonSettings, sleep: Callable[[float], None] = time.sleep) -> SocialChannel:
    return SocialChannel(
        name="mastodon",
        section=section,
        make_backend=lambda settings: MastodonBackend(section, settings, sleep),
        offline_count=mastodon_counter(DEFAULT_URL_WEIGHT),
        offline_limit=section.max_characters or DEFAULT_LIMIT,
        idempotent=True,
        retry_window=IDEMPOTENCY_WINDOW,
        mode=section.mode,
        thread=section.thread,
    )
