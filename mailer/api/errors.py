"""API errors: a code, an HTTP status, the field at fault, and a text in the caller's language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from mailer.errors import DomainError, NotFound

Found = TypeVar("Found")
Key = TypeVar("Key")


class ApiError(DomainError):
    """A request the API refuses; rendered as {"error": {"code", "message", "field"}}."""

    prefix = "api.error."

    def __init__(self, code: str, /, status: int = 400, field: str | None = None, **params: Any):
        super().__init__(code, field=field or "", **params)
        self.status, self.field = status, field


def not_found(what: str, key: object) -> ApiError:
    return ApiError("not_found", 404, what=what, key=str(key))


def lookup(what: str, find: Callable[[Session, Key], Found], session: Session, key: Key) -> Found:
    """`find(session, key)`, the domain's NotFound turned into the API's 404 naming `what` and the key."""
    try:
        return find(session, key)
    except NotFound:
        raise not_found(what, key) from None
