"""The digest channel: one message per recipient, each recipient its own ledger row, exactly once.

For a day: the digest is rendered once (:class:`thisday.digest.Digest`); each recipient is held in the ledger on
channel ``digest:<address>`` (:meth:`thisday.ledger.Ledger.hold`), marked ``sending`` just before the end of the
message's data (its final ".") goes to the server, and ``done``, ``refused`` (a 5xx), ``failed`` (anything that may pass: tried again on
the next run) or ``uncertain`` (the connection was lost after the data was sent, before the server's reply)
after. A day-level row ``digest`` records that the day's run is over; it is ``done`` only when every recipient
is served (done or refused) or uncertain, never while a recipient is still held by another process.

Recipients: ``digest.recipients`` plus ``digest.recipients_file``, each once.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import subscribers
from ..config import Settings
from ..digest import Digest
from ..errors import ConfigError, PublishError, ThisdayError
from ..ledger import Ledger, Status, digest_channel
from ..message import parse_address
from ..model import DaySelection
from ..newsletter import envelope_sender, open_store
from ..newsletter import unsubscribe_url as newsletter_unsubscribe_url
from ..schedule import digests_to_send
from ..selection import day_selection
from ..smtp import FAILED, SENT, SKIPPED, UNCERTAIN, Delivery, Mailer, smtp_password
from ..subscribers import Store
from ..views import site_languages
from . import GRACE, ChannelHealth, ChannelReport, Run, describe, due_days, unserved

DIGEST_CHANNEL = "digest"
"""The day-level digest row: done once the day's digest run is over (per-recipient rows say who got it)."""

log = logging.getLogger("thisday")


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


def fixed_recipients(settings: Settings) -> tuple[str, ...]:
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


def configured_recipients(settings: Settings, store: Store | None = None) -> tuple[str, ...]:
    """Who gets the digest: the fixed list plus the active subscribers, minus every address that unsubscribed or
    was suppressed (an unsubscribe applies to the fixed list too). Opens the subscriber store when not given."""
    fixed = fixed_recipients(settings)
    own = store is None
    if store is None:
        if not settings.digest.subscribe and not _store_exists(settings):
            return fixed
        store = open_store(settings)
    try:
        leaving = subscribers.excluded(store)
        everyone = dedupe([*fixed, *subscribers.active_addresses(store)])
    finally:
        if own:
            store.close()
    return tuple(a for a in everyone if a.strip().lower() not in leaving)


def _store_exists(settings: Settings) -> bool:
    """Whether subscribers were ever recorded (so a fixed-list site never needs a secret or a store)."""
    return (settings.state_dir / "secret").exists() or bool(os.environ.get("THISDAY_SECRET"))


def render(
    selection: DaySelection, settings: Settings, store: Store | None = None, *, language: str | None = None
) -> Digest:
    """The day's digest as it goes out: with each recipient's own signed unsubscribe link when the newsletter's
    endpoints are on (``digest.subscribe``), else with ``digest.unsubscribe_url``."""
    if not settings.digest.subscribe:
        return Digest.render(selection, settings, language=language)
    own = store is None
    store = store or open_store(settings)
    secret = store.secret
    if own:
        store.close()
    return Digest.render(
        selection,
        settings,
        language=language,
        unsubscribe_for=lambda address: newsletter_unsubscribe_url(settings, secret, address),
    )


# ---------------------------------------------------------------------------------------------
# The send


