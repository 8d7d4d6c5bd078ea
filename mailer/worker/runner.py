"""`mailer worker`: the scheduler plus the sending loop, in one process.

Exactly one such process should run per SQLite database; the web app never
starts a scheduler (one per gunicorn worker would send every mail several times).
"""

from __future__ import annotations

import logging
import signal
import threading

from sqlalchemy import exists, or_, select

from mailer.campaigns.models import Campaign, CampaignState
from mailer.config import Settings
from mailer.db import Database, utcnow
from mailer.mail.templates import EmailTemplates
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.outbox.sender import Sender
from mailer.worker.scheduler import JOBSTORE, build_scheduler, ensure_digest_job, ensure_retention_job, reconcile

log = logging.getLogger(__name__)
IDLE_SLEEP = 1.0
MAX_BACKOFF = 300.0


class Worker:
    def __init__(self, database: Database, settings: Settings, templates: EmailTemplates, sender: Sender | None = None):
        self.db, self.settings = database, settings
        self.sender = sender or Sender(database, settings, templates)
        self.scheduler = build_scheduler(database, settings)
        self.stopping = threading.Event()

    def stop(self, *_args) -> None:
        self.stopping.set()

    def pending_work(self) -> bool:
        """Anything due now or later that this worker is still responsible for."""
        with self.db.transaction() as session:
            scheduled_due = session.scalar(select(exists().where(
                Campaign.state == CampaignState.SCHEDULED, or_(Campaign.send_at.is_(None), Campaign.send_at <= utcnow()))))
            open_rows = session.scalar(select(exists().where(
                OutboxMessage.state.in_([MessageState.QUEUED, MessageState.RETRYING, MessageState.SENDING]),
                or_(OutboxMessage.campaign_id.is_(None),
                    OutboxMessage.campaign_id.in_(select(Campaign.id).where(Campaign.state == CampaignState.RUNNING))))))
        jobs_due = any(job.next_run_time and job.next_run_time <= utcnow()
                       for job in self.scheduler.get_jobs(jobstore=JOBSTORE))
        return bool(scheduled_due or open_rows or jobs_due)

    def run(self, until_idle: bool = False) -> None:
        self.sender.recover()
        self.scheduler.start(paused=True)
        ensure_digest_job(self.scheduler, self.settings)
        ensure_retention_job(self.scheduler, self.settings)
        reconcile(self.scheduler, self.db)
        self.scheduler.resume()
        log.info("worker started (%s)", self.sender.owner)
        backoff = 0.0
        try:
            while not self.stopping.is_set():
                result = self.sender.run_once()
                if result.connection_error:
                    backoff = min(MAX_BACKOFF, max(1.0, backoff * 2))
                    log.warning("mail server unavailable, next try in %.0f s", backoff)
                    self.stopping.wait(backoff)
                    continue
                backoff = 0.0
                if result.claimed:
                    continue
                if until_idle and not self.pending_work():
                    break
                self.stopping.wait(IDLE_SLEEP)
        finally:
            self.scheduler.shutdown(wait=True)
            self.sender.close()
            log.info("worker stopped")


def run_worker(database: Database, settings: Settings, templates: EmailTemplates, until_idle: bool = False) -> None:
    worker = Worker(database, settings, templates)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.run(until_idle=until_idle)


__all__ = ["Worker", "run_worker"]
