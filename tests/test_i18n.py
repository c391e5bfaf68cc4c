"""Dates, numbers and texts in every shipped language, checked against CLDR (Babel) and the catalogs' sources.

Expected values are computed from Babel's CLDR data (date patterns, month and era names, number symbols, plural
rules) and from the ``.po`` files read by Babel, never typed in: a test fails when thisday's display drifts from
the language's own conventions, or when the compiled catalogs the package ships drift from their sources.
"""

from __future__ import annotations

import datetime
import gettext
import io
from pathlib import Path

import babel.dates
import babel.numbers
import jinja2
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from thisday import i18n
from thisday.config import load_settings
from thisday.errors import ConfigError
from thisday.model import Calendar, HistoricDate

ROOT = Path(__file__).parent.parent
LANGS = sorted(i18n.LANGUAGES)


def catalog(code: str) -> Catalog:
    path = i18n.locale_dir() / code / "LC_MESSAGES" / "thisday.po"
    with path.open("rb") as handle:
        return read_po(handle, locale=code)


def po(code: str, msgid: str) -> str:
    """The .po translation of a singular msgid (read by Babel, not through the compiled .mo)."""
    message = catalog(code)[msgid]
    assert message is not None and message.string, f"{code}: {msgid!r} has no translation"
    assert isinstance(message.string, str)
    return message.string


def cldr(code: str) -> str:
    return i18n.CLDR_LOCALES.get(code, code)


def plural_index(code: str, n: int) -> int:
    """The gettext form for ``n`` under Babel's CLDR-derived plural rule for the language."""
    return int(gettext.c2py(get_plural(code).plural_expr)(n))


@pytest.mark.parametrize("code", LANGS)
def test_day_precise_date_is_the_cldr_long_date(code: str) -> None:
    """A day-precise date reads as the language's CLDR long date ('12. Juli 1942', '12 июля 1942 г.')."""
    expected = babel.dates.format_date(datetime.date(1942, 7, 12), "long", locale=cldr(code))
    assert i18n.language(code).date(HistoricDate(1942, 7, 12)) == expected


@pytest.mark.parametrize("code", LANGS)
def test_bc_date_uses_the_cldr_era_and_its_place(code: str) -> None:
    """15 March 44 BC is written with the language's BC era name where CLDR puts the era ('44 v. Chr.')."""
    eras = babel.dates.get_era_names("abbreviated", locale=cldr(code))
    with_era = babel.dates.format_skeleton("GyMMMMd", datetime.date(44, 3, 15), locale=cldr(code))
    expected = with_era.replace(eras[1], eras[0], 1)  # the first: the Arabic AD era "م" also begins "مارس"
    shown = i18n.language(code).date(HistoricDate(-43, 3, 15))
    assert shown == expected
    assert eras[0] in shown and babel.dates.get_month_names("wide", "format", cldr(code))[3] in shown


@pytest.mark.parametrize("code", LANGS)
def test_approximate_and_uncertain_dates_use_the_catalog_markers(code: str) -> None:
    """'c.' and '?' come from the language's catalog around the CLDR year ('ca. 1450', 'ок. 1450', '1450؟')."""
    lang = i18n.language(code)
    year = babel.dates.format_skeleton("y", datetime.date(1450, 1, 1), locale=cldr(code))
    assert lang.date(HistoricDate(1450, approximate=True)) == po(code, "c. {date}").format(date=year)
    assert lang.date(HistoricDate(1450, uncertain=True)) == po(code, "{date}?").format(date=year)


@pytest.mark.parametrize("code", LANGS)
def test_old_style_date_shows_both_calendars_in_the_language(code: str) -> None:
    """25 October 1917 Old Style reads as the Gregorian long date with the Julian day-month in the language's
    own convention ('7 November 1917 (O.S. 25 October)', '7 ноября 1917 г. (25 октября по ст. ст.)')."""
    new = babel.dates.format_date(datetime.date(1917, 11, 7), "long", locale=cldr(code))
    old = babel.dates.format_skeleton("MMMMd", datetime.date(1917, 10, 25), locale=cldr(code))
    expected = po(code, "{date} (O.S. {old})").format(date=new, old=old)
    assert i18n.language(code).date(HistoricDate(1917, 10, 25, Calendar.JULIAN)) == expected
    # across New Year the Old Style day keeps its own year: 31 December 1917 O.S. is 13 January 1918
    new = babel.dates.format_date(datetime.date(1918, 1, 13), "long", locale=cldr(code))
    old = babel.dates.format_date(datetime.date(1917, 12, 31), "long", locale=cldr(code))
    expected = po(code, "{date} (O.S. {old})").format(date=new, old=old)
    assert i18n.language(code).date(HistoricDate(1917, 12, 31, Calendar.JULIAN)) == expected


