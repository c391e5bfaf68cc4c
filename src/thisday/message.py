"""RFC 5322 message assembly: addresses, headers, Message-ID and the List-* headers, nothing else.

Pure: values in, an :class:`email.message.EmailMessage` or bytes out. The digest renderer
(:mod:`thisday.digest`) makes the parts; the digest channel sends what this module assembles. Headers are
built with the email package's modern policy, so a value with CR or LF is refused, never sent.
"""

from __future__ import annotations

import binascii
import datetime
import email.errors
import email.utils
import hashlib
import re
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage

UNDISCLOSED = "undisclosed-recipients:;"
POLICY = policy.default
_LABEL_RE = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_PHRASE_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')
_LANGUAGE_RE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


@dataclass(frozen=True)
class Parts:
    """A rendered message before it is addressed: subject (one line), plain text and HTML."""

    subject: str
    text: str
    html: str


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@({_ATOM}(?:\.{_ATOM})*)")
"""A bare ASCII addr-spec (dot-atom local part and domain): the common case, parsed without the email package's
header parser (a send to thousands of recipients parses each address twice)."""


def parse_address(text: str, what: str = "address") -> Address:
    """One mailbox, ``a@example.org`` or ``Name <a@example.org>``; ValueError saying what is wrong."""
    plain = _PLAIN_ADDRESS.fullmatch(text) if len(text) <= 254 else None
    if plain is not None:
        return Address(username=plain[1], domain=plain[2])
    if any(c in text for c in "\r\n\0"):
        raise ValueError(f"{what} {text!r} contains a line break or NUL")
    name, addr = email.utils.parseaddr(text.strip())
    if not addr or "@" not in addr or not addr.rsplit("@", 1)[1] or " " in addr or len(addr) > 254:
        raise ValueError(f"{what} {text!r} is not an email address such as reader@example.org")
    try:
        return Address(display_name=name, addr_spec=addr)
    except (ValueError, IndexError, email.errors.HeaderParseError) as exc:
        raise ValueError(f"{what} {text!r} is not a valid email address ({exc})") from None


def list_id_label(list_id: str) -> str:
    """The dotted label of a ``List-Id`` setting (``Name <label>`` or ``label``); '' when unset."""
    configured = list_id.strip()
    if not configured:
        return ""
    match = re.search(r"<([^<>]*)>\s*$", configured)
    return (match[1] if match else configured).strip().lower()


def check_list_id(list_id: str) -> None:
    """ValueError unless ``list_id`` is empty or a dotted name (RFC 2919), optionally after a phrase."""
    if list_id.strip() and not _LABEL_RE.match(list_id_label(list_id)):
        raise ValueError(
            f"digest.list_id {list_id!r} must be a dotted name such as onthisday.example.org "
            "(letters, digits, - and .), optionally as 'Name <onthisday.example.org>'"
        )


def check_unsubscribe_url(url: str) -> None:
    """ValueError unless ``url`` is empty or an http(s)/mailto URL with no spaces or line breaks."""
    url = url.strip()
    if url and (not url.startswith(("https://", "http://", "mailto:")) or any(c in url for c in "\r\n\t <>\"")):
        raise ValueError(f"digest.unsubscribe_url {url!r} must be an https:// (or mailto:) URL without spaces")


def list_label(list_id: str, sender: Address) -> str:
    """The list's identifier (RFC 2919): the configured one, else made from the sender (``onthisday.localhost``)."""
    configured = list_id_label(list_id)
    if configured:
        return configured
    local = re.sub(r"[^A-Za-z0-9-]+", "-", sender.username).strip("-") or "digest"
    domain = re.sub(r"[^A-Za-z0-9.-]+", "-", sender.domain).strip(".-") or "localhost"
    return f"{local}.{domain}".lower()


def list_id_header(list_id: str, title: str, label: str) -> str:
    """``"Phrase" <label>``: the configured phrase (else the site's title) quoted when it must be."""
    configured = list_id.strip()
    phrase = configured[: configured.rfind("<")].strip() if "<" in configured else title.strip()
    phrase = " ".join(phrase.split())
    if not phrase:
        return f"<{label}>"
    if _PHRASE_SPECIALS.search(phrase):
        phrase = '"' + phrase.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{phrase} <{label}>"


def message_id(day: datetime.date, label: str, recipient: str | None = None, *, test: bool = False) -> str:
    """Stable per date, list and recipient: re-sending a day's digest to someone gives the same Message-ID, while
    each recipient's copy (its own To and unsubscribe link) has its own, as RFC 5322 asks. A test send's id is
    marked, so a mail provider that drops repeated ids never swallows the real digest because of a test."""
    local = f"digest-{day.isoformat()}"
    if recipient:
        local += "." + hashlib.sha256(recipient.strip().lower().encode()).hexdigest()[:12]
    return f"<{'test-' if test else ''}{local}@{label}>"


