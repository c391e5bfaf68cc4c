"""The one view model of a day and of an entry: every string a reader sees, formatted once.

A :class:`DayView` is built once per selection and shown by every renderer (terminal, site, feeds, digest):
the heading, the dates as displayed, "N years ago", the body and its summary as sanitized HTML (links made
absolute, headings set below the entry's title) and as plain text, the sources and the absolute links.
A :class:`Views` builder keeps what it rendered, so each body's Markdown is rendered once per build however many
pages, feed items and messages show it.

Pure: settings and selections in, frozen values out; no I/O, no clock.
"""

from __future__ import annotations

import datetime
import re
import urllib.parse
from collections.abc import Collection
from dataclasses import dataclass, field

from markupsafe import Markup

from . import dates
from .config import Settings
from .markup import plain_text, render_markdown
from .model import DaySelection, Entry, Occurrence
from .selection import dispute_text

_TAG_WITH_URL = re.compile(r"<(?:a|img)\s[^>]*>")
_URL_ATTR = re.compile(r'(\s(?:href|src)=")([^"]*)(")')
_HEADING = re.compile(r"<(/?)h([2-5])>")
_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)", re.IGNORECASE)
_REFERENCES = re.compile(r"\[\d+\] \S")
"""A paragraph of numbered link references ("[1] https://..."), one per line: kept as lines."""
_HEADING_RE = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)


def base_url(settings: Settings) -> str:
    """``site.base_url`` with exactly one trailing slash, so relative paths join below it."""
    return settings.site.base_url.rstrip("/") + "/"


def day_path(day: datetime.date) -> str:
    """A day's permalink page, relative to the site root: ``days/2026-07-12.html``."""
    return f"days/{day.isoformat()}.html"


def day_url(settings: Settings, day: datetime.date, anchor: str = "") -> str:
    """The absolute permalink of a day (and of one entry on it, with ``anchor``)."""
    url = base_url(settings) + day_path(day)
    return f"{url}#{anchor}" if anchor else url


def absolute_links(html: str, base: str, page: str) -> str:
    """Make every ``href``/``src`` in sanitized HTML absolute (feed readers and mail show it away from the site).

    Paths resolve against the site's ``base`` URL (``notes/x.html``, ``/about.html``); a bare ``#anchor``
    against ``page``, the permalink the HTML is shown on.
    """

    def fix_attr(match: re.Match[str]) -> str:
        value = match.group(2)
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", value):
            return match.group(0)
        resolved = urllib.parse.urljoin(page if value.startswith("#") else base, value)
        return f"{match.group(1)}{resolved}{match.group(3)}"

    return _TAG_WITH_URL.sub(lambda tag: _URL_ATTR.sub(fix_attr, tag.group(0)), html)


def demote_headings(html: str) -> str:
    """Body headings sit below the entry's title: ``<h2>`` becomes ``<h3>`` and so on."""
    return _HEADING.sub(lambda m: f"<{m.group(1)}h{int(m.group(2)) + 1}>", html)


def _headings(body: str) -> set[str]:
    """The plain text of the body's ATX headings (``## The capture``), so the text part can set them off."""
    return {plain_text(m[1]) for m in _HEADING_RE.finditer(body)}


def reflow(text: str, headings: Collection[str] = ()) -> str:
    """Plain text with each paragraph on one line (list items on their own lines), for a template to wrap.

    A paragraph that is one of ``headings`` is underlined with ``~``.
    """
    paragraphs = []
    for paragraph in text.split("\n\n"):
        if paragraph.lstrip().startswith("- ") or _REFERENCES.match(paragraph.lstrip()):
            paragraphs.append("\n".join(" ".join(line.split()) for line in paragraph.splitlines()))
        elif paragraph.strip():
            joined = " ".join(paragraph.split())
            if joined in headings:
                joined += "\n" + "~" * min(len(joined), 72)
            paragraphs.append(joined)
    return "\n\n".join(paragraphs)


def first_paragraph(body: str) -> str:
    """The first Markdown block of ``body`` that is running text (not a heading, list, quote or HTML)."""
    for block in re.split(r"\n\s*\n", body.strip()):
        stripped = block.lstrip()
        if stripped and not stripped.startswith(("#", "<", "- ", "* ", "> ", "|", "```")):
            return block
    return ""


@dataclass(frozen=True)
class SourceView:
    title: str
    url: str | None


