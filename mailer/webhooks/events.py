"""Recording an event: one delivery row per active endpoint that listens for it.

Called by the owner of each change in its own transaction (rsvp.answers, contacts.events,
outbox.record, meetings.changes), so the delivery exists exactly when the change does. The
caller builds the payload (this package knows nothing of answers or meetings); it may pass
a function, called only when someone listens, so that a change nobody listens for costs one
small query.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from mailer.db import utcnow
from mailer.webhooks import EVENTS
from mailer.webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint

Payload = Mapping[str, Any] | Callable[[], Mapping[str, Any]]
LISTENERS = select(WebhookEndpoint.id, WebhookEndpoint.events).where(WebhookEndpoint.active.is_(True))


def listeners(session: Session, event: str) -> list[int]:
    """Ids of the active endpoints subscribed to `event`.

    On the session's connection, as Core: this runs for every answer, where going through the
    ORM cost as much again as the query itself (flushed first, as the ORM would: an endpoint
    added in this session listens already)."""
    session.flush()
    return [row.id for row in session.connection().execute(LISTENERS) if event in (row.events or ())]


def emit(
    session: Session, event: str, payload: Payload, *, contact_id: int | None = None, meeting_id: int | None = None
) -> int:
    """Queue `event` for every endpoint listening; returns how many deliveries were queued.

    `contact_id` and `meeting_id` tie the rows to the person and the meeting they are about,
    so erasure and retention clear the payload with the rest of the person's data.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    endpoint_ids = listeners(session, event)
    if not endpoint_ids:
        return 0
    data = dict(payload() if callable(payload) else payload)
    event_id, now = str(uuid.uuid4()), utcnow()
    session.execute(
        insert(WebhookDelivery),
        [
            {
                "endpoint_id": endpoint_id,
                "event_id": event_id,
                "event": event,
                "payload": data,
                "contact_id": contact_id,
                "meeting_id": meeting_id,
                "state": DeliveryState.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for endpoint_id in endpoint_ids
        ],
    )
    return len(endpoint_ids)