def assemble(
    parts: Parts,
    *,
    sender: Address,
    to: Address | None,
    date: datetime.datetime,
    message_id: str,
    list_id: str,
    unsubscribe_url: str = "",
    language: str = "",
) -> EmailMessage:
    """The complete ``multipart/alternative`` message (plain text first, then HTML)."""
    if date.tzinfo is None:
        raise ValueError("the message date must be a timezone-aware datetime")
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = parts.subject
    msg["From"] = sender
    msg["To"] = to if to is not None else UNDISCLOSED
    msg["Date"] = email.utils.format_datetime(date)
    msg["Message-ID"] = message_id
    msg["List-Id"] = list_id
    if unsubscribe_url:
        check_unsubscribe_url(unsubscribe_url)
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        if unsubscribe_url.startswith("https://"):
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(parts.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(parts.html, subtype="html", charset="utf-8", cte="quoted-printable")
    if _LANGUAGE_RE.fullmatch(language):
        # set after the parts exist: set_content moves Content-* headers into a part
        msg["Content-Language"] = language
    return msg


_TEXT_SLOT = "thisdaytextbodyd41d8cd98f00"
_HTML_SLOT = "thisdayhtmlbodyd41d8cd98f00"
_TO_SLOT = "thisday-to-d41d8cd98f00@recipient.invalid"
_ID_SLOT = "<thisday-id-d41d8cd98f00@recipient.invalid>"
_UNSUBSCRIBE_SLOT = "https://recipient.invalid/thisday-unsubscribe-d41d8cd98f00"


def _qp(text: str) -> bytes:
    """``text`` as quoted-printable UTF-8 with CRLF line ends (binascii: the C encoder, fast per recipient)."""
    if not text.endswith("\n"):
        text += "\n"
    return binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


@dataclass(frozen=True)
class Prepared:
    """A message assembled once, to be addressed to many recipients quickly.

    The headers and the MIME structure are made by the email package once, with placeholders where the recipient,
    the Message-ID and the unsubscribe URL go; :meth:`for_recipient` fills them in and encodes the two bodies
    (quoted-printable) for each recipient. Its bytes parse to the same message :func:`assemble` makes.
    """

    head: bytes
    middle: bytes
    tail: bytes
    one_click: bool

    @classmethod
    def make(
        cls,
        subject: str,
        *,
        sender: Address,
        date: datetime.datetime,
        list_id: str,
        unsubscribe: bool,
        one_click: bool,
        language: str = "",
    ) -> Prepared:
        skeleton = assemble(
            Parts(subject, _TEXT_SLOT, _HTML_SLOT),
            sender=sender,
            to=Address(addr_spec=_TO_SLOT),
            date=date,
            message_id=_ID_SLOT,
            list_id=list_id,
            unsubscribe_url=(_UNSUBSCRIBE_SLOT if one_click else _UNSUBSCRIBE_SLOT.replace("https:", "http:"))
            if unsubscribe
            else "",
            language=language,
        )
        raw = message_bytes(skeleton)
        head, _, rest = raw.partition(_TEXT_SLOT.encode() + b"\r\n")
        middle, _, tail = rest.partition(_HTML_SLOT.encode() + b"\r\n")
        if not tail or _TO_SLOT.encode() not in head:  # pragma: no cover - the email package changed its output
            raise ValueError("cannot prepare the message: placeholders were not found where expected")
        return cls(head, middle, tail, one_click)

    def for_recipient(self, to: str, message_id: str, unsubscribe_url: str, text: str, html: str) -> bytes:
        """The message's bytes (CRLF) for one recipient (an addr-spec already checked by :func:`parse_address`)."""
        for value in (to, unsubscribe_url):
            if any(c in value for c in "\r\n\t <>\""):
                raise ValueError(f"{value!r} cannot go into a header")
        if unsubscribe_url and unsubscribe_url.startswith("https://") != self.one_click:
            raise ValueError("the unsubscribe URL's scheme differs from the prepared one")
        slot = _UNSUBSCRIBE_SLOT if self.one_click else _UNSUBSCRIBE_SLOT.replace("https:", "http:")
        head = (
            self.head.replace(_TO_SLOT.encode(), to.encode("ascii", "strict"))
            .replace(_ID_SLOT.encode(), message_id.encode("ascii"))
            .replace(slot.encode(), unsubscribe_url.encode("ascii"))
        )
        return head + _qp(text) + self.middle + _qp(html) + self.tail


def message_bytes(msg: EmailMessage) -> bytes:
    """The message as sent and as written to ``.eml`` files: RFC 5322 line endings (CRLF)."""
    return msg.as_bytes(policy=POLICY.clone(linesep="\r\n"))


def message_text(msg: EmailMessage) -> str:
    """The message for a terminal (newline line endings)."""
    return msg.as_string(policy=POLICY)
