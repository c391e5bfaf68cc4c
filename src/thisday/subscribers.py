"""The subscriber store and the signed tokens of its links.

One row per (list, normalised address) in the ledger's database (``Settings.ledger_url()``, SQLite by default,
or PostgreSQL shared by several hosts; the tables are made and migrated by :mod:`thisday.db`), in one of four
states:

- ``pending``: asked to subscribe, has not confirmed yet (receives nothing);
- ``active``: confirmed (or added with ``--confirmed`` / imported by the operator): receives the digest;
- ``unsubscribed``: asked to stop (link, one-click, complaint) or removed by the operator;
- ``suppressed``: mail to it bounced for good (or the operator suppressed it): never mailed.

Each row says when and how it was added and confirmed (time, source ``form``/``command``/``import``, and for the
form the client's IP address as the proof of consent), and why it was unsubscribed or suppressed.

Links carry opaque tokens, never an address: a token holds a 16-byte key (an HMAC of the address under the
secret, so it reveals nothing and cannot be made without the secret), for confirmation links the time it was
issued, and an HMAC-SHA256 tag over all of it. A token altered in any byte fails :func:`read_token`. The secret
comes from ``THISDAY_SECRET``, else from ``state/secret`` (created once, mode 0600).

Times are passed in (this module never reads the clock) and stored as naive UTC.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import email.utils
import enum
import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    RowMapping,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError

from . import db
from .config import Settings
from .db import DEFAULT_LIST, confirmations_table, meta_table, subscribers_table
from .errors import ConfigError, PublishError, ThisdayError
from .message import parse_address

SECRET_ENV = "THISDAY_SECRET"
SECRET_FILE = "secret"
MIN_SECRET_LENGTH = 16


class SubscriberError(ThisdayError):
    """An address or subscriber operation that cannot be done (bad address, unknown subscriber)."""


class State(enum.Enum):
    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    SUPPRESSED = "suppressed"


SOURCES = ("form", "command", "import")

"""Recent subscription requests (kept a day), for the per-address and per-IP limits."""

"""The fingerprint of the secret the stored address keys were made with (a new secret re-keys every row)."""


def _utc(moment: datetime.datetime) -> datetime.datetime:
    if moment.tzinfo is None:
        raise ValueError("subscriber times must be timezone-aware datetimes")
    return moment.astimezone(datetime.UTC).replace(tzinfo=None)


def _aware(moment: datetime.datetime | None) -> datetime.datetime | None:
    return None if moment is None else moment.replace(tzinfo=datetime.UTC)


def normalise(text: str) -> str:
    """The stored form of an address: the bare ``local@domain``, lower-cased; SubscriberError when not one."""
    if len(email.utils.getaddresses([text])) > 1:
        raise SubscriberError(f"{text!r} holds more than one address; give one address at a time")
    try:
        parsed = parse_address(text.strip(), "address")
    except ValueError as exc:
        raise SubscriberError(str(exc)) from None
    address = parsed.addr_spec.strip().lower()
    if address.startswith("@") or address.endswith("@") or "," in address:
        raise SubscriberError(f"address {text!r} is not an email address such as reader@example.org")
    return address


# ---------------------------------------------------------------------------------------------
# The secret and the tokens


def load_secret(state_dir: Path, environ: Mapping[str, str]) -> bytes:
    """The signing secret: ``THISDAY_SECRET``, else ``state_dir/secret``, created once with mode 0600."""
    configured = environ.get(SECRET_ENV, "")
    if configured:
        if len(configured) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"{SECRET_ENV} is too short ({len(configured)} characters): use at least {MIN_SECRET_LENGTH}, "
                "e.g. the output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return configured.encode()
    path = state_dir / SECRET_FILE
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"{path}: the signing secret is readable by others (mode {stat.S_IMODE(mode):o}): chmod 600 {path}"
            )
        secret = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read or create the signing secret ({getattr(exc, 'strerror', None) or exc}); "
            f"set {SECRET_ENV} or make the state folder writable"
        ) from None
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(f"{path}: the signing secret is too short; delete the file to make a new one")
    return secret.encode()


def address_key(secret: bytes, address: str) -> bytes:
    """The 16-byte key of an address: an HMAC under the secret, so a token names nobody."""
    return hmac.new(secret, b"address\0" + address.encode(), hashlib.sha256).digest()[:16]


UNSUBSCRIBE = b"U"
CONFIRM = b"C"
_TAG = 16


def _sign(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, b"token\0" + payload, hashlib.sha256).digest()[:_TAG]


def make_token(secret: bytes, purpose: bytes, address: str, issued: datetime.datetime | None = None) -> str:
    """An opaque, signed token for ``address``: ``purpose`` is UNSUBSCRIBE or CONFIRM (which needs ``issued``)."""
    payload = purpose + address_key(secret, address)
    if purpose == CONFIRM:
        if issued is None:
            raise ValueError("a confirmation token needs the time it was issued")
        payload += int(_utc(issued).replace(tzinfo=datetime.UTC).timestamp()).to_bytes(8, "big")
    return base64.urlsafe_b64encode(payload + _sign(secret, payload)).rstrip(b"=").decode()


@dataclass(frozen=True)
class Token:
    """A token that passed its signature check."""

    purpose: bytes
    key: str
    issued: datetime.datetime | None


def read_token(secret: bytes, text: str, purpose: bytes) -> Token | None:
    """The verified token, or None when ``text`` is not a token of ``purpose`` signed with ``secret``."""
    if not text or len(text) > 100 or not all(c.isalnum() or c in "-_" for c in text):
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    size = 1 + 16 + (8 if purpose == CONFIRM else 0)
    if len(raw) != size + _TAG or raw[:1] != purpose:
        return None
    payload, tag = raw[:size], raw[size:]
    if not hmac.compare_digest(tag, _sign(secret, payload)):
        return None
    issued = None
    if purpose == CONFIRM:
        issued = datetime.datetime.fromtimestamp(int.from_bytes(payload[17:25], "big"), datetime.UTC)
    return Token(purpose, payload[1:17].hex(), issued)


# ---------------------------------------------------------------------------------------------
# The store


@dataclass(frozen=True)
class Subscriber:
    """One row of the store. Times are aware UTC datetimes."""

    address: str
    list: str
    state: State
    language: str
    added_at: datetime.datetime
    added_source: str
    added_ip: str | None
    requested_at: datetime.datetime
    confirmed_at: datetime.datetime | None
    confirmed_source: str | None
    confirmed_ip: str | None
    changed_at: datetime.datetime
    reason: str


def _subscriber(values: RowMapping) -> Subscriber:
    return Subscriber(
        address=values["address"],
        list=values["list"],
        state=State(values["state"]),
        language=values["language"],
        added_at=_aware(values["added_at"]),  # type: ignore[arg-type]
        added_source=values["added_source"],
        added_ip=values["added_ip"],
        requested_at=_aware(values["requested_at"]),  # type: ignore[arg-type]
        confirmed_at=_aware(values["confirmed_at"]),
        confirmed_source=values["confirmed_source"],
        confirmed_ip=values["confirmed_ip"],
        changed_at=_aware(values["changed_at"]),  # type: ignore[arg-type]
        reason=values["reason"] or "",
    )


class Store:
    """The subscriber store at a SQLAlchemy URL; ``secret`` keys the addresses for the links' tokens."""

    def __init__(self, url: str, secret: bytes, *, language: str = "en") -> None:
        try:
            make_url(url)
        except ArgumentError:
            raise PublishError(
                f"database URL {url!r} is not a SQLAlchemy URL: fix daemon.ledger_url in thisday.toml"
            ) from None
        self.url = url
        self.secret = secret
        self.language = language
        try:
            self._engine: Engine = db.create_engine(url)
            db.upgrade(self._engine)
        except OperationalError as exc:
            raise PublishError(f"cannot open the subscriber store at {url}: {exc.orig}") from None
        except OSError as exc:
            raise PublishError(f"cannot create the folder of {url}: {exc.strerror or exc}") from None
        except ModuleNotFoundError as exc:
            raise PublishError(
                f"the database URL {url} needs the driver '{exc.name}': pip install it"
            ) from None
        self._rekey_if_needed()

    def _rekey_if_needed(self) -> None:
        try:
            self._rekey()
        except IntegrityError:  # another process recorded the fingerprint at the same moment: read it again
            self._rekey()

    def _rekey(self) -> None:
        """Address keys follow the secret: when it changed (or was never recorded), every row is re-keyed, so
        links signed with the current secret always find their subscriber (links mailed before stop working)."""
        fingerprint = hmac.new(self.secret, b"fingerprint", hashlib.sha256).hexdigest()[:32]
        with self._engine.begin() as conn:
            stored = conn.execute(select(meta_table.c.value).where(meta_table.c.name == "secret")).scalar()
            if stored == fingerprint:
                return
            table = subscribers_table
            for row_id, address in conn.execute(select(table.c.id, table.c.address)).all():
                conn.execute(
                    update(table)
                    .where(table.c.id == row_id)
                    .values(key=address_key(self.secret, address).hex())
                )
            if stored is None:
                conn.execute(insert(meta_table).values(name="secret", value=fingerprint))
            else:
                conn.execute(
                    update(meta_table).where(meta_table.c.name == "secret").values(value=fingerprint)
                )

    @classmethod
    def from_settings(cls, settings: Settings, environ: Mapping[str, str]) -> Store:
        """The store in the ledger's database, with the secret from ``environ`` or the state folder."""
        return cls(
            settings.ledger_url(), load_secret(settings.state_dir, environ), language=settings.site.language
        )

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -----------------------------------------------------------------------------------------

    def get(self, address: str, list_name: str = DEFAULT_LIST) -> Subscriber | None:
        """The row of ``address`` (normalised here), or None."""
        address = normalise(address)
        table = subscribers_table
        with self._engine.connect() as conn:
            row = conn.execute(
                select(table).where(table.c.list == list_name, table.c.address == address)
            ).first()
        return None if row is None else _subscriber(row._mapping)

    def by_key(self, key: str, list_name: str = DEFAULT_LIST) -> Subscriber | None:
        """The row whose address key (from a verified token) is ``key``, or None."""
        table = subscribers_table
        with self._engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.list == list_name, table.c.key == key)).first()
        return None if row is None else _subscriber(row._mapping)

    def key_of(self, address: str) -> str:
        return address_key(self.secret, normalise(address)).hex()

    def all(self, state: State | None = None, list_name: str | None = DEFAULT_LIST) -> list[Subscriber]:
        """Every row (of ``state``, of ``list_name``; None: every list), by list then address."""
        table = subscribers_table
        query = select(table)
        if list_name is not None:
            query = query.where(table.c.list == list_name)
        if state is not None:
            query = query.where(table.c.state == state.value)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(table.c.list, table.c.address)).all()
        return [_subscriber(row._mapping) for row in rows]

    def counts(self, list_name: str = DEFAULT_LIST) -> dict[State, int]:
        """How many rows are in each state (every state present, 0 when none)."""
        table = subscribers_table
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(table.c.state, func.count()).where(table.c.list == list_name).group_by(table.c.state)
            ).all()
        found = {str(state): int(count) for state, count in rows}
        return {state: found.get(state.value, 0) for state in State}

    def request(
        self,
        address: str,
        now: datetime.datetime,
        *,
        source: str,
        ip: str | None = None,
        list_name: str = DEFAULT_LIST,
        language: str | None = None,
    ) -> Subscriber:
        """A subscription request: a new address becomes ``pending``; an unsubscribed one ``pending`` again
        (its history kept); pending, active and suppressed rows stay as they are."""
        address = normalise(address)
        stamp = _utc(now)
        table = subscribers_table
        existing = self.get(address, list_name)
        if existing is None:
            try:
                with self._engine.begin() as conn:
                    conn.execute(
                        insert(table).values(
                            list=list_name,
                            address=address,
                            key=self.key_of(address),
                            state=State.PENDING.value,
                            language=language or self.language,
                            added_at=stamp,
                            added_source=source,
                            added_ip=ip,
                            requested_at=stamp,
                            changed_at=stamp,
                            reason="",
                        )
                    )
            except IntegrityError:
                pass  # added meanwhile by another request: fall through to the update
        elif existing.state == State.UNSUBSCRIBED:
            # a new request starts a new pending period: links mailed before the unsubscription confirm nothing
            with self._engine.begin() as conn:
                conn.execute(
                    update(table)
                    .where(table.c.list == list_name, table.c.address == address)
                    .values(
                        state=State.PENDING.value,
                        added_source=source,
                        added_ip=ip,
                        requested_at=stamp,
                        changed_at=stamp,
                        reason="",
                    )
                )
        found = self.get(address, list_name)
        assert found is not None
        return found

    def add_confirmed(
        self,
        address: str,
        now: datetime.datetime,
        *,
        source: str,
        list_name: str = DEFAULT_LIST,
        reactivate: bool = True,
    ) -> tuple[Subscriber, bool]:
        """Add ``address`` as ``active`` on the operator's word. Returns (row, changed). An unsubscribed or
        suppressed address is made active again only when ``reactivate``."""
        address = normalise(address)
        existing = self.get(address, list_name)
        if existing is not None and existing.state == State.ACTIVE:
            return existing, False
        if (
            existing is not None
            and not reactivate
            and existing.state in (State.UNSUBSCRIBED, State.SUPPRESSED)
        ):
            return existing, False
        if existing is None:
            self.request(address, now, source=source, list_name=list_name)
        return self._set_state(
            address, State.ACTIVE, now, list_name=list_name, confirmed=(source, None), reason=""
        ), True

    def confirm(
        self,
        key: str,
        issued: datetime.datetime,
        now: datetime.datetime,
        *,
        ip: str | None,
        list_name: str = DEFAULT_LIST,
    ) -> Subscriber | None:
        """Confirm the pending row of ``key`` when ``issued`` belongs to its current request (a link from an
        earlier request, before an unsubscription, confirms nothing). Returns the row, or None."""
        row = self.by_key(key, list_name)
        if row is None:
            return None
        if row.state == State.ACTIVE:
            return row
        if row.state != State.PENDING or issued < row.requested_at.replace(microsecond=0):
            return None
        return self._set_state(
            row.address, State.ACTIVE, now, list_name=list_name, confirmed=("form", ip), reason=""
        )

    def unsubscribe(
        self, address: str, now: datetime.datetime, reason: str, list_name: str = DEFAULT_LIST
    ) -> Subscriber:
        """Mark ``address`` unsubscribed (a row is made when it has none: e.g. a fixed-list recipient)."""
        return self._set_state(
            normalise(address), State.UNSUBSCRIBED, now, list_name=list_name, reason=reason
        )

    def suppress(
        self, address: str, now: datetime.datetime, reason: str, list_name: str = DEFAULT_LIST
    ) -> Subscriber:
        """Mark ``address`` suppressed: never mailed again until unsuppressed."""
        return self._set_state(normalise(address), State.SUPPRESSED, now, list_name=list_name, reason=reason)

    def unsuppress(
        self, address: str, now: datetime.datetime, list_name: str = DEFAULT_LIST
    ) -> Subscriber | None:
        """Lift a suppression: a confirmed subscriber is active again; a row that never had consent (a fixed-list
        recipient suppressed by a bounce) is deleted. SubscriberError when the address is not suppressed."""
        row = self.get(address, list_name)
        if row is None or row.state != State.SUPPRESSED:
            shown = "not in the store" if row is None else row.state.value
            raise SubscriberError(f"{address} is not suppressed ({shown}); nothing to do")
        if row.confirmed_at is None:
            self.delete(row.address, list_name)
            return None
        return self._set_state(row.address, State.ACTIVE, now, list_name=list_name, reason="")

    def delete(self, address: str, list_name: str | None = None) -> int:
        """Delete the rows of ``address`` (every list when ``list_name`` is None) and its request log."""
        address = normalise(address)
        table = subscribers_table
        with self._engine.begin() as conn:
            query = delete(table).where(table.c.address == address)
            if list_name is not None:
                query = query.where(table.c.list == list_name)
            removed = conn.execute(query).rowcount
            conn.execute(delete(confirmations_table).where(confirmations_table.c.address == address))
        return int(removed)

    def _set_state(
        self,
        address: str,
        state: State,
        now: datetime.datetime,
        *,
        list_name: str,
        reason: str,
        confirmed: tuple[str, str | None] | None = None,
    ) -> Subscriber:
        stamp = _utc(now)
        table = subscribers_table
        values: dict[str, object] = {"state": state.value, "changed_at": stamp, "reason": reason}
        if confirmed is not None:
            values.update(confirmed_at=stamp, confirmed_source=confirmed[0], confirmed_ip=confirmed[1])
        with self._engine.begin() as conn:
            result = conn.execute(
                update(table).where(table.c.list == list_name, table.c.address == address).values(**values)
            )
            if result.rowcount == 0:
                conn.execute(
                    insert(table).values(
                        list=list_name,
                        address=address,
                        key=self.key_of(address),
                        language=self.language,
                        added_at=stamp,
                        added_source="command",
                        added_ip=None,
                        requested_at=stamp,
                        **values,
                    )
                )
        found = self.get(address, list_name)
        assert found is not None
        return found

    # -----------------------------------------------------------------------------------------
    # The request log behind the abuse limits

    def claim_mail(self, address: str, now: datetime.datetime, every: datetime.timedelta) -> bool:
        """Take the right to mail ``address`` now: True for exactly one caller per ``every``, however many
        processes ask at once (one guarded UPDATE, as the ledger's claims)."""
        table = subscribers_table
        stamp = _utc(now)
        with self._engine.begin() as conn:
            result = conn.execute(
                update(table)
                .where(
                    table.c.address == normalise(address),
                    or_(table.c.mailed_at.is_(None), table.c.mailed_at <= stamp - every),
                )
                .values(mailed_at=stamp)
            )
        return bool(result.rowcount >= 1)

    def log_request(
        self, address: str | None, ip: str | None, now: datetime.datetime, *, mailed: bool
    ) -> None:
        """Remember a subscription request (and whether a mail went out); entries older than a day go."""
        stamp = _utc(now)
        table = confirmations_table
        with self._engine.begin() as conn:
            conn.execute(delete(table).where(table.c.at < stamp - datetime.timedelta(days=1)))
            conn.execute(insert(table).values(address=address, client_ip=ip, at=stamp, mailed=int(mailed)))

    def recent(
        self,
        now: datetime.datetime,
        within: datetime.timedelta,
        *,
        address: str | None = None,
        ip: str | None = None,
        mailed: bool = False,
    ) -> int:
        """How many requests (only those that mailed, with ``mailed``) for ``address`` / from ``ip`` in ``within``."""
        table = confirmations_table
        query = select(func.count()).select_from(table).where(table.c.at >= _utc(now - within))
        if address is not None:
            query = query.where(table.c.address == address)
        if ip is not None:
            query = query.where(table.c.client_ip == ip)
        if mailed:
            query = query.where(table.c.mailed == 1)
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())