def test_russian_old_style_says_po_staromu_stilyu() -> None:
    """Russian marks an Old Style day 'по ст. ст.', as Russian writes it (the issue's example)."""
    assert i18n.language("ru").date(HistoricDate(1917, 10, 25, Calendar.JULIAN)).endswith("по ст. ст.)")


@pytest.mark.parametrize("code", LANGS)
@pytest.mark.parametrize("n", [1, 2, 5, 21, 22, 25, 84])
def test_years_ago_takes_the_cldr_plural_form(code: str, n: int) -> None:
    """'N years ago' takes the form CLDR's plural rule picks for N (Russian: 21 год, 22 года, 25 лет), with N in
    the language's digits."""
    message = catalog(code).get("{n} year ago")
    assert message is not None and isinstance(message.string, tuple)
    form = message.string[plural_index(code, n)]
    expected = form.format(n=babel.numbers.format_decimal(n, locale=cldr(code)))
    assert i18n.language(code).years_ago(n) == expected


@pytest.mark.parametrize("code", LANGS)
def test_catalog_plural_rule_is_cldrs(code: str) -> None:
    """Each catalog's Plural-Forms header is the one Babel derives from CLDR for the language."""
    assert catalog(code).plural_forms == get_plural(code).plural_forms


@pytest.mark.parametrize("code", ["ru", "uk", "pl"])
def test_three_plural_forms_are_all_used(code: str) -> None:
    """Russian, Ukrainian and Polish say 'N years ago' three different ways for CLDR's one/few/many."""
    locale = babel.Locale.parse(code)
    lang = i18n.language(code)
    forms = {locale.plural_form(n): lang.years_ago(n).replace(str(n), "N") for n in (1, 22, 25)}
    assert sorted(forms) == ["few", "many", "one"]
    assert len(set(forms.values())) == 3, forms


@pytest.mark.parametrize("code", LANGS)
def test_numbers_use_the_languages_separators(code: str) -> None:
    """Counts of five digits and more carry the language's group separator (12,025 / 12.025 / 12 025)."""
    grouped = babel.numbers.format_decimal(12025, locale=cldr(code))
    assert grouped in i18n.language(code).years_ago(12025)
    assert babel.numbers.get_group_symbol(cldr(code)) in grouped


def test_a_string_missing_from_a_catalog_falls_back_to_english() -> None:
    """A text the catalog lacks comes out in English, never as an empty string."""
    for code in LANGS:
        lang = i18n.language(code)
        assert lang.gettext("A sentence no catalog has.") == "A sentence no catalog has."
        assert lang.ngettext("{n} widget", "{n} widgets", 5) == "{n} widgets"


@pytest.mark.parametrize("code", LANGS)
def test_no_catalog_entry_is_empty_or_fuzzy(code: str) -> None:
    """Every message of every shipped catalog is translated (gettext would otherwise show English silently)."""
    for message in catalog(code):
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"{code}: {message.id!r} is untranslated"
        assert not message.fuzzy, f"{code}: {message.id!r} is fuzzy"


def _source_messages() -> set[str]:
    """Every msgid in the templates and the Python code, extracted the way scripts/catalogs does."""
    method_map = [
        ("src/thisday/**.py", "python"),
        ("templates/**.html", "jinja2"),
        ("templates/**.txt", "jinja2"),
    ]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}, "templates/**.txt": {"extensions": "jinja2.ext.i18n"}}
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options_map=options):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_template_string_is_in_every_catalog() -> None:
    """A reader-visible string in a template or the code without an entry in a shipped catalog fails here."""
    messages = _source_messages()
    assert "Also on this day" in messages and "On this day: %(when)s" in messages  # the extraction works
    for code in LANGS:
        ids = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog(code) if m.id}
        missing = sorted(messages - ids)
        assert not missing, f"{code}: not in the catalog: {missing} (run bash scripts/catalogs and translate)"


