"""Changing a meeting people have signed up for, and calling it off: the one owner of both.

A change of time, town or venue raises the meeting's calendar SEQUENCE and, unless staff
say not to, queues an update mail to everyone with a yes or a place on the waitlist: its
.ics has the same UID and the higher SEQUENCE, so their calendars move the entry. Calling a
meeting off queues a cancellation (METHOD:CANCEL, STATUS:CANCELLED, same UID), stops the
meeting's unsent rounds and closes its answers. The mails are outbox rows written in the
caller's transaction (sent after commit); every change is in the audit log. Anything
refused changes nothing and sends nothing.

Why a staff use case and not part of `mailer.meetings`: it stops campaigns, queues outbox rows
and moves the RSVP waiting list, and those packages sit above meetings (they know meetings).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, insert, select, update
from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.campaigns import service as campaigns
from mailer.campaigns.models import Campaign, CampaignState
from mailer.contacts.models import Contact
from mailer.db import utcnow
from mailer.i18n import format_when
from mailer.meetings.events import meeting_changed
from mailer.meetings.models import Meeting
from mailer.meetings.service import MeetingError, validated_changes
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.rsvp.answers import places_taken, promote_waitlisted
from mailer.rsvp.models import Answer, Response

NOTIFIED = ("starts_at", "ends_at", "city", "venue")  # what people who come need to hear about
AUDITED = (
    "title",
    "region",
    "host",
    "city",
    "venue",
    "starts_at",
    "ends_at",
    "capacity",
    "max_guests",
    "rsvp_by",
    "description",
    "evaluation_anonymous",
)
OPEN_CAMPAIGNS = (
    CampaignState.DRAFT,
    CampaignState.SCHEDULED,
    CampaignState.RUNNING,
    CampaignState.PAUSED,
    CampaignState.MISSED,
)


@dataclass
class MeetingChange:
    meeting: Meeting
    changed: list[str] = field(default_factory=list)  # the columns whose value changed
    notified: int = 0  # update or cancellation mails queued
    campaigns_cancelled: list[int] = field(default_factory=list)


def target(meeting: Meeting) -> str:
    return f"meeting:{meeting.slug}"


def concerned(session: Session, meeting_id: int) -> list[tuple[int, str | None, bool]]:
    """(contact id, language, waitlisted) of everyone with a yes or a place on the waitlist."""
    return list(
        session.execute(
            select(Contact.id, Contact.language, Response.waitlisted)
            .join(Response, and_(Response.contact_id == Contact.id, Response.meeting_id == meeting_id))
            .where(Response.answer == Answer.YES)
            .order_by(Contact.id)
        ).all()
    )


def count_concerned(session: Session, meeting: Meeting) -> int:
    return len(concerned(session, meeting.id))


def _queue(
    session: Session, meeting: Meeting, template: str, extra_for: Callable[[str | None, bool], dict[str, Any]]
) -> int:
    """One outbox row per person concerned, in the caller's transaction."""
    rows = [
        {
            "campaign_id": None,
            "contact_id": contact_id,
            "meeting_id": meeting.id,
            "template": template,
            "extra": extra_for(language, waitlisted),
            "state": MessageState.QUEUED,
            "attempts": 0,
            "next_attempt_at": utcnow(),
            "created_at": utcnow(),
            "uncertain": False,
        }
        for contact_id, language, waitlisted in concerned(session, meeting.id)
    ]
    if rows:
        session.execute(insert(OutboxMessage), rows)
    return len(rows)


def _values(meeting: Meeting) -> dict[str, Any]:
    return {name: getattr(meeting, name) for name in AUDITED}


def _shown(value: Any) -> str | int | bool | None:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def update_meeting(
    session: Session, tz: ZoneInfo, meeting: Meeting, *, evaluation_anonymous: bool | None = None, **changes: Any
) -> Meeting:
    """Change the fields given (meetings.service.validated_changes says which values are valid).

    A capacity below the places already taken is refused (people who have a place keep it), and
    places freed move the waiting list up at once. Nothing is changed when anything is refused.
    """
    before = meeting.capacity
    values = validated_changes(tz, meeting, **changes)
    if values["capacity"] is not None and values["capacity"] != meeting.capacity:
        session.flush()
        taken = places_taken(session, meeting.id)
        if values["capacity"] < taken:
            raise MeetingError("capacity", "capacity_below_taken", taken=taken)
    for key, value in values.items():
        setattr(meeting, key, value)
    if before is not None and (meeting.capacity is None or meeting.capacity > before):
        session.flush()
        promote_waitlisted(session, meeting)  # places freed: the waiting list moves up now
    if evaluation_anonymous is not None:
        meeting.evaluation_anonymous = evaluation_anonymous
    session.flush()
    return meeting


