"""The start page: coming meetings and their answers, missing organisations, sending, bounces."""

from __future__ import annotations

from flask import Blueprint

from mailer.i18n import format_when
from mailer.staff.dashboard import dashboard
from mailer.staff.roles import VIEWER
from mailer.web.staff.access import requires
from mailer.web.staff.common import db, page, settings, words

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@requires(VIEWER)
def index():
    with db().reading() as session:
        data = dashboard(session, settings(), words().lang)
    tz = settings().timezone
    return page("dashboard.html", data=data, tz=tz, when=lambda moment: format_when(moment, None, tz, words().lang))
