"""A meeting's full picture: the RSVP figures overall, per organisation and per region,
bounces, attendance, and member-organisation coverage ("represented: 13 of 22").

Built on the grouped counting query of `mailer.tracking.figures`, so the database
does the counting: one query per breakdown, whatever the number invited.
A person counts for every organisation they belong to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, SQLColumnExpression, Subquery, func, literal, or_, select
from sqlalchemy.orm import Session

from mailer.attendance.coverage import participants, represented_organisations
from mailer.attendance.models import Attendance
from mailer.campaigns.models import Campaign
from mailer.contacts.models import Contact, Membership, Organisation
from mailer.meetings.models import Meeting
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.regions import canonical_region
from mailer.tracking.figures import figures_query, meeting_status

FIGURES = ("invited", "yes", "no", "waitlisted", "no_answer", "guests", "opened_not_answered")
REGION = func.coalesce(Contact.region, literal(""))


def _join_organisations(query: Select[Any], who: Subquery) -> Select[Any]:
    return query.join(Membership, Membership.contact_id == who.c.contact_id).join(
        Organisation, Organisation.id == Membership.organisation_id
    )


def _join_contacts(query: Select[Any], who: Subquery) -> Select[Any]:
    return query.join(Contact, Contact.id == who.c.contact_id)


def _grouped(
    session: Session,
    meeting_id: int,
    key: SQLColumnExpression[Any],
    join: Callable[[Select[Any], Subquery], Select[Any]],
) -> dict[str, dict[str, Any]]:
    rows = session.execute(figures_query([meeting_id], key.label("key"), join=join)).mappings()
    return {row["key"]: {figure: int(row[figure]) for figure in FIGURES} for row in rows}


def _bounced(meeting_id: int) -> Select[int | None]:
    """Invitations that bounced: to the meeting, or to the series it is a session of."""
    series_of_meeting = select(Meeting.series_id).where(Meeting.id == meeting_id).scalar_subquery()
    return (
        select(OutboxMessage.contact_id)
        .join(Campaign, Campaign.id == OutboxMessage.campaign_id)
        .where(
            or_(Campaign.meeting_id == meeting_id, Campaign.series_id == series_of_meeting),
            Campaign.template == "invitation",
            OutboxMessage.state == MessageState.BOUNCED,
            OutboxMessage.contact_id.is_not(None),
        )
    )


def _count_by(
    session: Session, contact_ids: Select[int | None], key: SQLColumnExpression[Any], by_organisation: bool
) -> dict[str, int]:
    ids = contact_ids.subquery()
    query = select(key, func.count()).select_from(ids)
    if by_organisation:
        query = query.join(Membership, Membership.contact_id == ids.c.contact_id).join(
            Organisation, Organisation.id == Membership.organisation_id
        )
    else:
        query = query.join(Contact, Contact.id == ids.c.contact_id)
    return {group: count for group, count in session.execute(query.group_by(key))}


def _same_region_together(counts: dict[str, Any]) -> dict[str, Any]:
    """Regions are stored canonical, but a value written before migration 0013 or not a region at
    all may remain: every spelling of one region is one row under its canonical name (mailer.regions);
    anything else is grouped by its case- and space-insensitive form. Counts (or dicts of counts) are added."""
    spelled: dict[str, str] = {}
    for region in sorted(counts, key=lambda region: -_size(counts[region])):
        spelled.setdefault(" ".join(region.split()).casefold(), canonical_region(region) or region)
    merged: dict[str, Any] = {}
    for region, value in counts.items():
        name = spelled[" ".join(region.split()).casefold()]
        if name not in merged:
            merged[name] = dict(value) if isinstance(value, dict) else value
        elif isinstance(value, dict):
            merged[name] = {key: merged[name][key] + count for key, count in value.items()}
        else:
            merged[name] += value
    return merged


def _size(value: Any) -> int:
    return int(value["invited"] if isinstance(value, dict) else value)


def _came(meeting_id: int) -> Select[int | None]:
    return select(Attendance.contact_id).where(Attendance.meeting_id == meeting_id, Attendance.contact_id.is_not(None))


def full_status(session: Session, meeting: Meeting) -> dict[str, Any]:
    """Every figure staff and the board ask for, with stable keys (see README)."""
    data: dict[str, Any] = {**meeting_status(session, meeting.id).to_json()}
    data["bounced"] = session.execute(select(func.count()).select_from(_bounced(meeting.id).subquery())).scalar_one()
    came = session.execute(
        select(Attendance.contact_id, Attendance.walk_in).where(Attendance.meeting_id == meeting.id)
    ).all()
    data["checked_in"] = len(came)
    data["walk_ins"] = sum(1 for _, walk_in in came if walk_in)
    data["participants"] = len(session.scalars(participants(meeting.id)).all()) + sum(
        1 for contact_id, _ in came if contact_id is None
    )

    organisations = session.execute(
        select(Organisation.id, Organisation.slug, Organisation.name).order_by(Organisation.name)
    ).all()
    represented = represented_organisations(session, meeting.id)
    data["organisations_represented"] = len(represented)
    data["organisations_total"] = len(organisations)
    data["organisations_missing"] = [name for oid, _, name in organisations if oid not in represented]

    empty = {figure: 0 for figure in FIGURES} | {"bounced": 0, "checked_in": 0}
    by_org = _grouped(session, meeting.id, Organisation.slug, _join_organisations)
    bounced_org = _count_by(session, _bounced(meeting.id), Organisation.slug, True)
    came_org = _count_by(session, _came(meeting.id), Organisation.slug, True)
    data["by_organisation"] = {
        slug: empty
        | by_org.get(slug, {})
        | {
            "bounced": bounced_org.get(slug, 0),
            "checked_in": came_org.get(slug, 0),
            "name": name,
            "represented": oid in represented,
        }
        for oid, slug, name in organisations
    }
    by_region = _same_region_together(_grouped(session, meeting.id, REGION, _join_contacts))
    bounced_region = _same_region_together(_count_by(session, _bounced(meeting.id), REGION, False))
    came_region = _same_region_together(_count_by(session, _came(meeting.id), REGION, False))
    regions = sorted(set(by_region) | set(bounced_region) | set(came_region))
    data["by_region"] = {
        (region or "–"): empty
        | by_region.get(region, {})
        | {"bounced": bounced_region.get(region, 0), "checked_in": came_region.get(region, 0)}
        for region in regions
    }
    return data
