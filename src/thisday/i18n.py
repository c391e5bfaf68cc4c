"""Languages: dates, numbers and every reader-visible string, in each shipped language.

Dates come from CLDR through Babel: the language's long date pattern for a day ("12. Juli 1942",
"12 июля 1942 г.", "12 lipca 1942"), its month names in their grammatical forms (the genitive after a day,
the nominative alone: "июля" / "июль 1942 г."), its weekday names, its era names and where it puts them
("44 v. Chr.", "44 av. J.-C.", "44 до н. э."), and its number symbols. Historic dates are formatted from the
CLDR patterns here rather than with :func:`babel.dates.format_date`, because :class:`datetime.date` cannot
hold a year before AD 1.

Words thisday adds itself ("c.", "?", "O.S.", "N years ago", the page and email texts) come from gettext
catalogs in ``thisday/locale/<lang>/LC_MESSAGES/thisday.mo`` (sources: the ``.po`` files beside them). The
English msgids are the source texts; a string missing from a catalog falls back to English, never to an
empty string.

English keeps thisday's house style: day, month, year ("12 July 1942", as British English writes it, from
CLDR's ``en_GB``), "AD 70" before a small year, "Sunday 12 July 2026" without a comma.

Pure: no I/O apart from reading the shipped catalogs once per language; no clock.
"""

from __future__ import annotations

import datetime
import functools
import gettext as _gettext
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from markupsafe import Markup

from .model import Calendar, Entry, Feb29Policy, HistoricDate, Kind, Precision

if TYPE_CHECKING:
    import babel

# Babel (CLDR) is imported when a language is first used, not when thisday starts: commands that show no
# date (check, import) do not pay for it.

DOMAIN = "thisday"
DEFAULT_LANGUAGE = "en"
LANGUAGES: dict[str, str] = {
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
    "it": "Italiano",
    "pt": "Português",
    "pl": "Polski",
    "uk": "Українська",
    "ru": "Русский",
    "ar": "العربية",
}
"""The languages thisday ships catalogs for (code: the language's own name)."""

CLDR_LOCALES = {"en": "en_GB"}
"""The CLDR locale whose date patterns a language uses, where it is not the language code itself."""

_ENGLISH_PATTERNS = {
    # thisday's English house style: the era before a year of the first millennium (AD 70), after a BC year
    "day": "d MMMM y",
    "day_bc": "d MMMM y G",
    "day_ad": "d MMMM G y",
    "month": "MMMM y",
    "month_bc": "MMMM y G",
    "month_ad": "MMMM G y",
    "year": "y",
    "year_bc": "y G",
    "year_ad": "G y",
    "day_month": "d MMMM",
    "full": "EEEE d MMMM y",
}
_SKELETONS = {
    "day_bc": "GyMMMMd",
    "day_ad": "GyMMMMd",
    "month": "yMMMM",
    "month_bc": "GyMMMM",
    "month_ad": "GyMMMM",
    "year": "y",
    "year_bc": "Gy",
    "year_ad": "Gy",
    "day_month": "MMMMd",
}


def locale_dir() -> Path:
    """The folder of the shipped catalogs (package data)."""
    # beside this module (thisday is installed as a folder, never a zip): importlib.resources would cost a
    # preview ~7 ms of imports (tempfile, shutil, the compression modules) for the same path
    return Path(__file__).resolve().parent / "locale"


def known(code: str) -> bool:
    return code in LANGUAGES


def closest(code: str) -> str:
    """The shipped language closest to ``code`` ('de-AT' and 'deu' give 'de', 'ukr' gives 'uk'), for messages."""
    import difflib

    import babel

    text = code.strip().lower().replace("_", "-")
    head = text.split("-")[0]
    if head in LANGUAGES:
        return head
    try:
        parsed = babel.Locale.parse(text, sep="-")
        if parsed.language in LANGUAGES:
            return parsed.language
    except (ValueError, TypeError, babel.UnknownLocaleError):
        pass
    by_name = {name.lower(): c for c, name in LANGUAGES.items()}
    by_name.update({babel.Locale.parse(c).english_name.lower(): c for c in LANGUAGES})  # type: ignore[union-attr]
    if text in by_name:
        return by_name[text]
    three = {"deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es", "ita": "it", "por": "pt",
             "pol": "pl", "ukr": "uk", "rus": "ru", "ara": "ar", "eng": "en"}  # fmt: skip
    if head in three:
        return three[head]
    match = difflib.get_close_matches(head, list(LANGUAGES) + list(by_name), n=1, cutoff=0.0)
    return by_name.get(match[0], match[0]) if match else DEFAULT_LANGUAGE


