"""The email digest: one day's selection as a complete RFC 5322 message, ready for any mail client.

The message is ``multipart/alternative`` (plain text first, HTML second), UTF-8, with the deliverability
headers mailbox providers look for (``List-Id``, ``List-Unsubscribe``, RFC 8058 one-click). The bodies and the
subject come from Jinja2 templates (``email/subject.txt``, ``email/body.txt``, ``email/body.html`` and the
``email/style.css`` it includes): the user's templates folder (``templates`` in ``thisday.toml``) first, then
the project's own ``templates/`` folder. The HTML has its CSS inlined (css-inline) for mail clients.

Pure apart from reading templates: the send time arrives as an argument, nothing is written or sent here
(:mod:`thisday.mail` sends, :func:`thisday.publish.atomic_write` writes ``.eml`` files).
"""

from __future__ import annotations

import calendar as _calendar
import datetime
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from urllib.parse import quote

import css_inline
import jinja2
from markupsafe import Markup

from . import templates
from .config import Settings
from .dates import event_year, format_year, format_years_ago
from .errors import PublishError
from .markup import plain_text, render_markdown
from .message import (
    Parts,
    assemble,
    list_id_header,
    list_label,
    message_id,
    parse_address,
)
from .model import DaySelection, Occurrence, Source
from .selection import describe_day

TEMPLATE_NAMES = ("email/subject.txt", "email/body.txt", "email/body.html")
UNDISCLOSED = "undisclosed-recipients:;"
POLICY = policy.default
"""Headers are built with the email package's modern policy: a value with CR or LF is refused, never sent."""

_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)", re.IGNORECASE)
_LABEL_RE = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_PHRASE_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')
_HEADING_RE = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)


def template_environment(settings: Settings) -> jinja2.Environment:
    """The one template environment for ``settings``: the user's folder first, then the shipped templates."""
    return templates.environment(settings.templates, settings.source)


# ---------------------------------------------------------------------------------------------
# What the templates see


@dataclass(frozen=True)
class Item:
    """One entry as the templates show it. ``*_html`` values are sanitized HTML (safe to output unescaped)."""

    id: str
    title: str
    kind: str
    year: str
    """The event's year as people write it ('1942', 'AD 70', '44 BC'); empty for a rule with no first year."""
    date_display: str
    years_ago: int | None
    years_ago_text: str
    round_anniversary: bool
    note: str
    tags: tuple[str, ...]
    sources: tuple[Source, ...]
    body_html: Markup
    body_text: str
    summary_html: Markup
    summary_text: str
    more: bool
    """The body has more than its summary (the first paragraph)."""


@dataclass(frozen=True)
class Day:
    date: datetime.date
    display: str
    """'12 July 2026'."""
    weekday: str
    iso: str


DigestParts = Parts
"""The rendered digest before it becomes a message: subject (one line), plain text and inlined HTML."""


def _headings(body: str) -> set[str]:
    """The plain text of the body's ATX headings (``## The capture``), so the text part can set them off."""
    return {plain_text(m[1]) for m in _HEADING_RE.finditer(body)}


def _reflow(text: str, headings: Collection[str] = ()) -> str:
    """Plain text with each paragraph on one line (list items on their own lines), for the template to wrap.

    A paragraph that is one of ``headings`` is underlined with ``~``.
    """
    paragraphs = []
    for paragraph in text.split("\n\n"):
        if paragraph.lstrip().startswith("- "):
            paragraphs.append("\n".join(" ".join(line.split()) for line in paragraph.splitlines()))
        elif paragraph.strip():
            joined = " ".join(paragraph.split())
            if joined in headings:
                joined += "\n" + "~" * min(len(joined), 72)
            paragraphs.append(joined)
    return "\n\n".join(paragraphs)


def _first_paragraph(body: str) -> str:
    """The first Markdown block of ``body`` that is running text (not a heading, list, quote or HTML)."""
    for block in re.split(r"\n\s*\n", body.strip()):
        stripped = block.lstrip()
        if stripped and not stripped.startswith(("#", "<", "- ", "* ", "> ", "|", "```")):
            return block
    return ""


def _email_html(markdown: str) -> Markup:
    html = _IMG_WITHOUT_ALT.sub('<img alt=""', render_markdown(markdown))
    return Markup(html)  # sanitized by markup.render_markdown (nh3)


