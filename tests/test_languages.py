"""A site in several languages, as readers get it: per-language folders with hreflang alternates, feeds in each
language (W3C-clean), the digest in a chosen language, entries' translations with their fallback, right-to-left
Arabic, and the editor's side (``check`` on translation files, ``coverage --lang``, ``preview --lang``).
"""

from __future__ import annotations

import dataclasses
import datetime
import email
import email.policy
import re
import shutil
from pathlib import Path
from typing import Any

import babel.dates
import feedparser
import pytest
from click.testing import CliRunner
from lxml import etree  # type: ignore[import-untyped]  # no stubs; lxml comes with feedgen

from test_feeds import w3c_problems
from thisday import i18n
from thisday.cli import main
from thisday.config import FeedSettings, Settings, SiteSettings
from thisday.digest import Digest
from thisday.entries import load_tree, with_translations
from thisday.index import CalendarIndex
from thisday.message import message_bytes
from thisday.publish import render_site
from thisday.selection import day_selection

FIXTURES = Path(__file__).parent / "fixtures" / "entries"
ON = datetime.date(2026, 7, 12)
NOW = datetime.datetime(2026, 7, 12, 6, 0, tzinfo=datetime.UTC)
BASE = "https://history.example.org/daily/"

CAPTURE_DE = """---
title: Andrei Wlassow gerät in deutsche Gefangenschaft
---
Nach der Vernichtung der **2. Stoßarmee** versteckte sich ihr Befehlshaber wochenlang.
"""
BULK_TRANSLATED = """- title: Thoreau's cabin is finished
  date: "1845-07-12"
  tags: [literature]
  body: A cabin at Walden Pond.
  translations:
    de:
      title: Thoreaus Hütte ist fertig
      body: Eine Hütte am Walden-See.
    ar:
      title: اكتمال كوخ ثورو
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "entries"
    shutil.copytree(FIXTURES, root)
    (root / "stories" / "1942-07-12-capture.de.md").write_text(CAPTURE_DE, encoding="utf-8")
    (root / "days" / "translated.yaml").write_text(BULK_TRANSLATED, encoding="utf-8")
    return root


def settings_for(root: Path, **site: object) -> Settings:
    feeds = (
        FeedSettings(),
        FeedSettings(name="de", title="Geschichte täglich", language="de"),
        FeedSettings(name="de-only", title="Nur Deutsch", language="de", untranslated="omit"),
        FeedSettings(name="fr", title="L’histoire au jour le jour", language="fr"),
        FeedSettings(name="ar", title="في مثل هذا اليوم", language="ar"),
    )
    values: dict[str, object] = {"title": "History Daily", "base_url": BASE, "languages": ("en", "de", "ar")}
    values.update(site)
    return Settings(entries=root, timezone="UTC", site=SiteSettings(**values), feeds=feeds)  # type: ignore[arg-type]


def index_of(root: Path) -> CalendarIndex:
    result = load_tree(root)
    entries, problems = with_translations(result.entries, root)
    assert not problems
    return CalendarIndex.build(entries)


@pytest.fixture
def site(tree: Path) -> dict[str, bytes]:
    settings = settings_for(tree)
    return dict(render_site(settings, index_of(tree), ON, NOW, days=3))


def text(data: bytes) -> str:
    return data.decode("utf-8")


def test_each_site_language_gets_its_folder(site: dict[str, bytes]) -> None:
    """site.languages = [en, de, ar]: English at the root, German in de/, Arabic in ar/, each index and day page."""
    for folder in ("", "de/", "ar/"):
        assert f"{folder}index.html" in site
        assert f"{folder}days/2026-07-12.html" in site
    assert "fr/index.html" not in site  # a feed language alone makes no folder


def test_german_page_shows_translations_dates_and_texts_in_german(site: dict[str, bytes]) -> None:
    """The German page: lang="de", the German translation of a translated entry, German dates (from CLDR) and
    texts (from the catalog); an untranslated entry shows in English, marked lang="en"."""
    page = text(site["de/days/2026-07-12.html"])
    assert '<html lang="de">' in page
    assert "Andrei Wlassow gerät in deutsche Gefangenschaft" in page
    assert "Thoreaus Hütte ist fertig" in page and "Eine Hütte am Walden-See." in page
    assert babel.dates.format_date(ON, "full", locale="de") in page
    assert babel.dates.format_date(datetime.date(1942, 7, 12), "long", locale="de") in page
    assert i18n.language("de").years_ago(84) in page
    assert i18n.language("de").gettext("Today") in page and ">Today<" not in page
    untranslated = re.search(r'<article id="[^"]*henry-david-thoreau[^"]*"([^>]*)>', page)
    assert untranslated is not None and 'lang="en" dir="ltr"' in untranslated.group(1)
    assert "Henry David Thoreau is born" in page


def test_pages_announce_their_other_languages(site: dict[str, bytes]) -> None:
    """Every page links its versions in the other languages with hreflang (the day page to the same day), and
    the default language's as x-default."""
    for path in ("days/2026-07-12.html", "de/days/2026-07-12.html", "ar/days/2026-07-12.html"):
        links = re.findall(r'<link rel="alternate" hreflang="([a-z-]+)" href="([^"]+)">', text(site[path]))
        assert links == [
            ("en", f"{BASE}days/2026-07-12.html"),
            ("de", f"{BASE}de/days/2026-07-12.html"),
            ("ar", f"{BASE}ar/days/2026-07-12.html"),
            ("x-default", f"{BASE}days/2026-07-12.html"),
        ]
    index = re.findall(r'hreflang="([a-z-]+)" href="([^"]+)"', text(site["de/index.html"]))
    assert index == [("en", BASE), ("de", f"{BASE}de/"), ("ar", f"{BASE}ar/"), ("x-default", BASE)]
    canonical = re.search(r'<link rel="canonical" href="([^"]+)">', text(site["de/days/2026-07-12.html"]))
    assert canonical is not None and canonical.group(1) == f"{BASE}de/days/2026-07-12.html"


