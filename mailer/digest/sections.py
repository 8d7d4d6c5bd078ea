"""The digest's sections, one function each: what staff need to know about the week.

Every section takes the session and the `Period` and returns plain JSON-able data that the
`digest` templates show under one heading. To add a section, write a function here, add it
to SECTIONS, and give it a block in templates/email/{sv,en}/digest.{txt,html}.

An erased person is never named: each section counts them (`erased`) instead.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, selectinload

from mailer.attendance.coverage import represented_organisations
from mailer.bounces.quality import described, last_status, organisations_of, refusals, soft_bounces
from mailer.campaigns.models import Campaign, CampaignState
from mailer.contacts.models import ERASED_DOMAIN, Contact, Membership, Organisation, Suppression, SuppressionReason
from mailer.digest.sending import sending_context
from mailer.i18n import format_day, format_short_date, format_when
from mailer.mail.replies import explain_reply, reply_kind
from mailer.meetings.models import Meeting
from mailer.operations.backup import backup_status
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.rsvp.models import Answer, Response, ResponseChange
from mailer.tracking.figures import status_by_meeting

CHART_WEEKS = 8
AHEAD = dt.timedelta(days=14)  # deadlines and meetings "coming up"
STAFF_MAILS = ("digest", "org_report")  # the office's own mail is not news to the office
NO_ORGANISATION = ""  # key for people on no member organisation's list


@dataclass(frozen=True)
class Period:
    start: dt.datetime
    end: dt.datetime
    tz: ZoneInfo
    lang: str

    def word(self, swedish: str, english: str) -> str:
        return english if self.lang == "en" else swedish


def _erased(email: str | None) -> bool:
    return email is None or email.endswith("@" + ERASED_DOMAIN)


def _organisations_of(session: Session, contact_ids: Iterable[int | None]) -> dict[int, list[str]]:
    """contact id -> names of the member organisations whose lists they are on, sorted."""
    found: dict[int, list[str]] = defaultdict(list)
    ids = list(contact_ids)
    for start in range(0, len(ids), 500):
        for contact_id, name in session.execute(
            select(Membership.contact_id, Organisation.name)
            .join(Organisation)
            .where(Membership.contact_id.in_(ids[start : start + 500]))
        ):
            found[contact_id].append(name)
    return {contact_id: sorted(names) for contact_id, names in found.items()}


def _upcoming_meetings(session: Session, period: Period) -> list[Meeting]:
    return list(session.scalars(select(Meeting).where(Meeting.ends_at >= period.end).order_by(Meeting.starts_at)))


# -- per meeting: figures, chart, the week's new answers -----------------------------------


def _chart(session: Session, meeting: Meeting, period: Period) -> list[dict[str, Any]]:
    """Answers over time, week by week: today's yes and no, counted by when each person first answered.

    One scan of the meeting's responses however many weeks are shown (not of their whole history).
    """
    first = session.scalar(select(func.min(Response.created_at)).where(Response.meeting_id == meeting.id))
    if first is None:
        return []
    weeks = [period.end - dt.timedelta(days=7 * weeks_back) for weeks_back in range(CHART_WEEKS)]
    weeks = [week_end for week_end in weeks if week_end >= first - dt.timedelta(days=7)][::-1] or [period.end]
    yes = and_(Response.answer == Answer.YES, Response.waitlisted.is_(False))
    columns = []
    for week_end in weeks:
        until = Response.created_at <= week_end
        columns += [
            func.coalesce(func.sum(case((and_(until, yes), 1), else_=0)), 0),
            func.coalesce(func.sum(case((and_(until, Response.answer == Answer.NO), 1), else_=0)), 0),
        ]
    counts = session.execute(select(*columns).where(Response.meeting_id == meeting.id)).one()
    return [
        {
            "label": format_short_date(week_end.astimezone(period.tz).date(), period.lang),
            "yes": int(counts[2 * index]),
            "no": int(counts[2 * index + 1]),
        }
        for index, week_end in enumerate(weeks)
    ]


def _new_answers(session: Session, meeting_id: int, period: Period) -> tuple[list[dict[str, Any]], int]:
    """The answers first given in the period (changes are their own section), and how many of
    them came from people since erased. Plain rows, not ORM objects: a first round brings thousands."""
    rows = session.execute(
        select(Contact.id, Contact.name, Contact.email, Response.answer, Response.waitlisted)
        .join(Contact, Contact.id == Response.contact_id)
        .where(Response.meeting_id == meeting_id, Response.created_at > period.start, Response.created_at <= period.end)
        .order_by(Response.created_at)
    ).all()
    shown = [row for row in rows if not _erased(row.email)]
    organisations = _organisations_of(session, [row.id for row in shown])
    return [
        {
            "name": row.name or row.email,
            "organisations": ", ".join(organisations.get(row.id, [])),
            "answer": row.answer.value,
            "waitlisted": bool(row.waitlisted),
        }
        for row in shown
    ], len(rows) - len(shown)


def meetings_section(session: Session, period: Period) -> list[dict[str, Any]]:
    """Every meeting not yet over: where it stands, its answers over time, the week's new answers."""
    meetings = _upcoming_meetings(session, period)
    figures = status_by_meeting(session, [meeting.id for meeting in meetings])
    all_orgs = session.execute(select(Organisation.id, Organisation.name).order_by(Organisation.name)).all()
    items = []
    for meeting in meetings:
        status = figures[meeting.id]
        represented = represented_organisations(session, meeting.id)
        new, erased = _new_answers(session, meeting.id, period)
        items.append(
            {
                "title": meeting.title,
                "when": format_when(meeting.starts_at, meeting.ends_at, period.tz, period.lang),
                "city": meeting.city,
                "region": meeting.region,
                "invited": status.invited,
                "yes": status.yes,
                "no": status.no,
                "waitlisted": status.waitlisted,
                "no_answer": status.no_answer,
                "guests": status.guests,
                "capacity": meeting.capacity,
                "places_left": None
                if meeting.capacity is None
                else max(meeting.capacity - status.yes - status.guests, 0),
                "organisations_represented": len(represented),
                "organisations_total": len(all_orgs),
                "missing_organisations": [name for oid, name in all_orgs if oid not in represented],
                "chart": _chart(session, meeting, period),
                "new_responses": new,
                "new_responses_erased": erased,
            }
        )
    return items


