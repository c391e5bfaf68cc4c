"""``thisday subscribers ...`` and ``thisday bounce``: thin commands over :mod:`thisday.subscribers`,
:mod:`thisday.newsletter` and :mod:`thisday.bounces`. Registered on the main group in :mod:`thisday.cli`.

The clock is read here (``now``), as in the rest of the CLI.
"""

from __future__ import annotations

import csv
import datetime
import io
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from .cliutil import handle_errors
from .config import Settings, load_settings
from .errors import ThisdayError

F = TypeVar("F", bound=Callable[..., Any])
STATES = ("pending", "active", "unsubscribed", "suppressed")
EMAIL_COLUMNS = ("email", "e-mail", "email address", "address", "mail")
EX_TEMPFAIL = 75
"""Exit status asking the MTA to try the delivery to ``thisday bounce`` again later."""


def _settings() -> Settings:
    """The settings the main group loaded (its context object has ``.settings``), else the defaults."""
    obj = click.get_current_context().find_root().obj
    settings = getattr(obj, "settings", None)
    return settings if isinstance(settings, Settings) else load_settings(None)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _when(moment: datetime.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


@click.group()
def subscribers() -> None:
    """Manage the digest's subscribers (stored beside the ledger).

    States: pending (asked, not confirmed), active (receives the digest), unsubscribed, suppressed (bounced).
    """


@subscribers.command("add")
@click.argument("addresses", nargs=-1, required=True)
@click.option(
    "--confirmed", is_flag=True, help="They already agreed: make them active without a confirmation mail."
)
@handle_errors
def add_command(addresses: tuple[str, ...], confirmed: bool) -> None:
    """Add ADDRESS...; without --confirmed each gets a confirmation mail and stays pending until it confirms."""
    from . import newsletter
    from .subscribers import State, SubscriberError

    settings = _settings()
    if not confirmed:
        newsletter.require_subscribing(settings)
    env = newsletter.template_environment(settings)
    bad = 0
    with newsletter.open_store(settings) as store:
        for text in addresses:
            now = _now()
            try:
                if confirmed:
                    row, changed = store.add_confirmed(text, now, source="command")
                    click.echo(f"{row.address}: {'active' if changed else 'already active'}")
                    continue
                row = store.request(text, now, source="command")
            except SubscriberError as exc:
                click.echo(f"{text}: {exc}", err=True)
                bad += 1
                continue
            if row.state != State.PENDING:
                hint = " (unsuppress it first)" if row.state == State.SUPPRESSED else ""
                click.echo(f"{row.address}: already {row.state.value}, no mail sent{hint}")
            elif not newsletter.claim_confirmation_mail(settings, store, row.address, None, now):
                click.echo(
                    f"{row.address}: pending; a confirmation mail went out within the hour (or the day's limit is reached), none sent now"
                )
            else:
                sent = newsletter.send_confirmation(settings, store, env, row.address, now, os.environ)
                click.echo(
                    f"{row.address}: pending, {'confirmation mail sent' if sent else 'confirmation mail NOT sent (see the log)'}"
                )
                bad += 0 if sent else 1
    if bad:
        sys.exit(1)


@subscribers.command("remove")
@click.argument("addresses", nargs=-1, required=True)
@handle_errors
def remove_command(addresses: tuple[str, ...]) -> None:
    """Unsubscribe ADDRESS... on their behalf (the record stays; `forget` deletes it)."""
    from .newsletter import open_store

    missing = 0
    with open_store(_settings()) as store:
        for text in addresses:
            if store.get(text) is None:
                click.echo(f"{text}: not in the subscriber store", err=True)
                missing += 1
                continue
            row = store.unsubscribe(text, _now(), "removed by the operator")
            click.echo(f"{row.address}: unsubscribed")
    if missing:
        sys.exit(1)


@subscribers.command("list")
@click.option("--state", type=click.Choice(STATES), default=None, help="Only subscribers in this state.")
@handle_errors
def list_command(state: str | None) -> None:
    """List subscribers (address, state, how added, when confirmed), then the count of each state."""
    from .newsletter import open_store
    from .subscribers import State

    with open_store(_settings()) as store:
        rows = store.all(State(state) if state else None)
        counts = store.counts()
    for row in rows:
        added = f"{row.added_source} {_when(row.added_at)}" + (
            f" from {row.added_ip}" if row.added_ip else ""
        )
        confirmed = f"confirmed {_when(row.confirmed_at)}" if row.confirmed_at else "not confirmed"
        reason = f"  ({row.reason})" if row.reason else ""
        click.echo(f"{row.address}  {row.state.value}  added by {added}, {confirmed}{reason}")
    click.echo(", ".join(f"{number} {found.value}" for found, number in counts.items()))


@dataclass(frozen=True)
class ImportLine:
    line: int
    text: str
    result: str
    ok: bool


def read_import(text: str) -> list[tuple[int, str]]:
    """(line number, address text) from one address a line (``#`` comments), or CSV with an email column."""
    lines = text.splitlines()
    first = next(((n, line) for n, line in enumerate(lines, 1) if line.strip()), None)
    if first is None:
        return []
    header = next(csv.reader([first[1]]))
    columns = [c.strip().lower() for c in header]
    column = next((columns.index(name) for name in EMAIL_COLUMNS if name in columns), None)
    if column is None:
        if len(header) > 1:
            raise ThisdayError(
                f"line {first[0]}: a CSV file needs a column named email (found: {', '.join(header)[:200]}); "
                "rename the column or give one address a line"
            )
        return [
            (n, line.split("#", 1)[0].strip())
            for n, line in enumerate(lines, 1)
            if line.split("#", 1)[0].strip()
        ]
    rows = []
    reader = csv.reader(io.StringIO("\n".join(lines[first[0] :])))
    for offset, record in enumerate(reader):
        number = first[0] + 1 + offset
        if not record or not any(field.strip() for field in record):
            continue
        rows.append((number, record[column].strip() if column < len(record) else ""))
    return rows


@subscribers.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@handle_errors
def import_command(file: Path) -> None:
    """Import FILE as active subscribers (people who already agreed): one address a line, or CSV with an
    email column. Each line is reported; unsubscribed and suppressed addresses are never brought back."""
    from .newsletter import open_store
    from .subscribers import State, SubscriberError, normalise

    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ThisdayError(
            f"{file}: cannot read it ({getattr(exc, 'strerror', None) or exc}); give a UTF-8 text or CSV file"
        ) from None
    try:
        rows = read_import(text)
    except (ThisdayError, csv.Error) as exc:
        raise ThisdayError(f"{file}: {exc}") from None
    seen: dict[str, int] = {}
    imported = problems = 0
    with open_store(_settings()) as store:
        for number, raw in rows:
            where = f"{file}:{number}"
            try:
                address = normalise(raw)
            except SubscriberError as exc:
                click.echo(f"{where}: not imported: {exc}")
                problems += 1
                continue
            if address in seen:
                click.echo(f"{where}: not imported: {address} is already on line {seen[address]}")
                problems += 1
                continue
            seen[address] = number
            before = store.get(address)
            if before is not None and before.state in (State.UNSUBSCRIBED, State.SUPPRESSED):
                click.echo(
                    f"{where}: not imported: {address} is {before.state.value} ({before.reason or 'no reason given'})"
                )
                problems += 1
                continue
            if before is not None and before.state == State.ACTIVE:
                click.echo(f"{where}: {address} is already active")
                continue
            store.add_confirmed(address, _now(), source="import", reactivate=False)
            click.echo(f"{where}: imported {address}")
            imported += 1
    click.echo(
        f"{imported} imported, {problems} not imported, {len(rows) - imported - problems} already active"
    )


@subscribers.command("export")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write to FILE (default: standard output).",
)
@handle_errors
def export_command(output: Path | None) -> None:
    """Every subscriber record as CSV (UTF-8): address, state, list, language, how and when added and confirmed."""
    from .newsletter import open_store

    with open_store(_settings()) as store:
        rows = store.all(None, None)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "email",
            "state",
            "list",
            "language",
            "added_at",
            "added_source",
            "added_ip",
            "confirmed_at",
            "confirmed_source",
            "confirmed_ip",
            "changed_at",
            "reason",
        ]
    )
    for row in rows:
        writer.writerow(
            [
                row.address,
                row.state.value,
                row.list,
                row.language,
                row.added_at.isoformat(),
                row.added_source,
                row.added_ip or "",
                row.confirmed_at.isoformat() if row.confirmed_at else "",
                row.confirmed_source or "",
                row.confirmed_ip or "",
                row.changed_at.isoformat(),
                row.reason,
            ]
        )
    if output is None:
        click.echo(buffer.getvalue(), nl=False)
        return
    try:
        output.write_text(buffer.getvalue(), encoding="utf-8")
    except OSError as exc:
        raise ThisdayError(f"{output}: cannot write the export ({exc.strerror or exc})") from None
    click.echo(f"{len(rows)} subscribers written to {output}", err=True)


