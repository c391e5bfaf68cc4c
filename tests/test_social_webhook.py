"""Webhooks through loopback receivers: a Standard Webhooks consumer, Discord and Slack with their limits."""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.base import Fault
from fakes.runs import at, make_run, settings, write_entries
from fakes.webhooks import FakeReceivers
from thisday.channels import webhook
from thisday.channels.social import SocialChannel, enabled_channels, post_day, preview
from thisday.config import WebhookSettings
from thisday.ledger import Status
from thisday.selection import day_selection

DAY = datetime.date(2026, 7, 12)
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@pytest.fixture
def receivers(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeReceivers]:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    with FakeReceivers(SECRET) as fake:
        yield fake


def hook(fake: FakeReceivers, fmt: str = "json", **changes: object) -> WebhookSettings:
    values: dict[str, object] = {
        "name": fmt,
        "url": f"{fake.url}/{fmt}",
        "format": fmt,
        "secret_env": "HOOK_SECRET" if fmt == "json" else "",
        "retry_delay": 0.0,
        "timeout": 5.0,
    }
    values.update(changes)
    return WebhookSettings(**values)  # type: ignore[arg-type]


def channel_for(section: WebhookSettings, sleeps: list[float] | None = None) -> SocialChannel:
    return webhook.channel(section, (sleeps if sleeps is not None else []).append)


def many_entries(tmp_path: Path, count: int) -> Path:
    """``count`` entries on 12 July with long titles and bodies, one with a mention and markup in its title."""
    items = [
        {
            "title": f"Event number {n} " + "with a title long enough to matter in a chat message " * 4,
            "date": f"{1800 + n}-07-12",
            "body": "A long paragraph about what happened. " * 60,
        }
        for n in range(count)
    ]
    items[0]["title"] = "@everyone <!channel> <b>bold</b> & more"
    items[0]["featured"] = True
    return write_entries(tmp_path / "entries", items)


def test_json_webhook_is_signed_and_carries_the_day(receivers: FakeReceivers, tmp_path: Path) -> None:
    """One POST per day, signed per Standard Webhooks (the receiver verifies the HMAC), with the day's
    entries and page URL; a second run sends nothing."""
    section = hook(receivers)
    config = settings(tmp_path, webhooks=(section,))
    run = make_run(config, at(DAY, 6, 5))
    chan = channel_for(section)
    assert chan.publish_due(run).ok
    assert chan.publish_due(make_run(config, at(DAY, 9), run.ledger)).ok
    assert len(receivers.requests) == 1
    ((message_id, body),) = receivers.seen.items()
    assert message_id.startswith("msg_")
    assert body["type"] == "thisday.day"
    assert body["data"]["url"] == "https://example.org/days/2026-07-12.html"
    assert body["data"]["entries"][0]["title"] == "Andrey Vlasov is captured by German forces"
    assert run.ledger.get(DAY, "webhook:json").status is Status.DONE  # type: ignore[union-attr]