# -- the week's sending ------------------------------------------------------------------------


def sent_section(session: Session, period: Period) -> dict[str, Any]:
    """Messages sent in the period, per round (campaign), and the mails answers set off."""
    in_period = and_(
        OutboxMessage.state == MessageState.SENT,
        OutboxMessage.sent_at > period.start,
        OutboxMessage.sent_at <= period.end,
        OutboxMessage.template.not_in(STAFF_MAILS),
    )
    per_campaign = dict(
        session.execute(
            select(OutboxMessage.campaign_id, func.count())
            .where(in_period, OutboxMessage.campaign_id.is_not(None))
            .group_by(OutboxMessage.campaign_id)
        ).all()
    )
    campaigns = session.scalars(
        select(Campaign)
        .where(Campaign.id.in_(per_campaign))
        .options(selectinload(Campaign.meeting))
        .order_by(Campaign.id)
    ).all()
    rounds = [
        {
            "id": campaign.id,
            "meeting": campaign.target.title,
            "template": campaign.template,
            "sent": per_campaign[campaign.id],
            "state": campaign.state.value,
        }
        for campaign in campaigns
    ]
    other = dict(
        session.execute(
            select(OutboxMessage.template, func.count())
            .where(in_period, OutboxMessage.campaign_id.is_(None))
            .group_by(OutboxMessage.template)
        ).all()
    )
    return {
        "rounds": rounds,
        "other": [{"template": template, "sent": sent} for template, sent in sorted(other.items())],
        "total": sum(per_campaign.values()) + sum(other.values()),
    }


