"""Staff accounts (admins): invite by mail, change a role, deactivate, resend a link; and
everyone's own password."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from mailer.errors import render
from mailer.mail.transport import TransportError
from mailer.staff import account_actions, accounts
from mailer.staff.roles import ADMIN, ROLES, VIEWER, RoleError
from mailer.web.staff.access import requires
from mailer.web.staff.common import db, flash_translated, page, settings, signed_in_staff, start_session, words

bp = Blueprint("accounts", __name__)


def _list_page(status: int = 200, values: dict | None = None, error: str | None = None):
    with db().transaction() as session:
        users = accounts.list_staff(session)
        return page(
            "accounts.html",
            status,
            users=users,
            roles=ROLES,
            values=values or {"role": "staff"},
            error=error,
            tz=settings().timezone,
        )


def _mail(invitation, sent_key: str) -> None:
    """Mail the link after the commit; a mail server's refusal is said, and the link can be resent."""
    try:
        account_actions.mail_link(
            settings(), invitation, words().lang, signed_in_staff().name or signed_in_staff().email
        )
    except (TransportError, OSError) as exc:
        flash_translated("invite_not_sent", "error", email=invitation.email, reason=str(exc))
        return
    flash_translated(sent_key, email=invitation.email)


@bp.get("/accounts")
@requires(ADMIN)
def index():
    return _list_page()


@bp.post("/accounts/invite")
@requires(ADMIN)
def invite():
    values = {name: request.form.get(name, "") for name in ("email", "name", "role", "language")}
    try:
        with db().transaction() as session:
            invitation = account_actions.invite(
                session,
                settings(),
                signed_in_staff().actor,
                email=values["email"],
                name=values["name"],
                role=values["role"],
                language=values["language"] or None,
            )
    except (accounts.StaffError, RoleError) as exc:
        return _list_page(422, values, render(exc, words().lang))
    _mail(invitation, "invite_sent")
    return redirect(url_for(".index"), code=303)


@bp.post("/accounts/<int:user_id>/role")
@requires(ADMIN)
def role(user_id: int):
    try:
        with db().transaction() as session:
            user = account_actions.change_role(session, signed_in_staff().actor, user_id, request.form.get("role", ""))
            flash_translated("role_changed", email=user.email, role=words()(f"role_{user.role}"))
    except (accounts.StaffError, RoleError) as exc:
        flash_translated("action_failed", "error", reason=render(exc, words().lang))
    return redirect(url_for(".index"), code=303)


@bp.post("/accounts/<int:user_id>/active")
@requires(ADMIN)
def active(user_id: int):
    wanted = request.form.get("active") == "1"
    try:
        with db().transaction() as session:
            user = account_actions.set_active(session, signed_in_staff().actor, user_id, wanted)
            if wanted:
                flash_translated("account_reactivated", email=user.email)
            else:
                flash_translated("account_deactivated", email=user.email)
    except accounts.StaffError as exc:
        flash_translated("action_failed", "error", reason=render(exc, words().lang))
    return redirect(url_for(".index"), code=303)


@bp.post("/accounts/<int:user_id>/link")
@requires(ADMIN)
def link(user_id: int):
    try:
        with db().transaction() as session:
            invitation = account_actions.new_link(session, settings(), signed_in_staff().actor, user_id)
    except accounts.StaffError as exc:
        flash_translated("action_failed", "error", reason=render(exc, words().lang))
        return redirect(url_for(".index"), code=303)
    _mail(invitation, "link_sent")
    return redirect(url_for(".index"), code=303)


@bp.route("/password", methods=["GET", "POST"])
@requires(VIEWER)
def password():
    """Everyone changes their own password here; the session goes on with the new one."""
    if request.method != "POST":
        return page("password.html", min_length=accounts.PASSWORD_MIN)
    try:
        with db().transaction() as session:
            user = account_actions.change_own_password(
                session,
                signed_in_staff().id,
                request.form.get("current", ""),
                request.form.get("password", ""),
                request.form.get("repeat", ""),
            )
            start_session(user)
    except accounts.StaffError as exc:
        return page(
            "password.html",
            422,
            min_length=accounts.PASSWORD_MIN,
            error=render(exc, words().lang),
            error_field="current" if exc.code == "wrong_password" else "password",
        )
    flash_translated("password_changed")
    return redirect(url_for("staff.dashboard.index"), code=303)
