"""The suppression list as staff see it: by reason, with the stored reply, and undoing a wrong one.

Why: before replies were judged by their enhanced code (mailer.mail.replies), one quota or
policy reply from a relay could suppress a whole list as "bounced". The migration leaves those
entries alone (only a person can tell), but this page shows each one's stored reply, marks the
ones whose reply blames the relay rather than the mailbox, and lifts them, one by one or all of
those at once, each with its audit-log entry. Erasures are never lifted.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.contacts.models import Suppression, SuppressionReason
from mailer.contacts.subscriptions import LIFTABLE
from mailer.mail.replies import Fault, classify, enhanced_status

REASONS = (SuppressionReason.BOUNCED, SuppressionReason.UNSUBSCRIBED, SuppressionReason.ERASED)
CODE = re.compile(r"^\s*([245]\d\d)\b")


class SuppressionError(LookupError):
    pass


@dataclass
class SuppressionLine:
    id: int
    email: str | None
    reason: str
    detail: str | None
    at: dt.datetime
    not_the_address: bool  # a bounce whose reply blames the relay, the sender or the message

    @property
    def liftable(self) -> bool:
        return self.email is not None and SuppressionReason(self.reason) in LIFTABLE


def not_the_address(suppression: Suppression) -> bool:
    """A 'bounce' kept with a reply that, read by its code, does not say the mailbox is dead."""
    if suppression.reason is not SuppressionReason.BOUNCED or not suppression.detail:
        return False
    match = CODE.match(suppression.detail)
    if match is None and enhanced_status(suppression.detail) is None:
        return False  # no reply to judge (e.g. entered by hand)
    code = int(match.group(1)) if match else 550
    return classify(code, suppression.detail, "rcpt").fault is not Fault.HARD


def by_reason(session: Session) -> dict[str, list[SuppressionLine]]:
    """Every suppression, newest first, grouped by reason (bounced, unsubscribed, erased)."""
    groups: dict[str, list[SuppressionLine]] = {reason.value: [] for reason in REASONS}
    for entry in session.scalars(select(Suppression).order_by(Suppression.created_at.desc(), Suppression.id.desc())):
        groups.setdefault(entry.reason.value, []).append(
            SuppressionLine(
                entry.id, entry.email, entry.reason.value, entry.detail, entry.created_at, not_the_address(entry)
            )
        )
    return groups


def lift(session: Session, actor: str, suppression_id: int) -> str:
    """Remove one suppression (a bounce or an unsubscription, never an erasure); returns the address."""
    entry = session.get(Suppression, suppression_id)
    if entry is None or entry.email is None or entry.reason not in LIFTABLE:
        raise SuppressionError(f"no suppression {suppression_id} that can be lifted")
    email = entry.email
    record(
        session,
        actor,
        "suppressions.lift",
        f"suppression:{entry.id}",
        reason=entry.reason.value,
        status=enhanced_status(entry.detail or ""),
    )
    session.delete(entry)
    session.flush()
    return email


def lift_not_the_address(session: Session, actor: str) -> int:
    """Lift every bounce whose stored reply blames the relay, not the mailbox; returns how many."""
    wrong = [
        entry
        for entry in session.scalars(
            select(Suppression).where(Suppression.reason == SuppressionReason.BOUNCED, Suppression.email.is_not(None))
        )
        if not_the_address(entry)
    ]
    for entry in wrong:
        lift(session, actor, entry.id)
    return len(wrong)