def delivery_problems_section(session: Session, period: Period) -> dict[str, Any]:
    """Messages that failed for good (until retried) or are waiting to be tried again, per round,
    with what the server's reply means."""
    rows = session.execute(
        select(
            OutboxMessage.campaign_id,
            OutboxMessage.template,
            OutboxMessage.state,
            OutboxMessage.last_error,
            OutboxMessage.to_email,
            Contact.id,
            Contact.name,
            Contact.email,
        )
        .outerjoin(Contact, Contact.id == OutboxMessage.contact_id)
        .where(
            OutboxMessage.state.in_([MessageState.FAILED, MessageState.RETRYING]),
            OutboxMessage.template.not_in(STAFF_MAILS),
        )
        .order_by(OutboxMessage.campaign_id, OutboxMessage.id)
    ).all()
    titles = dict(
        session.execute(
            select(Campaign.id, Meeting.title)
            .join(Meeting)
            .where(Campaign.id.in_({row.campaign_id for row in rows if row.campaign_id}))
        ).all()
    )
    shown = [row for row in rows if row.id is not None and not _erased(row.email)]
    organisations = _organisations_of(session, {row.id for row in shown})
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = (row.campaign_id, row.template)
        group = groups.setdefault(
            key,
            {
                "campaign": row.campaign_id,
                "meeting": titles.get(row.campaign_id, ""),
                "template": row.template,
                "failed": 0,
                "retrying": 0,
                "erased": 0,
                "messages": [],
            },
        )
        group["failed" if row.state is MessageState.FAILED else "retrying"] += 1
        if row.id is None or _erased(row.email):
            group["erased"] += 1
            continue
        group["messages"].append(
            {
                "name": row.name or row.email,
                "email": row.email,
                "organisations": ", ".join(organisations.get(row.id, [])),
                "state": row.state.value,
                "explanation": explain_reply(row.last_error, period.lang, final=row.state is MessageState.FAILED),
                "reply": (row.last_error or "")[:200],
            }
        )
    return {
        "groups": list(groups.values()),
        "failed": sum(group["failed"] for group in groups.values()),
        "retrying": sum(group["retrying"] for group in groups.values()),
    }


# -- answers that changed, and who is waiting ------------------------------------------------


def answer_changes_section(session: Session, period: Period) -> dict[str, Any]:
    """Who changed their answer in the period (yes to no, no to yes) or got a place from the waitlist."""
    changed_ids = select(ResponseChange.response_id).where(
        ResponseChange.at > period.start, ResponseChange.at <= period.end
    )
    history = session.execute(
        select(
            ResponseChange.response_id,
            ResponseChange.answer,
            ResponseChange.waitlisted,
            ResponseChange.at,
            Response.contact_id,
            Response.meeting_id,
        )
        .join(Response, Response.id == ResponseChange.response_id)
        .where(ResponseChange.response_id.in_(changed_ids))
        .order_by(ResponseChange.response_id, ResponseChange.at, ResponseChange.id)
    ).all()
    moves = []
    previous = None
    for entry in history:
        if previous is not None and previous.response_id == entry.response_id and period.start < entry.at <= period.end:
            if previous.answer != entry.answer:
                moves.append((entry, f"{previous.answer.value}_to_{entry.answer.value}"))
            elif entry.answer is Answer.YES and previous.waitlisted and not entry.waitlisted:
                moves.append((entry, "off_waitlist"))
        previous = entry
    people = {
        person.id: person
        for person in session.execute(
            select(Contact.id, Contact.name, Contact.email).where(
                Contact.id.in_({entry.contact_id for entry, _ in moves if entry.contact_id})
            )
        )
    }
    titles = dict(
        session.execute(
            select(Meeting.id, Meeting.title).where(Meeting.id.in_({entry.meeting_id for entry, _ in moves}))
        ).all()
    )
    shown = [
        (entry, kind)
        for entry, kind in moves
        if entry.contact_id in people and not _erased(people[entry.contact_id].email)
    ]
    organisations = _organisations_of(session, {entry.contact_id for entry, _ in shown})
    return {
        "changes": [
            {
                "name": people[move.contact_id].name or people[move.contact_id].email,
                "organisations": ", ".join(organisations.get(move.contact_id, [])),
                "meeting": titles[move.meeting_id],
                "change": kind,
                "at": format_day(move.at, period.tz, period.lang),
            }
            for move, kind in shown
        ],
        "erased": len(moves) - len(shown),
    }


