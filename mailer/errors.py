"""Domain errors as codes with parameters, rendered in the reader's language.

The domain raises `SomeError("code", name=value)`; the web app and the CLI call
`render(language)` to show the catalog's text ("error.<code>") in Swedish or
English. `str(exc)` is the English text, for logs and tracebacks. This is the
shape `contacts.csvfile.CsvFileError` started with.
"""

from __future__ import annotations

from typing import Any, TypeVar

from mailer.config import ConfigError
from mailer.translations import translate

Found = TypeVar("Found")


class DomainError(Exception):
    """A failure a person can fix: a stable `code` and the `params` its text needs."""

    prefix = "error."

    def __init__(self, code: str, /, **params: Any):
        super().__init__(code)
        self.code, self.params = code, params

    def render(self, language: str | None) -> str:
        return translate(self.prefix + self.code, language, **self.params)

    def __str__(self) -> str:
        return self.render("en")


class NotFound(DomainError, LookupError):
    """No such organisation, meeting, contact, campaign or account; `params` name what was asked for."""


def found(value: Found | None, code: str, /, **params: Any) -> Found:
    """`value` itself, or NotFound(code, **params) when a lookup found nothing (None)."""
    if value is None:
        raise NotFound(code, **params)
    return value


def render(exc: BaseException, language: str | None) -> str:
    """Any exception's text for a person: domain errors translated, others as they are."""
    return exc.render(language) if isinstance(exc, DomainError) else str(exc)


class ConfigProblem:
    """A ConfigError in the reader's language: its code's catalog text where it has one, else its
    English text (mailer.config sits below the catalogs and cannot render itself)."""

    def __init__(self, error: ConfigError):
        self.error = error

    def render(self, language: str | None) -> str:
        if self.error.code is None:
            return str(self.error)
        return translate(f"error.config.{self.error.code}", language, setting=self.error.setting, **self.error.params)
