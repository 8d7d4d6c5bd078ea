"""Logging in and out, choosing a password from a one-time link, and the page language."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, make_response, redirect, request, session, url_for

from mailer.audit.log import record
from mailer.staff import accounts
from mailer.staff.login import log_in
from mailer.staff.roles import VIEWER
from mailer.web.security import client_address
from mailer.web.staff.access import requires
from mailer.web.staff.common import (
    db,
    end_session,
    flash_translated,
    page,
    settings,
    signed_in_staff,
    start_session,
    words,
)

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never send someone on to another site after logging in."""
    parts = urlsplit(target or "")
    if not target or parts.scheme or parts.netloc or not target.startswith("/staff/") or "\\" in target:
        return url_for("staff.dashboard.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.args.get("lang") in ("sv", "en"):
        session["lang"] = request.args["lang"]
    email = request.form.get("email", "")
    if request.method != "POST":
        return page("login.html", email="", next=request.args.get("next", ""))
    outcome = log_in(db(), email, request.form.get("password", ""), client_address())
    if outcome.user is not None:
        start_session(outcome.user)
        return redirect(_safe_next(request.form.get("next")), code=303)
    error = words()("login_wait", seconds=outcome.wait) if outcome.wait else words()("login_failed")
    reply = make_response(
        page("login.html", 429 if outcome.wait else 401, email=email, error=error, next=request.form.get("next", ""))
    )
    if outcome.wait:  # the account's slow-down: when to try again, as a client reads it
        reply.headers["Retry-After"] = str(outcome.wait)
    return reply


@bp.post("/logout")
@requires(VIEWER)
def logout():
    with db().transaction() as db_session:
        accounts.log_out(db_session, signed_in_staff().id)
    end_session()
    flash_translated("logged_out")
    return redirect(url_for(".login"), code=303)


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    config = settings()
    with db().transaction() as db_session:
        try:
            user = accounts.user_for_token(db_session, config.secret_key, token, config.old_secret_keys)
        except accounts.BadLink:
            return page("message.html", 404, title_key="link_bad_title", body_key="link_bad_body")
        if request.method != "POST":
            return page("set_password.html", email=user.email)
        password = request.form.get("password", "")
        if password != request.form.get("repeat", ""):
            return page("set_password.html", 422, email=user.email, error=words()("password_mismatch"))
        try:
            accounts.set_password(db_session, user, password)
            record(db_session, user.email, "staff.password_set", f"staff:{user.id}", via="link")
        except accounts.StaffError as exc:
            return page(
                "set_password.html",
                422,
                email=user.email,
                error=words()(f"password_{exc.reason}", n=accounts.PASSWORD_MIN),
            )
        start_session(user)
    flash_translated("password_saved")
    return redirect(url_for("staff.dashboard.index"), code=303)


@bp.post("/language")
@requires(VIEWER)
def language():
    wanted = request.form.get("language", "")
    with db().transaction() as db_session:
        try:
            accounts.set_language(db_session, signed_in_staff().id, wanted)
        except accounts.StaffError:
            pass
    session["lang"] = wanted if wanted in ("sv", "en") else session.get("lang")
    return redirect(_safe_next(request.form.get("next")), code=303)
