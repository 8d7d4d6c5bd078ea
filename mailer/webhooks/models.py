"""Endpoints staff registered, and one delivery row per event and endpoint.

A delivery row is written in the same transaction as the change it reports and is the
queue itself: the worker claims it, posts it and records the outcome on it, so a crash
or a restart can delay a delivery but never lose one.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.db import Base, UTCDateTime, not_personal, personal, str_enum, utcnow


def new_secret() -> str:
    """The key each delivery to an endpoint is signed with (HMAC-SHA256), shown to staff."""
    return secrets.token_urlsafe(32)


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt
    DELIVERING = "delivering"  # claimed by a worker, the request is under way
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # every attempt failed (or the endpoint is gone): staff may resend


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    url: Mapped[str] = mapped_column(String(2000), info=not_personal())
    secret: Mapped[str] = mapped_column(String(100), default=new_secret, info=not_personal())
    events: Mapped[list[str]] = mapped_column(JSON, info=not_personal())  # names from mailer.webhooks.EVENTS
    description: Mapped[str | None] = mapped_column(String(200), info=not_personal())
    active: Mapped[bool] = mapped_column(Boolean, default=True, info=not_personal())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())

    def __repr__(self) -> str:
        return f"<WebhookEndpoint {self.id}>"


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True, info=not_personal()
    )
    event_id: Mapped[str] = mapped_column(String(36), index=True, info=not_personal())  # one per event: dedupe key
    event: Mapped[str] = mapped_column(String(40), info=not_personal())
    # The event's `data`; it names the person (answer.changed, contact.*): erased and expired with them.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, info=personal())
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True, info=not_personal()
    )
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="SET NULL"), index=True, info=not_personal()
    )
    state: Mapped[DeliveryState] = mapped_column(
        str_enum(DeliveryState), default=DeliveryState.PENDING, info=not_personal()
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, info=not_personal())
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    claimed_by: Mapped[str | None] = mapped_column(String(100), info=not_personal())
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    last_status: Mapped[int | None] = mapped_column(Integer, info=not_personal())  # the receiver's HTTP status
    last_error: Mapped[str | None] = mapped_column(Text, info=personal())  # may quote the receiver's reply
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())

    endpoint: Mapped[WebhookEndpoint] = relationship()
