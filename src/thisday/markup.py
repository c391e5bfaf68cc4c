"""Entry bodies: Markdown rendered to HTML, then sanitized. Shared by the site, the feeds and the digest.

No script, no event handler, no ``javascript:`` URL survives; links keep only http(s) and mailto.
Pure functions: no I/O.
"""

from __future__ import annotations

import functools
import html as _html
import re
import unicodedata
from typing import TYPE_CHECKING

import nh3

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h2", "h3", "h4", "hr", "i",
    "img", "li", "ol", "p", "pre", "q", "s", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "ul",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"}, "abbr": {"title"}}
_SCHEMES = {"http", "https", "mailto"}
_MARKUP = re.compile(r"[\\`*_\[\]<>#&|~!]|^\s*(?:[-+=]|\d+[.)])", re.MULTILINE)
"""Anything Markdown or HTML might make something of; a body without it is plain text as it stands."""
_LIST_GAP = re.compile(r"^(- [^\n]*)\n\n(?=- )", re.MULTILINE)


@functools.cache
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt  # imported on first use: a preview without bodies never needs it

    # CommonMark plus tables and strikethrough; raw HTML is parsed, then removed by the sanitizer.
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def sanitize(html: str) -> str:
    """Keep a safe subset of HTML: the tags Markdown produces, http(s)/mailto links, images with alt text."""
    return nh3.clean(
        html,
        tags=_TAGS,
        clean_content_tags={"script", "style"},
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer",
    )


def render_markdown(text: str) -> str:
    """An entry body (Markdown) as sanitized HTML."""
    return sanitize(_parser().render(text)).strip()


def plain_text(text: str, *, base: str = "", page: str = "") -> str:
    """An entry body as plain text for terminals and text email: Markdown syntax removed, paragraphs kept.

    With ``base`` (the site's URL), each inline link keeps its URL as a numbered reference: "several
    sources [1]", and "[1] https://..." under the paragraph; relative links are made absolute against ``base``
    (and a bare ``#anchor`` against ``page``).
    """
    if not _MARKUP.search(text):  # plain prose (most imported entries): nothing to render or remove
        return "\n\n".join(" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()) if p.strip())
    html = render_markdown(text)
    if base:
        html = _number_links(html, base, page)
    paragraphs = (
        html.replace("</p>", "\n\n").replace("<br>", "\n").replace("</li>", "\n").replace("</h2>", "\n\n")
    )
    paragraphs = paragraphs.replace("</h3>", "\n\n").replace("<li>", "- ")
    stripped = nh3.clean(paragraphs, tags=set())
    text = "\n".join(line.rstrip() for line in _html.unescape(stripped).strip().splitlines())
    text = re.sub(r"\n{3,}", "\n\n", text)
    return _LIST_GAP.sub(r"\1\n", text)


_LINK = re.compile(r'<a\s[^>]*?href="([^"]*)"[^>]*>(.*?)</a>', re.DOTALL)
_BLOCK_END = re.compile(r"</(?:p|li|h[2-6]|blockquote|td)>")


def _number_links(html: str, base: str, page: str) -> str:
    """Each link's text followed by [n], and its URL listed as "[n] URL" at the end of its block."""
    import urllib.parse

    out: list[str] = []
    pending: list[str] = []
    counter = 0
    position = 0
    for block_end in [*_BLOCK_END.finditer(html), None]:
        end = block_end.end() if block_end else len(html)
        chunk = html[position:end]
        position = end

        def number(match: re.Match[str]) -> str:
            nonlocal counter
            url = _html.unescape(match.group(1))
            if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", url):
                url = urllib.parse.urljoin(page if url.startswith("#") else base, url)
            if url.startswith("mailto:") and _html.unescape(nh3.clean(match.group(2), tags=set())) in url:
                return match.group(0)
            counter += 1
            pending.append(f"[{counter}] {url}")
            return f"{match.group(2)} [{counter}]"

        chunk = _LINK.sub(number, chunk)
        if pending and block_end is not None:
            refs = "<br>".join(_html.escape(ref) for ref in pending)
            tag = block_end.group(0)
            chunk = chunk[: -len(tag)] + tag + f"<p>{refs}</p>"
            pending.clear()
        out.append(chunk)
    return "".join(out)


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def without_controls(text: str) -> str:
    """``text`` without control characters (tabs and newlines kept): safe for a terminal, a header or XML."""
    return _CONTROL.sub("", text)


def _folds_to_ascii(char: str) -> bool:
    """Whether a letter or digit has an ASCII base (é -> e, ² -> 2); marks and punctuation count as folding."""
    if not unicodedata.category(char).startswith(("Lu", "Ll", "Lt", "Lo", "N")):
        return True
    return any(c.isascii() and c.isalnum() for c in unicodedata.normalize("NFKD", char))


def _is_latin(char: str) -> bool:
    return _folds_to_ascii(char) or unicodedata.name(char, "").startswith("LATIN ")


def _ascii_slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _letters_slug(text: str) -> str:
    kept = (
        char if unicodedata.category(char)[0] in "LMN" else "-"
        for char in unicodedata.normalize("NFKC", text).lower()
    )
    return re.sub(r"-+", "-", "".join(kept)).strip("-")


def tag_slug(text: str, limit: int = 40) -> str:
    """A tag as entries carry it (and as feed and preview filters compare it): lower-case, hyphenated, keeping
    the letters of every script; no transliteration.

    A tag whose letters all have an ASCII base letter is folded to ASCII as it always was ("Kraków" ->
    "krakow"). One with any other letter keeps every letter and digit as written, normalized (NFKC) and
    lower-cased: "Łódź" -> "łódź", "космос" -> "космос".
    """
    foldable = text.isascii() or all(_folds_to_ascii(c) for c in text)
    slug = _ascii_slug(text) if foldable else _letters_slug(text)
    return slug[:limit].rstrip("-") or "entry"


def slugify(text: str, limit: int = 60) -> str:
    """A slug for ids (an entry's default id, an importer's ids): lower-case, hyphenated.

    Latin-script text is folded to ASCII as it always was (accents dropped; a Latin letter without an ASCII
    base, such as ø or ł, is left out), so that no id already in readers' feeds changes. Text in any other
    script keeps its letters ("Полёт Гагарина" -> "полёт-гагарина"), so two such titles on one day get two ids.
    """
    latin = text.isascii() or all(_is_latin(c) for c in text)
    slug = _ascii_slug(text) if latin else _letters_slug(text)
    return slug[:limit].rstrip("-") or "entry"
