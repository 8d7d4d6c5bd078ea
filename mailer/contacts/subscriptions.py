"""Staff unsubscribing and re-subscribing someone by address (the person's own link does it by token).

Used when someone phones or writes in. Erasure is not done here: it is owned by
`mailer.privacy.erasure`, and an erased address is never lifted.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mailer.contacts.events import contact_suppressed
from mailer.contacts.models import Suppression, SuppressionReason, address_hash
from mailer.db import rowcount, utcnow

LIFTABLE = (SuppressionReason.UNSUBSCRIBED, SuppressionReason.BOUNCED)


def suppression_of(session: Session, email: str) -> Suppression | None:
    return session.scalar(select(Suppression).where(Suppression.address_hash == address_hash(email)))


def suppress(
    session: Session,
    email: str,
    reason: SuppressionReason = SuppressionReason.UNSUBSCRIBED,
    detail: str | None = None,
    source: str = "staff",
) -> Suppression:
    """No campaign mails the address again; an existing suppression is kept as it is.

    A new one is a contact.unsubscribed or contact.bounced webhook event (`source` says who:
    staff, bounce report, complaint)."""
    if reason not in LIFTABLE:
        raise ValueError(f"staff cannot suppress with reason {reason!r}; erasure has its own function")
    existing = suppression_of(session, email)
    if existing is not None:
        return existing
    suppression = Suppression(
        address_hash=address_hash(email), email=email.strip().lower(), reason=reason, detail=detail, created_at=utcnow()
    )
    session.add(suppression)
    session.flush()
    contact_suppressed(session, email, reason, detail, source)
    return suppression


def lift_suppression(session: Session, email: str) -> bool:
    """Mail the address again after an unsubscription or a bounce; True if something was lifted."""
    result = session.execute(
        delete(Suppression).where(Suppression.address_hash == address_hash(email), Suppression.reason.in_(LIFTABLE))
    )
    return bool(rowcount(result))
