"""Mastodon through a loopback server that implements /api/v2/instance and POST /api/v1/statuses."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from fakes.base import Fault
from fakes.mastodon import FakeMastodon
from fakes.runs import at, make_run, settings, write_entries
from thisday.channels import mastodon
from thisday.channels.social import SocialChannel, post_day, preview
from thisday.config import MastodonSettings
from thisday.ledger import Ledger, Status
from thisday.model import Kind
from thisday.selection import day_selection

DAY = datetime.date(2026, 7, 12)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> FakeMastodon:
    monkeypatch.setenv("THISDAY_MASTODON_TOKEN", "good-token")
    with FakeMastodon() as fake:
        yield fake


def section(fake: FakeMastodon, **changes: object) -> MastodonSettings:
    values: dict[str, object] = {"instance": fake.url, "retry_delay": 0.0, "timeout": 5.0}
    values.update(changes)
    return MastodonSettings(**values)  # type: ignore[arg-type]


def channel_for(fake: FakeMastodon, sleeps: list[float] | None = None, **changes: object) -> SocialChannel:
    return mastodon.channel(section(fake, **changes), (sleeps if sleeps is not None else []).append)


def test_day_post_goes_out_once_with_date_year_and_link(server: FakeMastodon, tmp_path: Path) -> None:
    """The day's post (lead story, 'and N more', the day page) is posted once; a second run posts nothing."""
    chan = channel_for(server)
    config = settings(tmp_path, mastodon=section(server))
    run = make_run(config, at(DAY, 6, 5))
    report = chan.publish_due(run)
    assert report.ok, report.errors
    assert len(server.statuses) == 1
    text = server.statuses[0]["content"]
    assert text.startswith("12 July 1942 (84 years ago): Andrey Vlasov is captured by German forces")
    assert "more on this day: https://example.org/days/2026-07-12.html" in text
    assert server.statuses[0]["language"] == "en"
    again = chan.publish_due(make_run(config, at(DAY, 9, 0), run.ledger))
    assert again.ok and len(server.statuses) == 1
    assert run.ledger.get(DAY, "mastodon:day").status is Status.DONE  # type: ignore[union-attr]
    assert run.ledger.get(DAY, "mastodon").status is Status.DONE  # type: ignore[union-attr]


def test_nothing_posts_before_the_time(server: FakeMastodon, tmp_path: Path) -> None:
    """Before the day's publish time nothing of that day is posted and no row of it is written."""
    config = settings(tmp_path, mastodon=section(server))
    run = make_run(config, at(DAY, 5, 59))
    assert channel_for(server).publish_due(run).ok
    assert server.statuses == [] and run.ledger.records(DAY) == []


def test_lost_answer_is_retried_with_the_same_key_and_posts_once(server: FakeMastodon, tmp_path: Path) -> None:
    """The server makes the status but the connection drops before the answer: the retry sends the same
    Idempotency-Key, gets the same status back, and the instance holds exactly one post."""
    server.faults.append(Fault("/api/v1/statuses", drop=True))
    config = settings(tmp_path, mastodon=section(server))
    report = channel_for(server).publish_due(make_run(config, at(DAY, 6, 5)))
    assert report.ok, report.errors
    posts = [r for r in server.requests if r.path == "/api/v1/statuses"]
    assert len(posts) == 2
    assert posts[0].headers["idempotency-key"] == posts[1].headers["idempotency-key"]
    assert len(server.statuses) == 1


def test_uncertain_post_is_retried_by_the_next_run(server: FakeMastodon, tmp_path: Path) -> None:
    """With no retries left, a lost answer leaves the row uncertain; the next run retries it safely (same key)."""
    server.faults.append(Fault("/api/v1/statuses", drop=True))
    config = settings(tmp_path, mastodon=section(server, retries=0))
    chan = channel_for(server, retries=0)
    first = make_run(config, at(DAY, 6, 5))
    assert not chan.publish_due(first).ok
    assert first.ledger.get(DAY, "mastodon:day").status is Status.UNCERTAIN  # type: ignore[union-attr]
    assert chan.publish_due(make_run(config, at(DAY, 6, 20), first.ledger)).ok
    assert len(server.statuses) == 1
    assert first.ledger.get(DAY, "mastodon:day").status is Status.DONE  # type: ignore[union-attr]


