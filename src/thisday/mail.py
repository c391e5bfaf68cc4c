"""Delivering the digest over SMTP, one message per recipient, each outcome recorded in the ledger.

- Connection security from ``[smtp]``: ``none``, ``starttls`` or ``tls`` (implicit TLS, usually port 465); the
  password comes from the environment variable named by ``smtp.password_env``, never from the config file.
- Temporary failures (4xx replies, refused or dropped connections, timeouts) are retried with exponential
  backoff (``smtp.retries`` more tries, first waiting ``smtp.retry_delay`` seconds); permanent ones (5xx) are
  reported for that recipient and the others still get their message.
- With a :class:`~thisday.ledger.Ledger`, each recipient is claimed on channel ``digest:<address>`` before
  sending and marked done or failed after: running the send again for the same day sends nobody twice.

Time is never read here: the caller passes a clock (the CLI and the daemon own the clock).
"""

from __future__ import annotations

import datetime
import os
import smtplib
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from .config import Settings, SmtpSettings
from .digest import DigestParts, build_message, render_parts, sender_address, template_environment
from .errors import ConfigError, PublishError
from .ledger import Ledger, Status, digest_channel
from .message import message_bytes, parse_address
from .model import DaySelection

SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"
MAX_DELAY = 300.0
"""No single wait between tries is longer than this many seconds."""


@dataclass(frozen=True)
class Delivery:
    """What happened for one recipient: ``sent``, ``failed`` (``detail`` says why) or ``skipped``."""

    address: str
    status: str
    detail: str = ""
    attempts: int = 0
    permanent: bool = False
    """For a failure: the server refused for good (5xx), so retrying will not help without a change."""


@dataclass(frozen=True)
class SendReport:
    """The outcome of one send: one :class:`Delivery` per recipient, or ``note`` when nothing was sent."""

    day: datetime.date
    deliveries: tuple[Delivery, ...] = ()
    note: str = ""

    def count(self, status: str) -> int:
        return sum(1 for d in self.deliveries if d.status == status)

    @property
    def ok(self) -> bool:
        return all(d.status != FAILED for d in self.deliveries)

    @property
    def retryable(self) -> bool:
        """Some recipient failed for a reason that may pass (not a permanent refusal): worth another run."""
        return any(d.status == FAILED and not d.permanent for d in self.deliveries)

    def summary(self) -> str:
        """'3 sent, 1 failed, 0 skipped', or the note when nothing was sent."""
        if not self.deliveries:
            return self.note or "nothing sent"
        return ", ".join(f"{self.count(s)} {s}" for s in (SENT, FAILED, SKIPPED))


