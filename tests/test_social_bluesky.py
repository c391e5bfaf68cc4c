"""Bluesky through a loopback PDS that implements createSession, createRecord and getRecord."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest
import regex

from fakes.base import Fault
from fakes.bluesky import TID, FakePDS
from fakes.runs import at, make_run, settings, write_entries
from thisday.channels import bluesky
from thisday.channels.social import SocialChannel, preview
from thisday.config import BlueskySettings
from thisday.ledger import Status
from thisday.selection import day_selection

DAY = datetime.date(2026, 7, 12)
LINK = "https://example.org/days/2026-07-12.html"


@pytest.fixture
def pds(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePDS]:
    monkeypatch.setenv("THISDAY_BLUESKY_PASSWORD", "app-pass")
    with FakePDS() as fake:
        yield fake


def section(fake: FakePDS, **changes: object) -> BlueskySettings:
    values: dict[str, object] = {"service": fake.url, "handle": "bot.example", "retry_delay": 0.0, "timeout": 5.0}
    values.update(changes)
    return BlueskySettings(**values)  # type: ignore[arg-type]


def channel_for(fake: FakePDS, **changes: object) -> SocialChannel:
    return bluesky.channel(section(fake, **changes), [].append)


def test_day_post_is_a_record_with_link_facet_card_and_langs(pds: FakePDS, tmp_path: Path) -> None:
    """The day's post is one app.bsky.feed.post with the day page as a link facet and as the link card, and
    the site's language in langs; a second run makes no second record."""
    config = settings(tmp_path, bluesky=section(pds))
    run = make_run(config, at(DAY, 6, 5))
    chan = channel_for(pds)
    assert chan.publish_due(run).ok
    assert chan.publish_due(make_run(config, at(DAY, 8), run.ledger)).ok
    (post,) = pds.posts()
    assert post["langs"] == ["en"]
    assert post["embed"]["external"]["uri"] == LINK
    (facet,) = post["facets"]
    raw = post["text"].encode("utf-8")
    assert raw[facet["index"]["byteStart"] : facet["index"]["byteEnd"]].decode() == LINK
    assert facet["features"][0]["uri"] == LINK


def test_facet_offsets_are_utf8_bytes_after_non_ascii_text(pds: FakePDS, tmp_path: Path) -> None:
    """Non-ASCII text (Cyrillic, accents, an emoji) before the link: the facet's byte range still covers
    exactly the link in the UTF-8 text (character offsets would point into the middle of it)."""
    entries = write_entries(
        tmp_path / "entries",
        [{"title": "Взятие Бастилии — la prise de la Bastille 🏰", "date": "1789-07-12", "body": "Émeute à Paris."}],
    )
    config = settings(tmp_path, entries=entries, bluesky=section(pds, mode="entries"))
    assert channel_for(pds, mode="entries").publish_due(make_run(config, at(DAY, 6, 5))).ok
    (post,) = pds.posts()
    raw = post["text"].encode("utf-8")
    (facet,) = post["facets"]
    linked = raw[facet["index"]["byteStart"] : facet["index"]["byteEnd"]].decode()
    assert linked == facet["features"][0]["uri"] and linked.startswith(LINK + "#")
    assert facet["index"]["byteStart"] > post["text"].index("https://")  # bytes, not characters


def test_long_text_fits_300_graphemes_keeping_date_and_link(pds: FakePDS, tmp_path: Path) -> None:
    """An entry far longer than 300 graphemes is cut at a sentence, keeping the date, year and link."""
    body = " ".join(f"Part {n} of the story: the crowd moved on." for n in range(60))
    entries = write_entries(tmp_path / "entries", [{"title": "A long day", "date": "-0043-07-12", "body": body}])
    config = settings(tmp_path, entries=entries, bluesky=section(pds))
    report = channel_for(pds).publish_due(make_run(config, at(DAY, 6, 5)))
    assert report.ok, report.errors
    (post,) = pds.posts()
    assert len(regex.findall(r"\X", post["text"])) <= 300
    assert post["text"].startswith("12 July 44 BC")
    assert post["text"].endswith(LINK)
    assert "moved on.\n\n" in post["text"]


