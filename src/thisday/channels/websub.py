"""The WebSub channel: tell the hub (``site.websub_hub``) which feeds changed, so subscribers get them at once.

After a build, each feed file in ``feeds/`` (every configured feed as Atom, RSS and JSON Feed) is compared with
what the hub was last told: the ledger holds a row per (day, ``websub:<file>:<sha256 of its bytes>``). A file
whose current bytes have a ``done`` row on any day was pinged already, and a repeated identical build pings
nothing; otherwise the row is held (:meth:`thisday.ledger.Ledger.hold`) and the hub gets a WebSub publish
ping, ``hub.mode=publish`` and ``hub.url=<the feed's URL>`` (form-encoded POST; any 2xx answer is success).
A failed ping (network error, timeout, an answer other than 2xx) marks the row ``failed``, and the next run
pings again. Without ``site.websub_hub`` the channel does nothing.
"""

from __future__ import annotations

import hashlib
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from ..config import Settings
from ..layout import FEED_FORMATS, feed_path, feed_url, published_feeds
from ..ledger import Status
from . import ChannelHealth, ChannelReport, Run, describe

log = logging.getLogger("thisday")

WEBSUB_CHANNEL = "websub"
PING_FORMATS = (*FEED_FORMATS, "json")


class PingError(Exception):
    """The hub could not be told (the reason, for the ledger and the log)."""


@dataclass(frozen=True)
class FeedFile:
    """A feed file as it is now in ``feeds/``: its path in the site, its public URL and its content's hash."""

    path: str
    url: str
    sha256: str

    @property
    def channel(self) -> str:
        """The ledger channel of this content: ``websub:onthisday.atom:<sha256>``."""
        return f"{WEBSUB_CHANNEL}:{self.path}:{self.sha256}"


def feed_files(settings: Settings) -> list[FeedFile]:
    """Every feed file of the site that exists in ``feeds/``, in configuration order (Atom, RSS, JSON Feed)."""
    found = []
    for feed in published_feeds(settings):
        for fmt in PING_FORMATS:
            path = feed_path(feed, fmt)
            try:
                data = (settings.feeds_dir / path).read_bytes()
            except OSError:
                continue
            found.append(FeedFile(path, feed_url(settings, feed, fmt), hashlib.sha256(data).hexdigest()))
    return found


def ping(hub: str, url: str, timeout: float = 10.0) -> int:
    """POST a WebSub publish notification for ``url`` to ``hub``; the answer's status, or :class:`PingError`."""
    body = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": url}).encode("ascii")
    request = urllib.request.Request(
        hub,
        data=body,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "thisday"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            status: int = response.status
    except urllib.error.HTTPError as exc:
        raise PingError(f"the hub {hub} answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PingError(f"cannot reach the hub {hub}: {reason}") from None
    if not 200 <= status < 300:
        raise PingError(f"the hub {hub} answered {status}")
    return status


class WebSubChannel:
    """Pings ``site.websub_hub`` for each feed file whose bytes it has not announced yet (see the module)."""

    name = WEBSUB_CHANNEL

    def __init__(self, send: Callable[[str, str], int] = ping) -> None:
        self.send = send

    def _announced(self, run: Run, file: FeedFile) -> bool:
        return any(r.status is Status.DONE for r in run.ledger.records(channel_prefix=file.channel))

    def publish_due(self, run: Run) -> ChannelReport:
        report = ChannelReport(self.name)
        hub = run.settings.site.websub_hub
        if not hub:
            return report
        day = run.latest
        for file in feed_files(run.settings):
            if self._announced(run, file):
                continue
            with run.ledger.hold(day, file.channel, run.stamp) as hold:
                if hold is None:  # another process holds it, or it is refused
                    continue
                try:
                    status = self.send(hub, file.url)
                except PingError as exc:
                    hold.failed(str(exc))
                    report.error(day, f"{file.path}: {exc}")
                    continue
                hold.done(f"hub {hub} answered {status} for {file.url}")
                report.lines.append(f"told {hub} that {file.path} changed")
                log.info("%s: websub: pinged %s for %s", day.isoformat(), hub, file.url)
        if report.lines and day not in report.published:
            report.published.append(day)
        return report

    def health(self, run: Run) -> ChannelHealth:
        if not run.settings.site.websub_hub:
            return ChannelHealth((f"{'websub:':<11} no hub configured",))
        zone = run.settings.zone
        last = max(
            run.ledger.records(channel_prefix=f"{WEBSUB_CHANNEL}:"),
            key=lambda r: r.finished_at or r.claimed_at,
            default=None,
        )
        lines = (f"{'websub:':<11} {describe(last, zone) if last else 'never pinged'}",)
        failures = []
        for file in feed_files(run.settings):
            records = run.ledger.records(channel_prefix=file.channel)
            if records and not any(r.status is Status.DONE for r in records):
                failures.append(f"websub ping for {file.path} {records[-1].status.value}: {records[-1].detail}")
        return ChannelHealth(lines, tuple(failures))

