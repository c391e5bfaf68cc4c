"""Webhooks: one signed POST per day with the day's selection, as JSON, a Discord message or Slack blocks.

Signed per Standard Webhooks (https://www.standardwebhooks.com): ``webhook-id`` (stable for the day and the
webhook, so a receiver can drop a repeat), ``webhook-timestamp`` (seconds), and ``webhook-signature:
v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed with the secret ``whsec_<base64>`` from the environment
variable named by ``secret_env``. 5xx answers and timeouts are retried with backoff, 429 waits Retry-After, any
other 4xx is recorded as refused. The ledger row is ``webhook:<name>``. A ``json`` webhook is retried after an
uncertain outcome (its receiver can drop the repeat by ``webhook-id``); Discord and Slack cannot drop repeats, so
an uncertain delivery there is left for the operator (``thisday status`` shows it).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from ..config import Settings, WebhookSettings
from ..errors import ConfigError
from ..model import DaySelection, Occurrence
from ..selection import describe_day
from ..terminal import day_json
from ..views import Views, day_url
from . import Run
from .posting import SocialChannel, first_time
from .text import Counter, Draft, Posted, entry_link, graphemes, plain_body, shorten
from .transport import Refused, idempotency_key, retrying, secret

DISCORD = {"content": 2000, "embeds": 10, "title": 256, "description": 4096, "fields": 25, "name": 256, "value": 1024, "total": 6000}
"""Discord's documented message limits (characters)."""
SLACK = {"blocks": 50, "header": 150, "section": 3000, "text": 40000}
"""Slack's documented Block Kit limits (characters)."""


def sign(secret_text: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks signature header value: ``v1,<base64 HMAC-SHA256>`` of ``id.timestamp.body``."""
    key = base64.b64decode(secret_text.removeprefix("whsec_"), validate=True)
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def _units(text: str) -> int:
    """Length as Discord counts it (UTF-16 code units, never fewer than Python's characters)."""
    return len(text.encode("utf-16-le")) // 2


def _fit(text: str, limit: int, measure: Callable[[str], int] = _units) -> str:
    return shorten(text, lambda t: measure(t) <= limit) or ""


def _headline(occ: Occurrence) -> str:
    return f"{occ.date_display}: {occ.entry.title}"


def json_payload(settings: Settings, selection: DaySelection, stamp: datetime.datetime) -> dict[str, Any]:
    data = day_json(Views(settings).day(selection))
    data["url"] = day_url(settings, selection.on)
    return {"type": "thisday.day", "timestamp": stamp.astimezone(datetime.UTC).isoformat(), "data": data}


def discord_payload(settings: Settings, selection: DaySelection) -> dict[str, Any]:
    """A Discord message: the lead story as an embed, the others as fields of a second one, within limits."""
    on = selection.on
    link = day_url(settings, on)
    occurrences = selection.occurrences
    lead = selection.lead or occurrences[0]
    embeds: list[dict[str, Any]] = [
        {
            "title": _fit(_headline(lead), DISCORD["title"]),
            "url": entry_link(settings, lead, on),
            "description": _fit(plain_body(lead), 1500),
        }
    ]
    others = [o for o in occurrences if o is not lead]
    fields = [
        {"name": _fit(o.date_display, DISCORD["name"]), "value": _fit(f"[{o.entry.title}]({entry_link(settings, o, on)})", DISCORD["value"]) if _units(entry_link(settings, o, on)) < 700 else _fit(o.entry.title, DISCORD["value"])}
        for o in others
    ]
    left = selection.left_out + max(0, len(fields) - DISCORD["fields"])
    fields = fields[: DISCORD["fields"]]

    def total() -> int:
        more = embeds[1:] if len(embeds) > 1 else []
        count = sum(_units(e.get("title", "")) + _units(e.get("description", "")) for e in embeds)
        return count + sum(_units(f["name"]) + _units(f["value"]) for e in more for f in e.get("fields", []))

    if fields:
        embeds.append({"title": "More on this day", "url": link, "fields": fields})
    while total() > DISCORD["total"] and fields:
        fields.pop()
        left += 1
    content = f"On this day, {describe_day(on)}: {link}"
    if left:
        content += f" (and {left} more on the site)"
    return {"content": _fit(content, DISCORD["content"]), "embeds": embeds, "allowed_mentions": {"parse": []}}


def _mrkdwn(text: str) -> str:
    """Text safe inside Slack mrkdwn: &, < and > escaped, so nothing becomes a link or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(settings: Settings, selection: DaySelection) -> dict[str, Any]:
    """Slack Block Kit: a header, the lead story, then a section per other entry, within Slack's limits."""
    on = selection.on
    link = day_url(settings, on)
    occurrences = selection.occurrences
    lead = selection.lead or occurrences[0]

    def section(occ: Occurrence, body: str) -> dict[str, Any]:
        anchor = entry_link(settings, occ, on)
        head = f"*{_mrkdwn(occ.date_display)}*: <{anchor}|{_mrkdwn(occ.entry.title)}>"
        room = SLACK["section"] - len(head) - 1
        text = head + ("\n" + _mrkdwn(_fit(body, room, lambda t: len(_mrkdwn(t)))) if body and room > 20 else "")
        return {"type": "section", "text": {"type": "mrkdwn", "text": text[: SLACK["section"]]}}

    header = _fit(f"On this day: {describe_day(on)}", SLACK["header"], len)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header}},
        section(lead, plain_body(lead)),
    ]
    others = [o for o in occurrences if o is not lead]
    room = SLACK["blocks"] - len(blocks) - 2  # a divider before the others, the context line at the end
    shown = others[:room]
    left = selection.left_out + len(others) - len(shown)
    if shown:
        blocks.append({"type": "divider"})
        blocks.extend(section(o, "") for o in shown)
    more = f" (and {left} more)" if left else ""
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{link}|The whole day on the site>{more}"}]})
    fallback = _fit(f"On this day, {describe_day(on)}: {_headline(lead)} {link}", SLACK["text"], len)
    return {"text": _mrkdwn(fallback), "blocks": blocks}