def test_instance_limit_and_url_weight_are_respected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An instance with a 140-character limit gets a post within it, cut at a word, keeping date and link."""
    monkeypatch.setenv("THISDAY_MASTODON_TOKEN", "good-token")
    with FakeMastodon(max_characters=140) as fake:
        config = settings(tmp_path, mastodon=section(fake))
        report = channel_for(fake).publish_due(make_run(config, at(DAY, 6, 5)))
        assert report.ok, report.errors
        text = fake.statuses[0]["content"]
        assert fake.length(text) <= 140
        assert "12 July 1942" in text and text.endswith("https://example.org/days/2026-07-12.html")


def test_401_stops_the_channel_with_a_clear_message(server: FakeMastodon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused token fails the post, names the environment variable to fix, and shows in the health."""
    monkeypatch.setenv("THISDAY_MASTODON_TOKEN", "expired")
    config = settings(tmp_path, mastodon=section(server))
    run = make_run(config, at(DAY, 6, 5))
    chan = channel_for(server)
    report = chan.publish_due(run)
    assert not report.ok
    assert "THISDAY_MASTODON_TOKEN" in report.errors[0] and "401" in report.errors[0]
    health = chan.health(run)
    assert any("THISDAY_MASTODON_TOKEN" in f for f in health.failures)
    assert server.statuses == []


