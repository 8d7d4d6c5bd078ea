"""API errors: a code, an HTTP status, the field at fault, and a text in the caller's language."""

from __future__ import annotations

from typing import Any

from mailer.errors import DomainError


class ApiError(DomainError):
    """A request the API refuses; rendered as {"error": {"code", "message", "field"}}."""

    prefix = "api.error."

    def __init__(self, code: str, /, status: int = 400, field: str | None = None, **params: Any):
        super().__init__(code, field=field or "", **params)
        self.status, self.field = status, field


def not_found(what: str, key: object) -> ApiError:
    return ApiError("not_found", 404, what=what, key=str(key))
