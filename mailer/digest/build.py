"""The weekly digest to staff: where each upcoming meeting stands, and what happened since last time.

The period always starts where the last digest sent ended, so a missed week is
covered by the next digest and nothing is counted twice. The digest run and its
outbox rows are written in one transaction: it is sent once, or not at all.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.config import Settings
from mailer.db import utcnow
from mailer.digest.models import DigestRun
from mailer.digest.sections import SECTIONS, Period
from mailer.i18n import format_when
from mailer.outbox.models import OutboxMessage

FIRST_PERIOD = dt.timedelta(days=7)


def current_period(session: Session, now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    now = now or utcnow()
    last_end = session.scalar(select(func.max(DigestRun.period_end)))
    return (last_end or now - FIRST_PERIOD), now


def digest_context(session: Session, settings: Settings, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """The template's variables: the period, and one entry per section (mailer.digest.sections)."""
    period = Period(start, end, settings.timezone, settings.language)
    digest: dict[str, Any] = {
        "period_start": format_when(start, None, period.tz, period.lang),
        "period_end": format_when(end, None, period.tz, period.lang),
    }
    for name, section in SECTIONS:
        digest[name] = section(session, period)
    return {
        "lang": period.lang,
        "sender": {"name": settings.mail_from.display_name, "email": settings.mail_from.addr_spec},
        "digest": digest,
    }


def send_digest(
    session: Session, settings: Settings, now: dt.datetime | None = None, actor: str = "worker"
) -> DigestRun | None:
    """Queue the digest for every staff address and record the period it covers (and who sent it)."""
    if not settings.staff_emails:
        return None
    start, end = current_period(session, now)
    context = digest_context(session, settings, start, end)
    run = DigestRun(period_start=start, period_end=end, recipients=len(settings.staff_emails))
    session.add(run)
    session.add_all(
        OutboxMessage(template="digest", to_email=email, extra=context, next_attempt_at=end)
        for email in settings.staff_emails
    )
    session.flush()
    record(session, actor, "digest.send", f"digest:{run.id}", recipients=run.recipients)
    return run
