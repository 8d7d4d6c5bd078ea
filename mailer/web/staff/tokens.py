"""API tokens: make one of your own (shown once), see when each was last used, revoke one; admins
see and revoke every account's."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from mailer.errors import render
from mailer.staff import tokens
from mailer.staff.accounts import get_staff
from mailer.staff.roles import VIEWER
from mailer.web.staff.access import requires
from mailer.web.staff.common import db, flash_translated, page, settings, signed_in_staff, words

bp = Blueprint("tokens", __name__)


def _page(status: int = 200, new_token: str | None = None, error: str | None = None, values: dict | None = None):
    with db().reading() as session:
        rows = tokens.tokens_for(session, signed_in_staff().id, signed_in_staff().role)
    return page(
        "tokens.html",
        status,
        tokens=rows,
        all_accounts=tokens.manages_all(signed_in_staff().role),
        new_token=new_token,
        error=error,
        scopes=tokens.SCOPES,
        values=values or {"scope": tokens.READ, "label": ""},
        tz=settings().timezone,
    )


@bp.get("/tokens")
@requires(VIEWER)
def index():
    return _page()


@bp.post("/tokens")
@requires(VIEWER)
def create():
    """The token is on this one page and nowhere else: only its hash is kept."""
    values = {"scope": request.form.get("scope", ""), "label": request.form.get("label", "")}
    try:
        with db().transaction() as session:
            _, token = tokens.create_token(
                session,
                get_staff(session, signed_in_staff().id),
                values["scope"],
                values["label"],
                signed_in_staff().actor,
            )
    except tokens.TokenError as exc:
        return _page(422, error=render(exc, words().lang), values=values)
    return _page(new_token=token)


@bp.post("/tokens/<int:token_id>/revoke")
@requires(VIEWER)
def revoke(token_id: int):
    try:
        with db().transaction() as session:
            tokens.revoke_as(session, signed_in_staff().id, signed_in_staff().role, token_id, signed_in_staff().actor)
    except tokens.TokenError as exc:
        flash_translated("action_failed", "error", reason=render(exc, words().lang))
    else:
        flash_translated("token_revoked")
    return redirect(url_for(".index"), code=303)
