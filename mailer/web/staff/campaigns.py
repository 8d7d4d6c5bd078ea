"""Campaigns: compose with a live recipient count, preview, test to yourself, schedule or send now, cancel.

"Send now" only starts the campaign (its outbox rows are written in this
request); the worker sends. The campaign page follows the progress, with a
small script or, without scripts, by reloading itself.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, request, url_for

from mailer.campaigns.audience import Audience, AudienceError
from mailer.campaigns.models import CampaignState
from mailer.campaigns.service import CampaignError, get_campaign, implied_audience, status
from mailer.errors import render
from mailer.i18n import format_when
from mailer.mail.templates import CAMPAIGN_TEMPLATES, TemplateProblem
from mailer.mail.transport import TransportError
from mailer.staff import campaign_actions
from mailer.staff.campaign_view import audience_choices, audience_count, campaign_page, campaigns_overview
from mailer.staff.roles import STAFF, VIEWER
from mailer.web.staff.access import requires
from mailer.web.staff.common import db, flash_translated, page, settings, signed_in_staff, templates, words

bp = Blueprint("campaigns", __name__)
FOLLOWED = (CampaignState.SCHEDULED.value, CampaignState.RUNNING.value, CampaignState.PAUSED.value)


def next_whole_hour(now: dt.datetime) -> dt.datetime:
    """The default send time: the next whole hour, always ahead (an hour boundary is the same in
    UTC and Stockholm, and the date rolls over with it at midnight)."""
    return now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)


def audience_from(form) -> Audience:
    """The audience part of the form (also the live count's query string)."""
    narrowing = form.get("only", "")
    audience = Audience(
        orgs=form.getlist("org"),
        regions=form.getlist("region"),
        roles=form.getlist("role"),
        all=form.get("all") == "1",
        only_unanswered=narrowing == "unanswered",
        only_yes=narrowing == "yes",
        include_answered=form.get("include_answered") == "1",
    )
    return implied_audience(form.get("template"), audience)


def target_of(value: str | None) -> tuple[str | None, str | None]:
    """The form's meeting field: a meeting's slug, or "series:<slug>" for a round to a series."""
    value = (value or "").strip()
    if value.startswith("series:"):
        return None, value.removeprefix("series:") or None
    return value or None, None


def _count_text(meeting: str | None, audience: Audience) -> tuple[int | None, str]:
    staff_words = words()
    meeting_slug, series_slug = target_of(meeting)
    try:
        with db().reading() as session:
            count, left_out = audience_count(session, meeting_slug, audience, series_slug)
    except AudienceError as exc:
        return None, staff_words("audience_incomplete") if not audience.has_selector else render(exc, staff_words.lang)
    except LookupError:
        return None, staff_words("choose_meeting")
    text = staff_words("recipients_one") if count == 1 else staff_words("recipients_n", n=count)
    if left_out:
        text += ". " + (
            staff_words("left_out_answered_one") if left_out == 1 else staff_words("left_out_answered", n=left_out)
        )
    return count, text


@bp.get("/campaigns")
@requires(VIEWER)
def index():
    with db().reading() as session:
        rows = campaigns_overview(session)
    return page("campaigns.html", rows=rows, tz=settings().timezone)


@bp.get("/campaigns/count")
@requires(STAFF)
def count():
    recipients, text = _count_text(request.args.get("meeting") or None, audience_from(request.args))
    return {"count": recipients, "text": text}


def _compose_form(form, status: int = 200, error: str | None = None, counted: str | None = None):
    with db().reading() as session:
        choices = audience_choices(session)
    return page(
        "campaign_form.html",
        status,
        choices=choices,
        form=form,
        error=error,
        counted=counted,
        templates=CAMPAIGN_TEMPLATES,
        tz=settings().timezone,
    )


@bp.route("/campaigns/new", methods=["GET", "POST"])
@requires(STAFF)
def new():
    form = request.form if request.method == "POST" else request.args
    if request.method != "POST" or request.form.get("action") == "count":
        counted = _count_text(form.get("meeting") or None, audience_from(form))[1] if form.get("meeting") else None
        return _compose_form(form, counted=counted)
    try:
        with db().transaction() as session:
            meeting_slug, series_slug = target_of(form.get("meeting"))
            campaign = campaign_actions.create(
                session,
                settings(),
                templates(),
                signed_in_staff().actor,
                meeting_slug=meeting_slug,
                series_slug=series_slug,
                template=form.get("template", ""),
                audience=audience_from(form),
                note=form.get("note"),
            )
    except (CampaignError, AudienceError, TemplateProblem) as exc:
        return _compose_form(form, 422, error=render(exc, words().lang))
    flash_translated("campaign_created")
    return redirect(url_for(".show", campaign_id=campaign.id), code=303)


@bp.get("/campaigns/<int:campaign_id>")
@requires(VIEWER)
def show(campaign_id: int):
    tz = settings().timezone
    with db().reading() as session:  # the preview renders a template: never under the write lock
        try:
            data = campaign_page(
                session, settings(), templates(), campaign_id, request.args.get("contact"), words().lang
            )
        except CampaignError:
            return page("message.html", 404, title_key="not_found_title", body_key="not_found_body")
        soon = next_whole_hour(dt.datetime.now(dt.UTC)).astimezone(tz)
        return page(
            "campaign.html",
            data=data,
            tz=tz,
            followed=data.status.state in FOLLOWED,
            when=lambda moment: format_when(moment, None, tz, words().lang),
            today=soon.strftime("%Y-%m-%d"),
            soon=soon.strftime("%H:%M"),
            contact=request.args.get("contact", ""),
        )


@bp.get("/campaigns/<int:campaign_id>/status.json")
@requires(VIEWER)
def progress(campaign_id: int):
    with db().reading() as session:
        try:
            return status(session, get_campaign(session, campaign_id)).to_json()
        except CampaignError:
            return {"error": "not found"}, 404


def _back(campaign_id: int):
    return redirect(url_for(".show", campaign_id=campaign_id), code=303)


@bp.post("/campaigns/<int:campaign_id>/test")
@requires(STAFF)
def test(campaign_id: int):
    try:
        sent_to = campaign_actions.send_test(
            db(),
            settings(),
            templates(),
            signed_in_staff().actor,
            campaign_id,
            request.form.get("to") or signed_in_staff().email,
            request.form.get("contact"),
        )
    except TransportError as exc:
        flash_translated("test_failed", "error", reason=exc.reply)
    except (CampaignError, TemplateProblem, ValueError) as exc:
        flash_translated("test_failed", "error", reason=render(exc, words().lang))
    else:
        flash_translated("test_sent", email=sent_to)
    return _back(campaign_id)


@bp.post("/campaigns/<int:campaign_id>/schedule")
@requires(STAFF)
def schedule(campaign_id: int):
    at = f"{request.form.get('date', '').strip()} {request.form.get('time', '').strip()}"
    try:
        with db().transaction() as session:
            campaign = campaign_actions.schedule(session, settings(), signed_in_staff().actor, campaign_id, at)
            when = campaign.send_at
    except CampaignError as exc:
        flash_translated("schedule_failed", "error", reason=render(exc, words().lang))
        return _back(campaign_id)
    assert when is not None, "scheduled: it has its send time"
    if when <= dt.datetime.now(dt.UTC):
        flash_translated("scheduled_past")
    else:
        flash_translated("scheduled", when=when.astimezone(settings().timezone).strftime("%Y-%m-%d %H:%M"))
    return _back(campaign_id)


@bp.post("/campaigns/<int:campaign_id>/<any(send, cancel, retry, resume):action>")
@requires(STAFF)
def act(campaign_id: int, action: str):
    try:
        with db().transaction() as session:
            if action == "send":
                count = campaign_actions.send_now(
                    session, settings(), templates(), signed_in_staff().actor, campaign_id
                )
            else:
                count = {
                    "cancel": campaign_actions.cancel,
                    "retry": campaign_actions.retry,
                    "resume": campaign_actions.resume,
                }[action](session, signed_in_staff().actor, campaign_id)
    except (CampaignError, TemplateProblem) as exc:
        flash_translated("action_failed", "error", reason=render(exc, words().lang))
    else:
        flash_translated(f"campaign_{action}", n=count)
    return _back(campaign_id)


@bp.post("/campaigns/<int:campaign_id>/note")
@requires(STAFF)
def note(campaign_id: int):
    try:
        with db().transaction() as session:
            campaign_actions.set_note(session, signed_in_staff().actor, campaign_id, request.form.get("note"))
    except CampaignError as exc:
        if exc.code == "no_campaign":
            return page("message.html", 404, title_key="not_found_title", body_key="not_found_body")
        flash_translated("action_failed", "error", reason=render(exc, words().lang))
        return _back(campaign_id)
    flash_translated("note_saved")
    return _back(campaign_id)
