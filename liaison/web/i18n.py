"""Translations: gettext catalogs (liaison/locale/*/LC_MESSAGES/liaison.po) compiled in memory
at start, so a fresh clone needs no build step. Message ids are English."""

from __future__ import annotations

import gettext
import io
from contextvars import ContextVar
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("fi", "sv", "en")
LANGUAGE_NAMES = {"fi": "Suomi", "sv": "Svenska", "en": "English"}
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
