"""Checking people in on the day: came vs. said yes, and walk-ins who were never on a list."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.attendance.models import Attendance
from mailer.contacts.models import Contact, Organisation
from mailer.meetings.models import Meeting


@dataclass
class CheckinResult:
    checked_in: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def check_in(session: Session, meeting: Meeting, emails: list[str]) -> CheckinResult:
    """Mark contacts as present; unknown addresses are reported, never guessed."""
    result = CheckinResult()
    wanted = {email.strip().lower(): email for email in emails if email.strip()}
    contacts = {contact.email: contact for contact in session.scalars(select(Contact).where(Contact.email.in_(wanted)))}
    present = set(session.scalars(select(Attendance.contact_id).where(Attendance.meeting_id == meeting.id)))
    for email in wanted:
        contact = contacts.get(email)
        if contact is None:
            result.unknown.append(wanted[email])
        elif contact.id in present:
            result.already.append(email)
        else:
            session.add(Attendance(meeting_id=meeting.id, contact_id=contact.id, name=contact.name))
            present.add(contact.id)
            result.checked_in.append(email)
    session.flush()
    return result


def add_walk_in(session: Session, meeting: Meeting, name: str, organisation: str | None = None) -> Attendance:
    """Someone who came without being on any list: counted, but not made a contact.

    An organisation typed as a member organisation's slug or name (in any case) is
    stored as that organisation's name, so the walk-in counts for its coverage.
    """
    name = " ".join(name.split())
    if not name:
        raise ValueError("a walk-in needs a name")
    attendance = Attendance(
        meeting_id=meeting.id,
        name=name[:200],
        organisation_name=member_organisation_name(session, organisation),
        walk_in=True,
    )
    session.add(attendance)
    session.flush()
    return attendance


def member_organisation_name(session: Session, typed: str | None) -> str | None:
    """The member organisation's own name when `typed` names one, else the text as typed."""
    text = " ".join((typed or "").split())[:200]
    if not text:
        return None
    key = text.casefold()
    for slug, org_name in session.execute(select(Organisation.slug, Organisation.name)):
        if key in (slug.casefold(), " ".join(org_name.split()).casefold()):
            return org_name
    return text


def undo_check_in(session: Session, meeting: Meeting, email: str) -> bool:
    contact = session.scalar(select(Contact).where(Contact.email == email.strip().lower()))
    if contact is None:
        return False
    row = session.scalar(
        select(Attendance).where(Attendance.meeting_id == meeting.id, Attendance.contact_id == contact.id)
    )
    if row is None:
        return False
    session.delete(row)
    return True
