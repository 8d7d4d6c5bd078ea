"""The staff web app under /staff/: one blueprint per page, all behind a log-in.

Every route of every child blueprint passes `_require_login` first, except the
log-in and set-password pages and the static files. Forms are protected by
the app-wide CSRFProtect (only the recipients' pages are exempt).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, g, redirect, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import RequestEntityTooLarge

from mailer.contacts.models import address_hash
from mailer.web.staff import auth, campaigns, contacts, dashboard, meetings, responses, suppressions, templates
from mailer.web.staff.common import load_me, page, settings, words, worker_banner

OPEN_ENDPOINTS = {"staff.static", "staff.auth.login", "staff.auth.set_password"}

bp = Blueprint("staff", __name__, url_prefix="/staff", static_folder="static",
               template_folder=str(Path(__file__).resolve().parent.parent / "templates"))
for child in (auth.bp, dashboard.bp, contacts.bp, meetings.bp, campaigns.bp, responses.bp, templates.bp,
              suppressions.bp):
    bp.register_blueprint(child)


@bp.before_request
def _require_login():
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    g.staff = load_me()
    if g.staff is None:
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("staff.auth.login", next=target))
    if request.method == "GET":
        g.worker_banner = worker_banner(words())
    return None


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
        return page("message.html", 400, title_key="expired_title", body_key="expired_body")

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc):
        if not _staff_request():
            return exc
        return page("message.html", 413, title_key="too_large_title", body_key="too_large_body",
                    body_params={"mb": settings().max_upload_mb})

    return bp