@subscribers.command("suppress")
@click.argument("address")
@click.option("--reason", required=True, help="Why (kept with the record).")
@handle_errors
def suppress_command(address: str, reason: str) -> None:
    """Never mail ADDRESS again (whether a subscriber or on the fixed recipient list)."""
    from .newsletter import open_store

    with open_store(_settings()) as store:
        row = store.suppress(address, _now(), reason)
    click.echo(f"{row.address}: suppressed ({reason})")


@subscribers.command("unsuppress")
@click.argument("address")
@handle_errors
def unsuppress_command(address: str) -> None:
    """Lift a suppression: a confirmed subscriber is active again."""
    from .newsletter import open_store

    with open_store(_settings()) as store:
        row = store.unsuppress(address, _now())
    click.echo(f"{address}: {'active again' if row else 'no longer suppressed (it had no subscription)'}")


@subscribers.command("forget")
@click.argument("address")
@handle_errors
def forget_command(address: str) -> None:
    """Delete every personal record of ADDRESS: its subscription, request log and digest ledger rows."""
    from .ledger import Ledger, digest_channel
    from .newsletter import open_store
    from .subscribers import normalise

    settings = _settings()
    normalised = normalise(address)
    with open_store(settings) as store:
        rows = store.delete(normalised)
    with Ledger.from_settings(settings) as ledger:
        deliveries = ledger.forget(digest_channel(normalised))
    click.echo(f"{normalised}: forgotten ({rows} subscription record(s), {deliveries} ledger row(s) deleted)")


@click.command("bounce")
@click.option(
    "--mailbox",
    "mailbox_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Read every message of an mbox file or Maildir folder instead of one message on standard input.",
)
def bounce(mailbox_path: Path | None) -> None:
    """Read bounces and complaints: a permanent failure (RFC 3464) suppresses the recipient, an abuse report
    (RFC 5965) unsubscribes them, anything else is left alone. One report line per message.

    For an MTA alias: bounces: "|thisday bounce". Exits 75 (try again later) when the store cannot be reached.
    """
    from . import bounces
    from .newsletter import open_store

    try:
        store = open_store(_settings())
    except ThisdayError as exc:
        click.echo(f"thisday: error: {exc}", err=True)
        sys.exit(EX_TEMPFAIL if mailbox_path is None else 1)
    with store:
        try:
            if mailbox_path is None:
                data = sys.stdin.buffer.read(bounces.MAX_MESSAGE + 1)
                click.echo(bounces.process(store, data, _now()))
                return
            for line in bounces.process_mailbox(store, mailbox_path, _now()):
                click.echo(line)
        except ThisdayError as exc:
            click.echo(f"thisday: error: {exc}", err=True)
            sys.exit(EX_TEMPFAIL if mailbox_path is None else 1)
