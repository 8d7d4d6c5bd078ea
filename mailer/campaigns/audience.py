"""Who a campaign goes to: any of the chosen organisations, regions and roles.

Always one message per person however many lists they are on, and never to a
suppressed address (practical information, a service mail, still reaches those who
only unsubscribed from invitations). Reminders keep only people already invited who
have not answered; practical information keeps only those who said yes. Invitations
and reminders leave out everyone who already answered the meeting, unless staff ask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Exists, Select, and_, exists, false, func, or_, select
from sqlalchemy.orm import Session

from mailer.attendance.coverage import participants
from mailer.campaigns.models import Campaign
from mailer.contacts.models import Contact, Membership, Organisation, Suppression, SuppressionReason
from mailer.errors import DomainError
from mailer.meetings.models import Meeting
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.regions import canonical_region
from mailer.rsvp.models import Answer, Response


class AudienceError(DomainError, ValueError):
    """An audience that selects nothing sensible; the code says why."""

    prefix = "error.audience."


@dataclass
class Audience:
    orgs: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    all: bool = False
    only_unanswered: bool = False
    only_yes: bool = False
    participants: bool = False  # thanks/evaluation: only those who came (or said yes, without check-in)
    include_answered: bool = False  # staff asked to invite again those who already answered
    skip_answered: bool = False  # invitations and reminders (implied_audience): not those who answered
    service: bool = False  # practical information: not stopped by unsubscribing from invitations

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Audience:
        return cls(**{key: value for key, value in data.items() if key in cls.__dataclass_fields__})

    @property
    def has_selector(self) -> bool:
        return bool(self.all or self.orgs or self.regions or self.roles)

    def validate(self, session: Session) -> None:
        if self.only_unanswered and self.only_yes:
            raise AudienceError("exclusive")
        if not self.has_selector and not (self.only_unanswered or self.only_yes or self.participants):
            raise AudienceError("empty")
        if self.orgs:
            known = set(session.scalars(select(Organisation.slug).where(Organisation.slug.in_(self.orgs))))
            unknown = [slug for slug in self.orgs if slug not in known]
            if unknown:
                raise AudienceError("unknown_organisations", names=", ".join(unknown))
        not_regions = [region for region in self.regions if canonical_region(region) is None]
        if not_regions:
            raise AudienceError("not_regions", names=", ".join(not_regions))

    def describe(self) -> str:
        parts = []
        if self.all:
            parts.append("all contacts")
        parts += [f"org {org}" for org in self.orgs] + [f"region {region}" for region in self.regions]
        parts += [f"role {role}" for role in self.roles]
        text = " or ".join(parts) or ("everyone" if self.participants else "everyone invited")
        if self.only_unanswered:
            text += ", only those who have not answered"
        if self.only_yes:
            text += ", only those who said yes"
        if self.participants:
            text += ", only participants"
        if self.skip_answered and not self.include_answered:
            text += ", not those who already answered"
        elif self.skip_answered:
            text += ", including those who already answered"
        return text


def sent_invitations(to: ColumnElement[bool]) -> Select[int | None]:
    """Contacts who were sent an invitation in a round matching `to` (a condition on Campaign)."""
    return (
        select(OutboxMessage.contact_id)
        .join(Campaign, Campaign.id == OutboxMessage.campaign_id)
        .where(
            to,
            Campaign.template == "invitation",
            OutboxMessage.state == MessageState.SENT,
            OutboxMessage.contact_id.is_not(None),
        )
    )


def invited_to(meeting_id: int) -> Select[int | None]:
    """Contacts who were sent an invitation to the meeting."""
    return sent_invitations(Campaign.meeting_id == meeting_id)


def answered(meeting_id: int) -> Exists:
    """The contact has answered the meeting: yes, no or a place on the waitlist."""
    return exists().where(Response.contact_id == Contact.id, Response.meeting_id == meeting_id)


def invited_to_series(series_id: int) -> Select[int | None]:
    """Contacts who were sent an invitation to the series (a round that offers its sessions)."""
    return sent_invitations(Campaign.series_id == series_id)


def answered_series(series_id: int) -> Exists:
    """The contact has chosen a session of the series, waits for one, or declined the series
    (a decline is a no to each session: mailer.rsvp.series)."""
    return exists().where(
        Response.contact_id == Contact.id, Response.meeting_id == Meeting.id, Meeting.series_id == series_id
    )


def recipients_query(
    audience: Audience, meeting_id: int | None, skip_answered: bool | None = None, series_id: int | None = None
) -> Select[int]:
    """SELECT of contact ids, distinct, suppression already excluded.

    `skip_answered` overrides the audience's own rule (for counting who it leaves out). With a
    `series_id` (a round to a series), "invited" and "answered" are the series'.
    """
    query = select(Contact.id)
    if not audience.all and audience.has_selector:
        conditions: list[ColumnElement[bool]] = []
        if audience.orgs:
            conditions.append(
                exists().where(
                    Membership.contact_id == Contact.id,
                    Membership.organisation_id == Organisation.id,
                    Organisation.slug.in_(audience.orgs),
                )
            )
        if audience.regions:
            # Stored regions are canonical (mailer.regions): "Region Sörmland" here is "Sörmland" there.
            regions = sorted({canonical_region(region) or region for region in audience.regions})
            conditions.append(Contact.region.in_(regions))
            conditions.append(exists().where(Membership.contact_id == Contact.id, Membership.region.in_(regions)))
            conditions.append(
                exists().where(
                    Membership.contact_id == Contact.id,
                    Membership.organisation_id == Organisation.id,
                    Organisation.region.in_(regions),
                )
            )
        if audience.roles:
            conditions.append(
                exists().where(
                    Membership.contact_id == Contact.id,
                    func.lower(Membership.role).in_([role.lower() for role in audience.roles]),
                )
            )
        query = query.where(or_(*conditions))
    if series_id is not None:
        invited, has_answered = invited_to_series(series_id), answered_series(series_id)
    else:
        assert meeting_id is not None, "a round is to a meeting or to a series"
        invited, has_answered = invited_to(meeting_id), answered(meeting_id)
    if audience.only_unanswered:
        query = query.where(Contact.id.in_(invited), ~has_answered)
    if audience.only_yes:
        query = query.where(
            exists().where(
                Response.contact_id == Contact.id,
                Response.meeting_id == meeting_id,
                and_(Response.answer == Answer.YES, Response.waitlisted.is_(False)),
            )
        )
    if audience.participants:
        # a series round has no one meeting whose participants it could mean
        query = query.where(Contact.id.in_(participants(meeting_id)) if meeting_id is not None else false())
    if skip_answered is None:
        skip_answered = audience.skip_answered and not audience.include_answered
    if skip_answered:
        query = query.where(~has_answered)
    blocked = Suppression.email == Contact.email
    if audience.service:
        blocked = and_(blocked, Suppression.reason != SuppressionReason.UNSUBSCRIBED)
    query = query.where(~exists().where(blocked))
    return query.order_by(Contact.id)


def count_recipients(
    session: Session,
    audience: Audience,
    meeting_id: int | None,
    skip_answered: bool | None = None,
    series_id: int | None = None,
) -> int:
    query = recipients_query(audience, meeting_id, skip_answered, series_id)
    return session.execute(select(func.count()).select_from(query.subquery())).scalar_one()


def left_out_answered(
    session: Session, audience: Audience, meeting_id: int | None, series_id: int | None = None
) -> int:
    """How many the audience leaves out because they already answered the meeting or series (0 if it does not)."""
    if not audience.skip_answered or audience.include_answered or not (meeting_id or series_id):
        return 0
    return count_recipients(session, audience, meeting_id, False, series_id) - count_recipients(
        session, audience, meeting_id, None, series_id
    )
