"""The email digest: one day's view rendered as the parts of a message (subject, plain text, HTML).

The bodies and the subject come from Jinja2 templates (``email/subject.txt``, ``email/body.txt``,
``email/body.html`` and the ``email/style.css`` it includes), looked up by :mod:`thisday.templates`: the user's
folder first, then the shipped ones. The HTML has its CSS inlined (css-inline) for mail clients.

A day's digest is rendered once, whatever the number of recipients: what differs per recipient (the address and
the unsubscribe URL) is rendered as a marker, and :meth:`Digest.parts_for` fills it in for each recipient. The
message itself is assembled by :mod:`thisday.message`; the digest channel sends it.

Pure apart from reading templates: the send time arrives as an argument, nothing is written or sent here.
"""

from __future__ import annotations

import datetime
import html as _html
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from urllib.parse import quote

import css_inline
import jinja2

from . import templates
from .config import Settings
from .errors import PublishError
from .markup import without_controls
from .message import (
    Parts,
    Prepared,
    assemble,
    list_id_header,
    list_label,
    message_bytes,
    message_id,
    parse_address,
)
from .model import DaySelection
from .views import DayView, Views

TEMPLATE_NAMES = ("email/subject.txt", "email/body.txt", "email/body.html")
DigestParts = Parts
"""The rendered digest before it becomes a message: subject (one line), plain text and inlined HTML."""

RECIPIENT_MARK = "thisday-recipient-d41d8cd9"
UNSUBSCRIBE_MARK = "https://thisday.invalid/unsubscribe-d41d8cd9"
"""Markers rendered in place of the per-recipient values, filled in per message (letters, digits and URL
characters that no escaping, CSS inlining or template filter changes)."""
_META_CHARSET = re.compile(r'<meta charset="?utf-8"?\s*/?>', re.IGNORECASE)


def template_environment(settings: Settings) -> jinja2.Environment:
    """The one template environment for ``settings``: the user's folder first, then the shipped templates."""
    return templates.environment(settings.templates, settings.source)


def preheader(day: DayView) -> str:
    """The line inbox lists show beside the subject."""
    lead = day.lead
    if lead is None:
        return f"Nothing on {day.display} yet."
    text = f"{day.display}: {lead.title}"
    if day.others:
        text += f", and {len(day.others)} more from this day in history"
    return text


def unsubscribe_url(settings: Settings, recipient: str) -> str:
    """The configured unsubscribe URL, with ``{email}`` replaced by the recipient's address (percent-encoded)."""
    url = settings.digest.unsubscribe_url.strip()
    return url.replace("{email}", quote(recipient, safe="@")) if url else ""


def context(day: DayView, settings: Settings, recipient: str, unsubscribe: str) -> dict[str, object]:
    """Everything the templates can use. Without a featured entry, the first in publishing order leads."""
    return {
        "site": settings.site,
        "digest": settings.digest,
        "day": day,
        "lead": day.lead,
        "others": day.others,
        "count": day.count,
        "left_out": day.left_out,
        "preheader": preheader(day),
        "recipient": recipient,
        "unsubscribe_url": unsubscribe,
        "unsubscribe_text": settings.digest.unsubscribe_text,
    }


def _inline_css(html: str) -> str:
    inliner = css_inline.CSSInliner(
        keep_at_rules=True,  # @media (dark mode, narrow screens) stays in a <style> in the head
        load_remote_stylesheets=False,
        keep_link_tags=False,
    )
    inlined = str(inliner.inline(html))
    # the inliner moves the <style> block ahead of <meta charset>: put the charset first again, within the
    # first 1024 bytes, where HTML parsers look for it
    match = _META_CHARSET.search(inlined)
    if match is not None and match.start() > 200:
        inlined = inlined[: match.start()] + inlined[match.end() :]
        inlined = re.sub(r"<head([^>]*)>", lambda m: m.group(0) + match.group(0), inlined, count=1)
    return inlined


