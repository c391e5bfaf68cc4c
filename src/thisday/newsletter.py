"""Subscribing, confirming and unsubscribing: the logic behind the site's form and ``thisday subscribers``.

Double opt-in: a request makes the address ``pending`` and mails it a confirmation link; only a POST to that
link (a button on the page the link opens) makes it ``active``, so a mail scanner that fetches links confirms
nothing. The answer to a request is the same whether the address is new, pending, active or unsubscribed.

Abuse limits (all kept in the database, so they hold across processes): at most one confirmation mail to an
address per hour and ``digest.mails_per_address`` a day; at most ``digest.requests_per_ip`` requests from one
client per hour (then 429); a filled-in honeypot field is accepted and ignored.

Time is passed in: ``thisday serve`` and the CLI read the clock.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import enum
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from email.message import EmailMessage
from pathlib import Path

import jinja2

from . import templates
from .config import Settings
from .errors import ConfigError, PublishError
from .message import POLICY, message_bytes, parse_address
from .subscribers import (
    CONFIRM,
    UNSUBSCRIBE,
    State,
    Store,
    SubscriberError,
    address_key,
    make_token,
    normalise,
    read_token,
)

log = logging.getLogger("thisday.newsletter")
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


def _link(settings: Settings, path: str) -> str:
    return settings.site.base_url.rstrip("/") + "/" + path


def unsubscribe_url(settings: Settings, secret: bytes, address: str) -> str:
    """The recipient's own unsubscribe link under ``site.base_url``: signed, never expires, names nobody."""
    return _link(settings, "unsubscribe/" + make_token(secret, UNSUBSCRIBE, normalise(address)))


def confirm_url(settings: Settings, secret: bytes, address: str, issued: datetime.datetime) -> str:
    """The confirmation link mailed at ``issued``: valid ``digest.confirm_days`` days."""
    return _link(settings, "confirm/" + make_token(secret, CONFIRM, normalise(address), issued))


def template_environment(settings: Settings) -> jinja2.Environment:
    return templates.environment(settings.templates, settings.source)


def envelope_sender(settings: Settings) -> str:
    """The SMTP envelope sender (where bounces go): ``digest.return_path``, else the sender's address."""
    return parse_address(settings.digest.return_path or settings.digest.sender).addr_spec


def confirmation_message(
    settings: Settings, env: jinja2.Environment, address: str, url: str, now: datetime.datetime
) -> EmailMessage:
    """The confirmation mail: plain text from ``email/confirm_subject.txt`` and ``email/confirm.txt``."""
    values = {
        "site": settings.site,
        "url": url,
        "address": address,
        "days": settings.digest.confirm_days,
    }
    subject = " ".join(templates.render(env, "email/confirm_subject.txt", values).split())
    text = templates.render(env, "email/confirm.txt", values)
    sender = parse_address(settings.digest.sender, "digest.sender")
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = parse_address(address)
    msg["Date"] = email.utils.format_datetime(now)
    msg["Message-ID"] = f"<confirm-{secrets.token_hex(12)}@{sender.domain or 'localhost'}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    return msg


def send_confirmation(
    settings: Settings,
    store: Store,
    env: jinja2.Environment,
    address: str,
    now: datetime.datetime,
    environ: Mapping[str, str],
    *,
    retries: int | None = None,
) -> bool:
    """Mail ``address`` its confirmation link; True when the server took it. Failures are logged."""
    msg = confirmation_message(settings, env, address, confirm_url(settings, store.secret, address, now), now)
    from .smtp import Mailer, smtp_password  # the SMTP transport (imported when a mail goes out)

    smtp = settings.smtp if retries is None else replace(settings.smtp, retries=retries)
    with Mailer(smtp, password=smtp_password(settings.smtp, environ)) as mailer:
        delivery = mailer.send(message_bytes(msg), address, envelope_sender(settings))
    if delivery.status != "sent":
        log.warning("confirmation mail to a subscriber not sent: %s", delivery.detail)
        return False
    return True


# ---------------------------------------------------------------------------------------------
# The form


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    """The one answer for every valid request ("check your mail"), whatever the address's state."""
    INVALID = "invalid"
    INJECTION = "injection"
    TOO_MANY = "too-many"


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    detail: str = ""
    mailed: bool = False


def subscribe(
    settings: Settings,
    store: Store,
    env: jinja2.Environment,
    text: str,
    ip: str | None,
    now: datetime.datetime,
    environ: Mapping[str, str],
    *,
    honeypot: str = "",
    language: str = "",
) -> Answer:
    """A request from the site's form (``text`` as typed, ``ip`` the client's address, ``language`` the digest's
    language chosen on the form: one of the site's languages, else the site's default)."""
    digest = settings.digest
    if ip is not None and store.recent(now, HOUR, ip=ip) >= digest.requests_per_ip:
        return Answer(Outcome.TOO_MANY, "too many requests from your network; try again in an hour")
    if any(c in text for c in "\r\n\0"):
        store.log_request(None, ip, now, mailed=False)
        return Answer(Outcome.INJECTION, "the address contains a line break; type it on one line")
    if honeypot.strip():
        store.log_request(None, ip, now, mailed=False)
        return Answer(Outcome.ACCEPTED)
    try:
        address = normalise(text)
    except SubscriberError:
        store.log_request(None, ip, now, mailed=False)
        return Answer(Outcome.INVALID, "that is not an email address such as reader@example.org")
    from .views import site_languages

    chosen = language if language in site_languages(settings) else settings.site.language
    row = store.request(address, now, source="form", ip=ip, language=chosen)
    mailed = False
    if row.state == State.PENDING and claim_confirmation_mail(settings, store, address, ip, now):
        try:
            mailed = send_confirmation(settings, store, env, address, now, environ, retries=0)
        except (
            PublishError
        ) as exc:  # the SMTP login or TLS is wrong: the operator's problem, not the reader's
            log.error("confirmation mail not sent: %s", exc)
    else:
        store.log_request(address, ip, now, mailed=False)
    return Answer(Outcome.ACCEPTED, mailed=mailed)


