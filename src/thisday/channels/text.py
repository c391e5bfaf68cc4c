"""Post text for social channels: counting against a network's limit, and shortening that never cuts a word,
a date or a link. Pure functions: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import regex

from ..dates import MONTHS

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
