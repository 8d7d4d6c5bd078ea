"""The suppression list by reason, with the stored reply; lifting a wrong one (audit-logged)."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for

from mailer.staff.roles import STAFF, VIEWER
from mailer.staff.suppressions import SuppressionError, by_reason, lift, lift_not_the_address
from mailer.web.staff.access import requires
from mailer.web.staff.common import db, flash_translated, page, settings, signed_in_staff

bp = Blueprint("suppressions", __name__)


@bp.get("/suppressions")
@requires(VIEWER)
def index():
    with db().transaction() as session:
        groups = by_reason(session)
    wrong = sum(line.not_the_address and line.liftable for line in groups.get("bounced", []))
    return page("suppressions.html", groups=groups, wrong=wrong, tz=settings().timezone)


@bp.post("/suppressions/<int:suppression_id>/lift")
@requires(STAFF)
def lift_one(suppression_id: int):
    try:
        with db().transaction() as session:
            email = lift(session, signed_in_staff().actor, suppression_id)
    except SuppressionError as exc:
        flash_translated("lift_failed", "error", reason=str(exc))
    else:
        flash_translated("lifted", email=email)
    return redirect(url_for(".index"), code=303)


@bp.post("/suppressions/lift-not-the-address")
@requires(STAFF)
def lift_wrong():
    with db().transaction() as session:
        count = lift_not_the_address(session, signed_in_staff().actor)
    flash_translated("lifted_n", n=count)
    return redirect(url_for(".index"), code=303)
