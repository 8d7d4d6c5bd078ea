"""Campaigns: one templated mailing for one meeting (or one series) to one audience, as a state machine."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.db import Base, UTCDateTime, not_personal, personal, str_enum, utcnow
from mailer.meetings.models import Meeting, Series


class CampaignState(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    MISSED = "missed"


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    # A campaign is about one meeting or about one series (an invitation to choose a session):
    # exactly one of the two is set (mailer.campaigns.service.create_campaign).
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"), index=True, info=not_personal())
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id"), index=True, info=not_personal())
    template: Mapped[str] = mapped_column(String(50), info=not_personal())
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, info=not_personal())
    state: Mapped[CampaignState] = mapped_column(
        str_enum(CampaignState), default=CampaignState.DRAFT, index=True, info=not_personal()
    )
    send_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    created_by: Mapped[str | None] = mapped_column(String(320), info=personal(of="staff"))
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    # Why a running campaign is paused, and until when (mailer.campaigns.service.pause).
    paused_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    pause_reason: Mapped[str | None] = mapped_column(String(20), info=not_personal())  # quota, policy, ...
    # A relay's reply may quote the address it refused.
    pause_reply: Mapped[str | None] = mapped_column(Text, info=personal())
    # The office's internal note (purpose, follow-up); never sent (see migration 0014).
    note: Mapped[str | None] = mapped_column(Text, info=not_personal())

    meeting: Mapped[Meeting | None] = relationship()
    series: Mapped[Series | None] = relationship()

    @property
    def target(self) -> Meeting | Series:
        """What the round is about: its meeting, or its series."""
        target = self.meeting if self.meeting is not None else self.series
        assert target is not None, "a campaign has a meeting or a series"
        return target

    def __repr__(self) -> str:
        return f"<Campaign {self.id} {self.template} {self.state}>"