class _Temporary(Exception):
    """A failure worth retrying."""

    def __init__(self, detail: str, *, connection: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.connection = connection
        """The server could not be reached at all (as opposed to a 4xx reply)."""


class _Permanent(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}".strip()


def _classify(code: int, message: bytes | str) -> Exception:
    detail = _reply(code, message)
    if 500 <= code < 600:
        return _Permanent(detail)
    return _Temporary(detail)


def smtp_password(smtp: SmtpSettings, environ: Mapping[str, str]) -> str | None:
    """The SMTP password from the environment variable ``smtp.password_env``; None when no username is set."""
    if not smtp.username:
        return None
    password = environ.get(smtp.password_env, "")
    if not password:
        raise PublishError(
            f"smtp.username is {smtp.username!r} but the environment variable {smtp.password_env} is empty: "
            f"export {smtp.password_env}=... (the password is never read from thisday.toml)"
        )
    return password


class Mailer:
    """An SMTP session to ``[smtp]``, opened on first use, reused across messages, reopened when it drops."""

    def __init__(
        self,
        smtp: SmtpSettings,
        *,
        password: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.smtp = smtp
        self._password = password
        self._sleep = sleep
        self._conn: smtplib.SMTP | None = None
        self.unreachable = ""
        """Set when the last message failed because the server could not be reached after every retry."""

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _where(self) -> str:
        return f"{self.smtp.host}:{self.smtp.port}"

    def _open(self) -> smtplib.SMTP:
        s = self.smtp
        context = ssl.create_default_context()
        conn: smtplib.SMTP
        if s.security == "tls":
            conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            conn.ehlo()
            if s.security == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
            if s.username:
                conn.login(s.username, self._password or "")
        except BaseException:
            conn.close()
            raise
        return conn

    def _connection(self) -> smtplib.SMTP:
        if self._conn is not None:
            try:
                code, _ = self._conn.noop()
                if code == 250:
                    return self._conn
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()
        try:
            self._conn = self._open()
        except smtplib.SMTPAuthenticationError as exc:
            raise PublishError(
                f"SMTP server {self._where()} refused the login for {self.smtp.username!r} "
                f"({_reply(exc.smtp_code, exc.smtp_error)}): check smtp.username and ${self.smtp.password_env}"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise PublishError(
                f"SMTP server {self._where()} does not support what smtp.security/username ask for ({exc}): "
                "check smtp.security (none, starttls, tls) and smtp.port"
            ) from None
        except ssl.SSLError as exc:
            raise PublishError(
                f"TLS with {self._where()} failed ({exc}): check smtp.security (starttls for port 587, "
                "tls for 465) and the server's certificate"
            ) from None
        except smtplib.SMTPResponseException as exc:  # greeting or EHLO refused
            error = _classify(exc.smtp_code, exc.smtp_error)
            if isinstance(error, _Temporary):
                error.connection = True
            raise error from None
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _Temporary(f"cannot reach {self._where()}: {exc}", connection=True) from None
        return self._conn

    def _attempt(self, data: bytes, sender: str, recipient: str) -> None:
        conn = self._connection()
        try:
            conn.sendmail(sender, [recipient], data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, message = exc.recipients.get(recipient, (450, b"recipient refused"))
            raise _classify(code, message) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise _classify(exc.smtp_code, exc.smtp_error) from None
        except smtplib.SMTPResponseException as exc:
            raise _classify(exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _Temporary(f"connection to {self._where()} lost: {exc}") from None

    def send(self, msg: EmailMessage | bytes, recipient: str, sender: str) -> Delivery:
        """Send to one recipient, retrying temporary failures; never raises for a refused recipient.

        Raises :class:`PublishError` only for problems no retry can fix (login refused, TLS failure).
        """
        data = msg if isinstance(msg, bytes) else message_bytes(msg)
        tries = 1 + max(0, self.smtp.retries)
        for attempt in range(1, tries + 1):
            try:
                self._attempt(data, sender, recipient)
            except _Permanent as exc:
                self.unreachable = ""
                return Delivery(recipient, FAILED, exc.detail, attempt, permanent=True)
            except _Temporary as exc:
                self._drop()
                if attempt == tries:
                    self.unreachable = exc.detail if exc.connection else ""
                    return Delivery(recipient, FAILED, f"{exc.detail} (after {attempt} tries)", attempt)
                self._sleep(min(MAX_DELAY, self.smtp.retry_delay * 2 ** (attempt - 1)))
            else:
                self.unreachable = ""
                return Delivery(recipient, SENT, "", attempt)
        raise AssertionError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------------------------------------
# Recipients


def read_recipients_file(path: Path) -> tuple[str, ...]:
    """One address per line; blank lines and ``#`` comments are ignored. Errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: recipients file not found: create it (one address per line) or fix digest.recipients_file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the recipients file: {exc}") from None
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        address = line.split("#", 1)[0].strip()
        if not address:
            continue
        try:
            found.append(parse_address(address).addr_spec)
        except ValueError as exc:
            raise ConfigError(f"{path}:{number}: {exc}; write one address per line") from None
    return tuple(found)


def dedupe(addresses: Iterable[str]) -> tuple[str, ...]:
    """Each address once (compared case-insensitively), in first-seen order."""
    seen: set[str] = set()
    result = []
    for address in addresses:
        key = address.strip().lower()
        if key and key not in seen:
            seen.add(key)
            result.append(address.strip())
    return tuple(result)


def configured_recipients(settings: Settings) -> tuple[str, ...]:
    """``digest.recipients`` plus the addresses in ``digest.recipients_file``, each once."""
    addresses = []
    for text in settings.digest.recipients:
        try:
            addresses.append(parse_address(text).addr_spec)
        except ValueError as exc:
            raise ConfigError(f"{settings.source or 'thisday.toml'}: digest.recipients: {exc}") from None
    if settings.digest.recipients_file is not None:
        addresses.extend(read_recipients_file(settings.digest.recipients_file))
    return dedupe(addresses)


# ---------------------------------------------------------------------------------------------
# The send


def send_digest(
    selection: DaySelection,
    settings: Settings,
    recipients: Iterable[str],
    *,
    clock: Callable[[], datetime.datetime],
    ledger: Ledger | None = None,
    force: bool = False,
    send_empty: bool = False,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    after_each: Callable[[Delivery], None] | None = None,
) -> SendReport:
    """Send the day's digest to each recipient (one message each) and report every outcome.

    With ``ledger`` (the scheduled send), each recipient is claimed first and recorded after, so a recipient
    already done for the day is skipped; ``force`` sends again to them. Without a ledger (a test send),
    nothing is recorded. A day with no entries is not sent unless ``send_empty``.
    ``clock`` gives aware datetimes: the message's Date and the ledger's times. ``after_each`` is called with each
    recipient's outcome once it is recorded.
    """
    day = selection.on
    addresses = []
    for text in recipients:
        try:
            addresses.append(parse_address(text, "recipient").addr_spec)
        except ValueError as exc:
            raise PublishError(str(exc)) from None
    addresses = list(dedupe(addresses))
    if not addresses:
        raise PublishError(
            "no recipients: set digest.recipients or digest.recipients_file in thisday.toml, "
            "or name one with --to ADDRESS"
        )
    if not selection.occurrences and not send_empty:
        return SendReport(day, (), f"nothing on {day.isoformat()}: no digest sent")
    password = smtp_password(settings.smtp, os.environ if environ is None else environ)
    sender = sender_address(settings).addr_spec
    env = template_environment(settings)
    now = clock()
    shared: DigestParts | None = None
    personal = "{email}" in settings.digest.unsubscribe_url
    if not personal:
        shared = render_parts(selection, settings, env=env)
    deliveries: list[Delivery] = []
    with Mailer(settings.smtp, password=password, sleep=sleep) as mailer:
        for address in addresses:
            channel = digest_channel(address)
            claim = None
            if ledger is not None:
                claim = ledger.claim(day, channel, clock(), force=force)
                if claim is None:
                    deliveries.append(_skipped(ledger, day, address))
                    continue
            if mailer.unreachable:
                delivery = Delivery(address, FAILED, f"not tried: {mailer.unreachable}", 0)
            else:
                parts = shared or render_parts(selection, settings, recipient=address, env=env)
                msg = build_message(selection, settings, now, to=address, parts=parts, test=ledger is None)
                if ledger is not None and claim is not None and not ledger.mark_sending(claim, clock()):
                    deliveries.append(_skipped(ledger, day, address))
                    continue
                try:
                    delivery = mailer.send(msg, address, sender)
                except PublishError as exc:
                    if ledger is not None and claim is not None:
                        ledger.mark_failed(claim, clock(), str(exc))
                    raise
            if ledger is not None and claim is not None:
                if delivery.status == SENT:
                    tries = "1 try" if delivery.attempts == 1 else f"{delivery.attempts} tries"
                    ledger.mark_done(claim, clock(), f"sent ({tries})")
                else:
                    finish = ledger.mark_refused if delivery.permanent else ledger.mark_failed
                    finish(claim, clock(), delivery.detail)
            deliveries.append(delivery)
            if after_each is not None:
                after_each(delivery)
    return SendReport(day, tuple(deliveries))


def _skipped(ledger: Ledger, day: datetime.date, address: str) -> Delivery:
    record = ledger.get(day, digest_channel(address))
    if record is not None and record.finished_at is not None:
        when = record.finished_at.strftime("%Y-%m-%d %H:%M UTC")
        if record.status is Status.DONE:
            return Delivery(address, SKIPPED, f"already sent at {when} (--force sends again)")
        if record.status is Status.REFUSED:
            return Delivery(
                address, SKIPPED, f"refused by the server at {when}: {record.detail} (--force tries again)"
            )
        if record.status is Status.UNCERTAIN:
            return Delivery(address, SKIPPED, f"delivery uncertain since {when} (--force sends again)")
    return Delivery(address, SKIPPED, "being sent by another thisday process")
