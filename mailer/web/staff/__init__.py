"""The staff web app under /staff/: one blueprint per page, all behind a log-in.

Every route of every child blueprint passes `_require_login` first, except the
log-in and set-password pages and the static files: it needs a logged-in, active
account whose role (admin, staff, viewer) the route allows (web/staff/access.py). Forms are protected by
the app-wide CSRFProtect (only the recipients' pages are exempt).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, g, redirect, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import RequestEntityTooLarge

from mailer.contacts.models import address_hash
from mailer.errors import NotFound
from mailer.web.staff import (
    accounts,
    audit,
    auth,
    campaigns,
    contacts,
    dashboard,
    meetings,
    questions,
    reports,
    responses,
    series,
    signup,
    suppressions,
    templates,
    tokens,
    webhooks,
)
from mailer.web.staff.access import role_needed
from mailer.web.staff.common import load_signed_in_staff, page, settings, words, worker_banner

SECRET_FIELDS = {"password", "repeat", "current"}  # never written back into a page
OPEN_ENDPOINTS = {"staff.static", "staff.auth.login", "staff.auth.set_password"}

bp = Blueprint(
    "staff",
    __name__,
    url_prefix="/staff",
    static_folder="static",
    template_folder=str(Path(__file__).resolve().parent.parent / "templates"),
)
for child in (
    auth.bp,
    dashboard.bp,
    contacts.bp,
    meetings.bp,
    campaigns.bp,
    responses.bp,
    templates.bp,
    suppressions.bp,
    reports.bp,
    accounts.bp,
    audit.bp,
    webhooks.bp,
    series.bp,
    tokens.bp,
    questions.bp,
    signup.bp,
):
    bp.register_blueprint(child)


@bp.before_request
def _require_login():
    """Every staff page: a logged-in, active account whose role allows this page and method."""
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    g.staff = load_signed_in_staff()
    if g.staff is None:
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("staff.auth.login", next=target))
    needed = role_needed(request.endpoint, request.method)
    if not g.staff.can(needed):
        return page(
            "message.html",
            403,
            title_key="forbidden_title",
            body_key="forbidden_body",
            body_params={"role": words()(f"role_{g.staff.role}")},
        )
    if request.method == "GET":
        g.worker_banner = worker_banner(words())
    return None


@bp.errorhandler(NotFound)
def _not_found(_exc: NotFound):
    """A meeting, series or other thing named in the address that does not exist: one 404 page,
    so handlers look things up without each catching it."""
    return page("message.html", 404, title_key="not_found_title", body_key="not_found_body")


def _staff_request() -> bool:
    return bool(request.blueprints) and request.blueprints[-1] == "staff"


def init_app(app: Flask) -> Blueprint:
    app.register_blueprint(bp)
    app.add_template_global(address_hash, "hash_of")  # marks suppressed contacts in lists

    @app.get("/")
    def _home():
        return redirect(url_for("staff.dashboard.index"))

    @app.errorhandler(CSRFError)
    def _expired(_exc):
        """A form open for hours (or from before a log-in) comes back with what was typed, to send again.

        Nothing was done; the values ride in a fresh form with a new token (passwords and
        files excepted: those are asked for again).
        """
        kept = [
            (name, value)
            for name, value in request.form.items(multi=True)
            if name != "csrf_token" and not SECRET_FIELDS.intersection({name})
        ]
        if request.method != "POST" or not kept or not _staff_request():
            return page("message.html", 400, title_key="expired_title", body_key="expired_body")
        return page("expired.html", 400, kept=kept, action=request.path, files_lost=bool(request.files))

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc):
        from mailer.web import api

        if api.is_api_request():
            return api.http_error(exc)
        if not _staff_request():
            return exc
        return page(
            "message.html",
            413,
            title_key="too_large_title",
            body_key="too_large_body",
            body_params={"mb": settings().max_upload_mb},
        )

    return bp