def waitlist_section(session: Session, period: Period) -> list[dict[str, Any]]:
    """Per meeting not yet over, the people still waiting for a place, first in line first."""
    meetings = _upcoming_meetings(session, period)
    items = []
    for meeting in meetings:
        rows = session.execute(
            select(Contact.id, Contact.name, Contact.email, Response.guests)
            .join(Contact, Contact.id == Response.contact_id)
            .where(Response.meeting_id == meeting.id, Response.answer == Answer.YES, Response.waitlisted.is_(True))
            .order_by(Response.waitlisted_at, Response.id)
        ).all()
        if not rows:
            continue
        shown = [row for row in rows if not _erased(row.email)]
        organisations = _organisations_of(session, [row.id for row in shown])
        items.append(
            {
                "meeting": meeting.title,
                "people": [
                    {
                        "name": row.name or row.email,
                        "organisations": ", ".join(organisations.get(row.id, [])),
                        "guests": row.guests,
                    }
                    for row in shown
                ],
                "erased": len(rows) - len(shown),
            }
        )
    return items


# -- bounces and unsubscribes, per organisation ----------------------------------------------


def _suppressions_by_organisation(session: Session, period: Period, reason: SuppressionReason) -> dict[str, Any]:
    rows = session.execute(
        select(Suppression.email, Suppression.detail, Contact.id, Contact.name)
        .outerjoin(Contact, Contact.email == Suppression.email)
        .where(
            Suppression.reason == reason, Suppression.created_at > period.start, Suppression.created_at <= period.end
        )
        .order_by(Suppression.created_at)
    ).all()
    shown = [row for row in rows if not _erased(row.email)]
    organisations = _organisations_of(session, {row.id for row in shown if row.id is not None})
    # A bounce's words come from its delivery report's code where the bounce mailbox had one,
    # as in the organisations' quality lists (mailer.bounces.quality).
    statuses = last_status(session, [row.email for row in shown]) if reason is SuppressionReason.BOUNCED else {}
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in shown:
        entry = {"name": row.name or row.email, "email": row.email}
        if reason is SuppressionReason.BOUNCED:
            entry |= {
                "explanation": described(row.email, row.detail, statuses, period.lang)["explanation"],
                "kind": reply_kind(row.detail),
                "reply": (row.detail or "")[:200],
            }
        for name in organisations.get(row.id, []) or [NO_ORGANISATION]:
            grouped[name].append(entry)
    by_organisation = [
        {
            "organisation": name or period.word("(ingen medlemsorganisation)", "(no member organisation)"),
            "people": grouped[name],
        }
        for name in sorted(grouped, key=lambda organisation: (not organisation, organisation))
    ]
    return {"by_organisation": by_organisation, "count": len(shown), "erased": len(rows) - len(shown)}


def bounces_section(session: Session, period: Period) -> dict[str, Any]:
    """Addresses that bounced for good in the period, per organisation, with what the reply means."""
    return _suppressions_by_organisation(session, period, SuppressionReason.BOUNCED)


def unsubscribes_section(session: Session, period: Period) -> dict[str, Any]:
    """People who unsubscribed in the period, per organisation."""
    return _suppressions_by_organisation(session, period, SuppressionReason.UNSUBSCRIBED)


# -- coming up -------------------------------------------------------------------------------


def deadlines_section(session: Session, period: Period) -> list[dict[str, Any]]:
    """Answer deadlines in the next two weeks, with how many have not answered yet."""
    today = period.end.astimezone(period.tz).date()
    meetings = session.scalars(
        select(Meeting).where(Meeting.rsvp_by >= today, Meeting.rsvp_by <= today + AHEAD).order_by(Meeting.rsvp_by)
    ).all()
    figures = status_by_meeting(session, [meeting.id for meeting in meetings])
    return [
        {
            "meeting": meeting.title,
            "deadline": format_day(meeting.rsvp_by, period.tz, period.lang),
            "days_left": (meeting.rsvp_by - today).days,
            "no_answer": figures[meeting.id].no_answer,
        }
        for meeting in meetings
        if meeting.rsvp_by is not None
    ]  # (selected by their deadline: never None)


