"""Sending deliveries: claim due rows, POST each signed, record the outcome on the row.

Delivery guarantee (as the outbox's): a row is marked `delivering` (committed) before its
request and `delivered` (committed) only after a 2xx answer. A worker that dies in between
leaves the row `delivering`; another worker (or the same one after a restart) takes it back
when the claim's lease ran out, or at once when the process that held it is gone from this
host, and sends it again: at least once. Receivers dedupe on `X-Mailer-Event-Id`.

A failure (a connection error, a timeout, any non-2xx answer, an address the SSRF guard
refuses) is tried again after DELAYS (exponential), at most MAX_ATTEMPTS times; then the row
is `failed`, kept, shown to staff, and can be sent again by hand.

Requests use http.client and connect to the address the guard just checked (the name is not
resolved twice, so a DNS answer that changes in between cannot redirect a delivery); redirects
are not followed; timeouts are short, so a slow receiver cannot hold up the others.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from mailer.claims import dead_here, worker_id
from mailer.config import Settings
from mailer.db import Database, utcnow
from mailer.webhooks.addresses import Target, WebhookError, check_url
from mailer.webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

DELAYS = (30, 120, 600, 1800, 7200, 21600)  # seconds before the 2nd, 3rd, … attempt (×4 each, capped)
MAX_ATTEMPTS = len(DELAYS) + 1  # about nine hours of trying, then `failed`
TIMEOUT = 10.0  # seconds for the connection and for each read of the answer
LEASE = dt.timedelta(minutes=2)  # a claim older than this belongs to a dead worker
BATCH = 20
ERROR_LENGTH = 500  # of the receiver's answer kept on the row
USER_AGENT = "mailer-webhooks/1"
SIGNATURE_HEADER = "X-Mailer-Signature"


def sign(secret: str, body: bytes) -> str:
    """The X-Mailer-Signature value: `sha256=` and the hex HMAC-SHA256 of the raw body under the secret."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def body_of(delivery: WebhookDelivery, sent_at: dt.datetime) -> bytes:
    """The JSON posted: the event's envelope around its data; `timestamp` is inside the signed body."""
    envelope = {
        "id": delivery.event_id,
        "event": delivery.event,
        "created_at": _iso(delivery.created_at),
        "timestamp": int(sent_at.timestamp()),
        "attempt": delivery.attempts + 1,
        "data": delivery.payload,
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the checked address, while Host (and TLS's server name) stay the URL's host."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self.pinned = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.pinned, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float):
        self.tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self.tls)
        self.pinned = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self.pinned, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


@dataclass
class Attempt:
    """One request's outcome: `status` when the receiver answered, `error` otherwise or for a non-2xx."""

    status: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT) -> Attempt:
    connection: http.client.HTTPConnection = (_PinnedHTTPS if target.scheme == "https" else _PinnedHTTP)(
        target, timeout
    )
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        reply = connection.getresponse()
        text = reply.read(ERROR_LENGTH).decode("utf-8", "replace")
        if 200 <= reply.status < 300:
            return Attempt(reply.status)
        return Attempt(reply.status, f"HTTP {reply.status} {reply.reason}: {text}".strip()[:ERROR_LENGTH])
    except (OSError, http.client.HTTPException) as exc:  # timeouts, refusals, TLS errors, broken replies
        return Attempt(None, f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH])
    finally:
        connection.close()


