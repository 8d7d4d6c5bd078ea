"""The audit log (admins): who did what and when, filtered by person, action and days."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, request

from mailer.audit.log import AuditFilter, choices, search
from mailer.staff.roles import ADMIN
from mailer.web.staff.access import requires
from mailer.web.staff.common import db, page, settings

bp = Blueprint("audit", __name__)
LIMIT = 500


def _date(name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(request.args.get(name, "").strip())
    except ValueError:
        return None


@bp.get("/audit")
@requires(ADMIN)
def index():
    wanted = AuditFilter(
        actor=request.args.get("who") or None,
        action=request.args.get("what") or None,
        start=_date("from"),
        end=_date("to"),
    )
    with db().transaction() as session:
        entries = search(session, wanted, settings().timezone, LIMIT)
        actors, actions = choices(session)
        return page(
            "audit.html",
            entries=entries,
            actors=actors,
            actions=actions,
            wanted=wanted,
            limit=LIMIT,
            tz=settings().timezone,
            groups=sorted({action.split(".")[0] + "." for action in actions}),
        )
