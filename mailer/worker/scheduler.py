"""The one scheduler: APScheduler 3 with its job store in our database.

Only the `mailer worker` holding the scheduler role (role.py) runs it; the web app and the CLI only change our tables
(a campaign's state and send_at), and `reconcile` makes the job store match
them — at start, and every few seconds. So a job APScheduler dropped (it
deletes jobs it cannot unpickle) or a lost job store never loses a campaign,
and a job for a campaign that is no longer scheduled never sends it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from mailer.campaigns.models import Campaign, CampaignState
from mailer.config import Settings, cron_trigger
from mailer.db import Database
from mailer.worker import jobs

log = logging.getLogger(__name__)
JOBSTORE = "default"
RECONCILE_SECONDS = 10


def campaign_job_id(campaign_id: int) -> str:
    return f"campaign-{campaign_id}"


def build_scheduler(
    database: Database, settings: Settings, held: Callable[[], bool] | None = None
) -> BackgroundScheduler:
    """Only the holder of the scheduler role (role.py) starts one; `held` tells it still is."""
    jobs.bind(database, settings, held)
    scheduler = BackgroundScheduler(
        jobstores={
            JOBSTORE: SQLAlchemyJobStore(engine=database.engine, tablename="apscheduler_jobs"),
            "internal": MemoryJobStore(),
        },
        # Our job functions decide what "too late" means (the grace period), so
        # APScheduler must never skip a late run silently.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=settings.timezone,
    )
    scheduler.add_job(
        reconcile_if_held,
        "interval",
        seconds=RECONCILE_SECONDS,
        args=[scheduler, database],
        id="reconcile",
        jobstore="internal",
    )
    return scheduler


DIGEST_JOB = "weekly-digest"
BOUNCE_JOB = "bounce-mailbox"
BOUNCE_POLL_SECONDS = 120


def ensure_bounce_job(scheduler: BackgroundScheduler, settings: Settings) -> bool:
    """Read the IMAP bounce mailbox at start and every two minutes, when one is configured.

    In the in-memory store: a missed round needs no catching up, the next one reads what came.
    """
    if not settings.bounce_imap_url:
        return False
    scheduler.add_job(
        jobs.read_bounce_mailbox,
        "interval",
        seconds=BOUNCE_POLL_SECONDS,
        id=BOUNCE_JOB,
        jobstore="internal",
        replace_existing=True,
        next_run_time=dt.datetime.now(dt.UTC),
    )
    return True


def _stored_job(scheduler: BackgroundScheduler, job_id: str):
    """The stored job, or None; one that cannot be restored is removed (and then added anew).

    APScheduler drops unreadable jobs when it scans the store, but a lookup by id
    raises instead, which would keep the worker from starting at all.
    """
    try:
        return scheduler.get_job(job_id, jobstore=JOBSTORE)
    except Exception as exc:  # an unpickling error can be of almost any type
        log.warning("stored job %s cannot be restored (%s): adding it anew", job_id, type(exc).__name__)
        scheduler.remove_job(job_id, jobstore=JOBSTORE)
        return None


def ensure_digest_job(scheduler: BackgroundScheduler, settings: Settings) -> str:
    """Keep the stored digest job when its schedule is unchanged.

    Replacing it at every start would move its next run into the future and so
    drop a digest that fell due while the worker was down; kept, APScheduler
    runs it once on start (coalesced), within the grace period.
    """
    trigger = cron_trigger(settings.digest_cron, settings.timezone)
    grace = settings.grace_period_hours * 3600
    job = _stored_job(scheduler, DIGEST_JOB)
    if job is not None and str(job.trigger) == str(trigger) and job.misfire_grace_time == grace:
        return "kept"
    scheduler.add_job(
        jobs.send_weekly_digest,
        trigger,
        id=DIGEST_JOB,
        jobstore=JOBSTORE,
        replace_existing=True,
        misfire_grace_time=grace,
        coalesce=True,
    )
    return "scheduled" if job is None else "rescheduled"


RETENTION_JOB = "daily-retention"
RETENTION_CRON = "30 3 * * *"  # every night at 03:30 local time


def ensure_retention_job(scheduler: BackgroundScheduler, settings: Settings) -> str:
    """The nightly anonymisation of old answers; like the digest, kept across restarts."""
    trigger = cron_trigger(RETENTION_CRON, settings.timezone)
    job = _stored_job(scheduler, RETENTION_JOB)
    if job is not None and str(job.trigger) == str(trigger):
        return "kept"
    scheduler.add_job(
        jobs.anonymise_expired_answers,
        trigger,
        id=RETENTION_JOB,
        jobstore=JOBSTORE,
        replace_existing=True,
        misfire_grace_time=settings.grace_period_hours * 3600,
        coalesce=True,
    )
    return "scheduled" if job is None else "rescheduled"


BACKUP_JOB = "scheduled-backup"


def ensure_backup_job(scheduler: BackgroundScheduler, settings: Settings) -> str:
    """The backup at `backup_cron` (default every night at 03:00); kept across restarts like the digest,
    so a backup that fell due while the worker was down is taken at start (within the grace period)."""
    trigger = cron_trigger(settings.backup_cron, settings.timezone)
    job = _stored_job(scheduler, BACKUP_JOB)
    if job is not None and str(job.trigger) == str(trigger):
        return "kept"
    scheduler.add_job(
        jobs.take_scheduled_backup,
        trigger,
        id=BACKUP_JOB,
        jobstore=JOBSTORE,
        replace_existing=True,
        misfire_grace_time=settings.grace_period_hours * 3600,
        coalesce=True,
    )
    return "scheduled" if job is None else "rescheduled"


def reconcile_if_held(scheduler: BackgroundScheduler, database: Database) -> dict[str, int] | None:
    """The periodic reconcile writes the job store: only while this worker is the scheduler."""
    return reconcile(scheduler, database) if jobs.still_scheduler("reconcile") else None


def reconcile(scheduler: BackgroundScheduler, database: Database) -> dict[str, int]:
    """Make the persistent job store hold exactly one job per scheduled campaign."""
    with database.transaction() as session:
        wanted = {
            campaign_job_id(cid): (cid, send_at)
            for cid, send_at in session.execute(
                select(Campaign.id, Campaign.send_at).where(Campaign.state == CampaignState.SCHEDULED)
            )
        }
    present = {job.id: job for job in scheduler.get_jobs(jobstore=JOBSTORE) if job.id.startswith("campaign-")}
    changes = {"added": 0, "moved": 0, "removed": 0}
    for job_id, (campaign_id, send_at) in wanted.items():
        run_at = send_at or dt.datetime.now(dt.UTC)
        job = present.get(job_id)
        if job is None:
            scheduler.add_job(
                jobs.start_scheduled_campaign,
                "date",
                run_date=run_at,
                args=[campaign_id],
                id=job_id,
                jobstore=JOBSTORE,
                replace_existing=True,
            )
            changes["added"] += 1
        elif job.next_run_time is None or abs((job.next_run_time - run_at).total_seconds()) >= 1:
            scheduler.reschedule_job(job_id, jobstore=JOBSTORE, trigger="date", run_date=run_at)
            changes["moved"] += 1
    for job_id in set(present) - set(wanted):
        scheduler.remove_job(job_id, jobstore=JOBSTORE)
        changes["removed"] += 1
    if any(changes.values()):
        log.info("scheduler reconciled with campaigns: %s", changes)
    return changes
