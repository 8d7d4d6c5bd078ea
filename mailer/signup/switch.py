"""Staff open and close a meeting's or a series' public sign-up page, now or at a time they choose.

One column per meeting and series, `signup_closes_at`, holds the whole switch: None is open
(until the page closes by itself: the meeting starts, is cancelled or past its last day to
answer, or every session of the series is), a past time is closed, a future time closes then.
Reopening clears it; it cannot reopen what closed by itself.

A request sent while the page was open is still honoured when confirmed after it closed,
within its seven days (docs/signup.md): the person did what was asked of them in time.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.db import utcnow
from mailer.errors import DomainError
from mailer.meetings.series import get_series
from mailer.meetings.service import get_meeting, parse_local
from mailer.signup.service import Target

CLOSE, REOPEN, SCHEDULE = "close", "reopen", "schedule"
ACTIONS = (CLOSE, REOPEN, SCHEDULE)
KINDS = ("meeting", "series")


class SwitchError(DomainError, ValueError):
    """A refused change; `field` names the form field."""

    prefix = "error.signup_switch."

    def __init__(self, code: str, /, field: str = "action", **params: object):
        super().__init__(code, **params)
        self.field = field


def target_of(session: Session, kind: str, slug: str) -> Target:
    """The meeting's or series' sign-up page (NotFound when there is no such meeting or series)."""
    if kind == "meeting":
        return Target(get_meeting(session, slug), None)
    if kind == "series":
        return Target(None, get_series(session, slug))
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def change(
    session: Session,
    tz: ZoneInfo,
    actor: str,
    kind: str,
    slug: str,
    action: str,
    closes: str | None = None,
    now: dt.datetime | None = None,
) -> Target:
    """Close the page now, reopen it, or set when it closes ("YYYY-MM-DD HH:MM", local time, in the
    future); audit-logged as signup.close / signup.reopen / signup.schedule on the meeting or series."""
    now = now or utcnow()
    target = target_of(session, kind, slug)
    owner = target.meeting if target.meeting is not None else target.series
    assert owner is not None
    if action == CLOSE:
        closes_at: dt.datetime | None = now
    elif action == REOPEN:
        closes_at = None
    elif action == SCHEDULE:
        if not (closes or "").strip():
            raise SwitchError("closes_required", field="closes")
        closes_at = parse_local("closes", closes or "", tz).astimezone(dt.UTC)
        if closes_at <= now:
            raise SwitchError("closes_in_past", field="closes", text=closes)
    else:
        raise SwitchError("unknown_action", action=action, choices=", ".join(ACTIONS))
    owner.signup_closes_at = closes_at
    record(
        session,
        actor,
        f"signup.{action}",
        f"{kind}:{owner.slug}",
        closes_at=closes_at.isoformat() if closes_at is not None else None,
    )
    session.flush()
    return target