@dataclass(frozen=True)
class SendReport:
    """The outcome of one send: one :class:`Delivery` per recipient, or ``note`` when nothing was sent."""

    day: datetime.date
    deliveries: tuple[Delivery, ...] = ()
    note: str = ""
    stopped: tuple[str, ...] = ()
    """Recipients not tried because the send was asked to stop (SIGTERM) before their turn."""

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
        shown = [s for s in (SENT, FAILED, SKIPPED, UNCERTAIN) if s != UNCERTAIN or self.count(s)]
        return ", ".join(f"{self.count(s)} {s}" for s in shown)


    @property
    def settled(self) -> bool:
        """Every recipient is served, refused or uncertain: nobody is left for a later run to send to."""
        return not self.stopped and all(d.status in (SENT, UNCERTAIN) or (d.status == FAILED and d.permanent) or d.settled
                   for d in self.deliveries)


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
    store: Store | None = None,
    stop: Callable[[], bool] | None = None,
) -> SendReport:
    """Send the day's digest to each recipient (one message each) and report every outcome.

    With ``store`` (the subscriber store), a permanent refusal (5xx) suppresses the address for every later day,
    with the server's reply as the reason.

    With ``ledger`` (the scheduled send), each recipient is held first and recorded after, so a recipient
    already done for the day is skipped; ``force`` sends again to them. Without a ledger (a test send),
    nothing is recorded. A day with no entries is not sent unless ``send_empty``.
    ``clock`` gives aware datetimes: the message's Date and the ledger's times. ``after_each`` is called with each
    recipient's outcome once it is recorded. ``stop`` is asked before each recipient: when it says True, the
    send ends there (the message in flight is always finished) and the others are reported as ``stopped``.
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
    # each language's digest rendered once, before anyone is claimed: a broken template claims nobody
    chosen = subscribers.languages(store) if store is not None else {}
    offered = site_languages(settings)

    def language_of(address: str) -> str:
        code = chosen.get(address.strip().lower(), "")
        return code if code in offered else settings.site.language

    digests = {code: render(selection, settings, store, language=code) for code in {language_of(a) for a in addresses}}
    sender = envelope_sender(settings)
    now = clock()
    prepared = {code: digest.prepare(now) for code, digest in digests.items()}
    results: dict[str, Delivery] = {}
    pending = iter(addresses)
    lock = threading.Lock()
    pacer = Pacer(settings.smtp.rate, sleep=sleep)
    unreachable: list[str] = []

    def work(first: Mailer | None = None, limit: int | None = None) -> None:
        """One connection's worker: takes the next recipient until none is left (or ``limit`` are done)."""
        with first or Mailer(settings.smtp, password=password, sleep=sleep) as mailer:
            done = 0
            while limit is None or done < limit:
                with lock:
                    address = None if stop is not None and stop() else next(pending, None)
                if address is None:
                    return
                done += 1
                pacer.wait()
                if unreachable:  # another connection found the server unreachable after every retry
                    mailer.unreachable = unreachable[0]
                if ledger is None:
                    message = digests[language_of(address)].message(now, address, test=True)
                    delivery = mailer.send(message, address, sender)
                else:
                    code = language_of(address)
                    data = digests[code].message_bytes(prepared[code], now, address)
                    delivery = _send_held(ledger, mailer, day, address, data, sender, clock, force)
                if store is not None and ledger is not None and delivery.address_refused:
                    with lock:
                        subscribers.suppress(store, address, f"refused at send time: {delivery.detail}", clock())
                with lock:  # a hook that stops here (the test switches) holds every worker after its message
                    if mailer.unreachable and not unreachable:
                        unreachable.append(mailer.unreachable)
                    results[address] = delivery
                    if after_each is not None:
                        after_each(delivery)

    connections = max(1, min(settings.smtp.connections, len(addresses)))
    # the first message goes alone: more connections open only once the server has answered
    work(limit=1 if connections > 1 else None)
    if connections > 1 and not unreachable:
        with concurrent.futures.ThreadPoolExecutor(connections, thread_name_prefix="smtp") as pool:
            for future in [pool.submit(work) for _ in range(connections)]:
                future.result()  # a PublishError (login refused...) in any worker stops the send
    elif connections > 1:
        work()
    stopped = tuple(a for a in addresses if a not in results) if stop is not None and stop() else ()
    return SendReport(day, tuple(results[a] for a in addresses if a in results), stopped=stopped)


class Pacer:
    """At most ``rate`` messages a second across every connection (0: no limit), on the monotonic clock."""

    def __init__(self, rate: float, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)


