"""SMTP transport only: connections, retries, and the classification of the server's replies.

- Connection security from ``[smtp]``: ``none``, ``starttls`` or ``tls`` (implicit TLS, usually port 465); the
  password comes from the environment variable named by ``smtp.password_env``, never from the config file.
- One connection is reused for many messages (RSET after a refused recipient, reconnect when it drops).
- Temporary failures (4xx replies, refused or dropped connections, timeouts) before the message's data is sent
  are retried with exponential backoff (``smtp.retries`` more tries, first waiting ``smtp.retry_delay``
  seconds); permanent ones (5xx) are reported for that recipient.
- The one ambiguous moment is between the end of the message's data (the final ".") and the server's reply:
  only a connection lost there leaves the outcome unknown (``uncertain``); it is never retried by itself.

What is sent to whom, and the ledger, belong to the digest channel (:mod:`thisday.channels.digest`).
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage

from .config import SmtpSettings
from .errors import PublishError
from .message import message_bytes

SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"
UNCERTAIN = "uncertain"
_DOT_AT_LINE_START = re.compile(rb"(?m)^\.")
"""SMTP transparency (RFC 5321 4.5.2): a line of the message that starts with "." gets another one."""
MAX_DELAY = 300.0
"""No single wait between tries is longer than this many seconds."""


@dataclass(frozen=True)
class Delivery:
    """What happened for one recipient: ``sent``, ``failed`` (``detail`` says why), ``skipped``, or
    ``uncertain`` (the connection was lost after the data was sent, before the server's reply)."""

    address: str
    status: str
    detail: str = ""
    attempts: int = 0
    permanent: bool = False
    """For a failure: the server refused for good (5xx), so retrying will not help without a change."""
    settled: bool = False
    """For a skip: the ledger already shows this recipient served, refused or uncertain for the day."""
    address_refused: bool = False
    """For a permanent failure: the server refused the address itself (a 5xx to RCPT), not the message."""


class _Temporary(Exception):
    """A failure worth retrying."""

    def __init__(self, detail: str, *, connection: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.connection = connection
        """The server could not be reached at all (as opposed to a 4xx reply)."""


class _Ambiguous(Exception):
    """The connection was lost after the data went out and before the server's reply: outcome unknown."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class _Permanent(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.recipient = False
        """The server refused the recipient's address (RCPT), not the message."""


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}".strip()


def _classify(code: int, message: bytes | str) -> Exception:
    detail = _reply(code, message)
    if 500 <= code < 600:
        return _Permanent(detail)
    return _Temporary(detail)


def _no_delay(conn: smtplib.SMTP) -> None:
    """Send each write at once (TCP_NODELAY): the message's data and its final "." go out as two writes, and with
    Nagle's algorithm the second waits for the server's delayed ACK of the first (tens of ms per message)."""
    sock = getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # not a TCP socket: Nagle does not apply
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


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
            _no_delay(conn)
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
            return self._conn
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

    def _reset(self, conn: smtplib.SMTP) -> None:
        """RSET after a refused transaction, so the connection serves the next message; drop it if that fails."""
        try:
            conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _attempt(
        self, data: bytes, sender: str, recipient: str, before_data: Callable[[], bool] | None
    ) -> bool:
        """One transaction (MAIL, RCPT, DATA). False when ``before_data`` said not to go on."""
        reused = self._conn is not None
        conn = self._connection()
        try:
            try:
                code, reply = conn.mail(sender)
            except (smtplib.SMTPServerDisconnected, OSError):
                if not reused:
                    raise
                # the server closed the idle connection since the last message: open a new one, no back-off
                self._drop()
                conn = self._connection()
                code, reply = conn.mail(sender)
            if code != 250:
                self._reset(conn)
                if 500 <= code < 600:  # the sender itself is refused: no recipient will get anything
                    raise PublishError(
                        f"SMTP server {self._where()} refused the sender {sender!r} ({_reply(code, reply)}): "
                        "check digest.sender and digest.return_path"
                    )
                raise _classify(code, reply)
            code, reply = conn.rcpt(recipient)
            if code not in (250, 251):
                self._reset(conn)
                error = _classify(code, reply)
                if isinstance(error, _Permanent):
                    error.recipient = True  # the address itself is refused (no such user...)
                raise error
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise _Temporary(f"connection to {self._where()} lost: {exc}") from None
        # DATA by hand (smtplib's data() in two halves): the message goes out whole but for its final ".", and
        # ``before_data`` is asked just before that: a process that dies before it leaves a transaction the server
        # discards, so only a death between the final "." and the server's reply leaves the outcome unknown.
        try:
            code, reply = conn.docmd("DATA")
            if code != 354:
                self._reset(conn)
                raise _classify(code, reply)
            body = _DOT_AT_LINE_START.sub(b"..", data) if data.startswith(b".") or b"\n." in data else data
            conn.send(body if body.endswith(b"\r\n") else body + b"\r\n")
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise _Temporary(f"connection to {self._where()} lost while sending the message: {exc}") from None
        try:
            go_on = before_data is None or before_data()
        except BaseException:
            self._drop()  # mid-DATA: only closing the connection abandons the message (a QUIT would be data)
            raise
        if not go_on:
            self._drop()  # without the final "." the server discards the message
            return False
        try:
            conn.send(b".\r\n")
            code, reply = conn.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise _Ambiguous(
                f"connection to {self._where()} lost after the message was sent, before the server's reply: {exc}"
            ) from None
        if code != 250:  # the server refused the message itself (content, size, greylisting...)
            self._reset(conn)
            raise _classify(code, reply)
        return True

    def send(
        self,
        msg: EmailMessage | bytes,
        recipient: str,
        sender: str,
        *,
        before_data: Callable[[], bool] | None = None,
    ) -> Delivery:
        """Send to one recipient, retrying temporary failures; never raises for a refused recipient.

        ``before_data`` is called just before the end of the message's data (its final ".") goes out: the point of
        no return (the digest channel marks the recipient ``sending`` there); when it returns False the
        transaction is abandoned and nothing is delivered (``skipped``).
        Raises :class:`PublishError` only for problems no retry can fix (login refused, TLS failure).
        """
        data = msg if isinstance(msg, bytes) else message_bytes(msg)
        tries = 1 + max(0, self.smtp.retries)
        for attempt in range(1, tries + 1):
            try:
                went = self._attempt(data, sender, recipient, before_data)
            except _Permanent as exc:
                self.unreachable = ""
                return Delivery(
                    recipient, FAILED, exc.detail, attempt, permanent=True, address_refused=exc.recipient
                )
            except _Ambiguous as exc:
                self.unreachable = ""
                return Delivery(recipient, UNCERTAIN, exc.detail, attempt)
            except _Temporary as exc:
                self._drop()
                if attempt == tries:
                    self.unreachable = exc.detail if exc.connection else ""
                    return Delivery(recipient, FAILED, f"{exc.detail} (after {attempt} tries)", attempt)
                self._sleep(min(MAX_DELAY, self.smtp.retry_delay * 2 ** (attempt - 1)))
            else:
                self.unreachable = ""
                if not went:
                    return Delivery(recipient, SKIPPED, "claim lost before sending", attempt)
                return Delivery(recipient, SENT, "", attempt)
        raise AssertionError("unreachable")  # pragma: no cover
