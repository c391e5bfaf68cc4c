"""Social channels: which are configured (Mastodon, Bluesky, webhooks), and what the runner and the CLI call.

The shared machinery of a posting channel (schedule, ledger rows per post, catch-up, threading) is in
:mod:`thisday.channels.posting`; each service's client is its own module (``mastodon``, ``bluesky``,
``webhook``), and this module only assembles them.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Callable

from ..config import BlueskySettings, MastodonSettings, Settings
from ..errors import ConfigError
from ..markup import tag_slug
from ..model import DaySelection
from . import Channel, ChannelReport, Run, bluesky, mastodon, webhook
from .posting import SocialChannel, first_time, post_times
from .transport import Section

__all__ = [
    "SocialChannel",
    "enabled_channels",
    "find_channel",
    "first_time",
    "narrow",
    "post_day",
    "post_times",
    "preview",
]


# ---------------------------------------------------------------------------------------------
# What the runner and the CLI call


def enabled_channels(settings: Settings, sleep: Callable[[float], None] = time.sleep) -> list[Channel]:
    """The social channels ``settings`` turn on: Mastodon, Bluesky, then each webhook (in file order)."""
    return list(_channels(settings, sleep))


def _channels(settings: Settings, sleep: Callable[[float], None] = time.sleep) -> list[SocialChannel]:
    found: list[SocialChannel] = []
    if settings.mastodon is not None:
        found.append(mastodon.channel(settings.mastodon, sleep))
    if settings.bluesky is not None:
        found.append(bluesky.channel(settings.bluesky, sleep))
    found.extend(webhook.channel(hook, sleep) for hook in settings.webhooks)
    return found


def find_channel(settings: Settings, name: str, sleep: Callable[[float], None] = time.sleep) -> SocialChannel:
    """The configured channel called ``name`` (``mastodon``, ``bluesky``, ``webhook:NAME`` or a webhook's name)."""
    channels = _channels(settings, sleep)
    for candidate in channels:
        if name in (candidate.name, candidate.name.removeprefix("webhook:")):
            return candidate
    known = ", ".join(c.name for c in channels) or "none is configured"
    raise ConfigError(
        f"no social channel named {name!r} (configured: {known}); add a [mastodon], [bluesky] or "
        "[[webhooks]] table to thisday.toml"
    )


def narrow(selection: DaySelection, section: Section) -> DaySelection:
    """``selection`` kept to the channel's ``kinds`` and ``tags`` (as :func:`thisday.selection.select` filters)."""
    tags = {tag_slug(t) for t in section.tags}
    kept = tuple(
        o
        for o in selection.occurrences
        if (not section.kinds or o.entry.kind in section.kinds) and (not tags or tags.intersection(o.entry.tags))
    )
    return dataclasses.replace(selection, occurrences=kept)


def preview(settings: Settings, selection: DaySelection, channel_name: str) -> str:
    """``thisday preview DATE --format mastodon|bluesky|webhook:NAME``: the day's posts as they would go out.

    ``selection`` is the day's whole selection; the channel's ``kinds`` and ``tags`` are applied here. A channel
    that is not configured is previewed with default settings (Mastodon's default 500 characters).
    """
    try:
        found = find_channel(settings, channel_name)
    except ConfigError:
        if channel_name == "mastodon":
            found = mastodon.channel(MastodonSettings(instance="https://mastodon.invalid"), time.sleep)
        elif channel_name == "bluesky":
            found = bluesky.channel(BlueskySettings(handle="preview.invalid"), time.sleep)
        else:
            raise
    return found.preview(settings, narrow(selection, found.section))


def post_day(run: Run, day: datetime.date, channel_name: str, dry_run: bool) -> ChannelReport:
    """``thisday post DATE --channel NAME [--dry-run]``: post (or show) one day's posts now, through the ledger.

    Posts already done are not posted again; the day's times and the catch-up policy do not apply.
    """
    return find_channel(run.settings, channel_name).post_day(run, day, dry_run)
