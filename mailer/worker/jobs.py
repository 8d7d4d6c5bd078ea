"""Functions the scheduler runs. A job carries only a campaign id and points here.

APScheduler pickles a job as a reference to one of these functions plus its
arguments; the project's tables stay the truth about every campaign.
"""

from __future__ import annotations

import datetime as dt
import logging

from mailer.campaigns.service import start_due

log = logging.getLogger(__name__)
_runtime: dict = {}


def bind(database, settings) -> None:
    """Set by the worker process at start: jobs run inside it, with its database."""
    _runtime.update(db=database, settings=settings)


def start_scheduled_campaign(campaign_id: int) -> str:
    db, settings = _runtime["db"], _runtime["settings"]
    with db.transaction() as session:
        outcome = start_due(session, campaign_id, dt.timedelta(hours=settings.grace_period_hours))
    log.info("campaign %s: %s", campaign_id, outcome)
    return outcome


def send_weekly_digest() -> str:
    from mailer.digest.build import send_digest

    db, settings = _runtime["db"], _runtime["settings"]
    with db.transaction() as session:
        run = send_digest(session, settings)
    outcome = "no staff_emails configured" if run is None else f"queued for {run.recipients} staff address(es)"
    log.info("weekly digest: %s", outcome)
    return outcome


def anonymise_expired_answers() -> str:
    from mailer.tracking.retention import anonymise_expired

    db, settings = _runtime["db"], _runtime["settings"]
    with db.transaction() as session:
        done = anonymise_expired(session, settings.retention_months)
    outcome = f"{done.responses} answers and {done.evaluations} evaluations of {done.meetings} old meetings anonymised"
    log.info("retention: %s", outcome)
    return outcome
