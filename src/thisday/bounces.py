"""Bounces and complaints: what comes back to ``digest.return_path``.

- An RFC 3464 delivery status notification (``multipart/report; report-type=delivery-status``) with a recipient
  whose ``Action`` is ``failed`` and whose ``Status`` is permanent (``5.x.x``) suppresses that recipient.
  Delays, temporary failures (``4.x.x``) and successes are left alone.
- An RFC 5965 abuse report (ARF, ``multipart/report; report-type=feedback-report``) unsubscribes the recipient
  who complained: ``Original-Rcpt-To``, else the unsubscribe link of the reported digest (which names the
  subscriber by its token even when the provider has removed the address), else the reported message's ``To``.
- Anything else (an auto-reply, an old-style plain-text bounce, spam) is left alone, and said so.

Every message gives one report line; a message that cannot be read is reported, never a crash.
"""

from __future__ import annotations

import datetime
import email
import email.errors
import email.parser
import email.policy
import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from .errors import ThisdayError
from .subscribers import UNSUBSCRIBE, Store, SubscriberError, normalise, read_token

MAX_MESSAGE = 20 * 1024 * 1024
_STATUS_RE = re.compile(r"^\s*([245])\.\d{1,3}\.\d{1,3}\b")
_TOKEN_RE = re.compile(r"/unsubscribe/([A-Za-z0-9_-]{10,100})>")


class MailboxError(ThisdayError):
    """A mailbox that cannot be opened at all."""


@dataclass(frozen=True)
class Finding:
    """What one message is: ``bounce`` (permanent failures), ``complaint``, or ``other``."""

    kind: str
    addresses: tuple[str, ...] = ()
    detail: str = ""


def _shown(text: object, limit: int = 80) -> str:
    cleaned = "".join(c if c.isprintable() else " " for c in str(text or ""))
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


def _blocks(part: Message) -> list[Message]:
    """The header blocks of a ``message/delivery-status`` or ``message/feedback-report`` part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(payload)
    parser = email.parser.HeaderParser(policy=email.policy.compat32)
    return [
        parser.parsestr(chunk.strip() + "\n") for chunk in re.split(r"\r?\n\s*\r?\n", text) if chunk.strip()
    ]


def _field_address(value: object) -> str | None:
    """``rfc822; a@example.org`` (or a bare address) as a normalised address; None when it is not one."""
    text = str(value or "").strip()
    if ";" in text:
        kind, _, text = text.partition(";")
        if kind.strip().lower() not in ("rfc822", ""):
            return None
    text = text.strip().strip("<>").strip()
    try:
        return normalise(text)
    except SubscriberError:
        return None


def _report_type(msg: Message) -> str:
    if msg.get_content_type() != "multipart/report":
        return ""
    return str(msg.get_param("report-type") or "").lower()


def _find(msg: Message, content_type: str) -> Message | None:
    for part in msg.walk():
        if part.get_content_type() == content_type:
            return part
    return None


def _dsn(msg: Message) -> Finding:
    part = _find(msg, "message/delivery-status")
    if part is None:
        return Finding("other", detail="a delivery report without its message/delivery-status part")
    failed: list[str] = []
    seen: list[str] = []
    for block in _blocks(part):
        action = str(block.get("Action", "")).strip().lower()
        if not action:
            continue
        status = str(block.get("Status", "")).strip()
        recipient = _field_address(block.get("Final-Recipient")) or _field_address(
            block.get("Original-Recipient")
        )
        match = _STATUS_RE.match(status)
        seen.append(f"{action} {status or '?'}")
        if action == "failed" and match and match[1] == "5" and recipient:
            diagnostic = _shown(block.get("Diagnostic-Code", ""), 120)
            failed.append(recipient)
            if diagnostic:
                seen[-1] += f" ({diagnostic})"
    if failed:
        return Finding("bounce", tuple(dict.fromkeys(failed)), "; ".join(seen))
    return Finding(
        "other", detail=f"a delivery report with no permanent failure ({', '.join(seen) or 'no recipients'})"
    )


def _original(msg: Message) -> Message | None:
    for content_type in ("message/rfc822", "text/rfc822-headers"):
        part = _find(msg, content_type)
        if part is None:
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]
        raw = part.get_payload(decode=True)
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(payload)
        return email.parser.HeaderParser(policy=email.policy.compat32).parsestr(text)
    return None


def _arf(msg: Message, store: Store | None) -> Finding:
    part = _find(msg, "message/feedback-report")
    if part is None:
        return Finding("other", detail="a feedback report without its message/feedback-report part")
    fields: dict[str, str] = {}
    for block in _blocks(part):
        for name, value in block.items():
            fields.setdefault(name.lower(), str(value))
    feedback = fields.get("feedback-type", "").strip().lower()
    if feedback == "not-spam":
        return Finding("other", detail="a feedback report saying the message is not spam")
    address = _field_address(fields.get("original-rcpt-to"))
    original = _original(msg)
    if address is None and original is not None and store is not None:
        for match in _TOKEN_RE.finditer(" ".join(str(original.get_all("List-Unsubscribe") or "").split())):
            token = read_token(store.secret, match[1], UNSUBSCRIBE)
            row = store.by_key(token.key) if token else None
            if row is not None:
                address = row.address
                break
    if address is None and original is not None:
        address = _field_address(original.get("To"))
    if address is None:
        return Finding("other", detail=f"a {feedback or 'feedback'} report that names no recipient")
    return Finding("complaint", (address,), feedback or "abuse")


def classify(data: bytes, store: Store | None = None) -> Finding:
    """What the message ``data`` reports (``store`` resolves the unsubscribe link of a reported digest)."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    report_type = _report_type(msg)
    if report_type == "delivery-status":
        return _dsn(msg)
    if report_type == "feedback-report":
        return _arf(msg, store)
    subject = _shown(msg.get("Subject", ""), 60)
    shown = f"subject {subject!r}" if subject else "no subject"
    return Finding("other", detail=f"not a delivery report or feedback report ({shown})")