def unknown_message(code: object, setting: str) -> str:
    """The error for an unknown language code: what, which setting, the closest known code, the choices."""
    near = closest(str(code))
    return (
        f"{setting} {code!r} is not a language thisday ships; did you mean '{near}'? "
        f"Known: {', '.join(LANGUAGES)} (the README's Languages section says how to add one)"
    )


def _tokens(pattern: str) -> list[tuple[str, Any]]:
    import babel.dates

    return list(babel.dates.tokenize_pattern(pattern))


@dataclass(frozen=True)
class Language:
    """One language: CLDR formatting and the gettext catalog. Get one with :func:`language`."""

    code: str
    locale: babel.Locale
    translations: _gettext.NullTranslations

    # -- strings ------------------------------------------------------------------------------

    def gettext(self, message: str) -> str:
        """``message`` in this language (English when the catalog lacks it)."""
        return self.translations.gettext(message) or message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The form of ``singular``/``plural`` for ``n`` under this language's plural rule."""
        return self.translations.ngettext(singular, plural, n) or (singular if n == 1 else plural)

    @property
    def direction(self) -> str:
        """'rtl' for right-to-left scripts (Arabic), else 'ltr'."""
        return "rtl" if self.locale.text_direction == "rtl" else "ltr"

    # -- numbers ------------------------------------------------------------------------------

    def number(self, n: int) -> str:
        """A count with the language's symbols; four-digit counts are not grouped ('2125', '12,025', '12 025')."""
        import babel.numbers

        return babel.numbers.format_decimal(n, locale=self.locale, group_separator=abs(n) >= 10000)

    # -- dates --------------------------------------------------------------------------------

    def pattern(self, name: str) -> str:
        """The CLDR pattern of a date shape ('day', 'day_bc', 'month', 'year_ad', 'day_month', 'full')."""
        import babel.dates

        if self.code == "en":
            return _ENGLISH_PATTERNS[name]
        if name == "day":
            return str(self.locale.date_formats["long"].pattern)
        if name == "full":
            return str(self.locale.date_formats["full"].pattern)
        skeleton = _SKELETONS[name]
        skeletons = self.locale.datetime_skeletons
        key = skeleton if skeleton in skeletons else babel.dates.match_skeleton(skeleton, skeletons)
        if key is None:  # pragma: no cover - every shipped locale has these skeletons
            raise LookupError(f"CLDR has no {skeleton} pattern for {self.code}")
        return str(skeletons[key].pattern)

    def _render(self, pattern: str, year: int, month: int | None = None, day: int | None = None,
                weekday: int | None = None) -> str:  # fmt: skip
        import babel.dates

        era = 0 if year <= 0 else 1
        shown = 1 - year if year <= 0 else year
        out: list[str] = []
        for kind, value in _tokens(pattern):
            if kind == "chars":
                out.append(value)
                continue
            char, count = value
            if char == "d" and day is not None:
                out.append(str(day).zfill(count))
            elif char in "ML" and month is not None:
                context: Literal["format", "stand-alone"] = "format" if char == "M" else "stand-alone"
                if count >= 3:
                    width: Literal["wide", "abbreviated"] = "wide" if count == 4 else "abbreviated"
                    out.append(babel.dates.get_month_names(width, context, self.locale)[month])
                else:
                    out.append(str(month).zfill(count))
            elif char in "yY":
                out.append(str(shown))
            elif char == "G":
                out.append(babel.dates.get_era_names("wide" if count == 4 else "abbreviated", self.locale)[era])
            elif char in "Ec" and weekday is not None:
                out.append(babel.dates.get_day_names("wide", "format", self.locale)[weekday])
            else:
                raise ValueError(f"date pattern {pattern!r}: field {char * count} has no value here")
        return "".join(out)

    def _shape(self, base: str, year: int) -> str:
        if year <= 0:
            return self.pattern(f"{base}_bc")
        if year < 1000:
            return self.pattern(f"{base}_ad")
        return self.pattern(base)

    def year(self, year: int) -> str:
        """An astronomical year as this language writes it: '1942', 'AD 70', '44 BC', '44 v. Chr.'."""
        return self._render(self._shape("year", year), year)

    def plain_date(self, year: int, month: int | None = None, day: int | None = None) -> str:
        """A date of any precision, any year: '12. Juli 1942', 'Juli 1942', '15 марта 44 г. до н. э.'."""
        if month is None:
            return self.year(year)
        if day is None:
            return self._render(self._shape("month", year), year, month)
        return self._render(self._shape("day", year), year, month, day)

    def day_month(self, month: int, day: int) -> str:
        """'25 October', '25. Oktober', '25 октября'."""
        return self._render(self.pattern("day_month"), 2000, month, day)

    def day(self, on: datetime.date) -> str:
        """A calendar day: '12 July 2026', '12. Juli 2026'."""
        return self.plain_date(on.year, on.month, on.day)

    def weekday(self, on: datetime.date) -> str:
        """'Sunday', 'Sonntag', 'воскресенье' (the stand-alone form)."""
        import babel.dates

        return str(babel.dates.get_day_names("wide", "stand-alone", self.locale)[on.weekday()])

    def full_day(self, on: datetime.date) -> str:
        """The weekday and the day: 'Sunday 12 July 2026', 'Sonntag, 12. Juli 2026'."""
        return self._render(self.pattern("full"), on.year, on.month, on.day, on.weekday())

    def date(self, date: HistoricDate, observe_julian: bool = False) -> str:
        """An entry's date: '12 July 1942', 'c. 1450', '7 November 1917 (O.S. 25 October)', in this language."""
        from .dates import gregorian_ymd

        if date.calendar is Calendar.JULIAN and date.precision is Precision.DAY and not observe_julian:
            gy, gm, gd = gregorian_ymd(date)
            assert date.month is not None and date.day is not None
            if date.year != gy:
                old = self.plain_date(date.year, date.month, date.day)
            else:
                old = self.day_month(date.month, date.day)
            text = self.gettext("{date} (O.S. {old})").format(date=self.plain_date(gy, gm, gd), old=old)
        else:
            text = self.plain_date(date.year, date.month, date.day)
            if date.calendar is Calendar.JULIAN:
                text = self.gettext("{date} (Julian calendar)").format(date=text)
        if date.approximate:
            text = self.gettext("c. {date}").format(date=text)
        if date.uncertain:
            text = self.gettext("{date}?").format(date=text)
        return text

    def years_ago(self, years: int | None) -> str:
        """'84 years ago', 'vor 84 Jahren', '84 года назад' (with the language's plural forms)."""
        if years is None:
            return ""
        if years == 0:
            return self.gettext("this very day")
        return self.ngettext("{n} year ago", "{n} years ago", years).format(n=self.number(years))

    def kind(self, kind: Kind) -> str:
        """The name of an entry's kind: 'birth', 'Geburt'."""
        names = {
            Kind.EVENT: self.gettext("event"),
            Kind.BIRTH: self.gettext("birth"),
            Kind.DEATH: self.gettext("death"),
            Kind.OBSERVANCE: self.gettext("observance"),
        }
        return names[kind]

    def occurrence_display(self, entry: Entry, on: datetime.date) -> str:
        """How an entry's date shows on ``on``: its own date, or a moveable feast's day and first year."""
        if entry.rule is not None:
            display = self.day(on)
            if entry.date is not None:
                display = self.gettext("{day} (observed since {year})").format(
                    day=display, year=self.year(entry.date.year)
                )
            return display
        assert entry.date is not None
        return self.date(entry.date, entry.observe_julian)

    def leap_day_note(self, policy: Feb29Policy) -> str:
        """Why a 29 February anniversary shows on another day in a common year."""
        moved = self.day_month(2, 28) if policy is Feb29Policy.FEB28 else self.day_month(3, 1)
        return self.gettext("A 29 February anniversary: in common years it is marked on {day}.").format(day=moved)

    # -- templates ----------------------------------------------------------------------------

    def template_values(self) -> dict[str, object]:
        """What the templates need to translate: ``gettext``/``ngettext`` (the ``{% trans %}`` tag and ``_()``
        call them, the "new style" way: ``%(name)s`` placeholders, autoescaped), the code and the direction."""
        return {
            "gettext": _new_gettext(self.gettext),
            "ngettext": _new_ngettext(self.ngettext),
            "number": self.number,
            "lang": self.code,
            "lang_dir": self.direction,
        }


def _new_gettext(func: Callable[[str], str]) -> Callable[..., str]:
    import jinja2

    @jinja2.pass_eval_context
    def gettext(eval_ctx: jinja2.nodes.EvalContext, message: str, **variables: Any) -> str:
        text: str = func(message)
        if eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return gettext


def _new_ngettext(func: Callable[[str, str, int], str]) -> Callable[..., str]:
    import jinja2

    @jinja2.pass_eval_context
    def ngettext(eval_ctx: jinja2.nodes.EvalContext, singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        text: str = func(singular, plural, num)
        if eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return ngettext


@functools.cache
def language(code: str = DEFAULT_LANGUAGE) -> Language:
    """The :class:`Language` of a shipped language code (a ``ValueError`` for any other: the config checks first)."""
    import babel

    if code not in LANGUAGES:
        raise ValueError(unknown_message(code, "language"))
    locale = babel.Locale.parse(CLDR_LOCALES.get(code, code))
    translations = _gettext.translation(DOMAIN, str(locale_dir()), languages=[code], fallback=True)
    return Language(code, locale, translations)