# ---------------------------------------------------------------------------------------------
# What the digest channel and `thisday status` use


def active_addresses(store: Store, list_name: str = DEFAULT_LIST) -> list[str]:
    """The confirmed subscribers' addresses, sorted."""
    return [row.address for row in store.all(State.ACTIVE, list_name)]


def languages(store: Store, list_name: str = DEFAULT_LIST) -> dict[str, str]:
    """Each active subscriber's digest language, by (normalised) address."""
    return {row.address: row.language for row in store.all(State.ACTIVE, list_name)}


def excluded(store: Store, list_name: str = DEFAULT_LIST) -> set[str]:
    """Addresses never to mail (unsubscribed or suppressed), normalised: take them out of any fixed list too."""
    return {
        row.address
        for row in store.all(None, list_name)
        if row.state in (State.UNSUBSCRIBED, State.SUPPRESSED)
    }


def suppress(store: Store, address: str, reason: str, now: datetime.datetime) -> Subscriber:
    """Suppress ``address`` (e.g. the server answered 5xx at send time) with ``reason``."""
    return store.suppress(address, now, reason)


def counts(store: Store, list_name: str = DEFAULT_LIST) -> dict[str, int]:
    """``{"pending": n, "active": n, "unsubscribed": n, "suppressed": n}`` for ``thisday status``."""
    return {state.value: number for state, number in store.counts(list_name).items()}
