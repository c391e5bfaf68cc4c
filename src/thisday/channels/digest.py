"""The digest channel: one message per recipient, each recipient its own ledger row, exactly once.

For a day: the digest is rendered once (:class:`thisday.digest.Digest`); each recipient is held in the ledger on
channel ``digest:<address>`` (:meth:`thisday.ledger.Ledger.hold`), marked ``sending`` just before the message's
data goes to the server, and ``done``, ``refused`` (a 5xx), ``failed`` (anything that may pass: tried again on
the next run) or ``uncertain`` (the connection was lost after the data was sent, before the server's reply)
after. A day-level row ``digest`` records that the day's run is over; it is ``done`` only when every recipient
is served (done or refused) or uncertain, never while a recipient is still held by another process.

Recipients: ``digest.recipients`` plus ``digest.recipients_file``, each once.
"""

from __future__ import annotations

import datetime
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..digest import Digest
from ..errors import ConfigError, PublishError, ThisdayError
from ..ledger import Ledger, Status, digest_channel
from ..message import parse_address
from ..model import DaySelection
from ..schedule import digests_to_send
from ..selection import day_selection
from ..smtp import FAILED, SENT, SKIPPED, UNCERTAIN, Delivery, Mailer, smtp_password
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
    stop: Callable[[], bool] | None = None,
) -> SendReport:
    """Send the day's digest to each recipient (one message each) and report every outcome.

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
    digest = Digest.render(selection, settings)  # once, before anyone is claimed: a broken template claims nobody
    sender = digest.sender.addr_spec
    now = clock()
    deliveries: list[Delivery] = []
    stopped: tuple[str, ...] = ()
    with Mailer(settings.smtp, password=password, sleep=sleep) as mailer:
        for number, address in enumerate(addresses):
            if stop is not None and stop():
                stopped = tuple(addresses[number:])
                break
            if ledger is None:
                delivery = mailer.send(digest.message(now, address, test=True), address, sender)
            else:
                delivery = _send_held(ledger, mailer, digest, address, sender, now, clock, force)
            deliveries.append(delivery)
            if after_each is not None:
                after_each(delivery)
    return SendReport(day, tuple(deliveries), stopped=stopped)


def _send_held(
    ledger: Ledger,
    mailer: Mailer,
    digest: Digest,
    address: str,
    sender: str,
    now: datetime.datetime,
    clock: Callable[[], datetime.datetime],
    force: bool,
) -> Delivery:
    day = digest.day.on
    with ledger.hold(day, digest_channel(address), clock, force=force) as held:
        if held is None:
            return _skipped(ledger, day, address)
        if mailer.unreachable:
            delivery = Delivery(address, FAILED, f"not tried: {mailer.unreachable}", 0)
            held.failed(delivery.detail)
            return delivery
        delivery = mailer.send(digest.message(now, address), address, sender, before_data=held.sending)
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


class DigestChannel:
    """The email digest, sent to every configured recipient once a day (``digest.catch_up`` after downtime)."""

    name = DIGEST_CHANNEL

    def __init__(self, recipients: tuple[str, ...] | None = None) -> None:
        self._recipients = recipients

    def recipients(self, run: Run) -> tuple[str, ...]:
        return self._recipients if self._recipients is not None else configured_recipients(run.settings)

    def publish_due(self, run: Run) -> ChannelReport:
        report = ChannelReport(self.name)
        settings, ledger = run.settings, run.ledger
        try:
            recipients = self.recipients(run)
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
            recipients = self.recipients(run)
        except ThisdayError as exc:
            return ChannelHealth(("digest:     " + str(exc),), (f"digest: {exc}",))
        if not recipients:
            return ChannelHealth(("digest:     no recipients configured",))
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
        if missing and overdue and not skipped_day and not (day_row and day_row.detail.startswith("nothing")):
            failures.append(
                f"digest for {latest.isoformat()} not sent to {len(missing)} of {len(recipients)} recipient(s)"
            )
        served = sum(1 for r in rows.values() if r.status in (Status.DONE, Status.REFUSED))
        lines.append(
            f"  {latest.isoformat()}: {served} of {len(recipients)} recipient(s) served"
            + (f", {len(bad)} not served" if bad else "")
        )
        for address in recipients:
            row = rows.get(digest_channel(address)) or ledger.last(digest_channel(address), status=None)
            lines.append(f"  {address}: {describe(row, zone) if row else 'nothing sent yet'}")
        return ChannelHealth(tuple(lines), tuple(failures))
