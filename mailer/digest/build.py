"""The weekly digest to staff: where each upcoming meeting stands, and what happened since last time.

The period always starts where the last digest sent ended, so a missed week is
covered by the next digest and nothing is counted twice. The digest run and its
outbox rows are written in one transaction: it is sent once, or not at all.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, selectinload

from mailer.audit.log import record
from mailer.bounces.quality import described, last_status, organisations_of, refusals, soft_bounces
from mailer.campaigns.models import Campaign, CampaignState
from mailer.config import Settings
from mailer.contacts.models import Contact, Membership, Organisation, Suppression, SuppressionReason
from mailer.db import utcnow
from mailer.digest.models import DigestRun
from mailer.digest.sending import sending_context
from mailer.i18n import format_short_date, format_when
from mailer.meetings.models import Meeting
from mailer.operations.backup import backup_status
from mailer.outbox.models import OutboxMessage
from mailer.rsvp.models import Answer, Response
from mailer.rsvp.status import status_by_meeting
from mailer.tracking.coverage import represented_organisations

FIRST_PERIOD = dt.timedelta(days=7)
CHART_WEEKS = 8


def current_period(session: Session, now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    now = now or utcnow()
    last_end = session.scalar(select(func.max(DigestRun.period_end)))
    return (last_end or now - FIRST_PERIOD), now


def _chart(session: Session, meeting: Meeting, tz, now: dt.datetime, lang: str) -> list[dict]:
    """Answers over time, week by week: today's yes and no, counted by when each person first answered.

    One scan of the meeting's responses however many weeks are shown (not of their whole history).
    """
    first = session.scalar(select(func.min(Response.created_at)).where(Response.meeting_id == meeting.id))
    if first is None:
        return []
    weeks = [now - dt.timedelta(days=7 * k) for k in range(CHART_WEEKS)]
    weeks = [w for w in weeks if w >= first - dt.timedelta(days=7)][::-1] or [now]
    yes = and_(Response.answer == Answer.YES, Response.waitlisted.is_(False))
    columns = []
    for week_end in weeks:
        until = Response.created_at <= week_end
        columns += [func.coalesce(func.sum(case((and_(until, yes), 1), else_=0)), 0),
                    func.coalesce(func.sum(case((and_(until, Response.answer == Answer.NO), 1), else_=0)), 0)]
    counts = session.execute(select(*columns).where(Response.meeting_id == meeting.id)).one()
    return [{"label": format_short_date(week_end.astimezone(tz).date(), lang),
             "yes": int(counts[2 * i]), "no": int(counts[2 * i + 1])} for i, week_end in enumerate(weeks)]


def _new_answers(session: Session, meeting_id: int, start: dt.datetime, end: dt.datetime) -> list[tuple]:
    """(name, email, organisation names, answer, waitlisted) of the answers given in the period.

    Plain rows in two queries, not ORM objects: a first round can bring thousands.
    """
    given = and_(Response.meeting_id == meeting_id, Response.updated_at > start, Response.updated_at <= end,
                 Response.contact_id.is_not(None))
    organisations: dict[int, list[str]] = {}
    for contact_id, name in session.execute(
            select(Membership.contact_id, Organisation.name).join(Organisation)
            .where(Membership.contact_id.in_(select(Response.contact_id).where(given)))):
        organisations.setdefault(contact_id, []).append(name)
    rows = session.execute(
        select(Contact.id, Contact.name, Contact.email, Response.answer, Response.waitlisted)
        .join(Contact, Contact.id == Response.contact_id).where(given).order_by(Response.updated_at))
    return [(name, email, organisations.get(cid, []), answer, waitlisted)
            for cid, name, email, answer, waitlisted in rows]


def digest_context(session: Session, settings: Settings, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    tz, lang = settings.timezone, settings.language
    meetings = session.scalars(select(Meeting).where(Meeting.ends_at >= end).order_by(Meeting.starts_at)).all()
    figures = status_by_meeting(session, [m.id for m in meetings])
    all_orgs = session.execute(select(Organisation.id, Organisation.name).order_by(Organisation.name)).all()
    answer_words = {"sv": {"yes": "ja", "no": "nej"}, "en": {"yes": "yes", "no": "no"}}[lang]

    meeting_items = []
    for meeting in meetings:
        f = figures[meeting.id]
        represented = represented_organisations(session, meeting.id)
        new = _new_answers(session, meeting.id, start, end)
        meeting_items.append({
            "title": meeting.title, "when": format_when(meeting.starts_at, meeting.ends_at, tz, lang),
            "city": meeting.city, "invited": f.invited, "yes": f.yes, "no": f.no, "waitlisted": f.waitlisted,
            "no_answer": f.no_answer, "guests": f.guests,
            "organisations_represented": len(represented), "organisations_total": len(all_orgs),
            "missing_organisations": [name for oid, name in all_orgs if oid not in represented],
            "chart": _chart(session, meeting, tz, end, lang),
            "new_responses": [{
                "name": name or email,
                "organisations": ", ".join(sorted(organisations)),
                "answer": answer_words["yes" if answer is Answer.YES else "no"]
                + (" (väntelista)" if waitlisted and lang == "sv" else " (waiting list)" if waitlisted else ""),
            } for name, email, organisations, answer, waitlisted in new],
        })

    suppressed = session.scalars(
        select(Suppression).where(Suppression.created_at > start, Suppression.created_at <= end,
                                  Suppression.email.is_not(None)).order_by(Suppression.created_at)
    ).all()
    bounced = [s for s in suppressed if s.reason is SuppressionReason.BOUNCED]
    soft = soft_bounces(session, start, end, lang)
    statuses = last_status(session, [s.email for s in bounced])
    organisations = organisations_of(session, [s.email for s in bounced] + [b["email"] for b in soft])
    upcoming = session.scalars(
        select(Campaign).where(Campaign.state == CampaignState.SCHEDULED, Campaign.send_at <= end + dt.timedelta(days=7))
        .options(selectinload(Campaign.meeting)).order_by(Campaign.send_at)
    ).all()
    backup = backup_status(session)
    return {
        "lang": lang,
        "sender": {"name": settings.mail_from.display_name, "email": settings.mail_from.addr_spec},
        "digest": {
            "period_start": format_when(start, None, tz, lang),
            "period_end": format_when(end, None, tz, lang),
            "meetings": meeting_items,
            "bounces": [{"email": s.email, "detail": s.detail or "",
                         "organisations": ", ".join(organisations.get(s.email, [])),
                         **described(s.email, s.detail, statuses, lang)} for s in bounced],
            "soft_bounces": [{"email": b["email"], "organisations": ", ".join(organisations.get(b["email"], [])),
                              "status": b["status"], "explanation": b["explanation"], "count": b["count"]}
                             for b in soft if b["email"] not in {s.email for s in bounced}],
            "refusals": refusals(session, start, end, lang),
            "unsubscribes": [{"email": s.email} for s in suppressed if s.reason is SuppressionReason.UNSUBSCRIBED],
            "upcoming_campaigns": [{"meeting": c.meeting.title, "template": c.template,
                                    "send_at": format_when(c.send_at, None, tz, lang)} for c in upcoming],
            "backup": {"last": format_when(backup.last_at, None, tz, lang) if backup.last_at else "",
                       "stale": backup.stale},
            "sending": sending_context(session, start, end, tz, lang),
        },
    }


def send_digest(session: Session, settings: Settings, now: dt.datetime | None = None,
                actor: str = "worker") -> DigestRun | None:
    """Queue the digest for every staff address and record the period it covers (and who sent it)."""
    if not settings.staff_emails:
        return None
    start, end = current_period(session, now)
    context = digest_context(session, settings, start, end)
    run = DigestRun(period_start=start, period_end=end, recipients=len(settings.staff_emails))
    session.add(run)
    session.add_all(
        OutboxMessage(template="digest", to_email=email, extra=context, next_attempt_at=end)
        for email in settings.staff_emails
    )
    session.flush()
    record(session, actor, "digest.send", f"digest:{run.id}", recipients=run.recipients)
    return run