def edit_meeting(
    session: Session,
    tz: ZoneInfo,
    default_language: str,
    actor: str,
    meeting: Meeting,
    *,
    notify: bool = True,
    evaluation_anonymous: bool | None = None,
    **changes: Any,
) -> MeetingChange:
    """Change the fields given (see update_meeting); tell those who come when
    the time or the place changed, unless `notify` is False. Raises MeetingError."""
    if meeting.cancelled_at is not None:
        raise MeetingError("slug", "meeting_cancelled", slug=meeting.slug)
    before = _values(meeting)
    old_when = (meeting.starts_at, meeting.ends_at)
    old_place = meeting.place
    update_meeting(session, tz, meeting, evaluation_anonymous=evaluation_anonymous, **changes)
    after = _values(meeting)
    change = MeetingChange(meeting, [name for name in AUDITED if before[name] != after[name]])
    moved = (meeting.starts_at, meeting.ends_at) != old_when
    if any(name in NOTIFIED for name in change.changed):
        meeting.sequence = (meeting.sequence or 0) + 1  # calendars replace the entry they have
        if notify:

            def extra(language: str | None, waitlisted: bool) -> dict[str, Any]:
                when = format_when(*old_when, tz, language or default_language) if moved else None
                return {
                    "change": {"when_before": when, "place_before": old_place if meeting.place != old_place else None},
                    "response": {"waitlisted": waitlisted},
                }

            change.notified = _queue(session, meeting, "meeting_update", extra)
    session.flush()
    if change.changed:
        meeting_changed(session, meeting, change.changed, "edited")
    record(
        session,
        actor,
        "meetings.edit",
        target(meeting),
        notified=change.notified,
        sequence=meeting.sequence,
        changed={name: [_shown(before[name]), _shown(after[name])] for name in change.changed},
    )
    return change


def cancel_meeting(
    session: Session, actor: str, meeting: Meeting, *, notify: bool = True, now: dt.datetime | None = None
) -> MeetingChange:
    """Call the meeting off: a cancellation to those who come, its unsent rounds and mails stopped,
    answers closed. Raises MeetingError when it is already cancelled or has started."""
    now = now or utcnow()
    if meeting.cancelled_at is not None:
        raise MeetingError("slug", "already_cancelled", slug=meeting.slug)
    if meeting.starts_at <= now:
        raise MeetingError("slug", "started_cannot_cancel", slug=meeting.slug)
    change = MeetingChange(meeting, ["cancelled_at"])
    for campaign in session.scalars(
        select(Campaign).where(Campaign.meeting_id == meeting.id, Campaign.state.in_(OPEN_CAMPAIGNS))
    ):
        campaigns.cancel(session, campaign)
        change.campaigns_cancelled.append(campaign.id)
    # Confirmations and updates not sent yet would now contradict the cancellation.
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.meeting_id == meeting.id,
            OutboxMessage.campaign_id.is_(None),
            OutboxMessage.state.in_([MessageState.QUEUED, MessageState.RETRYING]),
        )
        .values(state=MessageState.SKIPPED, last_error="meeting cancelled", claimed_by=None)
    )
    meeting.cancelled_at = now
    meeting.sequence = (meeting.sequence or 0) + 1
    if notify:
        change.notified = _queue(
            session, meeting, "meeting_cancelled", lambda language, waitlisted: {"response": {"waitlisted": waitlisted}}
        )
    session.flush()
    meeting_changed(session, meeting, change.changed, "cancelled")
    record(
        session,
        actor,
        "meetings.cancel",
        target(meeting),
        notified=change.notified,
        campaigns_cancelled=change.campaigns_cancelled,
        sequence=meeting.sequence,
    )
    return change
