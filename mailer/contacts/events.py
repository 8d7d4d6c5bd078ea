"""The contact.unsubscribed and contact.bounced webhook events, and the contact as events show it.

Emitted by whoever suppresses an address (subscriptions.suppress, the recipient's own
unsubscribe link in rsvp.service, a hard bounce in outbox.record), in that transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.contacts.models import Contact, Membership, Organisation, SuppressionReason
from mailer.webhooks import CONTACT_BOUNCED, CONTACT_UNSUBSCRIBED
from mailer.webhooks.events import emit

EVENT_OF = {SuppressionReason.UNSUBSCRIBED: CONTACT_UNSUBSCRIBED, SuppressionReason.BOUNCED: CONTACT_BOUNCED}


def contact_data(session: Session, contact: Contact) -> dict[str, Any]:
    """The person as every event shows them: id, address, name, language and their organisations' slugs."""
    organisations = session.scalars(
        select(Organisation.slug).join(Membership).where(Membership.contact_id == contact.id)
    )
    return {
        "id": contact.id,
        "email": contact.email,
        "name": contact.name,
        "language": contact.language,
        "organisations": sorted(organisations),
    }


def contact_suppressed(session: Session, email: str, reason: SuppressionReason, detail: str | None, source: str) -> int:
    """Queue contact.unsubscribed or contact.bounced for a new suppression of `email` (a known contact or not)."""
    event = EVENT_OF.get(reason)
    if event is None:
        return 0
    address = email.strip().lower()
    contact = session.scalar(select(Contact).where(Contact.email == address))

    def payload() -> dict[str, Any]:
        who = contact_data(session, contact) if contact is not None else {"id": None, "email": address}
        return {"contact": who, "reason": reason.value, "source": source, "detail": detail}

    return emit(session, event, payload, contact_id=contact.id if contact is not None else None)
