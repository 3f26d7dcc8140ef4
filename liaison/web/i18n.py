"""Translations: gettext catalogs (liaison/locale/*/LC_MESSAGES/liaison.po) compiled in memory
at start, so a fresh clone needs no build step. Message ids are English."""

from __future__ import annotations

import gettext
import io
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import get_datetime_format, get_time_format
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("fi", "sv", "en")
LANGUAGE_NAMES = {"fi": "Suomi", "sv": "Svenska", "en": "English"}
# Dates and times as people in Finland write them in each language (CLDR through Babel).
LOCALES = {"fi": "fi_FI", "sv": "sv_FI", "en": "en_FI"}
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

_catalogs: dict[str, gettext.NullTranslations] = {}
_js_catalogs: dict[str, dict[str, str]] = {}
current_language: ContextVar[str] = ContextVar("current_language", default="fi")


def load() -> None:
    for lang in LANGUAGES:
        po_path = LOCALE_DIR / lang / "LC_MESSAGES" / "liaison.po"
        if not po_path.exists():
            _catalogs[lang] = gettext.NullTranslations()
            _js_catalogs[lang] = {}
            continue
        with po_path.open("rb") as f:
            catalog = read_po(f, locale=lang)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        _catalogs[lang] = gettext.GNUTranslations(buffer)
        _js_catalogs[lang] = {
            str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.pluralizable
        }


def ensure_loaded() -> None:
    """Catalogs are read once per process (they do not change while it runs)."""
    if not _catalogs:
        load()


def translations(lang: str) -> gettext.NullTranslations:
    ensure_loaded()
    return _catalogs.get(lang) or gettext.NullTranslations()


def gettext_(message: str) -> str:
    return translations(current_language.get()).gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    return translations(current_language.get()).ngettext(singular, plural, n)


def js_catalog(lang: str) -> dict[str, str]:
    ensure_loaded()
    return _js_catalogs.get(lang, {})


def date_formats(lang: str, time_zone: str) -> dict[str, Any]:
    """CLDR patterns and names for the page's scripts, which format every date and time
    with them (static/js/format.js) in the users' time zone."""
    locale = Locale.parse(LOCALES.get(lang, "fi_FI"))
    skeletons = locale.datetime_skeletons
    return {
        "locale": str(locale),
        "time_zone": time_zone,
        "time": get_time_format("short", locale).pattern,
        "time_seconds": get_time_format("medium", locale).pattern,
        "date": skeletons["yMd"].pattern,
        "day_month": skeletons["Md"].pattern,
        "weekday_day_month": skeletons["MEd"].pattern,
        # "{1} {0}": the date, then the time.
        "date_time": str(get_datetime_format("short", locale)),
        "weekdays": [locale.days["format"]["abbreviated"][d] for d in range(7)],
        "weekdays_wide": [locale.days["stand-alone"]["wide"][d] for d in range(7)],
        "months": [locale.months["format"]["abbreviated"][m] for m in range(1, 13)],
        "am_pm": [locale.day_periods["format"]["abbreviated"][p] for p in ("am", "pm")],
    }