def test_record_key_is_a_tid_from_the_post_time_and_index(pds: FakePDS, tmp_path: Path) -> None:
    """Each post's record key is a valid TID that sorts by the post's time, and the same post always gets
    the same key (so a retry addresses the same record)."""
    times = (datetime.time(8, 0), datetime.time(12, 0))
    config = settings(tmp_path, bluesky=section(pds, mode="entries", times=times))
    assert channel_for(pds, mode="entries", times=times).publish_due(make_run(config, at(DAY, 13))).ok
    keys = list(pds.records)
    assert len(keys) == 4 and all(TID.match(k) for k in keys)
    assert keys == sorted(keys)
    first = bluesky.tid(at(DAY, 8), 0)
    assert first == bluesky.tid(at(DAY, 8), 0) and first in keys


def test_lost_answer_is_confirmed_with_get_record(pds: FakePDS, tmp_path: Path) -> None:
    """The PDS stores the record but the answer is lost; the retry's createRecord with the same key gets a
    500, getRecord confirms the record is there: exactly one record, the row done."""
    pds.faults.append(Fault("/xrpc/com.atproto.repo.createRecord", drop=True))
    config = settings(tmp_path, bluesky=section(pds))
    run = make_run(config, at(DAY, 6, 5))
    report = channel_for(pds).publish_due(run)
    assert report.ok, report.errors
    assert len(pds.records) == 1
    assert any(r.path.endswith("getRecord") for r in pds.requests)
    assert run.ledger.get(DAY, "bluesky:day").status is Status.DONE  # type: ignore[union-attr]


def test_wrong_password_stops_the_channel_with_a_clear_message(pds: FakePDS, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused app password fails with a message naming the handle and the variable to fix."""
    monkeypatch.setenv("THISDAY_BLUESKY_PASSWORD", "wrong")
    config = settings(tmp_path, bluesky=section(pds))
    run = make_run(config, at(DAY, 6, 5))
    report = channel_for(pds).publish_due(run)
    assert not report.ok and "THISDAY_BLUESKY_PASSWORD" in report.errors[0] and "bot.example" in report.errors[0]
    assert pds.records == {}


def test_thread_replies_carry_root_and_parent(pds: FakePDS, tmp_path: Path) -> None:
    """thread = true: each later post replies to the one before, with the first as the thread's root."""
    config = settings(tmp_path, bluesky=section(pds, mode="entries", thread=True))
    assert channel_for(pds, mode="entries", thread=True).publish_due(make_run(config, at(DAY, 6, 5))).ok
    records = list(pds.records.values())
    assert "reply" not in records[0]["value"]
    for index, rec in enumerate(records[1:], start=1):
        assert rec["value"]["reply"]["root"] == {"uri": records[0]["uri"], "cid": records[0]["cid"]}
        assert rec["value"]["reply"]["parent"] == {"uri": records[index - 1]["uri"], "cid": records[index - 1]["cid"]}


def test_preview_counts_graphemes_against_300(tmp_path: Path) -> None:
    """thisday preview DATE --format bluesky shows the post and its grapheme count out of 300."""
    config = settings(tmp_path)
    run = make_run(config, at(DAY, 7))
    text = preview(config, day_selection(run.load([DAY]).index, DAY, config), "bluesky")
    assert "/300)" in text and LINK in text


def test_expired_session_is_renewed_once(pds: FakePDS, tmp_path: Path) -> None:
    """An access token that expires mid-run (400 ExpiredToken) is renewed with a new session, and the post
    goes out once."""
    config = settings(tmp_path, bluesky=section(pds))
    chan = channel_for(pds)
    original = pds.handle

    def expire_first(request):  # type: ignore[no-untyped-def]
        answer = original(request)
        if request.path.endswith("createSession") and not pds.expired:
            pds.expired.add(answer.body["accessJwt"])
        return answer

    pds.handle = expire_first  # type: ignore[method-assign]
    report = chan.publish_due(make_run(config, at(DAY, 6, 5)))
    assert report.ok, report.errors
    assert len(pds.records) == 1
    assert sum(r.path.endswith("createSession") for r in pds.requests) == 2
