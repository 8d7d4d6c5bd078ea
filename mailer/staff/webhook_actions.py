"""What admins do with webhooks on the staff web (and the CLI): each action audit-logged with it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.webhooks import delivery, endpoints
from mailer.webhooks.models import WebhookDelivery, WebhookEndpoint


@dataclass
class Overview:
    endpoints: list[tuple[WebhookEndpoint, dict[str, int]]]
    deliveries: list[WebhookDelivery]


def _target(endpoint_id: int) -> str:
    return f"webhook:{endpoint_id}"


def overview(session: Session, endpoint_id: int | None = None) -> Overview:
    return Overview(endpoints.list_endpoints(session), endpoints.recent_deliveries(session, endpoint_id))


def add_endpoint(
    session: Session, actor: str, url: str, events: Iterable[str], allow_private: bool, description: str | None = None
) -> WebhookEndpoint:
    endpoint = endpoints.register(session, url, events, allow_private, description)
    record(session, actor, "webhooks.add", _target(endpoint.id), url=endpoint.url, events=endpoint.events)
    return endpoint


def set_active(session: Session, actor: str, endpoint_id: int, active: bool) -> WebhookEndpoint:
    endpoint = endpoints.set_active(session, endpoint_id, active)
    record(session, actor, "webhooks.enable" if active else "webhooks.disable", _target(endpoint_id))
    return endpoint


def new_secret(session: Session, actor: str, endpoint_id: int) -> WebhookEndpoint:
    endpoint = endpoints.new_endpoint_secret(session, endpoint_id)
    record(session, actor, "webhooks.new_secret", _target(endpoint_id))
    return endpoint


def remove_endpoint(session: Session, actor: str, endpoint_id: int) -> str:
    url = endpoints.remove(session, endpoint_id)
    record(session, actor, "webhooks.remove", _target(endpoint_id), url=url)
    return url


def resend(session: Session, actor: str, delivery_id: int) -> WebhookDelivery:
    sent_again = delivery.resend(session, delivery_id)
    record(
        session, actor, "webhooks.resend", _target(sent_again.endpoint_id), delivery=delivery_id, event=sent_again.event
    )
    return sent_again