@dataclass
class RoundResult:
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class Deliverer:
    """What `mailer worker` runs in its webhook thread; `delays` and `timeout` are for tests."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        owner: str | None = None,
        delays: tuple[int, ...] = DELAYS,
        timeout: float = TIMEOUT,
    ):
        self.db, self.settings = database, settings
        self.owner = owner or worker_id()
        self.delays, self.timeout = delays, timeout

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    def recover(self, now: dt.datetime | None = None) -> int:
        """Put rows claimed by dead workers back in the queue; returns how many."""
        now = now or utcnow()
        with self.db.transaction() as session:
            owners = {
                owner
                for owner in session.scalars(
                    select(WebhookDelivery.claimed_by).distinct().where(WebhookDelivery.claimed_by.is_not(None))
                )
                if owner
            }
            dead = [owner for owner in owners if owner != self.owner and dead_here(owner)]
            stale = list(
                session.scalars(
                    select(WebhookDelivery.id).where(
                        WebhookDelivery.state == DeliveryState.DELIVERING,
                        or_(WebhookDelivery.claimed_at < now - LEASE, WebhookDelivery.claimed_by.in_(dead)),
                    )
                )
            )
            if stale:
                session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id.in_(stale))
                    .values(state=DeliveryState.PENDING, claimed_by=None, claimed_at=None, next_attempt_at=now)
                )
            count = len(stale)
        if count:
            log.warning("%d webhook deliveries were under way when a worker stopped; they are sent again", count)
        return count

    def _claim(self, session: Session, now: dt.datetime) -> list[int]:
        query = (
            select(WebhookDelivery.id)
            .where(WebhookDelivery.state == DeliveryState.PENDING, WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(BATCH)
        )
        if not self.db.is_sqlite:  # several workers share the queue: each skips what another is claiming
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if ids:
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(ids))
                .values(state=DeliveryState.DELIVERING, claimed_by=self.owner, claimed_at=now)
            )
        return ids

    def run_once(self, now: dt.datetime | None = None, stopping: Callable[[], bool] | None = None) -> RoundResult:
        """Claim the due deliveries (a batch) and send each; `now` is for tests of the backoff.

        When `stopping()` turns true (the worker is asked to stop), the rows not sent yet go back
        to the queue at once instead of waiting for the lease to run out."""
        result = RoundResult()
        with self.db.transaction() as session:
            ids = self._claim(session, now or utcnow())
        result.claimed = len(ids)
        for index, delivery_id in enumerate(ids):
            if stopping is not None and stopping():
                self._release(ids[index:])
                break
            state = self.deliver(delivery_id, now)
            if state is not None:
                result.outcomes[state.value] = result.outcomes.get(state.value, 0) + 1
        return result

    def _release(self, ids: list[int]) -> None:
        with self.db.transaction() as session:
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id.in_(ids),
                    WebhookDelivery.claimed_by == self.owner,
                    WebhookDelivery.state == DeliveryState.DELIVERING,
                )
                .values(state=DeliveryState.PENDING, claimed_by=None, claimed_at=None)
            )

    def _still_ours(self, delivery_id: int) -> bool:
        """Renew the claim right before the request: a batch behind slow receivers may outlast the lease,
        and a row another worker took back in the meantime is left to it (no double send)."""
        with self.db.transaction() as session:
            held = session.scalar(
                select(WebhookDelivery.id).where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.claimed_by == self.owner,
                    WebhookDelivery.state == DeliveryState.DELIVERING,
                )
            )
            if held is not None:
                session.execute(
                    update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(claimed_at=utcnow())
                )
            return held is not None

    def deliver(self, delivery_id: int, now: dt.datetime | None = None) -> DeliveryState | None:
        """Send one claimed row and record what happened (its own transaction, after the request);
        None when the row is no longer this worker's."""
        if not self._still_ours(delivery_id):
            return None
        with self.db.reading() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            assert delivery is not None
            endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
            prepared = self._prepare(delivery, endpoint, now or utcnow())
        attempt = prepared if isinstance(prepared, Attempt) else post(*prepared, timeout=self.timeout)
        return self._record(delivery_id, attempt, now or utcnow(), final=prepared == _GIVE_UP)

    def _prepare(
        self, delivery: WebhookDelivery, endpoint: WebhookEndpoint | None, now: dt.datetime
    ) -> Attempt | tuple[Target, bytes, dict[str, str]]:
        if endpoint is None or not endpoint.active:
            return _GIVE_UP
        if delivery.payload is None:  # erased, or expired by retention, while it waited
            return Attempt(None, "erased")
        try:
            target = check_url(endpoint.url, self.settings.webhook_allow_private)
        except WebhookError as exc:
            return Attempt(None, str(exc))
        body = body_of(delivery, now)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(endpoint.secret, body),
            "X-Mailer-Timestamp": str(int(now.timestamp())),
            "X-Mailer-Event": delivery.event,
            "X-Mailer-Event-Id": delivery.event_id,
            "X-Mailer-Delivery": str(delivery.id),
        }
        return target, body, headers

    def _record(self, delivery_id: int, attempt: Attempt, now: dt.datetime, final: bool = False) -> DeliveryState:
        with self.db.transaction() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None or delivery.claimed_by != self.owner:  # removed, or taken back meanwhile
                return DeliveryState.DELIVERING if delivery is not None else DeliveryState.FAILED
            delivery.attempts += 1
            delivery.last_status, delivery.claimed_by, delivery.claimed_at = attempt.status, None, None
            if attempt.ok:
                delivery.state, delivery.delivered_at, delivery.last_error = DeliveryState.DELIVERED, now, None
            elif final or attempt.error == "erased" or delivery.attempts >= self.max_attempts:
                delivery.state, delivery.last_error = DeliveryState.FAILED, attempt.error
            else:
                delivery.state, delivery.last_error = DeliveryState.PENDING, attempt.error
                delivery.next_attempt_at = now + dt.timedelta(seconds=self.delays[delivery.attempts - 1])
            state = delivery.state
        log.log(
            logging.INFO if attempt.ok else logging.WARNING,
            "webhook delivery %s (attempt %s): %s",
            delivery_id,
            delivery.attempts,
            attempt.status or attempt.error,
        )
        return state

    def due(self) -> bool:
        """Anything due now or under way (`mailer worker --until-idle` does not wait for later retries)."""
        with self.db.reading() as session:
            return (
                session.scalar(
                    select(WebhookDelivery.id)
                    .where(
                        or_(
                            WebhookDelivery.state == DeliveryState.DELIVERING,
                            and_(
                                WebhookDelivery.state == DeliveryState.PENDING,
                                WebhookDelivery.next_attempt_at <= utcnow(),
                            ),
                        )
                    )
                    .limit(1)
                )
                is not None
            )


_GIVE_UP = Attempt(None, "endpoint disabled or removed")


def resend(session: Session, delivery_id: int, now: dt.datetime | None = None) -> WebhookDelivery:
    """Staff send a delivery again (whatever its state, unless one is under way): due now, attempts from zero."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise WebhookError("no_delivery", id=delivery_id)
    if delivery.state is DeliveryState.DELIVERING:
        raise WebhookError("delivery_under_way", id=delivery_id)
    if delivery.payload is None:
        raise WebhookError("delivery_erased", id=delivery_id)
    delivery.state, delivery.attempts, delivery.next_attempt_at = DeliveryState.PENDING, 0, now or utcnow()
    delivery.delivered_at = None
    return delivery


__all__ = ["DELAYS", "MAX_ATTEMPTS", "Deliverer", "body_of", "post", "resend", "sign"]
