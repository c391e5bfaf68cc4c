"""Post text and timing shared by the social channels: counting, shortening, and when each post is due."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from fakes.runs import settings
from thisday.channels.social import post_times
from thisday.channels.text import compose, graphemes, mastodon_counter, shorten
from thisday.config import MastodonSettings

URL = "https://example.org/" + "x" * 80


def test_mastodon_counts_every_link_as_23() -> None:
    """Mastodon's rule: a link of any length counts as 23 characters, the rest of the text as it is."""
    assert mastodon_counter()("see " + URL) == 4 + 23
    assert mastodon_counter()(URL + " and " + URL) == 23 + 5 + 23


def test_graphemes_count_what_people_see() -> None:
    """A family emoji (one cluster of seven code points), an accented letter written as two code points and a
    flag count as three: Bluesky's 300 and Mastodon's limit are in graphemes."""
    assert graphemes("👨‍👩‍👧e\u0301🇩🇪") == 3


def test_shorten_never_cuts_a_date_or_a_word() -> None:
    """Shortened at a word, never inside a date such as '25 October 1917' or inside a word."""
    text = "The cruiser fired its gun on 25 October 1917 and the assault on the palace began at once"
    for budget in range(10, len(text)):
        short = shorten(text, lambda t, b=budget: len(t) <= b)  # type: ignore[misc]
        if short is None:
            continue
        kept = short.removesuffix("…").rstrip()
        assert text.startswith(kept) and (len(kept) == len(text) or text[len(kept)] == " ")
        assert not kept.endswith(("25", "25 October")), short


def test_shorten_prefers_whole_sentences() -> None:
    """When whole sentences fit they are kept whole, with no ellipsis."""
    text = "First sentence here. Second sentence is a good deal longer than the first one."
    assert shorten(text, lambda t: len(t) <= 40) == "First sentence here."


def test_compose_keeps_date_and_link_and_drops_the_body_first() -> None:
    """The head (date) and tail (link) are always whole; the body goes before the title is shortened."""
    head, tail = "12 July 1942: ", "\n\nhttps://example.org/days/2026-07-12.html"
    text = compose(head, "A title of several words", "Body " * 50, tail, 90, len)
    assert text.startswith(head) and text.endswith(tail) and len(text) <= 90
    with pytest.raises(ValueError):
        compose(head, "Title", "", tail, 30, len)


def test_times_fall_on_local_wall_clock_across_daylight_saving(tmp_path: Path) -> None:
    """Posts at 08:00 and 12:00 Berlin time are at those wall-clock times on the day clocks change, and a
    window spreads posts evenly, with several posts per time when there are more posts than times."""
    config = settings(tmp_path)
    times = MastodonSettings(instance="https://m.example", times=(datetime.time(8), datetime.time(12)))
    change = datetime.date(2026, 3, 29)
    due = post_times(config, times, change, 3)
    assert [d.astimezone(config.zone).strftime("%H:%M %Z") for d in due] == ["08:00 CEST", "08:00 CEST", "12:00 CEST"]
    window = MastodonSettings(instance="https://m.example", window="08:00-20:00")
    due = post_times(config, window, datetime.date(2026, 7, 12), 4)
    assert [d.astimezone(config.zone).strftime("%H:%M") for d in due] == ["08:00", "11:00", "14:00", "17:00"]