def test_arabic_page_is_right_to_left_with_latin_text_left_to_right(site: dict[str, bytes]) -> None:
    """The Arabic page is dir="rtl"; the English entries shown in it (no translation) are marked lang="en"
    dir="ltr" so Latin text keeps its order; the translated one is in Arabic (the HTML; the next test checks
    the rendering in a browser)."""
    page = text(site["ar/days/2026-07-12.html"])
    assert '<html lang="ar" dir="rtl">' in page
    assert "اكتمال كوخ ثورو" in page
    for match in re.finditer(r"<article([^>]*)>\s*<h2>([^<]*)</h2>", page):
        attrs, title = match.groups()
        if re.search("[A-Za-z]", title):
            assert 'lang="en" dir="ltr"' in attrs, title
        else:
            assert "dir=" not in attrs
    assert babel.dates.format_date(ON, "full", locale="ar") in page


@pytest.fixture
def rtl_browser(request: pytest.FixtureRequest) -> Any:
    """The suite's headless chromium tab (``browser``, from tests/browser.py), or a skip where it is missing."""
    try:
        return request.getfixturevalue("browser")
    except pytest.FixtureLookupError:
        pytest.skip("the browser fixture (tests/browser.py) is not available in this checkout")


@pytest.mark.slow
def test_arabic_page_renders_right_to_left_in_a_browser(site: dict[str, bytes], tmp_path: Path, rtl_browser: Any) -> None:
    """In headless chromium the Arabic page runs right to left: headings start at the right edge, while an
    English entry shown on it (no Arabic translation) runs left to right from the left edge; nothing scrolls
    sideways at phone width."""
    for rel, data in site.items():
        path = tmp_path / "site" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    rtl_browser.load(tmp_path / "site" / "ar" / "days" / "2026-07-12.html")
    layout = rtl_browser.js(
        """
        const main = document.querySelector('main').getBoundingClientRect();
        const edges = (el) => {
            const range = document.createRange(); range.selectNodeContents(el);
            const r = range.getBoundingClientRect();
            return {left: r.left - main.left, right: main.right - r.right,
                    direction: getComputedStyle(el).direction};
        };
        return {
            page: getComputedStyle(document.documentElement).direction,
            h1: edges(document.querySelector('h1')),
            articles: [...document.querySelectorAll('article')].map(a => ({
                title: a.querySelector('h2').textContent, ...edges(a.querySelector('h2'))})),
        };
        """
    )
    assert layout["page"] == "rtl"
    assert layout["h1"]["direction"] == "rtl" and layout["h1"]["right"] < 2 < layout["h1"]["left"]
    latin = [a for a in layout["articles"] if re.search("[A-Za-z]", a["title"])]
    arabic = [a for a in layout["articles"] if not re.search("[A-Za-z]", a["title"])]
    assert latin and arabic
    for article in arabic:
        assert article["direction"] == "rtl" and article["right"] < 2 < article["left"], article
    for article in latin:
        assert article["direction"] == "ltr" and article["left"] < 2 < article["right"], article
    assert rtl_browser.scroll_width() <= rtl_browser.viewport_width()


def test_english_pages_are_unchanged_by_other_languages(tree: Path) -> None:
    """Adding languages adds folders and hreflang links; the English root page is otherwise what it was."""
    one = dict(render_site(settings_for(tree, languages=()), index_of(tree), ON, NOW, days=3))
    three = dict(render_site(settings_for(tree), index_of(tree), ON, NOW, days=3))
    stripped = re.sub(r'<link rel="alternate" hreflang[^>]*>\n', "", text(three["days/2026-07-12.html"]))
    assert stripped == text(one["days/2026-07-12.html"])


