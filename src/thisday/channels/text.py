"""What a social post says: counting against a network's limit, shortening that never cuts a word, a date or a
link, and the day's posts (:func:`plan_texts`). Pure functions: no I/O, no clock.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

import regex

from ..config import Settings
from ..dates import MONTHS, format_years_ago
from ..errors import PublishError
from ..markup import plain_text
from ..model import DaySelection, Occurrence
from ..selection import describe_day
from ..views import day_url

Counter = Callable[[str], int]
"""How a network counts a text against its limit."""

URL_RE = re.compile(r"https?://[^\s<>\"]*[^\s<>\".,;:!?)\]'»”]")
"""A link as networks detect it in plain text (trailing punctuation is not part of it)."""

_MONTH = "|".join(MONTHS)
DATE_RE = re.compile(
    rf"(?:c\. )?(?:\d{{1,2}} (?:{_MONTH})(?: (?:AD )?\d{{1,4}}(?: BC)?)?|(?:{_MONTH}) (?:AD )?\d{{1,4}}(?: BC)?"
    rf"|AD \d{{1,4}}|\d{{1,4}} BC)(?: \(O\.S\. [^)]*\))?"
)
"""Dates as thisday displays them ('12 July 1942', '44 BC', '7 November 1917 (O.S. 25 October)'): never cut."""

_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]?(?=\s)")
ELLIPSIS = "…"


def graphemes(text: str) -> int:
    """The number of user-perceived characters (extended grapheme clusters): what Bluesky and Mastodon count."""
    return len(regex.findall(r"\X", text))


def mastodon_counter(url_weight: int = 23) -> Counter:
    """Mastodon's count: every link counts as ``url_weight`` characters, the rest by grapheme."""

    def count(text: str) -> int:
        links = URL_RE.findall(text)
        return graphemes(URL_RE.sub("", text)) + url_weight * len(links)

    return count


def _protected(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in DATE_RE.finditer(text)] + [m.span() for m in URL_RE.finditer(text)]


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < position < end for start, end in spans)


def cut_points(text: str) -> tuple[list[int], list[int]]:
    """Where ``text`` may be cut: after whole sentences, and at word boundaries outside dates and links.

    Both lists are in descending order (longest prefix first).
    """
    spans = _protected(text)
    sentences = [m.end() for m in _SENTENCE_END.finditer(text) if not _inside(m.end(), spans)]
    words = [i for i, ch in enumerate(text) if ch.isspace() and i > 0 and not _inside(i, spans)]
    return sorted(set(sentences), reverse=True), sorted(set(words), reverse=True)


def shorten(text: str, fits: Callable[[str], bool], minimum: int = 1) -> str | None:
    """The longest version of ``text`` that ``fits``: whole sentences if any fit, else whole words and '…'.

    None when not even ``minimum`` characters of it fit. A word, a date or a link is never cut in two.
    """
    text = " ".join(text.split())
    if fits(text):
        return text
    sentences, words = cut_points(text)
    for end in sentences:
        candidate = text[:end].rstrip()
        if len(candidate) >= minimum and fits(candidate):
            return candidate
    for end in words:
        candidate = text[:end].rstrip().rstrip(",;:—–-").rstrip() + ELLIPSIS
        if len(candidate) > minimum and fits(candidate):
            return candidate
    return None


def compose(head: str, title: str, body: str, tail: str, limit: int, count: Counter) -> str:
    """``head`` + ``title`` + body + ``tail`` within ``limit``: the body is shortened (at a sentence, else a
    word) or dropped, then the title; ``head`` (the date) and ``tail`` (the link) are always kept whole.

    Raises ValueError when even the head, a word of the title and the tail do not fit.
    """

    def assemble(t: str, b: str) -> str:
        return f"{head}{t}\n\n{b}{tail}" if b else f"{head}{t}{tail}"

    body = " ".join(body.split())
    if body:
        short = shorten(body, lambda b: count(assemble(title, b)) <= limit, minimum=20)
        if short is not None:
            return assemble(title, short)
    short_title = shorten(title, lambda t: count(assemble(t, "")) <= limit)
    if short_title is None:
        raise ValueError(f"the date and the link alone are longer than the limit of {limit} characters")
    return assemble(short_title, "")


# ---------------------------------------------------------------------------------------------
# The day's posts


@dataclass(frozen=True)
class Draft:
    """One post of a day, before it is sent."""

    day: datetime.date
    index: int
    key: str
    """Stable for (day, post): ``day`` in day mode, the entry id in entries mode."""
    text: str
    link: str
    """The day page (or the entry's place on it) that the post links to."""
    title: str
    description: str
    selection: DaySelection
    occurrences: tuple[Occurrence, ...]
    due: datetime.datetime | None = None
    """When the post is scheduled (set once the day's posts are timed); Bluesky derives its record key from it."""


@dataclass(frozen=True)
class Posted:
    url: str
    ref: str
    """What a later post in the thread needs to reply to this one (a status id, an AT URI and CID)."""


def plain_body(occ: Occurrence) -> str:
    return " ".join(plain_text(occ.entry.body).split()) if occ.entry.body else ""


def entry_link(settings: Settings, occ: Occurrence, on: datetime.date) -> str:
    return day_url(settings, on, urllib.parse.quote(occ.entry.id, safe="-_.~"))


def plan_texts(
    settings: Settings, selection: DaySelection, mode: str, limit: int, count: Counter
) -> list[Draft]:
    """The day's posts, each within ``limit`` as ``count`` measures it; none for a day without entries."""
    occurrences = selection.occurrences
    if not occurrences:
        return []
    on = selection.on
    drafts: list[Draft] = []
    if mode == "day":
        lead = selection.lead or occurrences[0]
        more = len(occurrences) - 1 + selection.left_out
        link = day_url(settings, on)
        tail = f"\n\nAnd {more} more on this day: {link}" if more else f"\n\n{link}"
        text = _compose(lead, tail, limit, count)
        drafts.append(
            Draft(on, 0, "day", text, link, f"On this day: {describe_day(on)}", _card(lead), selection, occurrences)
        )
        return drafts
    for index, occ in enumerate(occurrences):
        key = occ.entry.id if len(occ.entry.id) <= 200 else hashlib.sha256(occ.entry.id.encode()).hexdigest()
        link = entry_link(settings, occ, on)
        text = _compose(occ, f"\n\n{link}", limit, count)
        drafts.append(
            Draft(on, index, key, text, link, occ.entry.title, _card(occ), selection, (occ,))
        )
    return drafts


def _compose(occ: Occurrence, tail: str, limit: int, count: Counter) -> str:
    ago = format_years_ago(occ.years_ago)
    head = f"{occ.date_display}{f' ({ago})' if ago else ''}: "
    try:
        return compose(head, occ.entry.title, plain_body(occ), tail, limit, count)
    except ValueError as exc:
        raise PublishError(f"{occ.entry.location}: {exc}: raise the limit or shorten the site's base URL") from None


def _card(occ: Occurrence) -> str:
    body = plain_body(occ)
    return f"{occ.date_display}: {occ.entry.title}" + (f". {body[:200]}" if body else "")
