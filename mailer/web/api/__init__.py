"""The JSON API under /api/v1: token authentication, JSON in and out, thin handlers.

Every request needs `Authorization: Bearer <token>` (mailer.staff.tokens); cookies never
authenticate here, so CSRF does not apply (the blueprint is exempt) and a logged-in
browser cannot be made to call the API. A read token may only GET; a write token may do
what its account's role allows, the same roles as the staff pages. Errors are
{"error": {"code", "message", "field"}}, the message in the Accept-Language (sv or en).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from mailer.api.context import Context
from mailer.api.errors import ApiError
from mailer.api.paging import PageRequest, page_request
from mailer.errors import DomainError, NotFound
from mailer.staff.roles import allows
from mailer.staff.tokens import READ, WRITE, Caller, authenticate, record_use
from mailer.translations import LANGUAGES, translate
from mailer.web.extensions import db_of, settings_of, templates_of

bp = Blueprint("api", __name__, url_prefix="/api/v1")
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
# What a domain error means in HTTP: a thing that does not exist, or a state that forbids the action.
# Where a domain error's field has another name in the API's JSON than in the form it was made for.
API_FIELDS = {"organisation_name": "name"}
CONFLICTS = ("wrong_state", "meeting_cancelled", "meeting_started", "no_recipients", "slug_taken", "email_taken")


def language() -> str:
    """sv or en from Accept-Language; the configured language when it names neither."""
    return request.accept_languages.best_match(LANGUAGES) or settings_of(current_app).language


def error_reply(code: str, status: int, field: str | None = None, message: str | None = None, **params: Any):
    text = message if message is not None else translate(f"api.error.{code}", language(), field=field or "", **params)
    return jsonify({"error": {"code": code, "message": text, "field": field}}), status


def _domain_reply(exc: DomainError):
    """A refusal from the domain: its own code and text, the field it names, and a fitting status."""
    if isinstance(exc, ApiError):
        return error_reply(exc.code, exc.status, exc.field, exc.render(language()))
    field = getattr(exc, "field", None)
    field = API_FIELDS.get(field, field) if field else None
    if isinstance(exc, NotFound):
        return error_reply(exc.code, 404, field, exc.render(language()))
    status = 409 if any(exc.code.startswith(prefix) for prefix in CONFLICTS) else 422
    return error_reply(exc.code, status, field, exc.render(language()))


def caller() -> Caller:
    return g.api_caller


def context() -> Context:
    app = current_app
    return Context(db_of(app), settings_of(app), templates_of(app), caller(), language())


def query(*names: str) -> dict[str, str | None]:
    """The query parameters the endpoint takes; any other is refused by name, like an unknown field."""
    for name in request.args:
        if name not in names:
            raise ApiError("unknown_field", 400, field=name)
    return {name: request.args.get(name) for name in names}


def paging(*filters: str) -> tuple[PageRequest, dict[str, str | None]]:
    """The page asked for (cursor, limit) and the list's filters."""
    values = query("cursor", "limit", *filters)
    return page_request(values.pop("cursor"), values.pop("limit")), values


def body() -> Any:
    """The request's JSON; a body that is not JSON is refused with where it went wrong."""
    data = request.get_data(cache=True)
    if not data.strip():
        return {}
    import json

    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError("malformed_json", 400, field="body", detail=str(exc)) from None


def needs(role: str) -> Callable:
    """Declare the role an endpoint needs (the scope follows from the method: GET reads, others write)."""

    def declare(view: Callable) -> Callable:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any):
            who = caller()
            scope_needed = READ if request.method in READ_METHODS else WRITE
            if scope_needed == WRITE and who.scope != WRITE:
                return error_reply("read_only_token", 403)
            if not allows(who.role, role):
                return error_reply("role", 403, role=who.role, needed=role)
            return view(*args, **kwargs)

        checked.api_role = role  # type: ignore[attr-defined]
        return checked

    return declare


@bp.before_request
def _authenticate():
    if request.endpoint == "api.openapi_document":
        return None
    header = request.headers.get("Authorization", "")
    kind, _, token = header.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        return _unauthorized()
    with db_of(current_app).reading() as session:
        found = authenticate(session, token.strip())
    if found is None:
        return _unauthorized()
    if found.use_to_record:  # at most every few minutes: a write of its own, after the check
        with db_of(current_app).transaction() as session:
            record_use(session, found.token_id)
    g.api_caller = found
    return None


def _unauthorized():
    reply, status = error_reply("unauthorized", 401)
    reply.headers["WWW-Authenticate"] = 'Bearer realm="mailer"'
    return reply, status


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    return _domain_reply(exc)


def http_error(exc: HTTPException):
    """Werkzeug's own refusals (404 of an unknown URL, 405, 413) in the API's JSON shape."""
    code = {404: "no_such_url", 405: "method_not_allowed", 413: "too_large", 429: "too_many"}.get(
        exc.code or 500, "bad_request"
    )
    return error_reply(code, exc.code or 500, mb=settings_of(current_app).max_upload_mb)


def is_api_request() -> bool:
    return request.path == "/api/v1" or request.path.startswith("/api/v1/")


def init_app(app: Flask) -> Blueprint:
    from mailer.web.api import routes  # noqa: F401  (the endpoints, on bp)

    app.register_blueprint(bp)
    return bp