def _send_held(
    ledger: Ledger,
    mailer: Mailer,
    day: datetime.date,
    address: str,
    data: bytes,
    sender: str,
    clock: Callable[[], datetime.datetime],
    force: bool,
) -> Delivery:
    with ledger.hold(day, digest_channel(address), clock, force=force) as held:
        if held is None:
            return _skipped(ledger, day, address)
        if mailer.unreachable:
            delivery = Delivery(address, FAILED, f"not tried: {mailer.unreachable}", 0)
            held.failed(delivery.detail)
            return delivery
        delivery = mailer.send(data, address, sender, before_data=held.sending)
        if delivery.status == SENT:
            tries = "1 try" if delivery.attempts == 1 else f"{delivery.attempts} tries"
            held.done(f"sent ({tries})")
        elif delivery.status == UNCERTAIN:
            held.uncertain(
                f"{delivery.detail}; not sent again automatically (resend with thisday send DATE --force --to "
                f"{address})"
            )
        elif delivery.status == SKIPPED:  # the claim was taken over before the data went out
            return _skipped(ledger, day, address)
        elif delivery.permanent:
            held.refused(delivery.detail)
        else:
            held.failed(delivery.detail)
        return delivery


def _skipped(ledger: Ledger, day: datetime.date, address: str) -> Delivery:
    record = ledger.get(day, digest_channel(address))
    if record is not None and record.finished_at is not None:
        when = record.finished_at.strftime("%Y-%m-%d %H:%M UTC")
        if record.status is Status.DONE:
            return Delivery(address, SKIPPED, f"already sent at {when} (--force sends again)", settled=True)
        if record.status is Status.REFUSED:
            return Delivery(
                address,
                SKIPPED,
                f"refused by the server at {when}: {record.detail} (--force tries again)",
                settled=True,
            )
        if record.status is Status.UNCERTAIN:
            return Delivery(
                address, SKIPPED, f"delivery uncertain since {when} (--force sends again)", settled=True
            )
    return Delivery(address, SKIPPED, "being sent by another thisday process")


# ---------------------------------------------------------------------------------------------
# The channel