def test_wrong_secret_is_refused_by_the_receiver(receivers: FakeReceivers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A signature made with another secret fails verification: the 401 is recorded as refused."""
    monkeypatch.setenv("HOOK_SECRET", "whsec_" + base64.b64encode(b"another secret entirely!").decode())
    section = hook(receivers)
    run = make_run(settings(tmp_path, webhooks=(section,)), at(DAY, 6, 5))
    report = channel_for(section).publish_due(run)
    assert not report.ok and receivers.seen == {}
    assert run.ledger.get(DAY, "webhook:json").status is Status.REFUSED  # type: ignore[union-attr]


def test_5xx_and_timeouts_are_retried_with_backoff_and_deduped(receivers: FakeReceivers, tmp_path: Path) -> None:
    """A 503, then a dropped answer after the receiver took the delivery, then success: retried with doubling
    waits, the same webhook-id each time, so the receiver keeps one delivery."""
    receivers.faults += [Fault("/json", status=503, body={}), Fault("/json", drop=True)]
    section = hook(receivers, retry_delay=1.0)
    sleeps: list[float] = []
    report = channel_for(section, sleeps).publish_due(make_run(settings(tmp_path, webhooks=(section,)), at(DAY, 6, 5)))
    assert report.ok, report.errors
    ids = {r.headers["webhook-id"] for r in receivers.requests}
    assert len(receivers.requests) == 3 and len(ids) == 1 and len(receivers.seen) == 1
    assert sleeps == [1.0, 2.0]


def test_4xx_is_refused_and_not_retried(receivers: FakeReceivers, tmp_path: Path) -> None:
    """A 400 is a refusal: recorded as refused, not retried in this run or the next."""
    receivers.faults.append(Fault("/json", status=400, body={"error": "bad"}))
    section = hook(receivers)
    config = settings(tmp_path, webhooks=(section,))
    run = make_run(config, at(DAY, 6, 5))
    chan = channel_for(section)
    assert not chan.publish_due(run).ok
    chan.publish_due(make_run(config, at(DAY, 7), run.ledger))
    assert len(receivers.requests) == 1
    assert run.ledger.get(DAY, "webhook:json").status is Status.REFUSED  # type: ignore[union-attr]


def test_discord_message_stays_within_discord_limits(receivers: FakeReceivers, tmp_path: Path) -> None:
    """A crowded day (40 long entries) becomes a Discord message the receiver accepts (content, embed, field
    and 6000-character limits), with the lead story first, and no @everyone ping."""
    section = hook(receivers, "discord")
    config = settings(tmp_path, entries=many_entries(tmp_path, 40), webhooks=(section,))
    report = channel_for(section).publish_due(make_run(config, at(DAY, 6, 5)))
    assert report.ok, report.errors
    (message,) = receivers.discord
    assert message["embeds"][0]["title"].startswith("12 July 1800: @everyone")
    assert message["allowed_mentions"] == {"parse": []}
    assert "more on the site" in message["content"]


def test_slack_blocks_stay_within_limits_and_escape_markup(receivers: FakeReceivers, tmp_path: Path) -> None:
    """A crowded day (60 entries) becomes at most 50 Slack blocks the receiver accepts; <, > and & in titles
    are escaped so no <!channel> mention or link is made from an entry."""
    section = hook(receivers, "slack")
    config = settings(tmp_path, entries=many_entries(tmp_path, 60), webhooks=(section,))
    report = channel_for(section).publish_due(make_run(config, at(DAY, 6, 5)))
    assert report.ok, report.errors
    (message,) = receivers.slack
    lead = message["blocks"][1]["text"]["text"]
    assert "&lt;!channel&gt;" in lead and "<!channel>" not in lead
    assert "more)" in message["blocks"][-1]["elements"][0]["text"]


def test_enabled_channels_lists_the_configured_ones(receivers: FakeReceivers, tmp_path: Path) -> None:
    """enabled_channels gives one channel per configured [[webhooks]] table, named webhook:<name>."""
    config = settings(tmp_path, webhooks=(hook(receivers), hook(receivers, "slack")))
    assert [c.name for c in enabled_channels(config)] == ["webhook:json", "webhook:slack"]


def test_uncertain_json_delivery_is_resent_with_the_same_id_next_run(receivers: FakeReceivers, tmp_path: Path) -> None:
    """The answer to a JSON delivery is lost and no retries are left: the row is uncertain; the next run resends
    with the same webhook-id, so a receiver that drops repeats keeps exactly one delivery."""
    receivers.faults.append(Fault("/json", drop=True))
    section = hook(receivers, retries=0)
    config = settings(tmp_path, webhooks=(section,))
    run = make_run(config, at(DAY, 6, 5))
    chan = channel_for(section)
    assert not chan.publish_due(run).ok
    assert run.ledger.get(DAY, "webhook:json").status is Status.UNCERTAIN  # type: ignore[union-attr]
    assert chan.publish_due(make_run(config, at(DAY, 6, 30), run.ledger)).ok
    assert len(receivers.requests) == 2 and len(receivers.seen) == 1


def test_uncertain_discord_delivery_is_not_resent(receivers: FakeReceivers, tmp_path: Path) -> None:
    """Discord cannot drop a repeat: after a lost answer there is no retry, neither in the run (retries are
    for 5xx) nor in the next one; the row stays uncertain and status shows it."""
    receivers.faults.append(Fault("/discord", drop=True))
    section = hook(receivers, "discord")
    config = settings(tmp_path, webhooks=(section,))
    run = make_run(config, at(DAY, 6, 5))
    chan = channel_for(section)
    chan.publish_due(run)
    chan.publish_due(make_run(config, at(DAY, 6, 30), run.ledger))
    assert len(receivers.requests) == 1
    assert any("uncertain" in f for f in chan.health(make_run(config, at(DAY, 7), run.ledger)).failures)


def test_webhook_preview_and_post_by_name(receivers: FakeReceivers, tmp_path: Path) -> None:
    """A webhook is previewed as the exact payload and posted by hand by its name (or webhook:NAME), once."""
    section = hook(receivers, "slack")
    config = settings(tmp_path, webhooks=(section,))
    run = make_run(config, at(DAY, 1))
    shown = preview(config, day_selection(run.load([DAY]).index, DAY, config), "webhook:slack")
    assert '"type": "header"' in shown and receivers.requests == []
    assert post_day(run, DAY, "slack", dry_run=False).ok
    assert post_day(run, DAY, "webhook:slack", dry_run=False).ok
    assert len(receivers.slack) == 1


def test_a_refused_channel_does_not_stop_the_others(receivers: FakeReceivers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a Mastodon token that is refused, the configured channels run one after another as the runner runs
    them: Mastodon reports its 401, the webhook still delivers the day."""
    from fakes.mastodon import FakeMastodon
    from thisday.config import MastodonSettings

    monkeypatch.setenv("THISDAY_MASTODON_TOKEN", "revoked")
    with FakeMastodon() as instance:
        config = settings(
            tmp_path,
            mastodon=MastodonSettings(instance=instance.url, retry_delay=0.0),
            webhooks=(hook(receivers),),
        )
        run = make_run(config, at(DAY, 6, 5))
        reports = [chan.publish_due(run) for chan in enabled_channels(config)]
    assert [r.channel for r in reports] == ["mastodon", "webhook:json"]
    assert "401" in reports[0].errors[0] and reports[1].ok
    assert len(receivers.seen) == 1
