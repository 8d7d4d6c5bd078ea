"""API errors: a code, an HTTP status, the field at fault, and a text in the caller's language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from mailer.errors import DomainError, NotFound
from mailer.translations import translate

Found = TypeVar("Found")
Key = TypeVar("Key")


class ApiError(DomainError):
    """A request the API refuses; rendered as {"error": {"code", "message", "field"}}."""

    prefix = "api.error."

    def __init__(self, code: str, /, status: int = 400, field: str | None = None, **params: Any):
        super().__init__(code, field=field or "", **params)
        self.status, self.field = status, field

    def render(self, language: str | None) -> str:
        """Why: a missing thing is named in the caller's words ("Hittade ingen träff", "inget
        utskick": Swedish nouns differ in gender), so each kind has its own text; the JSON code
        stays `not_found` for every kind."""
        if self.code == "not_found":
            return translate(f"{self.prefix}not_found.{self.params['what']}", language, **self.params)
        return super().render(language)


def not_found(what: str, key: object) -> ApiError:
    return ApiError("not_found", 404, what=what, key=str(key))


def lookup(what: str, find: Callable[[Session, Key], Found], session: Session, key: Key) -> Found:
    """`find(session, key)`, the domain's NotFound turned into the API's 404 naming `what` and the key."""
    try:
        return find(session, key)
    except NotFound:
        raise not_found(what, key) from None
