"""Who took part, and which member organisations were represented.

Participants are those checked in when the meeting has any check-in, otherwise
those who said yes (with a place): the figures a project report needs, both
before a meeting and after it. A person counts for every organisation they belong to.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import CompoundSelect, Exists, and_, exists, select
from sqlalchemy.orm import Session

from mailer.attendance.models import Attendance
from mailer.contacts.models import Membership, Organisation
from mailer.rsvp.models import Answer, Response


def has_check_ins(meeting_id: int) -> Exists:
    return exists().where(Attendance.meeting_id == meeting_id)


def participants(meeting_id: int) -> CompoundSelect[int | None]:
    """contact_id of each participant (walk-ins without an address are counted separately)."""
    came = select(Attendance.contact_id).where(Attendance.meeting_id == meeting_id, Attendance.contact_id.is_not(None))
    said_yes = select(Response.contact_id).where(
        Response.meeting_id == meeting_id,
        Response.contact_id.is_not(None),
        and_(Response.answer == Answer.YES, Response.waitlisted.is_(False)),
        ~has_check_ins(meeting_id),
    )
    return came.union(said_yes)


def represented_organisations(session: Session, meeting_id: int) -> set[int]:
    """Through participants' memberships, and walk-ins from a member organisation (named as it is)."""
    who = participants(meeting_id).subquery()
    by_membership = select(Membership.organisation_id).where(Membership.contact_id.in_(select(who.c.contact_id)))
    by_walk_in = select(Organisation.id).where(
        Organisation.name.in_(
            select(Attendance.organisation_name).where(
                Attendance.meeting_id == meeting_id, Attendance.walk_in.is_(True)
            )
        )
    )
    return set(session.scalars(by_membership.union(by_walk_in)))


def participants_of(session: Session, meeting_ids: Iterable[int]) -> set[int]:
    """Everyone who took part in any of the meetings (a series' sessions), each person once."""
    people: set[int] = set()
    for meeting_id in meeting_ids:
        people |= {contact_id for contact_id in session.scalars(participants(meeting_id)) if contact_id is not None}
    return people


def organisations_represented_in(session: Session, meeting_ids: Iterable[int]) -> set[int]:
    """Organisations represented at any of the meetings (a series' sessions), each once."""
    represented: set[int] = set()
    for meeting_id in meeting_ids:
        represented |= represented_organisations(session, meeting_id)
    return represented
