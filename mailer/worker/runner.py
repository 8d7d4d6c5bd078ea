"""`mailer worker`: the sending loop, plus the scheduler when this worker holds the scheduler role.

Any number of workers may run against one PostgreSQL database: all of them send (they share
the outbox by claiming batches with SKIP LOCKED, and the rate limit through one row), and one
of them, the holder of the scheduler role (role.py), runs APScheduler for the timed jobs:
scheduled campaigns, the digest, retention. A standby worker tries to take the role every
few seconds, so when the scheduling worker dies another one carries on within seconds.
On SQLite exactly one worker runs; a second one refuses to start. The web app never starts a
scheduler (one per gunicorn worker would send every mail several times).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable

from sqlalchemy import exists, or_, select

from mailer.campaigns.models import Campaign, CampaignState
from mailer.config import Settings
from mailer.db import Database, utcnow
from mailer.mail.templates import EmailTemplates
from mailer.operations import heartbeat
from mailer.operations.faults import FileWatch, InstanceFault
from mailer.outbox import relay
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.webhooks.delivery import Deliverer
from mailer.worker import jobs
from mailer.worker.role import WorkerRefused, scheduler_role
from mailer.worker.scheduler import (
    JOBSTORE,
    build_scheduler,
    ensure_backup_job,
    ensure_bounce_job,
    ensure_digest_job,
    ensure_retention_job,
    reconcile,
)
from mailer.worker.sender import Sender

log = logging.getLogger(__name__)
IDLE_SLEEP = 1.0
MAX_BACKOFF = 300.0
STANDBY_POLL = 5.0  # a standby tries to take the scheduler role this often
HOLDER_CHECK = 2.0  # the scheduler checks this often that it still holds the role
RECOVER_EVERY = 15.0  # seconds between looks for rows left behind by dead workers


class Worker:
    def __init__(self, database: Database, settings: Settings, templates: EmailTemplates, sender: Sender | None = None):
        self.db, self.settings = database, settings
        self.sender = sender or Sender(database, settings, templates)
        self.role = scheduler_role(database, self.sender.owner)
        self.scheduler = None
        self.stopping = threading.Event()
        self.lock = threading.Lock()  # the role keeper and the main loop both start/stop the scheduler
        self.watch = FileWatch(database.url)
        self.fault: InstanceFault | None = None  # why the worker stopped on its own (its database file is gone)
        jobs.bind(database, settings, self.role.held)
        self.progress: Callable[[int], None] | None = None  # hears the messages handled so far
        self.webhooks = Deliverer(database, settings, owner=self.sender.owner)

    def stop(self, *_args) -> None:
        self.stopping.set()

    # -- the scheduler role -------------------------------------------------------------------
    def _take_role(self) -> bool:
        with self.lock:
            if self.scheduler is not None or self.stopping.is_set() or not self.role.try_acquire():
                return False
            scheduler = build_scheduler(self.db, self.settings, self.role.held)
            scheduler.start(paused=True)
            ensure_digest_job(scheduler, self.settings)
            ensure_retention_job(scheduler, self.settings)
            ensure_backup_job(scheduler, self.settings)
            ensure_bounce_job(scheduler, self.settings)
            reconcile(scheduler, self.db)
            scheduler.resume()
            self.scheduler = scheduler
        log.info("scheduler role taken (%s)", self.sender.owner)
        return True

    def _drop_scheduler(self) -> None:
        with self.lock:
            scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=True)

    def _keep_role(self) -> None:
        """Thread: a standby polls for the role; the holder makes sure it still has it."""
        while not self.stopping.is_set():
            try:
                if self.scheduler is None:
                    self._take_role()
                    self.stopping.wait(STANDBY_POLL)
                elif not self.role.held():
                    log.warning(
                        "scheduler role lost (database connection gone); scheduler stopped (%s)", self.sender.owner
                    )
                    self._drop_scheduler()
                else:
                    self.stopping.wait(HOLDER_CHECK)
            except Exception as exc:  # the database is away: try again later, the sending loop carries on
                log.warning("scheduler role: %s", exc)
                self._drop_scheduler()
                if not self.role.exclusive_worker:
                    self.role.release()
                self.stopping.wait(STANDBY_POLL)

    # -- the heartbeat -------------------------------------------------------------------------
    def _file_lost(self) -> bool:
        """SQLite: stop rather than write answers and sends into a deleted or replaced file."""
        problem = self.watch.problem()
        if problem and self.fault is None:
            self.fault = problem
            log.error("%s: the worker stops so that nothing more is written into a lost file", problem)
            self.stopping.set()
        return problem is not None

    def _beat(self) -> None:
        if self._file_lost():
            return
        try:
            with self.db.transaction() as session:
                heartbeat.beat(session, self.sender.owner)
        except Exception as exc:  # the database is away for a moment: the next beat tries again
            log.warning("heartbeat not recorded: %s", exc)

    def _keep_beating(self) -> None:
        """Thread: a beat every few seconds, also while the sending loop waits out a dead relay."""
        while not self.stopping.wait(heartbeat.BEAT_SECONDS):
            self._beat()

    # -- webhooks --------------------------------------------------------------------------------
    def _deliver_webhooks(self) -> None:
        """Thread: webhook deliveries, apart from the mail, so that a slow receiver never holds up a campaign.

        Every worker runs one (they share the queue like the outbox); all state is in the database."""
        recovered = 0.0
        while not self.stopping.is_set():
            try:
                if time.monotonic() - recovered > RECOVER_EVERY:
                    self.webhooks.recover()
                    recovered = time.monotonic()
                if self.webhooks.run_once(stopping=self.stopping.is_set).claimed:
                    continue
            except Exception as exc:  # the database is away for a moment: the rows wait, nothing is lost
                log.warning("webhook deliveries: %s", exc)
            self.stopping.wait(IDLE_SLEEP)

    # -- the loop ---------------------------------------------------------------------------------
    def pending_work(self) -> bool:
        """Anything due now or later that this worker is still responsible for.

        Rows held by a paused relay do not count: `--until-idle` stops rather than wait an hour
        for a quota; the service (`mailer worker`) carries on by itself when the pause ends."""
        with self.db.transaction() as session:
            relay_paused = relay.current_pause(session) is not None
            scheduled_due = session.scalar(
                select(
                    exists().where(
                        Campaign.state == CampaignState.SCHEDULED,
                        or_(Campaign.send_at.is_(None), Campaign.send_at <= utcnow()),
                    )
                )
            )
            open_rows = session.scalar(
                select(
                    exists().where(
                        OutboxMessage.state.in_([MessageState.QUEUED, MessageState.RETRYING, MessageState.SENDING]),
                        or_(
                            OutboxMessage.campaign_id.is_(None),
                            OutboxMessage.campaign_id.in_(
                                select(Campaign.id).where(Campaign.state == CampaignState.RUNNING)
                            ),
                        ),
                    )
                )
            )
        scheduler = self.scheduler
        jobs_due = scheduler is not None and any(
            job.next_run_time and job.next_run_time <= utcnow() for job in scheduler.get_jobs(jobstore=JOBSTORE)
        )
        return bool(scheduled_due or (open_rows and not relay_paused) or jobs_due or self.webhooks.due())

    def run(self, until_idle: bool = False) -> None:
        if self.role.exclusive_worker:
            self.role.try_acquire()  # SQLite: refuses when another worker runs (WorkerRefused)
        keeper = threading.Thread(target=self._keep_role, name="scheduler-role", daemon=True)
        beater = threading.Thread(target=self._keep_beating, name="heartbeat", daemon=True)
        hooks = threading.Thread(target=self._deliver_webhooks, name="webhooks", daemon=True)
        try:
            self._beat()
            beater.start()
            if self.fault:
                return
            self.sender.recover()
            self._take_role()
            log.info("worker started (%s)%s", self.sender.owner, "" if self.scheduler else ", standby scheduler")
            keeper.start()
            hooks.start()
            self._loop(until_idle)
        finally:
            self.stopping.set()
            if hooks.is_alive():
                hooks.join()
            if keeper.is_alive():
                keeper.join()
            if beater.is_alive():
                beater.join()
            self._drop_scheduler()
            if self.fault is None:
                try:
                    with self.db.transaction() as session:
                        heartbeat.stopped(session, self.sender.owner)
                except Exception as exc:  # noqa: BLE001 - stopping anyway; the beat simply ages out
                    log.warning("stop not recorded: %s", exc)
            self.role.release()
            self.sender.close()
            log.info("worker stopped")

    def _loop(self, until_idle: bool) -> None:
        backoff, recovered, handled = 0.0, time.monotonic(), 0
        while not self.stopping.is_set():
            if time.monotonic() - recovered > RECOVER_EVERY:  # another worker may have died
                self.sender.recover()
                recovered = time.monotonic()
            if self._file_lost():
                break
            result = self.sender.run_once()
            if result.connection_error and not result.paused_until:
                backoff = min(MAX_BACKOFF, max(1.0, backoff * 2))
                log.warning("mail server unavailable, next try in %.0f s", backoff)
                self.stopping.wait(backoff)
                continue
            backoff = 0.0
            if result.claimed:
                log.debug("batch of %d: %s", result.claimed, result.outcomes)
                handled += result.claimed
                if self.progress is not None:
                    self.progress(handled)
                continue
            if until_idle and not self.pending_work():
                break
            self.stopping.wait(IDLE_SLEEP)


def run_worker(
    database: Database,
    settings: Settings,
    templates: EmailTemplates,
    until_idle: bool = False,
    progress: Callable[[int], None] | None = None,
) -> InstanceFault | None:
    """Run until stopped; returns why the worker stopped on its own (its database file lost), else None.
    `progress` hears how many messages were handled so far, after each batch."""
    worker = Worker(database, settings, templates)
    worker.progress = progress
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    try:
        worker.run(until_idle=until_idle)
    except WorkerRefused as exc:
        print(f"mailer: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return worker.fault


__all__ = ["Worker", "run_worker"]