def payload(settings: Settings, hook: WebhookSettings, selection: DaySelection, stamp: datetime.datetime) -> dict[str, Any]:
    if hook.format == "discord":
        return discord_payload(settings, selection)
    if hook.format == "slack":
        return slack_payload(settings, selection)
    return json_payload(settings, selection, stamp)


def body_bytes(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class WebhookBackend:
    def __init__(self, hook: WebhookSettings, settings: Settings, sleep: Callable[[float], None]) -> None:
        self.hook = hook
        self.settings = settings
        self.sleep = sleep
        self.secret = ""
        if hook.secret_env:
            self.secret = secret(hook.secret_env, "webhook secret", f"webhook:{hook.name}")
            try:
                if not self.secret.startswith("whsec_") or not base64.b64decode(self.secret[6:], validate=True):
                    raise ValueError
            except (ValueError, binascii.Error):
                raise ConfigError(
                    f"webhook:{hook.name}: ${hook.secret_env} must hold a Standard Webhooks secret, whsec_ "
                    "followed by base64 (e.g. whsec_ and 24 random bytes in base64)"
                ) from None
        self.client = httpx.Client(timeout=hook.timeout, headers={"User-Agent": "thisday"})

    def limit(self) -> int:
        return 10**6

    def count(self, text: str) -> int:
        return graphemes(text)

    def post(self, draft: Draft, row: str, thread: Sequence[Posted], run: Run) -> Posted:
        stamp = run.stamp()
        body = body_bytes(payload(self.settings, self.hook, draft.selection, stamp))
        message_id = "msg_" + idempotency_key(draft.day, row)[:32]
        what = f"webhook:{self.hook.name} {draft.day.isoformat()}"

        def send() -> httpx.Response:
            timestamp = int(run.stamp().timestamp())
            headers = {
                "content-type": "application/json",
                "webhook-id": message_id,
                "webhook-timestamp": str(timestamp),
            }
            if self.secret:
                headers["webhook-signature"] = sign(self.secret, message_id, timestamp, body)
            return self.client.post(self.hook.url, content=body, headers=headers)

        response = retrying(send, self.hook, self.sleep, what, retry_unknown=self.hook.format == "json")
        if response.status_code >= 400:
            text = " ".join(response.text.split())[:200]
            raise Refused(f"{what}: refused ({response.status_code}): {text or response.reason_phrase}")
        return Posted(f"{message_id} (HTTP {response.status_code})", "")

    def close(self) -> None:
        self.client.close()


@dataclass
class WebhookChannel(SocialChannel):
    """One POST per day: the day's only 'post' is the selection itself, recorded on the row ``webhook:<name>``."""

    hook: WebhookSettings | None = None

    def drafts(self, settings: Settings, selection: DaySelection, limit: int, count: Counter) -> list[Draft]:
        if not selection.occurrences:
            return []
        on = selection.on
        link = day_url(settings, on)
        lead = selection.lead or selection.occurrences[0]
        text = f"{_headline(lead)} {link}"
        return [Draft(on, 0, "day", text, link, describe_day(on), text, selection, selection.occurrences)]

    def preview(self, settings: Settings, selection: DaySelection) -> str:
        assert self.hook is not None
        if not selection.occurrences:
            return f"{self.name}: nothing to post on {selection.on.isoformat()} (no entries)"
        stamp = post_time(settings, self.hook, selection.on)
        data = payload(settings, self.hook, selection, stamp)
        return f"--- {self.name} ({self.hook.format}) POST ---\n" + json.dumps(data, ensure_ascii=False, indent=2)


def post_time(settings: Settings, hook: WebhookSettings, on: datetime.date) -> datetime.datetime:
    return first_time(settings, hook, on)


def channel(hook: WebhookSettings, sleep: Callable[[float], None] = time.sleep) -> SocialChannel:
    return WebhookChannel(
        name=f"webhook:{hook.name}",
        section=hook,
        make_backend=lambda settings: WebhookBackend(hook, settings, sleep),
        offline_count=graphemes,
        offline_limit=10**6,
        idempotent=hook.format == "json",
        per_post_rows=False,
        mode="day",
        thread=False,
        hook=hook,
    )
