"""What the staff dashboard shows: where each coming meeting stands, who is missing, what is being sent.

All counting is done by the existing status queries (`mailer.tracking.figures`,
`mailer.attendance.coverage`, `mailer.campaigns.service.status`); this module
only picks what a busy person needs on one screen.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mailer.attendance.coverage import represented_organisations
from mailer.bounces.quality import described, last_status
from mailer.campaigns.models import Campaign, CampaignState
from mailer.campaigns.service import CampaignStatus, status
from mailer.config import Settings
from mailer.contacts.models import Organisation, Suppression, SuppressionReason
from mailer.db import utcnow
from mailer.i18n import format_when
from mailer.meetings.models import Meeting
from mailer.operations.backup import BackupStatus, backup_status
from mailer.outbox.relay import Pause, current_pause
from mailer.tracking.figures import MeetingStatus, status_by_meeting

ACTIVE = (CampaignState.SCHEDULED, CampaignState.RUNNING, CampaignState.PAUSED)
BOUNCES_SHOWN = 10


@dataclass
class MeetingLine:
    slug: str
    title: str
    when: str
    city: str
    capacity: int | None
    figures: MeetingStatus
    represented: int

    @property
    def total(self) -> int:
        """Everyone the bar stands for: the invited, plus anyone who answered without an invitation."""
        figures = self.figures
        return max(figures.invited, figures.yes + figures.no + figures.waitlisted + figures.no_answer)

    def share(self, count: int) -> float:
        return round(100 * count / self.total, 1) if self.total else 0.0


@dataclass
class CampaignLine:
    id: int
    meeting_title: str
    template: str
    state: str
    send_at: str | None
    status: CampaignStatus

    @property
    def done(self) -> int:
        counts = self.status.counts
        return counts["sent"] + counts["failed"] + counts["bounced"] + counts["skipped"]


@dataclass
class Bounce:
    email: str | None
    detail: str | None
    at: dt.datetime
    explanation: str | None = None  # what the reply means, in the staff member's language


@dataclass
class Dashboard:
    meetings: list[MeetingLine]
    organisations_total: int
    missing_organisations: list[str]
    campaigns: list[CampaignLine]
    bounces: list[Bounce]
    backup: BackupStatus
    backup_when: str | None  # when the last successful backup was taken, in words
    relay: Pause | None = None  # all sending waits (a relay refusal, timeouts, a sending limit)


def dashboard(session: Session, settings: Settings, language: str, now: dt.datetime | None = None) -> Dashboard:
    now = now or utcnow()
    tz = settings.timezone
    all_meetings = list(session.scalars(select(Meeting).order_by(Meeting.starts_at)))
    coming = [meeting for meeting in all_meetings if meeting.ends_at >= now and meeting.cancelled_at is None]
    figures = status_by_meeting(session, [meeting.id for meeting in coming])
    organisations = session.execute(select(Organisation.id, Organisation.name).order_by(Organisation.name)).all()
    represented_anywhere: set[int] = set()
    lines = []
    for meeting in all_meetings:
        represented = represented_organisations(session, meeting.id)
        represented_anywhere |= represented
        if meeting in coming:
            lines.append(
                MeetingLine(
                    meeting.slug,
                    meeting.title,
                    format_when(meeting.starts_at, meeting.ends_at, tz, language),
                    meeting.city,
                    meeting.capacity,
                    figures[meeting.id],
                    len(represented),
                )
            )
    campaigns = session.scalars(
        select(Campaign)
        .where(Campaign.state.in_(ACTIVE))
        .options(selectinload(Campaign.meeting))
        .order_by(Campaign.send_at, Campaign.id)
    ).all()
    bounces = session.scalars(
        select(Suppression)
        .where(Suppression.reason == SuppressionReason.BOUNCED)
        .order_by(Suppression.created_at.desc())
        .limit(BOUNCES_SHOWN)
    ).all()
    backup = backup_status(session)
    statuses = last_status(session, [suppression.email for suppression in bounces if suppression.email])
    return Dashboard(
        meetings=lines,
        organisations_total=len(organisations),
        missing_organisations=[name for oid, name in organisations if oid not in represented_anywhere],
        campaigns=[
            CampaignLine(
                campaign.id,
                campaign.target.title,
                campaign.template,
                campaign.state.value,
                format_when(campaign.send_at, None, tz, language) if campaign.send_at else None,
                status(session, campaign),
            )
            for campaign in campaigns
        ],
        bounces=[
            Bounce(
                suppression.email,
                suppression.detail,
                suppression.created_at,
                described(suppression.email, suppression.detail, statuses, language)["explanation"],
            )
            for suppression in bounces
        ],
        backup=backup,
        backup_when=format_when(backup.last_at, None, tz, language) if backup.last_at else None,
        relay=current_pause(session, now),
    )