@dataclass(frozen=True)
class EntryView:
    """One entry on one day, as every output shows it. ``*_html`` values are sanitized HTML."""

    id: str
    title: str
    kind: str
    year: str
    """The event's year as people write it ('1942', 'AD 70', '44 BC'); empty for a rule with no first year."""
    date_display: str
    years_ago: int | None
    years_ago_text: str
    round_anniversary: bool
    note: str
    tags: tuple[str, ...]
    featured: bool
    sources: tuple[SourceView, ...]
    url: str
    """The absolute permalink of the entry on its day's page."""
    file: str
    body_html: Markup
    body_text: str
    summary_html: Markup
    summary_text: str
    more: bool
    """The body has more than its summary (the first paragraph)."""
    entry: Entry = field(compare=False, repr=False)
    occurrence: Occurrence = field(compare=False, repr=False)
    dispute: str = ""
    """'Date disputed: sources give 1942 and 1943.' for a disputed date (also part of ``note``, which every
    output shows beside the date)."""
    held: str = ""
    """In an editor's preview only: why the entry is not published ('draft', 'embargoed until 2026-08-01')."""

    @property
    def anchor(self) -> str:
        return self.id


@dataclass(frozen=True)
class DayView:
    """One day's selection as every output shows it."""

    on: datetime.date
    iso: str
    heading: str
    """'12 July 2026'."""
    weekday: str
    path: str
    url: str
    entries: tuple[EntryView, ...]
    left_out: int

    @property
    def display(self) -> str:
        return self.heading

    @property
    def lead(self) -> EntryView | None:
        """The day's lead story: the first in publishing order (a featured entry sorts first)."""
        return self.entries[0] if self.entries else None

    @property
    def others(self) -> tuple[EntryView, ...]:
        return self.entries[1:]

    @property
    def count(self) -> int:
        return len(self.entries)


@dataclass(frozen=True)
class _Body:
    html: Markup
    text: str
    summary_html: Markup
    summary_text: str
    more: bool


class Views:
    """Builds day views for one settings; keeps each rendered body, so a build renders each body once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base = base_url(settings)
        self._bodies: dict[tuple[str, str], _Body] = {}
        self.renders = 0
        """How many bodies were rendered (the tests check that a build renders each once)."""

    def _html(self, markdown: str, page: str) -> Markup:
        if not markdown.strip():
            return Markup("")
        html = demote_headings(absolute_links(render_markdown(markdown), self.base, page))
        # sanitized by markup.render_markdown (nh3): the one place HTML is trusted
        return Markup(_IMG_WITHOUT_ALT.sub('<img alt=""', html))

    def _body(self, entry: Entry, page: str) -> _Body:
        key = (entry.id, entry.body)
        found = self._bodies.get(key)
        if found is None:
            self.renders += 1
            summary = first_paragraph(entry.body)
            found = _Body(
                html=self._html(entry.body, page),
                text=reflow(plain_text(entry.body, base=self.base, page=page), _headings(entry.body)),
                summary_html=self._html(summary, page),
                summary_text=reflow(plain_text(summary, base=self.base, page=page)),
                more=summary.strip() != entry.body.strip(),
            )
            self._bodies[key] = found
        return found

    def entry(self, occ: Occurrence, on: datetime.date) -> EntryView:
        entry = occ.entry
        page = day_url(self.settings, on)
        body = self._body(entry, page)
        year = dates.event_year(entry)
        return EntryView(
            id=entry.id,
            title=" ".join(entry.title.split()),
            kind=entry.kind.value,
            year=dates.format_year(year) if year is not None else "",
            date_display=occ.date_display,
            years_ago=occ.years_ago,
            years_ago_text=dates.format_years_ago(occ.years_ago),
            round_anniversary=occ.round_anniversary,
            note=occ.note or "",
            tags=entry.tags,
            featured=entry.featured,
            sources=tuple(SourceView(s.title, s.url) for s in entry.sources),
            url=f"{page}#{entry.id}",
            file=str(entry.location),
            body_html=body.html,
            body_text=body.text,
            summary_html=body.summary_html,
            summary_text=body.summary_text,
            more=body.more,
            entry=entry,
            occurrence=occ,
            dispute=dispute_text(entry) or "",
            held=occ.held or "",
        )

    def day(self, selection: DaySelection) -> DayView:
        on = selection.on
        return DayView(
            on=on,
            iso=on.isoformat(),
            heading=dates.format_day(on),
            weekday=dates.weekday(on),
            path=day_path(on),
            url=day_url(self.settings, on),
            entries=tuple(self.entry(o, on) for o in selection.occurrences),
            left_out=selection.left_out,
        )
