"""Turning one recipient and one template into the exact message that is sent.

Preview, test sends and the real send all go through `compose`, so what staff
preview is what recipients get.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.contacts.models import Contact
from mailer.mail.context import recipient_context
from mailer.mail.ics import meeting_ics
from mailer.mail.message import Attachment, build_message, recipient_address
from mailer.mail.templates import STAFF_TEMPLATES, EmailTemplates, Rendered
from mailer.meetings.models import Meeting
from mailer.outbox.models import MessageState, OutboxMessage



def made_up_contact(language: str | None = None) -> Contact:
    """Stands in for a recipient when an audience is still empty (previews, template checks)."""
    return Contact(id=0, email="anna.andersson@example.org", name="Anna Andersson",
                   link_key="sample-preview-key", language=language)


def organisation_names(contact: Contact) -> list[str]:
    """A made-up person without organisations reads as from an example one."""
    names = sorted(m.organisation.name for m in contact.memberships)
    return names if names or contact.id else ["Exempelförbundet"]


def has_been_mailed(session: Session, contact_id: int) -> bool:
    return bool(session.scalar(select(exists().where(
        OutboxMessage.contact_id == contact_id, OutboxMessage.state == MessageState.SENT))))


def wants_calendar(template: str, extra: dict[str, Any] | None) -> bool:
    if template in ("invitation", "meeting_update", "meeting_cancelled"):
        return True
    response = (extra or {}).get("response") or {}
    return template == "confirmation" and response.get("answer") == "yes" and not response.get("waitlisted")


def render_for(
    settings: Settings, templates: EmailTemplates, template: str, contact: Contact, meeting: Meeting | None,
    first_message: bool, extra: dict[str, Any] | None = None,
) -> tuple[Rendered, dict[str, Any]]:
    context = recipient_context(settings, contact, meeting, organisation_names(contact), first_message, extra)
    return templates.render(template, context["lang"], context), context


def compose(
    settings: Settings, templates: EmailTemplates, *, template: str, contact: Contact, meeting: Meeting | None,
    first_message: bool, message_id: str, extra: dict[str, Any] | None = None, to_email: str | None = None,
) -> EmailMessage:
    rendered, context = render_for(settings, templates, template, contact, meeting, first_message, extra)
    attachments = ()
    if meeting is not None and wants_calendar(template, extra):
        ics = meeting_ics(meeting, settings, context.get("rsvp_url"))
        attachments = (Attachment("traff.ics" if context["lang"] == "sv" else "meeting.ics", "text", "calendar", ics),)
    return build_message(
        rendered,
        sender=settings.mail_from,
        to=recipient_address(contact.name, to_email or contact.email),
        message_id=message_id,
        unsubscribe_url=context["unsubscribe_url"],
        attachments=attachments,
    )



def compose_staff(settings: Settings, templates: EmailTemplates, *, template: str, to_email: str,
                  context: dict[str, Any], message_id: str) -> EmailMessage:
    """Mail to staff or to an organisation's office: the context was fixed when it was queued."""
    rendered = templates.render(template, context.get("lang", settings.language), context)
    return build_message(rendered, sender=settings.mail_from, to=recipient_address(None, to_email),
                         message_id=message_id)
