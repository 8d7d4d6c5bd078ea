"""Campaign actions by a person (web app or CLI), each with its audit-log entry in the same transaction.

The state changes are owned by `mailer.campaigns.service`; nothing here sends
mail in the caller's request except `send_test` (one message, like the CLI's
`campaigns test`). "Send now" starts the campaign: its outbox rows are written
and the worker sends them.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.campaigns import service
from mailer.campaigns.audience import Audience
from mailer.campaigns.models import Campaign, CampaignState
from mailer.config import Settings
from mailer.contacts.csvfile import normalise_email
from mailer.db import Database
from mailer.mail.message import new_message_id, wire_address
from mailer.mail.templates import EmailTemplates
from mailer.mail.transport import make_transport
from mailer.mail.verp import envelope_sender_for_test_mail
from mailer.outbox import relay


def target(campaign: Campaign) -> str:
    return f"campaign:{campaign.id}"


def create(
    session: Session,
    settings: Settings,
    templates: EmailTemplates,
    actor: str,
    *,
    meeting_slug: str | None = None,
    template: str,
    audience: Audience,
    send_at: str | None = None,
    note: str | None = None,
    series_slug: str | None = None,
) -> Campaign:
    campaign = service.create_campaign(
        session,
        settings,
        templates,
        meeting_slug=meeting_slug,
        template=template,
        audience=audience,
        send_at=send_at,
        created_by=actor,
        series_slug=series_slug,
    )
    about = {"series": series_slug} if series_slug else {"meeting": meeting_slug}
    record(session, actor, "campaigns.create", target(campaign), **about, template=template)
    if note and note.strip():
        set_note(session, actor, campaign.id, note)
    return campaign


NOTE_MAX = 2000


def set_note(session: Session, actor: str, campaign_id: int, note: str | None) -> Campaign:
    """The office's internal note on a campaign (why, for whom, what to follow up); never sent."""
    campaign = service.get_campaign(session, campaign_id)
    text = (note or "").strip().replace("\r\n", "\n") or None
    if text and len(text) > NOTE_MAX:
        raise service.CampaignError("note_too_long", limit=NOTE_MAX)
    if text != campaign.note:
        campaign.note = text
        record(session, actor, "campaigns.note", target(campaign), characters=len(text or ""))
    return campaign


def schedule(session: Session, settings: Settings, actor: str, campaign_id: int, at: str) -> Campaign:
    campaign = service.schedule(session, settings, service.get_campaign(session, campaign_id), at)
    assert campaign.send_at is not None, "scheduled: it has its send time"
    record(session, actor, "campaigns.schedule", target(campaign), at=campaign.send_at.isoformat())
    return campaign


def send_now(session: Session, settings: Settings, templates: EmailTemplates, actor: str, campaign_id: int) -> int:
    """Start the campaign: one outbox row per recipient now; the worker does the sending.

    Raises TemplateProblem, before anything is queued, when a template broke since creation.
    """
    campaign = service.get_campaign(session, campaign_id)
    service.check_templates(settings, templates, campaign)
    queued = service.start(session, campaign)
    record(session, actor, "campaigns.start", target(campaign), queued=queued)
    return queued


def cancel(session: Session, actor: str, campaign_id: int) -> int:
    campaign = service.get_campaign(session, campaign_id)
    skipped = service.cancel(session, campaign)
    record(session, actor, "campaigns.cancel", target(campaign), skipped=skipped)
    return skipped


def resume(session: Session, actor: str, campaign_id: int) -> int:
    """Staff say "try now": a paused campaign runs again, and a paused relay is tried again at once.

    Returns how many messages wait to go out."""
    campaign = service.get_campaign(session, campaign_id)
    was_paused = campaign.state is CampaignState.PAUSED
    relay_lifted = relay.clear(session)
    if was_paused:
        service.resume(session, campaign)
    elif not relay_lifted:
        raise service.CampaignError("wrong_state.resume", id=campaign.id, state=campaign.state)
    record(session, actor, "campaigns.resume", target(campaign), relay=relay_lifted)
    return service.status(session, campaign).unsent


def retry(session: Session, actor: str, campaign_id: int) -> int:
    campaign = service.get_campaign(session, campaign_id)
    queued = service.retry_failed(session, campaign)
    record(session, actor, "campaigns.retry", target(campaign), queued=queued)
    return queued


def send_test(
    database: Database,
    settings: Settings,
    templates: EmailTemplates,
    actor: str,
    campaign_id: int,
    to_email: str,
    contact_email: str | None = None,
) -> str:
    """One test message to `to_email` only, subject marked [TEST], written for the made-up test
    person with a recipient's (the first by default) organisations and language: no member's
    live links ever leave in a test (see service.test_message).

    It leaves with the same kind of envelope sender as the real round (VERP, mail/verp.py), its tag
    naming the campaign: a relay that refuses it shows in the test, and its bounce is known for a
    test mail's. Rendered in one short transaction and sent outside it: SQLite's write lock
    must not be held while a mail server answers. Raises ValueError for a bad
    address, CampaignError, TemplateProblem or TransportError.
    """
    to_email = normalise_email(to_email)
    with database.transaction() as session:
        campaign = service.get_campaign(session, campaign_id)
        message_id = new_message_id(settings.mail_from.domain)
        data = service.test_message(
            session, settings, templates, campaign, to_email, message_id, email=contact_email or None
        )
    transport = make_transport(
        settings.smtp_url, settings.outbox_path, settings.smtp_timeout, settings.smtp_connect_timeout
    )
    try:
        envelope_from = envelope_sender_for_test_mail(
            settings.bounce_address, settings.mail_from.addr_spec, settings.secret_key, campaign_id
        )
        transport.send(wire_address(envelope_from), wire_address(to_email), data, message_id)
    finally:
        transport.close()
    with database.transaction() as session:
        record(session, actor, "campaigns.test", f"campaign:{campaign_id}")
    return to_email