@pytest.mark.parametrize("fmt", ["atom", "rss"])
@pytest.mark.parametrize("name", ["onthisday", "de", "de-only", "fr", "ar"])
def test_feeds_in_every_language_are_w3c_clean(tree: Path, site: dict[str, bytes], name: str, fmt: str) -> None:
    """Every feed of a three-language site parses without error, passes the W3C checks and says its language
    (xml:lang on Atom, <language> on RSS)."""
    settings = settings_for(tree)
    feed = next(f for f in settings.feeds if f.name == name)
    language = feed.language or "en"
    data = site[f"{name}.{fmt}"]
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    as_declared = dataclasses.replace(settings, site=dataclasses.replace(settings.site, language=language))
    assert w3c_problems(data, as_declared, feed, fmt) == []
    root = etree.fromstring(data)
    declared = root.get("{http://www.w3.org/XML/1998/namespace}lang") if fmt == "atom" else root.findtext("channel/language")
    assert declared == language


def test_german_feed_items_are_german(site: dict[str, bytes]) -> None:
    """A German feed's item titles and bodies are German: the day in German, the catalog's wording, the
    translations; its links go to the German pages."""
    parsed = feedparser.parse(site["de.atom"])
    item = next(e for e in parsed.entries if "2026-07-12" in e.id)
    de = i18n.language("de")
    assert item.title.startswith(babel.dates.format_date(ON, "long", locale="de") + ": ")
    assert de.gettext("on this day in {year}").format(year="1942") in item.title
    assert "Andrei Wlassow" in item.title
    assert item.link == f"{BASE}de/days/2026-07-12.html"
    assert "Andrei Wlassow gerät in deutsche Gefangenschaft" in item.content[0].value


def test_feed_can_leave_untranslated_entries_out(site: dict[str, bytes]) -> None:
    """untranslated = "omit": a German feed shows only entries that have a German translation; the default
    ("fallback") shows the others as written."""
    only = feedparser.parse(site["de-only.atom"]).entries[0].content[0].value
    fallback = feedparser.parse(site["de.atom"]).entries[0].content[0].value
    assert "Thoreaus Hütte ist fertig" in only and "Andrei Wlassow" in only
    assert "Henry David Thoreau is born" not in only
    assert "Henry David Thoreau is born" in fallback


@pytest.mark.parametrize("code", ["de", "ru", "ar"])
def test_digest_renders_in_a_chosen_language(tree: Path, code: str) -> None:
    """Digest.render(..., language=X): subject, both parts and Content-Language in X (per subscriber later)."""
    settings = settings_for(tree)
    selection = day_selection(index_of(tree), ON, settings)
    message = Digest.render(selection, settings, language=code).message(NOW, "reader@example.org")
    parsed = email.message_from_bytes(message_bytes(message), policy=email.policy.default)
    lang = i18n.language(code)
    assert parsed["Content-Language"] == code
    # the subject is one line with plain spaces (CLDR writes '2026\u202fг.' with a narrow no-break space)
    assert " ".join(babel.dates.format_date(ON, "long", locale=code).split()) in str(parsed["Subject"])
    plain = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert lang.gettext("Also on this day").upper() in plain
    assert lang.gettext("Also on this day") in html
    assert f'lang="{code}"' in html
    assert ('dir="rtl"' in html) == (code == "ar")