@dataclass(frozen=True)
class Digest:
    """A day's digest, rendered once; :meth:`parts_for` and :meth:`message` address it to each recipient."""

    settings: Settings
    day: DayView
    parts: Parts
    """Rendered with markers in place of the recipient and the unsubscribe URL."""
    sender: Address
    label: str
    unsubscribe_for: Callable[[str], str] | None = None
    """Each recipient's own unsubscribe URL (the newsletter's signed link); else ``digest.unsubscribe_url``."""

    @classmethod
    def render(
        cls,
        selection: DaySelection | DayView,
        settings: Settings,
        *,
        env: jinja2.Environment | None = None,
        unsubscribe_for: Callable[[str], str] | None = None,
    ) -> Digest:
        """Render the subject, the plain-text body and the HTML body (CSS inlined) for a day, once."""
        env = env or template_environment(settings)
        day = selection if isinstance(selection, DayView) else Views(settings).day(selection)
        has_link = bool(settings.digest.unsubscribe_url.strip()) or unsubscribe_for is not None
        marker = UNSUBSCRIBE_MARK if has_link else ""
        values = context(day, settings, RECIPIENT_MARK, marker)
        subject = " ".join(without_controls(templates.render(env, "email/subject.txt", values)).split())
        if not subject:
            raise PublishError("email/subject.txt rendered an empty subject; put the date in it")
        if RECIPIENT_MARK in subject or UNSUBSCRIBE_MARK in subject:
            raise PublishError("email/subject.txt shows the recipient: keep the subject the same for everyone")
        values["subject"] = subject
        text = templates.render(env, "email/body.txt", values)
        html = templates.render(env, "email/body.html", values)
        lines = text.strip("\n").splitlines()
        text = "\n".join(line if line == "-- " else line.rstrip() for line in lines) + "\n"  # keep the sig dash
        sender = parse_address(settings.digest.sender, "digest.sender")
        label = list_label(settings.digest.list_id, sender)
        return cls(settings, day, Parts(subject, text, _inline_css(html)), sender, label, unsubscribe_for)

    def unsubscribe_url(self, recipient: str) -> str:
        """``recipient``'s unsubscribe URL ('' when there is none)."""
        if self.unsubscribe_for is not None:
            return self.unsubscribe_for(recipient) if recipient else ""
        return unsubscribe_url(self.settings, recipient)

    def parts_for(self, recipient: str) -> Parts:
        """The parts with ``recipient``'s address and unsubscribe URL filled in ('' for undisclosed)."""
        url = self.unsubscribe_url(recipient)
        text = self.parts.text.replace(UNSUBSCRIBE_MARK, url).replace(RECIPIENT_MARK, recipient)
        html = self.parts.html.replace(UNSUBSCRIBE_MARK, _html.escape(url)).replace(
            RECIPIENT_MARK, _html.escape(recipient)
        )
        return Parts(self.parts.subject, text, html)

    def prepare(self, now: datetime.datetime) -> Prepared:
        """The message's headers and structure made once for a send at ``now`` (see :meth:`message_bytes`)."""
        url = self.settings.digest.unsubscribe_url.strip()
        if self.unsubscribe_for is not None:
            url = self.unsubscribe_for("probe@example.org")
        return Prepared.make(
            self.parts.subject,
            sender=self.sender,
            date=now,
            list_id=list_id_header(self.settings.digest.list_id, self.settings.site.title, self.label),
            unsubscribe=bool(url),
            one_click=url.startswith("https://"),
            language=self.settings.site.language,
        )

    def message_bytes(self, prepared: Prepared, now: datetime.datetime, to: str) -> bytes:
        """The bytes of the message to ``to`` (an addr-spec), as :meth:`message` would give, made quickly from
        ``prepared`` (:meth:`prepare`): what a send to many recipients uses."""
        parts = self.parts_for(to)
        try:
            return prepared.for_recipient(
                to,
                message_id(self.day.on, self.label, to),
                self.unsubscribe_url(to),
                parts.text,
                parts.html,
            )
        except (UnicodeEncodeError, ValueError):  # a non-ASCII address: the email package encodes it
            return message_bytes(self.message(now, to))

    def message(self, now: datetime.datetime, to: str | None = None, *, test: bool = False) -> EmailMessage:
        """The digest as a complete message to ``to`` (default: undisclosed recipients), dated ``now``."""
        address = None
        if to:
            try:
                address = parse_address(to, "recipient")
            except ValueError as exc:
                raise PublishError(str(exc)) from None
        recipient = address.addr_spec if address is not None else ""
        return assemble(
            self.parts_for(recipient),
            sender=self.sender,
            to=address,
            date=now,
            message_id=message_id(self.day.on, self.label, recipient or None, test=test),
            list_id=list_id_header(self.settings.digest.list_id, self.settings.site.title, self.label),
            unsubscribe_url=self.unsubscribe_url(recipient),
            language=self.settings.site.language,
        )


def render_parts(
    selection: DaySelection, settings: Settings, *, recipient: str = "", env: jinja2.Environment | None = None
) -> Parts:
    """The subject, the plain-text body and the HTML body (CSS inlined) of a day's digest for ``recipient``."""
    return Digest.render(selection, settings, env=env).parts_for(recipient)


def sender_address(settings: Settings) -> Address:
    """``digest.sender`` (validated when the settings were loaded)."""
    return parse_address(settings.digest.sender, "digest.sender")


def build_message(
    selection: DaySelection,
    settings: Settings,
    now: datetime.datetime,
    *,
    to: str | None = None,
    env: jinja2.Environment | None = None,
    test: bool = False,
) -> EmailMessage:
    """The day's digest as a complete message to ``to`` (default: undisclosed recipients), dated ``now``."""
    return Digest.render(selection, settings, env=env).message(now, to, test=test)
