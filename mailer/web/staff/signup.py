"""The sign-up switch on a meeting's and a series' staff page: close the public page now, set when
it closes, or reopen it (mailer.signup.switch); and the panel that shows the page's link and state."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, redirect, request, url_for

from mailer.errors import DomainError, NotFound, render
from mailer.i18n import format_when
from mailer.signup import switch
from mailer.signup.service import Target
from mailer.staff.roles import STAFF
from mailer.web.staff.access import requires
from mailer.web.staff.common import db, flash_translated, settings, signed_in_staff, words

bp = Blueprint("signup", __name__)
RETURN_TO = {"meeting": "staff.meetings.edit", "series": "staff.series.show"}


@dataclass(frozen=True)
class Panel:
    """What the page's sign-up card shows."""

    kind: str
    slug: str
    title: str
    url: str
    closed_reason: str | None
    closes_at: str | None  # "tisdag 13 september 2027 kl. 18.00", in the reader's language
    closes_date: str  # the form's date and time fields, filled in with a set closing time
    closes_time: str


def panel(target: Target) -> Panel:
    config, language = settings(), words().lang
    owner = target.meeting if target.meeting is not None else target.series
    assert owner is not None
    local = target.closes_at.astimezone(config.timezone) if target.closes_at is not None else None
    return Panel(
        "meeting" if target.meeting is not None else "series",
        owner.slug,
        owner.title,
        f"{config.base_url}/signup/{owner.link_key}",
        target.closed_reason(config.timezone),
        format_when(target.closes_at, None, config.timezone, language) if target.closes_at else None,
        local.strftime("%Y-%m-%d") if local else "",
        local.strftime("%H:%M") if local else "",
    )


def _change(kind: str, slug: str):
    action = request.form.get("action", "")
    closes = f"{request.form.get('closes_date', '').strip()} {request.form.get('closes_time', '').strip()}"
    try:
        with db().transaction() as session:
            target = switch.change(
                session, settings().timezone, signed_in_staff().actor, kind, slug, action, closes.strip()
            )
            closes_at = (
                format_when(target.closes_at, None, settings().timezone, words().lang) if target.closes_at else ""
            )
    except NotFound:
        raise  # the staff 404 page
    except DomainError as exc:
        flash_translated("action_failed", "error", reason=render(exc, words().lang))
    else:
        flash_translated(f"staff.signup_{action}_done", when=closes_at)
    return redirect(url_for(RETURN_TO[kind], slug=slug) + "#signup-link", code=303)


@bp.post("/meetings/<slug>/signup")
@requires(STAFF)
def meeting(slug: str):
    return _change("meeting", slug)


@bp.post("/series/<slug>/signup")
@requires(STAFF)
def series(slug: str):
    return _change("series", slug)