def claim_confirmation_mail(
    settings: Settings, store: Store, address: str, ip: str | None, now: datetime.datetime
) -> bool:
    """Whether a confirmation mail may go to ``address`` now, counted as sent when it may (before sending, so
    a slow server is no loophole): at most ``digest.mails_per_address`` a day, and one an hour, claimed
    atomically so that simultaneous requests never send two."""
    if store.recent(now, DAY, address=address, mailed=True) >= settings.digest.mails_per_address:
        return False
    if not store.claim_mail(address, now, HOUR):
        return False
    store.log_request(address, ip, now, mailed=True)
    return True


# ---------------------------------------------------------------------------------------------
# The links


class LinkState(enum.Enum):
    VALID = "valid"
    FORGED = "forged"
    """Not a token signed with this site's secret (altered, truncated, made up): 4xx, nothing changes."""
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    """Signed, but there is nothing to confirm (no pending request of this address any more)."""


def check_confirm(settings: Settings, store: Store, token: str, now: datetime.datetime) -> LinkState:
    """What a confirmation link leads to (changes nothing: for GET)."""
    verified = read_token(store.secret, token, CONFIRM)
    if verified is None or verified.issued is None:
        return LinkState.FORGED
    if (
        now - verified.issued > datetime.timedelta(days=settings.digest.confirm_days)
        or verified.issued > now + HOUR
    ):
        return LinkState.EXPIRED
    row = store.by_key(verified.key)
    if row is None or row.state not in (State.PENDING, State.ACTIVE):
        return LinkState.UNKNOWN
    if row.state == State.PENDING and verified.issued < row.requested_at.replace(microsecond=0):
        return LinkState.UNKNOWN
    return LinkState.VALID


def confirm(
    settings: Settings, store: Store, token: str, now: datetime.datetime, ip: str | None
) -> LinkState:
    """Confirm the subscription a link was mailed for (POST): VALID when the address is active now."""
    state = check_confirm(settings, store, token, now)
    if state != LinkState.VALID:
        return state
    verified = read_token(store.secret, token, CONFIRM)
    assert verified is not None and verified.issued is not None
    row = store.confirm(verified.key, verified.issued, now, ip=ip)
    return LinkState.VALID if row is not None else LinkState.UNKNOWN


def check_unsubscribe(store: Store, token: str) -> LinkState:
    """VALID for any link this site signed (they never expire), FORGED otherwise."""
    return LinkState.VALID if read_token(store.secret, token, UNSUBSCRIBE) else LinkState.FORGED


def unsubscribe(settings: Settings, store: Store, token: str, now: datetime.datetime, how: str) -> LinkState:
    """Unsubscribe the address of a signed link (a subscriber, or a recipient of the fixed list)."""
    verified = read_token(store.secret, token, UNSUBSCRIBE)
    if verified is None:
        return LinkState.FORGED
    row = store.by_key(verified.key)
    address = row.address if row is not None else _fixed_recipient(settings, store.secret, verified.key)
    if address is None:
        return LinkState.VALID  # forgotten or never known: nobody is mailed for this link
    if row is None or row.state != State.UNSUBSCRIBED:
        store.unsubscribe(address, now, how)
    return LinkState.VALID


def _fixed_recipient(settings: Settings, secret: bytes, key: str) -> str | None:
    """The fixed-list recipient (``digest.recipients``, ``digest.recipients_file``) whose key is ``key``."""
    for address in fixed_recipients(settings):
        if address_key(secret, address).hex() == key:
            return address
    return None


def fixed_recipients(settings: Settings) -> list[str]:
    """The configured recipients, normalised (unreadable or bad lines skipped: the digest reports those)."""
    lines = list(settings.digest.recipients)
    path: Path | None = settings.digest.recipients_file
    if path is not None:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            lines += path.read_text(encoding="utf-8").splitlines()
    found = []
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if text:
            try:
                found.append(normalise(text))
            except SubscriberError:
                continue
    return found


def open_store(settings: Settings, environ: Mapping[str, str] | None = None) -> Store:
    """The subscriber store of ``settings`` (secret from ``environ``, default the process environment)."""
    if environ is None:
        environ = os.environ
    return Store.from_settings(settings, environ)


def require_subscribing(settings: Settings) -> None:
    """ConfigError unless ``digest.subscribe`` is on (the links need ``thisday serve`` to answer)."""
    if not settings.digest.subscribe:
        where = settings.source or "thisday.toml"
        raise ConfigError(
            f"{where}: subscribing is off: set subscribe = true under [digest] (and run `thisday serve` behind "
            "site.base_url) so that confirmation links work"
        )
