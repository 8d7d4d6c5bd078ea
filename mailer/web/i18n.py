"""The pages' words: a thin lookup over the gettext catalogs (mailer/translations).

Public pages use keys under "public." ("public.when"); the staff pages use
plain keys ("login_title"). A missing key raises KeyError, so a typo fails a
test, not a page.
"""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context

from mailer.translations import LANGUAGES, language_or_default, translate

__all__ = ["LANGUAGES", "Words", "page_language"]


def page_language(language: str | None) -> str:
    return language_or_default(language)


class Words:
    """`t("key", n=2)` in templates: the catalog's text for this page's language."""

    def __init__(self, language: str | None, prefix: str = "public."):
        self.lang = page_language(language)
        self.prefix = prefix
        if has_request_context():
            g.page_language = self.lang  # Flask-Babel's locale for this request

    def __call__(self, key: str, /, **values: Any) -> str:
        return translate(self.prefix + key, self.lang, **values)

    def get(self, key: str, default: str) -> str:
        """The text for `key`, or `default` when the catalog has none (names recorded as data)."""
        try:
            return self(key)
        except (KeyError, IndexError):
            return default
