"""Functions the scheduler runs. A job carries only a campaign id and points here.

APScheduler pickles a job as a reference to one of these functions plus its
arguments; the project's tables stay the truth about every campaign.

Each job first checks that this worker still holds the scheduler role (role.py): a worker
whose database connection died may not have noticed yet that another took over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select

from mailer.campaigns.models import Campaign
from mailer.campaigns.service import NOT_STARTED, start_due
from mailer.mail.templates import EmailTemplates

log = logging.getLogger(__name__)
_runtime: dict = {}


def bind(database, settings, held: Callable[[], bool] | None = None) -> None:
    """Set by the worker process at start: jobs run inside it, with its database."""
    templates = EmailTemplates(settings.templates_path, settings.max_message_bytes)
    _runtime.update(db=database, settings=settings, templates=templates, held=held or (lambda: True))


def still_scheduler(job: str) -> bool:
    if _runtime["held"]():
        return True
    log.warning("%s not run: this worker no longer holds the scheduler role", job)
    return False


def start_scheduled_campaign(campaign_id: int) -> str:
    db, settings = _runtime["db"], _runtime["settings"]
    if not still_scheduler(f"campaign {campaign_id}"):
        return "not the scheduler"
    with db.transaction() as session:
        # Locked, so that a start racing with another (a scheduler that lost its role
        # unawares) finds the campaign running and leaves it: it starts once.
        session.execute(select(Campaign.id).where(Campaign.id == campaign_id).with_for_update())
        outcome = start_due(session, settings, _runtime["templates"], campaign_id)
    log.log(logging.ERROR if outcome.startswith(NOT_STARTED) else logging.INFO, "campaign %s: %s", campaign_id, outcome)
    return outcome


def send_weekly_digest() -> str:
    from mailer.digest.build import send_digest

    db, settings = _runtime["db"], _runtime["settings"]
    if not still_scheduler("weekly digest"):
        return "not the scheduler"
    with db.transaction() as session:
        run = send_digest(session, settings)
    outcome = "no staff_emails configured" if run is None else f"queued for {run.recipients} staff address(es)"
    log.info("weekly digest: %s", outcome)
    return outcome


def anonymise_expired_answers() -> str:
    from mailer.privacy.files import remove_expired_outbox_files
    from mailer.privacy.retention import anonymise_expired
    from mailer.signup.service import delete_expired as delete_expired_signups

    db, settings = _runtime["db"], _runtime["settings"]
    if not still_scheduler("retention"):
        return "not the scheduler"
    with db.transaction() as session:
        signups = delete_expired_signups(session)  # first: an expired meeting's pending sign-ups simply go
        done = anonymise_expired(session, settings.retention_months)
    files = remove_expired_outbox_files(settings, settings.retention_months)
    outcome = (
        f"{done.responses} answers and {done.evaluations} evaluations of {done.meetings} old meetings "
        f"anonymised, {signups} unconfirmed sign-ups deleted, {files} old file-outbox messages deleted, "
        f"{done.deleted.get('bounce_events', 0)} old bounce reports deleted"
    )
    log.info("retention: %s", outcome)
    return outcome


def take_scheduled_backup() -> str:
    """The nightly backup (`backup_cron`); the backup folder is then pruned by `backup_keep`."""
    from mailer.operations.backup import BackupError, take_backup

    db, settings = _runtime["db"], _runtime["settings"]
    if not still_scheduler("backup"):
        return "not the scheduler"
    try:
        taken = take_backup(db, settings, trigger="scheduled")
    except BackupError as exc:
        log.error("scheduled backup failed: %s", exc)
        return f"failed: {exc}"
    outcome = f"written to {taken.path}; {len(taken.pruned)} old backup(s) removed"
    log.info("backup: %s", outcome)
    return outcome


def read_bounce_mailbox() -> str:
    """One round over the IMAP bounce mailbox; a failure is logged there and tried again next round."""
    from mailer.bounces.imap import fetch_and_process

    db, settings = _runtime["db"], _runtime["settings"]
    if not still_scheduler("bounce mailbox"):
        return "not the scheduler"
    result = fetch_and_process(db, settings)
    return result.error or f"{len(result.reports)} message(s) processed"