def item(occ: Occurrence) -> Item:
    """What the templates know about one occurrence."""
    entry = occ.entry
    year = event_year(entry)
    summary = _first_paragraph(entry.body)
    return Item(
        id=entry.id,
        title=" ".join(entry.title.split()),
        kind=entry.kind.value,
        year=format_year(year) if year is not None else "",
        date_display=occ.date_display,
        years_ago=occ.years_ago,
        years_ago_text=format_years_ago(occ.years_ago),
        round_anniversary=occ.round_anniversary,
        note=occ.note or "",
        tags=entry.tags,
        sources=entry.sources,
        body_html=_email_html(entry.body),
        body_text=_reflow(plain_text(entry.body), _headings(entry.body)),
        summary_html=_email_html(summary),
        summary_text=_reflow(plain_text(summary)),
        more=summary.strip() != entry.body.strip(),
    )


def preheader(day: Day, lead: Item | None, others: Sequence[Item]) -> str:
    """The line inbox lists show beside the subject."""
    if lead is None:
        return f"Nothing on {day.display} yet."
    text = f"{day.display}: {lead.title}"
    if others:
        text += f", and {len(others)} more from this day in history"
    return text


def unsubscribe_url(settings: Settings, recipient: str) -> str:
    """The configured unsubscribe URL, with ``{email}`` replaced by the recipient's address (percent-encoded)."""
    url = settings.digest.unsubscribe_url.strip()
    return url.replace("{email}", quote(recipient, safe="@")) if url else ""


def context(selection: DaySelection, settings: Settings, recipient: str = "") -> dict[str, object]:
    """Everything the templates can use. Without a featured entry, the first in publishing order leads."""
    on = selection.on
    day = Day(on, describe_day(on), _calendar.day_name[on.weekday()], on.isoformat())
    items = [item(occ) for occ in selection.occurrences]
    lead = items[0] if items else None
    others = items[1:]
    return {
        "site": settings.site,
        "digest": settings.digest,
        "day": day,
        "lead": lead,
        "others": others,
        "count": len(items),
        "left_out": selection.left_out,
        "preheader": preheader(day, lead, others),
        "recipient": recipient,
        "unsubscribe_url": unsubscribe_url(settings, recipient),
        "unsubscribe_text": settings.digest.unsubscribe_text,
    }


def _inline_css(html: str) -> str:
    inliner = css_inline.CSSInliner(
        keep_at_rules=True,  # @media (dark mode, narrow screens) stays in a <style> in the head
        load_remote_stylesheets=False,
        keep_link_tags=False,
    )
    return str(inliner.inline(html))


def render_parts(
    selection: DaySelection,
    settings: Settings,
    *,
    recipient: str = "",
    env: jinja2.Environment | None = None,
) -> DigestParts:
    """Render the subject, the plain-text body and the HTML body (CSS inlined) for a day."""
    env = env or template_environment(settings)
    values = context(selection, settings, recipient)
    subject = " ".join(templates.render(env, "email/subject.txt", values).split())
    values["subject"] = subject
    text = templates.render(env, "email/body.txt", values)
    html = templates.render(env, "email/body.html", values)
    if not subject:
        raise PublishError("email/subject.txt rendered an empty subject; put the date in it")
    lines = text.strip("\n").splitlines()
    text = "\n".join(line if line == "-- " else line.rstrip() for line in lines) + "\n"  # keep the sig dash
    return DigestParts(subject=subject, text=text, html=_inline_css(html))


# ---------------------------------------------------------------------------------------------
# Addresses and headers


def sender_address(settings: Settings) -> Address:
    """``digest.sender`` (validated when the settings were loaded)."""
    return parse_address(settings.digest.sender, "digest.sender")


def build_message(
    selection: DaySelection,
    settings: Settings,
    now: datetime.datetime,
    *,
    to: str | None = None,
    parts: DigestParts | None = None,
    env: jinja2.Environment | None = None,
    test: bool = False,
) -> EmailMessage:
    """The day's digest as a complete message to ``to`` (default: undisclosed recipients), dated ``now``.

    ``parts`` lets a sender render once and address many messages (when the unsubscribe URL is the same).
    """
    sender = sender_address(settings)
    label = list_label(settings.digest.list_id, sender)
    address = None
    if to:
        try:
            address = parse_address(to, "recipient")
        except ValueError as exc:
            raise PublishError(str(exc)) from None
    recipient = address.addr_spec if address is not None else ""
    if parts is None:
        parts = render_parts(selection, settings, recipient=recipient, env=env)
    return assemble(
        parts,
        sender=sender,
        to=address,
        date=now,
        message_id=message_id(selection.on, label, recipient or None, test=test),
        list_id=list_id_header(settings.digest.list_id, settings.site.title, label),
        unsubscribe_url=unsubscribe_url(settings, recipient),
        language=settings.site.language,
    )