def test_translation_problems_are_reported_by_check(tree: Path, tmp_path: Path) -> None:
    """`thisday check` reports, as path:line, a translation whose original is missing and a translation that
    carries a field that is not translated (date), in Markdown and in a bulk file."""
    (tree / "stories" / "1999-01-01-nothing.de.md").write_text("---\ntitle: Nichts\n---\nText\n", encoding="utf-8")
    (tree / "stories" / "1942-07-12-capture.fr.md").write_text(
        "---\ntitle: Vlassov est capturé\ndate: 1942-07-13\n---\n", encoding="utf-8"
    )
    (tree / "days" / "bad.yaml").write_text(
        '- title: X\n  date: "1900-01-01"\n  translations:\n    de:\n      title: Y\n      date: "1900-01-02"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["--entries", str(tree), "check"])
    assert result.exit_code == 1
    out = result.stdout
    assert re.search(r"stories/1999-01-01-nothing\.de\.md:1: translation of stories/1999-01-01-nothing\.md, which does not exist", out)
    assert re.search(r"stories/1942-07-12-capture\.fr\.md:3: 'date' is not translated", out)
    assert re.search(r"days/bad\.yaml:3: translations\.de\.date: only title and body are translated", out)


def test_unknown_translation_language_is_a_problem(tree: Path) -> None:
    """A translations: key that is not a shipped language is a problem naming the closest code."""
    (tree / "days" / "bad.yaml").write_text(
        '- title: X\n  date: "1900-01-01"\n  translations:\n    ger:\n      title: Y\n', encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["--entries", str(tree), "check"])
    assert result.exit_code == 1
    assert re.search(r"days/bad\.yaml:3: .*'ger'.*did you mean 'de'", result.stdout)


def test_coverage_lang_shows_days_without_german_entries(tree: Path) -> None:
    """`thisday coverage --lang de` counts only entries with a German translation: 12 July has two, every
    other day none."""
    result = CliRunner().invoke(main, ["--entries", str(tree), "coverage", "--lang", "de"])
    assert result.exit_code == 0, result.output
    july = next(line for line in result.stdout.splitlines() if line.startswith("Jul"))
    cells = [july[6 + 3 * i : 9 + 3 * i].strip() for i in range(31)]
    assert cells[11] == "2" and all(c == "." for i, c in enumerate(cells) if i != 11)
    assert "1 of 366 days have entries" in result.stdout
    everything = CliRunner().invoke(main, ["--entries", str(tree), "coverage"]).stdout
    assert "1 of 366 days" not in everything


def test_preview_lang_shows_the_day_in_that_language(tree: Path) -> None:
    """`thisday preview --lang de` shows the German day, German dates and years, and the translations."""
    result = CliRunner().invoke(main, ["--entries", str(tree), "preview", "2026-07-12", "--lang", "de"])
    assert result.exit_code == 0, result.output
    de = i18n.language("de")
    assert result.stdout.startswith(de.full_day(ON) + ": ")
    assert "Andrei Wlassow gerät in deutsche Gefangenschaft" in result.stdout
    assert de.years_ago(84) in result.stdout
    html = CliRunner().invoke(
        main, ["--entries", str(tree), "preview", "2026-07-12", "--lang", "ar", "--format", "html"]
    )
    assert html.exit_code == 0, html.output
    assert '<html lang="ar" dir="rtl">' in html.stdout


def test_preview_lang_rejects_an_unknown_code(tree: Path) -> None:
    """An unknown --lang is a usage error naming the closest shipped code."""
    result = CliRunner().invoke(main, ["--entries", str(tree), "preview", "--lang", "russian"])
    assert result.exit_code == 2
    assert "did you mean 'ru'" in result.output


def test_filtered_feed_description_is_in_the_feeds_language(tree: Path) -> None:
    """A filtered feed's default description says what it holds in the feed's language; in English exactly
    as before ('... Only births tagged literature or science.')."""
    from thisday.layout import feed_description
    from thisday.model import Kind

    settings = settings_for(tree, description="Daily history.")
    english = FeedSettings(name="b", kinds=(Kind.BIRTH,), tags=("literature", "science"))
    assert feed_description(settings, english) == "Daily history. Only births tagged literature or science."
    german = dataclasses.replace(english, language="de")
    de = i18n.language("de")
    described = feed_description(settings, german)
    assert described.startswith("Daily history. ") and de.gettext("births") in described
    assert "births" not in described and de.gettext("{a} or {b}").format(a="literature", b="science") in described


def test_translation_scan_survives_links_and_odd_files(tree: Path) -> None:
    """A folder linked into itself and a translation name on something that is not a file (a broken link, a
    pipe) never stop or hang a load: each translation file is found once, the rest is passed over."""
    import os

    (tree / "stories" / "loop").symlink_to(tree / "stories", target_is_directory=True)
    (tree / "stories" / "gone.de.md").symlink_to(tree / "nowhere.md")
    os.mkfifo(tree / "stories" / "pipe.fr.md")
    from thisday.entries import scan_translation_files

    found = scan_translation_files(tree)
    assert [rel for rel, _, _ in found] == ["stories/1942-07-12-capture.de.md"]
    entries, problems = with_translations([], tree, every_file=True)
    assert entries == [] and problems == []


def test_preview_json_lang_gives_translated_texts(tree: Path) -> None:
    """`thisday preview --format json --lang de` gives scripts the German title, body and date display."""
    import json

    result = CliRunner().invoke(main, ["--entries", str(tree), "preview", "2026-07-12", "--lang", "de", "--format", "json"])
    assert result.exit_code == 0, result.output
    entries = {e["id"]: e for e in json.loads(result.stdout)["entries"]}
    capture = next(e for i, e in entries.items() if "captured" in i)
    assert capture["title"] == "Andrei Wlassow gerät in deutsche Gefangenschaft"
    assert capture["date_display"] == babel.dates.format_date(datetime.date(1942, 7, 12), "long", locale="de")
    assert "2. Stoßarmee" in capture["body"]