def coming_meetings_section(session: Session, period: Period) -> list[dict[str, Any]]:
    """Meetings in the next two weeks, with places left."""
    meetings = session.scalars(
        select(Meeting)
        .where(Meeting.starts_at >= period.end, Meeting.starts_at <= period.end + AHEAD)
        .order_by(Meeting.starts_at)
    ).all()
    figures = status_by_meeting(session, [meeting.id for meeting in meetings])
    return [
        {
            "meeting": meeting.title,
            "when": format_when(meeting.starts_at, meeting.ends_at, period.tz, period.lang),
            "city": meeting.city,
            "yes": figures[meeting.id].yes,
            "guests": figures[meeting.id].guests,
            "waitlisted": figures[meeting.id].waitlisted,
            "capacity": meeting.capacity,
            "places_left": None
            if meeting.capacity is None
            else max(meeting.capacity - figures[meeting.id].yes - figures[meeting.id].guests, 0),
        }
        for meeting in meetings
    ]


def upcoming_campaigns_section(session: Session, period: Period) -> list[dict[str, Any]]:
    """Rounds scheduled to go out in the coming week."""
    upcoming = session.scalars(
        select(Campaign)
        .where(Campaign.state == CampaignState.SCHEDULED, Campaign.send_at <= period.end + dt.timedelta(days=7))
        .options(selectinload(Campaign.meeting))
        .order_by(Campaign.send_at)
    ).all()
    return [
        {
            "meeting": campaign.target.title,
            "template": campaign.template,
            "send_at": format_when(campaign.send_at, None, period.tz, period.lang),
        }
        for campaign in upcoming
        if campaign.send_at is not None
    ]  # (selected by their send time: never None)


def sending_section(session: Session, period: Period) -> dict[str, Any]:
    """When the relay made sending wait this week, why, and what waits now (mailer.digest.sending)."""
    return sending_context(session, period.start, period.end, period.tz, period.lang)


def soft_bounces_section(session: Session, period: Period) -> list[dict[str, Any]]:
    """Counted soft bounces from the bounce mailbox (full mailboxes and the like), not yet suppressed."""
    soft = soft_bounces(session, period.start, period.end, period.lang)
    organisations = organisations_of(session, [bounce["email"] for bounce in soft])
    return [
        {
            "email": bounce["email"],
            "organisations": ", ".join(organisations.get(bounce["email"], [])),
            "status": bounce["status"],
            "explanation": bounce["explanation"],
            "count": bounce["count"],
        }
        for bounce in soft
        if not _erased(bounce["email"])
    ]


def refusals_section(session: Session, period: Period) -> list[dict[str, Any]]:
    """Reports that were our mail's or the relay's fault (policy, spam lists), by code (mailer.bounces.quality)."""
    return refusals(session, period.start, period.end, period.lang)


def backup_section(session: Session, period: Period) -> dict[str, Any]:
    """When the last backup was taken, and whether it is older than two days (mailer.operations.backup)."""
    backup = backup_status(session)
    return {
        "last": format_when(backup.last_at, None, period.tz, period.lang) if backup.last_at else "",
        "stale": backup.stale,
    }


# Name in the template's `digest` -> the function that fills it, in the order shown.
SECTIONS: list[tuple[str, Callable[[Session, Period], Any]]] = [
    ("meetings", meetings_section),
    ("sent", sent_section),
    ("answer_changes", answer_changes_section),
    ("waitlists", waitlist_section),
    ("delivery_problems", delivery_problems_section),
    ("bounces", bounces_section),
    ("soft_bounces", soft_bounces_section),
    ("refusals", refusals_section),
    ("sending", sending_section),
    ("unsubscribes", unsubscribes_section),
    ("deadlines", deadlines_section),
    ("coming_meetings", coming_meetings_section),
    ("upcoming_campaigns", upcoming_campaigns_section),
    ("backup", backup_section),
]