def send_day(
    settings: Settings,
    selection: DaySelection,
    ledger: Ledger,
    *,
    clock: Callable[[], datetime.datetime],
    to: Iterable[str] = (),
    force: bool = False,
    after_each: Callable[[Delivery], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> SendReport:
    """``thisday send``: the day's digest to the configured recipients (or to ``to``, with ``force``), through the
    ledger, as the daemon sends it. A send to everyone that leaves nobody unserved records the day as done, so
    the cron way (``thisday build`` then ``thisday send`` from a timer) reads as published in ``thisday status``."""
    store = open_store(settings) if settings.digest.subscribe or _store_exists(settings) else None
    try:
        named = tuple(to)
        recipients = named or configured_recipients(settings, store)
        report = send_digest(
            selection, settings, recipients, clock=clock, ledger=ledger, force=force, after_each=after_each,
            store=store, stop=stop,
        )
    finally:
        if store is not None:
            store.close()
    if not named and report.settled:
        with ledger.hold(selection.on, DIGEST_CHANNEL, clock, force=True) as held:
            if held is not None:
                held.done(report.summary())
    return report


class DigestChannel:
    """The email digest, sent to every configured recipient once a day (``digest.catch_up`` after downtime)."""

    name = DIGEST_CHANNEL

    def __init__(self, recipients: tuple[str, ...] | None = None) -> None:
        self._recipients = recipients

    def recipients(self, run: Run, store: Store | None = None) -> tuple[str, ...]:
        if self._recipients is not None:
            return self._recipients
        return configured_recipients(run.settings, store)

    @staticmethod
    def _store(run: Run) -> Store | None:
        settings = run.settings
        return open_store(settings) if settings.digest.subscribe or _store_exists(settings) else None

    def publish_due(self, run: Run) -> ChannelReport:
        report = ChannelReport(self.name)
        try:
            store = self._store(run)
        except ThisdayError as exc:
            report.error(run.latest, exc)
            return report
        try:
            return self._publish_due(run, report, store)
        finally:
            if store is not None:
                store.close()

    def _publish_due(self, run: Run, report: ChannelReport, store: Store | None) -> ChannelReport:
        settings, ledger = run.settings, run.ledger
        try:
            recipients = self.recipients(run, store)
        except ThisdayError as exc:  # a broken recipients file must not stop the other channels
            report.error(run.latest, exc)
            return report
        if not recipients:
            return report
        due = due_days(run, DIGEST_CHANNEL)
        to_send = digests_to_send(run.daily, run.now, due, settings.digest.catch_up)
        new_install = ledger.first(DIGEST_CHANNEL) is None
        if new_install:  # a first digest is today's (once due), never one for a day before thisday was set up
            to_send = [day for day in to_send if day == run.daily.local_day(run.now)]
        sends: list[SendReport] = []
        report.detail = sends
        for day in due:
            with ledger.hold(day, DIGEST_CHANNEL, run.stamp) as held:
                if held is None:
                    continue
                if day not in to_send:
                    why = (
                        "before thisday was set up to send digests"
                        if new_install
                        else f"digest.catch_up is {settings.digest.catch_up!r}"
                    )
                    held.done(f"skipped: {why}")
                    log.info("%s: digest: skipped (%s)", day.isoformat(), why)
                    continue
                try:
                    selection = day_selection(run.load([day]).index, day, settings)
                    sent = send_digest(
                        selection,
                        settings,
                        recipients,
                        clock=run.stamp,
                        ledger=ledger,
                        after_each=run.hooks.after_message,
                        store=store,
                    )
                except ThisdayError as exc:
                    held.failed(str(exc))
                    report.error(day, exc)
                    continue
                sends.append(sent)
                summary = sent.summary()
                failed = "; ".join(f"{d.address}: {d.detail}" for d in sent.deliveries if d.status == FAILED)
                if sent.settled:
                    refused = f" (refused: {failed})" if failed else ""
                    held.done(summary + refused)
                    report.published.append(day)
                    log.info("%s: digest: %s%s", day.isoformat(), summary, refused)
                else:
                    held.failed(f"{summary} ({failed or 'recipients held by another process'})")
                    report.error(day, f"{summary} ({failed or 'recipients held by another process'})")
        return report

    def health(self, run: Run) -> ChannelHealth:
        try:
            store = self._store(run)
            try:
                recipients = self.recipients(run, store)
                counts = subscribers.counts(store) if store is not None else {}
            finally:
                if store is not None:
                    store.close()
        except ThisdayError as exc:
            return ChannelHealth(("digest:     " + str(exc),), (f"digest: {exc}",))
        subscribed = (
            "subscribers: " + ", ".join(f"{number} {state}" for state, number in counts.items()) if counts else ""
        )
        if not recipients:
            return ChannelHealth(("digest:     no recipients", *([subscribed] if subscribed else [])))
        ledger, zone, latest = run.ledger, run.settings.zone, run.latest
        last = ledger.last(DIGEST_CHANNEL, status=None)
        lines = [f"{'digest:':<11} {describe(last, zone) if last else 'never published'}"]
        failures: list[str] = []
        overdue = run.now - run.daily.due(latest) > GRACE
        day_row = ledger.get(latest, DIGEST_CHANNEL)
        rows = {r.channel: r for r in ledger.records(latest, "digest:")}
        skipped_day = day_row is not None and day_row.status is Status.DONE and day_row.detail.startswith("skipped")
        missing = [a for a in recipients if digest_channel(a) not in rows]
        if day_row is not None and (day_row.status is Status.FAILED or unserved([day_row], run.now)):
            failures.append(f"digest for {latest.isoformat()} {day_row.status.value}: {day_row.detail}")
        bad = unserved(rows.values(), run.now)
        for record in bad:
            failures.append(
                f"{record.channel.removeprefix('digest:')} for {latest.isoformat()} {record.status.value}"
                + (f": {record.detail}" if record.detail else "")
            )
        day_over = day_row is not None and day_row.status is Status.DONE  # later subscribers wait for the next day
        if missing and overdue and not skipped_day and not day_over:
            failures.append(
                f"digest for {latest.isoformat()} not sent to {len(missing)} of {len(recipients)} recipient(s)"
            )
        served = sum(1 for r in rows.values() if r.status in (Status.DONE, Status.REFUSED))
        lines.append(
            f"  {latest.isoformat()}: {served} of {len(recipients)} recipient(s) served"
            + (f", {len(bad)} not served" if bad else "")
        )
        if subscribed:
            lines.append("  " + subscribed)
        if len(recipients) <= 20:  # a long list is summed up above, never printed address by address
            for address in recipients:
                row = rows.get(digest_channel(address)) or ledger.last(digest_channel(address), status=None)
                lines.append(f"  {address}: {describe(row, zone) if row else 'nothing sent yet'}")
        return ChannelHealth(tuple(lines), tuple(failures))
