"""Every staff- and recipient-facing text, in gettext catalogs (Swedish first, English second).

The catalogs live beside this file as `<lang>/LC_MESSAGES/messages.po`. Message ids
are stable keys ("login_title", "public.when", "error.staff.exists"), not English
sentences: the English catalog is a translation like the Swedish one, so both are
complete and a key without a Swedish text is caught by a test
(tests/test_translations.py), never shown as a bare key to a visitor.

Texts use str.format placeholders ("{n} inbjudna"); `translate` fills them in.
The .mo files are compiled from the .po files by the wheel's build hook
(hatch_build.py), or here on first use when missing or older than the .po
(an editable install, a fresh checkout). Nothing here imports Flask or click:
the domain, the CLI and the web app all read the same catalogs.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

DIRECTORY = Path(__file__).resolve().parent
DOMAIN = "messages"
LANGUAGES = ("sv", "en")
DEFAULT_LANGUAGE = "sv"


def po_path(language: str) -> Path:
    return DIRECTORY / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(language: str) -> Path:
    return po_path(language).with_suffix(".mo")


def compile_catalog(language: str) -> bytes:
    """The .mo bytes of one language's .po (Babel's own reader and writer)."""
    with po_path(language).open("rb") as po_file:
        catalog = read_po(po_file, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def ensure_compiled() -> None:
    """Write each .mo that is missing or older than its .po; a read-only install keeps its own."""
    for language in LANGUAGES:
        po, mo = po_path(language), mo_path(language)
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        try:
            mo.write_bytes(compile_catalog(language))
        except OSError:
            pass  # read-only: `catalog()` compiles in memory instead


def language_or_default(language: str | None) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


class _Missing(NullTranslations):
    """The last fallback of every catalog: a key no catalog has is an error, not a text."""

    def gettext(self, message: str) -> str:
        raise KeyError(message)


@functools.cache
def catalog(language: str) -> NullTranslations:
    """One language's compiled catalog, read once per process."""
    language = language_or_default(language)
    po, mo = po_path(language), mo_path(language)
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as mo_file:
            loaded = Translations(mo_file, domain=DOMAIN)
    else:
        loaded = Translations(io.BytesIO(compile_catalog(language)), domain=DOMAIN)
    loaded.add_fallback(_Missing())
    return loaded


def has(key: str, language: str | None = DEFAULT_LANGUAGE) -> bool:
    try:
        catalog(language_or_default(language)).gettext(key)
    except KeyError:
        return False
    return True


def translate(key: str, language: str | None = DEFAULT_LANGUAGE, /, **values: Any) -> str:
    """The text for `key` in `language`, placeholders filled in.

    A key missing from the catalog raises KeyError: a typo or a forgotten
    translation fails a test instead of showing "login_title" to a person.
    """
    text = catalog(language_or_default(language)).gettext(key)
    return text.format(**values)


def N_(key: str) -> str:
    """Marks a key for `pybabel extract` where the text is looked up later (codes, tables)."""
    return key
