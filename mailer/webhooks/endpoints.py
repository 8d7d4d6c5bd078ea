"""Registering, disabling and removing endpoints, and the deliveries staff look at.

The URL is checked by the SSRF guard (addresses.py) here and again before each delivery.
Callers (mailer.staff.webhook_actions, the CLI) add the audit entry.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mailer.webhooks import EVENTS
from mailer.webhooks.addresses import WebhookError, check_url
from mailer.webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint, new_secret

DESCRIPTION_LENGTH = 200
SHOWN_DELIVERIES = 200


def parse_events(names: Iterable[str]) -> list[str]:
    """The chosen event names in their canonical order; at least one, and only known ones."""
    chosen = {name.strip() for name in names if name and name.strip()}
    unknown = sorted(chosen - set(EVENTS))
    if unknown:
        raise WebhookError("unknown_event", event=unknown[0], choices=", ".join(EVENTS))
    if not chosen:
        raise WebhookError("no_events")
    return [name for name in EVENTS if name in chosen]


def register(
    session: Session, url: str, events: Iterable[str], allow_private: bool, description: str | None = None
) -> WebhookEndpoint:
    """A new active endpoint with its own secret; WebhookError for a bad or non-public URL."""
    chosen = parse_events(events)
    check_url(url, allow_private)
    text = (description or "").strip()[:DESCRIPTION_LENGTH] or None
    endpoint = WebhookEndpoint(url=url.strip(), events=chosen, description=text, active=True, secret=new_secret())
    session.add(endpoint)
    session.flush()
    return endpoint


def get(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise WebhookError("no_endpoint", id=endpoint_id)
    return endpoint


def set_active(session: Session, endpoint_id: int, active: bool) -> WebhookEndpoint:
    """Disable (no new deliveries; waiting ones fail when their turn comes) or enable again."""
    endpoint = get(session, endpoint_id)
    endpoint.active = active
    return endpoint


def new_endpoint_secret(session: Session, endpoint_id: int) -> WebhookEndpoint:
    """A new secret, e.g. after the old one leaked; deliveries from now on are signed with it."""
    endpoint = get(session, endpoint_id)
    endpoint.secret = new_secret()
    return endpoint


def remove(session: Session, endpoint_id: int) -> str:
    """Remove the endpoint and its deliveries; returns its URL (for the audit log and the message)."""
    endpoint = get(session, endpoint_id)
    url = endpoint.url
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))
    session.delete(endpoint)
    session.flush()
    return url


def list_endpoints(session: Session) -> list[tuple[WebhookEndpoint, dict[str, int]]]:
    """Every endpoint with its deliveries counted by state."""
    counts: dict[int, dict[str, int]] = {}
    for endpoint_id, state, count in session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.state, func.count()).group_by(
            WebhookDelivery.endpoint_id, WebhookDelivery.state
        )
    ):
        counts.setdefault(endpoint_id, {})[DeliveryState(state).value] = count
    endpoints = session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id))
    return [(endpoint, counts.get(endpoint.id, {})) for endpoint in endpoints]


def recent_deliveries(
    session: Session, endpoint_id: int | None = None, limit: int = SHOWN_DELIVERIES
) -> list[WebhookDelivery]:
    """The newest deliveries (of one endpoint, if given), newest first."""
    query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    return list(session.scalars(query))