def test_missing_token_is_reported_not_raised(server: FakeMastodon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No token in the environment: the run reports which variable to set, and status shows it."""
    monkeypatch.delenv("THISDAY_MASTODON_TOKEN")
    config = settings(tmp_path, mastodon=section(server))
    run = make_run(config, at(DAY, 6, 5))
    chan = channel_for(server)
    report = chan.publish_due(run)
    assert "THISDAY_MASTODON_TOKEN" in report.errors[0]
    assert any("THISDAY_MASTODON_TOKEN" in f for f in chan.health(run).failures)


def test_429_waits_retry_after(server: FakeMastodon, tmp_path: Path) -> None:
    """A 429 with Retry-After: 7 waits 7 seconds, then posts."""
    server.faults.append(Fault("/api/v1/statuses", status=429, headers={"Retry-After": "7"}, body={"error": "Too many requests"}))
    sleeps: list[float] = []
    config = settings(tmp_path, mastodon=section(server))
    report = channel_for(server, sleeps).publish_due(make_run(config, at(DAY, 6, 5)))
    assert report.ok, report.errors
    assert sleeps == [7.0] and len(server.statuses) == 1


def test_429_longer_than_the_bound_leaves_the_post_for_the_next_run(server: FakeMastodon, tmp_path: Path) -> None:
    """A Retry-After past max_retry_after is not waited: the post fails now and goes out in the next run."""
    server.faults.append(Fault("/api/v1/statuses", status=429, headers={"Retry-After": "3600"}, body={}))
    sleeps: list[float] = []
    config = settings(tmp_path, mastodon=section(server, max_retry_after=60.0))
    chan = channel_for(server, sleeps, max_retry_after=60.0)
    run = make_run(config, at(DAY, 6, 5))
    report = chan.publish_due(run)
    assert not report.ok and "429" in report.errors[0]
    assert sleeps == [] and server.statuses == []
    assert chan.publish_due(make_run(config, at(DAY, 6, 20), run.ledger)).ok
    assert len(server.statuses) == 1


def test_entries_mode_spreads_posts_over_times_and_threads_them(server: FakeMastodon, tmp_path: Path) -> None:
    """mode = "entries" with times: each entry is its own post and row, due at its time; thread = true makes
    each post a reply to the one before."""
    changes = {"mode": "entries", "times": (datetime.time(8, 0), datetime.time(12, 0), datetime.time(16, 0)), "thread": True}
    config = settings(tmp_path, mastodon=section(server, **changes))
    chan = channel_for(server, **changes)
    ledger = Ledger(config.ledger_url())
    assert chan.publish_due(make_run(config, at(DAY, 9, 0), ledger)).ok
    first = len(server.statuses)
    assert 1 <= first < 4
    assert chan.publish_due(make_run(config, at(DAY, 17, 0), ledger)).ok
    assert len(server.statuses) == 4  # the fixture's four entries on 12 July
    for before, after in zip(server.statuses, server.statuses[1:], strict=False):
        assert after["in_reply_to_id"] == before["id"]
    rows = [r.channel for r in ledger.records(DAY, "mastodon:")]
    assert len(rows) == 4


def daily_entries(tmp_path: Path) -> Path:
    """One entry on each of 8 to 13 July."""
    items = [{"title": f"Event of {n} July", "date": f"1950-07-{n:02d}"} for n in range(8, 14)]
    return write_entries(tmp_path / "entries", items)


def test_catch_up_latest_skips_missed_days(server: FakeMastodon, tmp_path: Path) -> None:
    """After days offline, catch_up = "latest" posts only the latest day; the missed days are recorded skipped."""
    config = settings(tmp_path, entries=daily_entries(tmp_path), mastodon=section(server))
    chan = channel_for(server)
    ledger = Ledger(config.ledger_url())
    chan.publish_due(make_run(config, at(DAY - datetime.timedelta(days=3), 6, 5), ledger))
    assert len(server.statuses) == 1
    report = chan.publish_due(make_run(config, at(DAY, 7, 0), ledger))
    assert report.ok
    assert [s["content"].split(":")[0] for s in server.statuses] == ["9 July 1950 (76 years ago)", "12 July 1950 (76 years ago)"]
    for missed in (10, 11):
        skipped = ledger.get(datetime.date(2026, 7, missed), "mastodon:day")
        assert skipped is not None and skipped.detail.startswith("skipped")


def test_catch_up_all_posts_every_missed_day(server: FakeMastodon, tmp_path: Path) -> None:
    """catch_up = "all" posts each missed day's post, oldest first."""
    config = settings(tmp_path, entries=daily_entries(tmp_path), mastodon=section(server, catch_up="all"))
    chan = channel_for(server, catch_up="all")
    ledger = Ledger(config.ledger_url())
    chan.publish_due(make_run(config, at(DAY - datetime.timedelta(days=3), 6, 5), ledger))
    chan.publish_due(make_run(config, at(DAY, 7, 0), ledger))
    assert [s["content"].split(" ")[0] for s in server.statuses] == ["9", "10", "11", "12"]


def test_catch_up_none_skips_a_post_long_past_its_time(server: FakeMastodon, tmp_path: Path) -> None:
    """catch_up = "none": a post whose time is more than an hour past is skipped, not posted late."""
    config = settings(tmp_path, entries=daily_entries(tmp_path), mastodon=section(server, catch_up="none"))
    chan = channel_for(server, catch_up="none")
    ledger = Ledger(config.ledger_url())
    chan.publish_due(make_run(config, at(DAY, 6, 30), ledger))
    chan.publish_due(make_run(config, at(DAY + datetime.timedelta(days=1), 9, 0), ledger))
    assert len(server.statuses) == 1
    assert ledger.get(DAY + datetime.timedelta(days=1), "mastodon:day").detail.startswith("skipped")  # type: ignore[union-attr]


def test_post_day_by_hand_and_dry_run(server: FakeMastodon, tmp_path: Path) -> None:
    """thisday post DATE --channel mastodon posts that day now (once); --dry-run shows it and posts nothing."""
    config = settings(tmp_path, mastodon=section(server))
    run = make_run(config, at(DAY, 1, 0))
    shown = post_day(run, DAY, "mastodon", dry_run=True)
    assert server.statuses == [] and "Andrey Vlasov" in shown.lines[0]
    assert post_day(run, DAY, "mastodon", dry_run=False).ok
    assert post_day(run, DAY, "mastodon", dry_run=False).ok
    assert len(server.statuses) == 1


def test_preview_shows_the_post_and_its_count(tmp_path: Path) -> None:
    """thisday preview DATE --format mastodon shows each post with its size against the limit, no network."""
    config = settings(tmp_path)
    run = make_run(config, at(DAY, 7))
    text = preview(config, day_selection(run.load([DAY]).index, DAY, config), "mastodon")
    assert "/500)" in text and "https://example.org/days/2026-07-12.html" in text


def test_long_entry_is_shortened_at_a_sentence_keeping_the_link(server: FakeMastodon, tmp_path: Path) -> None:
    """An entry whose text alone exceeds the limit is cut after a whole sentence; date and link stay."""
    body = " ".join(f"Sentence number {n} tells more of what happened on 12 July 1950." for n in range(40))
    entries = write_entries(tmp_path / "entries", [{"title": "A very long story", "date": "1950-07-12", "body": body}])
    config = settings(tmp_path, entries=entries, mastodon=section(server))
    report = channel_for(server).publish_due(make_run(config, at(DAY, 6, 5)))
    assert report.ok, report.errors
    text = server.statuses[0]["content"]
    assert server.length(text) <= 500
    paragraph = text.split("\n\n")[1]
    assert paragraph.endswith("12 July 1950.")
    assert text.endswith("https://example.org/days/2026-07-12.html")


def test_status_reports_a_day_left_unposted(server: FakeMastodon, tmp_path: Path) -> None:
    """thisday status is unhealthy when the day's post is more than 15 minutes overdue and nothing was posted,
    and healthy once it is."""
    config = settings(tmp_path, mastodon=section(server))
    run = make_run(config, at(DAY, 7, 0))
    chan = channel_for(server)
    assert any("nothing posted for 2026-07-12" in f for f in chan.health(run).failures)
    chan.publish_due(run)
    health = chan.health(run)
    assert health.failures == () and "mastodon:day" in health.lines[0]


def test_server_that_times_out_after_taking_the_post_gets_it_once(server: FakeMastodon, tmp_path: Path) -> None:
    """The server stores the status and then does not answer within the timeout: the retry (same key) gets
    the stored status back, and the instance holds exactly one post."""
    server.faults.append(Fault("/api/v1/statuses", hold=True))
    config = settings(tmp_path, mastodon=section(server, timeout=0.5))
    report = channel_for(server, timeout=0.5).publish_due(make_run(config, at(DAY, 6, 5)))
    assert report.ok, report.errors
    assert server.received.is_set()
    assert len([r for r in server.requests if r.path == "/api/v1/statuses"]) == 2
    assert len(server.statuses) == 1


def test_preview_applies_the_channel_filters(server: FakeMastodon, tmp_path: Path) -> None:
    """A channel with kinds = ["birth"] previews only births, as it would post."""
    config = settings(tmp_path, mastodon=section(server, kinds=(Kind.BIRTH,), mode="entries"))
    run = make_run(config, at(DAY, 7))
    text = preview(config, day_selection(run.load([DAY]).index, DAY, config), "mastodon")
    assert "Thoreau" in text and "Vlasov" not in text


def test_uncertain_post_older_than_the_key_window_is_not_retried(server: FakeMastodon, tmp_path: Path) -> None:
    """Mastodon forgets an Idempotency-Key after an hour: a post left uncertain two hours ago is not resent by
    the schedule (it could appear twice); the run says how to post it by hand, and thisday post does so."""
    server.faults.append(Fault("/api/v1/statuses", drop=True))
    config = settings(tmp_path, mastodon=section(server, retries=0))
    chan = channel_for(server, retries=0)
    first = make_run(config, at(DAY, 6, 5))
    chan.publish_due(first)
    late = make_run(config, at(DAY, 8, 30), first.ledger)
    report = chan.publish_due(late)
    assert len(server.statuses) == 1 and len([r for r in server.requests if r.path == "/api/v1/statuses"]) == 1
    assert "thisday post 2026-07-12 --channel mastodon" in report.errors[0]
    assert post_day(late, DAY, "mastodon", dry_run=False).ok
    assert first.ledger.get(DAY, "mastodon:day").status is Status.DONE  # type: ignore[union-attr]


def test_instance_that_does_not_say_gets_500(server: FakeMastodon, tmp_path: Path) -> None:
    """When /api/v2/instance does not answer with a limit (404 on an old server), posts are kept within
    Mastodon's default of 500 characters, which the server enforces."""
    server.faults.append(Fault("/api/v2/instance", status=404, body={"error": "Not found"}))
    body = " ".join(f"Sentence {n} tells a little more of the story." for n in range(40))
    entries = write_entries(tmp_path / "entries", [{"title": "A long story", "date": "1950-07-12", "body": body}])
    config = settings(tmp_path, entries=entries, mastodon=section(server))
    report = channel_for(server).publish_due(make_run(config, at(DAY, 6, 5)))
    assert report.ok, report.errors
    assert 400 < server.length(server.statuses[0]["content"]) <= 500