def test_no_template_text_is_left_untranslatable() -> None:
    """Every word a template prints itself is inside {% trans %} or _(): text between tags that is not marked
    for translation (a new label, a button) fails here, naming the template and the words."""
    import re

    found = {}
    for path in sorted((ROOT / "templates").rglob("*")):
        if path.suffix not in (".html", ".txt") or path.name.startswith("editor"):
            continue  # the editor's view (serve --preview) is a tool for the site's editors, in English
        text = path.read_text(encoding="utf-8")
        for pattern in (
            r"\{#.*?#\}",
            r"\{%-?\s*trans\b.*?endtrans\s*-?%\}",
            r"\{%.*?%\}",
            r"\{\{.*?\}\}",
            r"<style.*?</style>",
            r"<!--.*?-->",
            r"<[^>]*>",
            r"&[#\w]+;",
        ):
            text = re.sub(pattern, "", text, flags=re.S)
        words = re.findall(r"[^\W\d_]{2,}", text)
        if words:
            found[str(path.relative_to(ROOT))] = words
    assert not found, f"wrap these in {{% trans %}} or _() and run bash scripts/catalogs: {found}"


@pytest.mark.parametrize("code", LANGS)
def test_shipped_mo_files_match_their_po_sources(code: str) -> None:
    """The compiled catalogs the package ships say what the .po files say (run bash scripts/catalogs compile)."""
    mo = i18n.locale_dir() / code / "LC_MESSAGES" / "thisday.mo"
    with mo.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for message in catalog(code):
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            assert isinstance(message.string, tuple)
            for n in (1, 2, 5, 11, 22, 100):
                want = message.string[plural_index(code, n)]
                assert compiled.ngettext(message.id[0], message.id[1], n) == want
        else:
            assert compiled.gettext(message.id) == message.string


def test_templates_translate_with_autoescaping() -> None:
    """A {% trans %} text is escaped like any other output: a value with markup cannot inject HTML."""
    env = jinja2.Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    env.install_gettext_callables(lambda s: s, lambda s, p, n: s if n == 1 else p, newstyle=True)  # type: ignore[attr-defined]
    template = env.from_string("{% trans when=w %}On this day: {{ when }}{% endtrans %}")
    values = i18n.language("de").template_values()
    assert template.render(w="<b>x</b>", **values) == "An diesem Tag: &lt;b&gt;x&lt;/b&gt;"


@pytest.mark.parametrize(
    ("code", "near"), [("ger", "de"), ("deu", "de"), ("ru-RU", "ru"), ("pt_BR", "pt"), ("ukr", "uk"), ("Arabic", "ar")]
)
def test_unknown_language_in_config_names_the_closest(tmp_path: Path, code: str, near: str) -> None:
    """An unknown site.language is an error at load saying which setting, and the closest shipped code."""
    config = tmp_path / "thisday.toml"
    config.write_text(f'[site]\nlanguage = "{code}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=f"site.language '{code}'.*did you mean '{near}'"):
        load_settings(config)


def test_unknown_feed_and_site_languages_are_errors(tmp_path: Path) -> None:
    """site.languages and a feed's language are checked the same way, naming the setting."""
    config = tmp_path / "thisday.toml"
    config.write_text('[site]\nlanguages = ["en", "fre"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"site.languages\[1\] 'fre'.*did you mean 'fr'"):
        load_settings(config)
    config.write_text('[[feeds]]\nname = "es"\nlanguage = "esp"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"feeds.es.language 'esp'.*did you mean 'es'"):
        load_settings(config)


def test_arabic_is_right_to_left_and_the_others_are_not() -> None:
    """Arabic texts are marked right-to-left (from CLDR's character order); every other shipped language not."""
    for code in LANGS:
        assert i18n.language(code).direction == babel.Locale.parse(code).text_direction


def test_weekday_and_full_day_follow_cldr() -> None:
    """The day's heading with its weekday is CLDR's full date ('Sonntag, 12. Juli 2026'); English keeps
    'Sunday 12 July 2026'."""
    day = datetime.date(2026, 7, 12)
    for code in LANGS:
        full = i18n.language(code).full_day(day)
        if code == "en":
            assert full == "Sunday 12 July 2026"
        else:
            assert full == babel.dates.format_date(day, "full", locale=code)


def test_compile_writes_what_gettext_reads() -> None:
    """Sanity of the check above: a freshly compiled catalog is read back by gettext (so the comparison is fair)."""
    from babel.messages.mofile import write_mo

    buffer = io.BytesIO()
    write_mo(buffer, catalog("de"))
    buffer.seek(0)
    assert gettext.GNUTranslations(buffer).gettext("Today") == po("de", "Today")
