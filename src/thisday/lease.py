"""Leases on ledger claims: a claim's holder vouches, every few seconds, that it is still at work.

Each claim carries ``lease_until``, set to the database's own clock plus :data:`DEFAULT_LEASE` when it is made
and pushed forward by a :class:`Renewer` thread of the holding process every third of that, for as long as
the claim is held. When the holder dies (SIGKILL, power loss, a host gone for good, a network cut), nobody
renews it, and once ``lease_until`` has passed any process on any host may settle the claim: ``claimed``
becomes ``failed`` (it never reached the point of no return: safe to do again), ``sending`` becomes
``uncertain`` (never sent again automatically). The times are the database server's, so clocks that differ
between hosts do not matter. An expired lease of a process that is in fact alive (stalled for longer than the
lease) costs nothing worse: its claim token no longer matches, so it can neither mark the row sending nor
done, and it sends nothing.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping

from sqlalchemy import ColumnElement, DateTime, func, literal_column
from sqlalchemy.sql.expression import type_coerce

DEFAULT_LEASE = 30.0
"""Seconds a claim stays vouched for without renewal; a dead holder's claim is free this long after it died."""

LEASE_ENV = "THISDAY_LEASE_SECONDS"
"""Overrides :data:`DEFAULT_LEASE` (at least 1 second)."""

log = logging.getLogger("thisday")


def lease_seconds(environ: Mapping[str, str] | None = None) -> float:
    """The lease length: ``THISDAY_LEASE_SECONDS`` when set to a number >= 1, else :data:`DEFAULT_LEASE`."""
    text = (os.environ if environ is None else environ).get(LEASE_ENV, "").strip()
    if not text:
        return DEFAULT_LEASE
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value < 1:
        from .errors import ConfigError

        raise ConfigError(f"{LEASE_ENV}={text!r} must be a number of seconds, at least 1 (default {DEFAULT_LEASE:g})")
    return value


def db_now(dialect: str) -> ColumnElement[object]:
    """The database server's current time, as naive UTC (compared only with :func:`db_later` values)."""
    if dialect == "postgresql":
        return type_coerce(func.timezone("UTC", func.clock_timestamp()), DateTime)
    if dialect == "sqlite":
        return type_coerce(func.strftime("%Y-%m-%d %H:%M:%f", "now"), DateTime)
    return type_coerce(func.current_timestamp(), DateTime)


def db_later(dialect: str, seconds: float) -> ColumnElement[object]:
    """The database server's time ``seconds`` from now."""
    if dialect == "postgresql":
        return type_coerce(
            func.timezone("UTC", func.clock_timestamp()) + literal_column(f"interval '{float(seconds):.3f} seconds'"),
            DateTime,
        )
    if dialect == "sqlite":
        return type_coerce(func.strftime("%Y-%m-%d %H:%M:%f", "now", f"+{float(seconds):.3f} seconds"), DateTime)
    return type_coerce(func.current_timestamp(), DateTime)


class Renewer:
    """A daemon thread calling ``renew`` every ``every`` seconds until :meth:`stop`; errors are logged, never
    raised (a database that is down for a while is renewed again once it is back, if the lease has not run out)."""

    def __init__(self, renew: Callable[[], object], every: float) -> None:
        self._renew = renew
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="thisday-lease", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._renew()
            except Exception as exc:  # the database may be down for a moment: the next round tries again
                log.debug("could not renew the ledger's leases: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
