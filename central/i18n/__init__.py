"""The district's languages: gettext catalogs (Babel) and locale formatting of dates and numbers.

Messages are written in English in the code and templates and translated through the catalogs in
``central/i18n/locale/<locale>/LC_MESSAGES/messages.po`` (Simplified Chinese uses the district's own
words, ``../shared/glossary-zh.md``). The ``.po`` files are the source; they are compiled in memory
when first used, so no binary ``.mo`` is kept in the repository. ``make i18n`` extracts new
messages from the code and templates and merges them into the catalogs; a test fails when a
message has no translation.

A :class:`Translator` is passed explicitly to whatever renders text for a reader (a page, a notice,
a delivery, a report): one per locale, no global "current language".

- Python: ``t.gettext("Daily notification")``, ``t.ngettext("{n} problem", "{n} problems", n)``
  (the caller formats ``{n}``); text declared in data is marked with :func:`N_` and translated
  where it is shown.
- Jinja2: the ``jinja2.ext.i18n`` extension with new-style gettext: ``{{ _("Fleet") }}``,
  ``{{ ngettext("%(num)d desk", "%(num)d desks", n) }}``, ``{% trans %}...{% endtrans %}``; see
  :func:`install`.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final

from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations, Translations
from jinja2 import Environment

LOCALES: Final = ("zh_CN", "en")
"""Locales the district side speaks; the first is the default of an installation."""
DEFAULT_LOCALE: Final = "zh_CN"


class UnknownLocaleError(ValueError):
    """A locale the catalogs do not have; the message lists those that exist."""


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Mark ``message`` for extraction without translating it here."""
    return message


class RefusalError(ValueError):
    """A refusal whose reason is a message id (marked ``N_``) with named values: ``str()`` is the
    English text (logs, the terminal), :meth:`text` the reader's language (the pages)."""

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message % values if values else message)
        self.message = message
        self.values = values

    def text(self, t: Translator) -> str:
        said = t.gettext(self.message)
        return said % self.values if self.values else said


def check_locale(name: str) -> str:
    """``name`` normalised (``zh-CN`` -> ``zh_CN``), or :class:`UnknownLocaleError`."""
    norm = name.replace("-", "_")
    if norm not in LOCALES:
        raise UnknownLocaleError(f"unknown language {name!r}: one of {', '.join(LOCALES)}")
    return norm


@cache
def _catalog(locale: str) -> NullTranslations:
    if locale == "en":
        return NullTranslations()  # the messages are English
    po = resources.files("central.i18n") / "locale" / locale / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(fp=buf)


@dataclass(frozen=True)
class Translator:
    """Everything text needs for one locale: messages, plurals, dates, times and numbers."""

    locale: str

    @property
    def _t(self) -> NullTranslations:
        return _catalog(self.locale)

    def gettext(self, message: str) -> str:
        return self._t.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._t.ngettext(singular, plural, n)

    def date(self, d: dt.date | dt.datetime, fmt: str = "medium") -> str:
        """A date as the locale writes it (zh_CN medium: 2026年12月5日)."""
        return format_date(d, format=fmt, locale=self.locale)

    def datetime(self, when: dt.datetime, fmt: str = "medium") -> str:
        """An aware date and time in its own time zone, as the locale writes it."""
        return format_datetime(when, format=fmt, tzinfo=when.tzinfo, locale=self.locale)

    def time(self, when: dt.datetime, fmt: str = "short") -> str:
        """A time of day (short: 16:35)."""
        return format_time(when, format=fmt, tzinfo=when.tzinfo, locale=self.locale)

    def weekday(self, d: dt.date | dt.datetime) -> str:
        """The day of the week (zh_CN: 星期六)."""
        return format_date(d, format="EEEE", locale=self.locale)

    def number(self, n: float) -> str:
        """A number with the locale's grouping and decimal sign; 0 is "0", never blank."""
        return format_decimal(n, locale=self.locale)

    def percent(self, fraction: float) -> str:
        """A fraction as a percentage (0.953 -> 95%)."""
        return format_percent(fraction, locale=self.locale)

    @property
    def language_tag(self) -> str:
        """For ``<html lang>``: zh-CN, en."""
        return self.locale.replace("_", "-")


@cache
def translator(locale: str = DEFAULT_LOCALE) -> Translator:
    """The translator of ``locale`` (checked, see :func:`check_locale`)."""
    return Translator(check_locale(locale))


def install(env: Environment, t: Translator) -> None:
    """Give a Jinja2 environment built with ``extensions=["jinja2.ext.i18n"]`` the catalogs of
    ``t`` (new-style gettext: ``_("...")`` autoescapes and takes ``%(name)s`` keywords)."""
    env.install_gettext_translations(_catalog(t.locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals["t"] = t