def apply(store: Store, finding: Finding, now: datetime.datetime) -> str:
    """Act on ``finding`` (suppress or unsubscribe); the report line."""
    if finding.kind == "bounce":
        for address in finding.addresses:
            store.suppress(address, now, f"bounced: {finding.detail}"[:500])
        return f"bounce: suppressed {', '.join(finding.addresses)} ({finding.detail})"
    if finding.kind == "complaint":
        for address in finding.addresses:
            store.unsubscribe(address, now, f"complaint ({finding.detail})")
        return f"complaint ({finding.detail}): unsubscribed {', '.join(finding.addresses)}"
    return f"left alone: {finding.detail}"


def process(store: Store, data: bytes, now: datetime.datetime) -> str:
    """Classify and act on one message; the report line (a message that cannot be read says so)."""
    if len(data) > MAX_MESSAGE:
        return f"left alone: the message is larger than {MAX_MESSAGE // (1024 * 1024)} MB"
    try:
        finding = classify(data, store)
    except (ValueError, LookupError, TypeError, AttributeError, email.errors.MessageError) as exc:
        return f"cannot be read, left alone: {_shown(exc)}"
    return apply(store, finding, now)


def open_mailbox(path: Path) -> mailbox.Mailbox:
    """A Maildir (a folder with cur/ and new/) or an mbox file; MailboxError otherwise."""
    if path.is_dir():
        if not (path / "cur").is_dir() or not (path / "new").is_dir():
            raise MailboxError(
                f"{path}: a folder but not a Maildir (no cur/ and new/ inside); give a Maildir or an mbox file"
            )
        return mailbox.Maildir(path, factory=None, create=False)
    if not path.is_file():
        raise MailboxError(f"{path}: no such mailbox; give the path of an mbox file or a Maildir folder")
    return mailbox.mbox(path, factory=None, create=False)


def process_mailbox(store: Store, path: Path, now: datetime.datetime) -> Iterator[str]:
    """One report line per message of the mailbox at ``path`` (left in place), ``<label>: <line>``."""
    box = open_mailbox(path)
    try:
        keys = sorted(box.keys(), key=str) if isinstance(box, mailbox.Maildir) else list(box.keys())
        for number, key in enumerate(keys, 1):
            label = f"message {number}" if isinstance(box, mailbox.mbox) else f"message {key}"
            try:
                data = box.get_bytes(key)
            except (OSError, KeyError, ValueError, mailbox.Error) as exc:
                yield f"{label}: cannot be read, left alone: {_shown(exc)}"
                continue
            yield f"{label}: {process(store, data, now)}"
    except (OSError, mailbox.Error) as exc:
        raise MailboxError(f"{path}: cannot read the mailbox: {_shown(exc)}") from None
    finally:
        box.close()
