"""The worker's heartbeat: how the web app, /healthz and `mailer doctor` know it is alive.

Staff never see the worker. When it stops, mail just sits queued and nobody notices for days;
so each worker writes its row every few seconds, and anything that waits on it (queued mail,
a campaign due) with no worker heard from for STALL_AFTER is a stall worth a banner.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from mailer.campaigns.models import Campaign, CampaignState
from mailer.db import utcnow
from mailer.operations.models import WorkerHeartbeat
from mailer.outbox.models import MessageState, OutboxMessage

BEAT_SECONDS = 10.0
STALL_AFTER = dt.timedelta(minutes=2)
FORGET_STOPPED_AFTER = dt.timedelta(days=30)


def beat(session: Session, owner: str, now: dt.datetime | None = None) -> None:
    """Record that `owner` is alive (its first beat also records when it started)."""
    now = now or utcnow()
    row = session.get(WorkerHeartbeat, owner)
    if row is None:
        session.add(WorkerHeartbeat(owner=owner, started_at=now, seen_at=now))
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.stopped_at < now - FORGET_STOPPED_AFTER))
    else:
        row.seen_at, row.stopped_at = now, None


def stopped(session: Session, owner: str, now: dt.datetime | None = None) -> None:
    """A clean stop: the worker is no longer "running", though its last beat stays known."""
    row = session.get(WorkerHeartbeat, owner)
    if row is not None:
        row.stopped_at = row.seen_at = now or utcnow()


def running_workers(session: Session, now: dt.datetime | None = None) -> list[WorkerHeartbeat]:
    """Workers heard from lately that did not say they stopped (a killed one ages out)."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(WorkerHeartbeat)
            .where(WorkerHeartbeat.stopped_at.is_(None), WorkerHeartbeat.seen_at >= now - STALL_AFTER)
            .order_by(WorkerHeartbeat.seen_at.desc())
        )
    )


def waiting_since(session: Session, now: dt.datetime | None = None) -> dt.datetime | None:
    """Since when work has been due that only a worker does: mail (of a running campaign, or a
    single message) or a scheduled campaign; None when nothing waits."""
    now = now or utcnow()
    mail_due = session.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.state.in_([MessageState.QUEUED, MessageState.RETRYING, MessageState.SENDING]),
            OutboxMessage.next_attempt_at <= now,
            or_(
                OutboxMessage.campaign_id.is_(None),
                OutboxMessage.campaign_id.in_(select(Campaign.id).where(Campaign.state == CampaignState.RUNNING)),
            ),
        )
    )
    campaign_due = session.scalar(
        select(func.min(func.coalesce(Campaign.send_at, Campaign.created_at))).where(
            Campaign.state == CampaignState.SCHEDULED, or_(Campaign.send_at.is_(None), Campaign.send_at <= now)
        )
    )
    found = [when for when in (mail_due, campaign_due) if when is not None]
    return min(found) if found else None


@dataclass(frozen=True)
class WorkerHealth:
    last_seen: dt.datetime | None  # None: no worker has ever run against this database
    age_seconds: float | None
    running: bool  # heard from within STALL_AFTER and not stopped
    waiting_since: dt.datetime | None  # the oldest work due that only a worker does
    now: dt.datetime

    @property
    def work_waiting(self) -> bool:
        return self.waiting_since is not None

    @property
    def stalled(self) -> bool:
        """Work waits and no worker has been heard from for STALL_AFTER: staff must be told.

        With no worker ever heard from, the silence is counted from when the work fell due,
        so that the seconds before a freshly installed worker's first beat raise no alarm.
        """
        if self.waiting_since is None or self.running:
            return False
        silent_since = self.last_seen or self.waiting_since
        return self.now - silent_since >= STALL_AFTER

    def to_json(self) -> dict:
        return {
            "last_seen": self.last_seen.isoformat(timespec="seconds") if self.last_seen else None,
            "age_seconds": None if self.age_seconds is None else round(self.age_seconds),
            "running": self.running,
            "work_waiting": self.work_waiting,
            "stalled": self.stalled,
        }


def worker_health(session: Session, now: dt.datetime | None = None) -> WorkerHealth:
    now = now or utcnow()
    last_seen = session.scalar(select(func.max(WorkerHeartbeat.seen_at)))
    return WorkerHealth(
        last_seen=last_seen,
        age_seconds=(now - last_seen).total_seconds() if last_seen else None,
        running=bool(running_workers(session, now)),
        waiting_since=waiting_since(session, now),
        now=now,
    )
