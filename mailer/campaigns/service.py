"""The campaign state machine. Every campaign state change happens here and nowhere else.

    draft ──schedule──▶ scheduled ──(due, worker)──▶ running ──(all rows final)──▶ finished
      │                   │   └──(worker down past the grace period)──▶ missed
      └──send now─────────┴──────────────────────────▶ running
    draft / scheduled / running / paused ──cancel──▶ cancelled
    finished ──retry failed rows──▶ running
    running ──(the relay refused: quota, policy, 421; sender)──▶ paused ──(retry time, worker; or staff)──▶ running
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, selectinload

from mailer.campaigns.audience import Audience, count_recipients, recipients_query
from mailer.campaigns.models import Campaign, CampaignState
from mailer.config import LANGUAGES, Settings
from mailer.contacts.models import Contact, Membership
from mailer.db import utcnow
from mailer.errors import DomainError, NotFound
from mailer.mail.message import stable_message_id
from mailer.mail.templates import CAMPAIGN_TEMPLATES, EmailTemplates, TemplateProblem
from mailer.meetings.service import MeetingError, get_meeting, parse_local
from mailer.outbox.compose import compose, has_been_mailed, made_up_contact
from mailer.outbox.models import FINAL_STATES, MessageState, OutboxMessage
from mailer.outbox.relay import current_pause

S = CampaignState
PAST_SEND_AT = dt.timedelta(minutes=15)
NOT_STARTED = "not started, back to draft"  # start_due's outcome when the campaign cannot go out


class CampaignError(DomainError, ValueError):
    """A campaign that cannot be made or moved as asked; the code says why."""

    prefix = "error.campaign."


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError("no_campaign", id=campaign_id)
    return campaign


def _require(campaign: Campaign, allowed: tuple[CampaignState, ...], action: str) -> None:
    if campaign.state not in allowed:
        raise CampaignError(f"wrong_state.{action}", id=campaign.id, state=campaign.state)


def _contact_query():
    return select(Contact).options(selectinload(Contact.memberships).selectinload(Membership.organisation))


def sample_contact(session: Session, campaign: Campaign, email: str | None = None) -> Contact:
    """The given recipient, else the campaign's first, else a made-up one (empty audience)."""
    if email:
        contact = session.scalar(_contact_query().where(Contact.email == email.strip().lower()))
        if contact is None:
            raise CampaignError("no_contact", email=email)
        return contact
    first_id = session.scalar(recipients_query(Audience.from_json(campaign.audience), campaign.meeting_id).limit(1))
    if first_id is None:
        return made_up_contact()
    return session.scalar(_contact_query().where(Contact.id == first_id))


def preview(session: Session, settings: Settings, templates: EmailTemplates, campaign: Campaign,
            email: str | None = None, to_email: str | None = None) -> EmailMessage:
    """The message exactly as this recipient would get it (raises TemplateProblem)."""
    contact = sample_contact(session, campaign, email)
    first = not contact.id or not has_been_mailed(session, contact.id)
    # A fresh Message-ID each time: mail services drop a repeated one, so a second test
    # after a template edit would never arrive.
    message_id = stable_message_id(f"preview.{campaign.id}", secrets.randbelow(10**12), settings.mail_from.domain)
    return compose(settings, templates, template=campaign.template, contact=contact, meeting=campaign.meeting,
                   first_message=first, message_id=message_id, to_email=to_email)


def create_campaign(
    session: Session, settings: Settings, templates: EmailTemplates, *, meeting_slug: str, template: str,
    audience: Audience, send_at: str | None = None, created_by: str | None = None,
) -> Campaign:
    """Validate the meeting, audience and template (rendered once for real) before saving."""
    if template not in CAMPAIGN_TEMPLATES:
        raise CampaignError("bad_template", template=template, choices=", ".join(CAMPAIGN_TEMPLATES))
    try:
        meeting = get_meeting(session, meeting_slug)
    except NotFound:
        raise CampaignError("no_meeting", slug=meeting_slug) from None
    implied_audience(template, audience)
    audience.validate(session)
    when = _parse_when(send_at, settings) if send_at else None
    campaign = Campaign(meeting=meeting, template=template, audience=audience.to_json(), created_by=created_by,
                        state=S.SCHEDULED if when else S.DRAFT, send_at=when)
    session.add(campaign)
    session.flush()
    check_templates(settings, templates, campaign)
    return campaign


def check_templates(settings: Settings, templates: EmailTemplates, campaign: Campaign) -> None:
    """Render the campaign's template in both languages once for real (raises TemplateProblem).

    At creation and again at start: staff may edit a template in between, and a
    typo must stop the start with its file and line, not fail halfway through a send.
    """
    for language in LANGUAGES:
        compose(settings, templates, template=campaign.template, contact=made_up_contact(language),
                meeting=campaign.meeting, first_message=True, message_id="<check@localhost>")


def implied_audience(template: str | None, audience: Audience) -> Audience:
    """What a template always narrows its audience to; the one rule for creating and for counting."""
    if template == "thanks":
        audience.participants = True  # thanks carry the evaluation link: participants only
    if template == "information":
        audience.only_yes = True  # "thank you for signing up": only for those who did
    return audience


def _parse_when(text: str, settings: Settings) -> dt.datetime:
    """A send time. One a few minutes past (typed as "now") goes out at once; one further back is
    refused, as it was surely a typo (the worker would send it late or mark it missed)."""
    try:
        when = parse_local("send_at", text, settings.timezone)
    except MeetingError as exc:
        raise CampaignError(f"send_at.{exc.code}", **exc.params) from None
    if when < utcnow() - PAST_SEND_AT:
        raise CampaignError("send_at_past", text=text.strip())
    return when


def schedule(session: Session, settings: Settings, campaign: Campaign, at: str) -> Campaign:
    _require(campaign, (S.DRAFT, S.SCHEDULED, S.MISSED), "schedule")
    campaign.send_at = _parse_when(at, settings)
    campaign.state = S.SCHEDULED
    return campaign


def cancel(session: Session, campaign: Campaign) -> int:
    """Stop a campaign; rows not yet sent become skipped. Returns how many were skipped."""
    _require(campaign, (S.DRAFT, S.SCHEDULED, S.RUNNING, S.PAUSED, S.MISSED), "cancel")
    campaign.state = S.CANCELLED
    campaign.finished_at = utcnow()
    campaign.paused_until = campaign.pause_reason = campaign.pause_reply = None
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign.id,
               OutboxMessage.state.in_([MessageState.QUEUED, MessageState.RETRYING]))
        .values(state=MessageState.SKIPPED, last_error="campaign cancelled", claimed_by=None)
    )
    return result.rowcount


def pause(session: Session, campaign: Campaign, reason: str, reply: str | None, until: dt.datetime) -> bool:
    """The relay refused for reasons of its own: stop this campaign until `until`, keeping its reply.

    Called by the sender; its rows stay queued and nobody is suppressed. A pause already
    running longer is kept. Returns False when the campaign is not running (or already paused).
    """
    if campaign.state is S.PAUSED:
        if campaign.paused_until is None or campaign.paused_until < until:
            campaign.paused_until, campaign.pause_reason, campaign.pause_reply = until, reason, reply
        return False
    if campaign.state is not S.RUNNING:
        return False
    campaign.state = S.PAUSED
    campaign.paused_until, campaign.pause_reason, campaign.pause_reply = until, reason, reply
    return True


def resume(session: Session, campaign: Campaign) -> Campaign:
    """Back to running (staff, or the worker when the retry time has come); the reply is forgotten."""
    _require(campaign, (S.PAUSED,), "resume")
    campaign.state = S.RUNNING
    campaign.paused_until = campaign.pause_reason = campaign.pause_reply = None
    session.flush()
    finish_if_done(session, campaign)
    return campaign


def resume_due(session: Session, now: dt.datetime | None = None) -> list[int]:
    """The worker's part: paused campaigns whose retry time has come run again."""
    now = now or utcnow()
    due = list(session.scalars(select(Campaign).where(Campaign.state == S.PAUSED, Campaign.paused_until <= now)))
    for campaign in due:
        resume(session, campaign)
    return [campaign.id for campaign in due]


def start(session: Session, campaign: Campaign) -> int:
    """Fix the recipients (one outbox row each) and mark the campaign running.

    Done in one transaction: after a crash either nothing happened or every row
    exists. A running campaign is never started again: its recipients were fixed
    when it started, and people imported since must not be added.
    """
    _require(campaign, (S.DRAFT, S.SCHEDULED), "start")
    audience = Audience.from_json(campaign.audience)
    existing = select(OutboxMessage.contact_id).where(OutboxMessage.campaign_id == campaign.id)
    recipients = recipients_query(audience, campaign.meeting_id).where(Contact.id.not_in(existing))
    rows = session.execute(
        select(Contact.id, Contact.email).where(Contact.id.in_(recipients.scalar_subquery()))
    ).all()
    now = utcnow()
    if rows:
        session.execute(insert(OutboxMessage), [
            {"campaign_id": campaign.id, "contact_id": cid, "meeting_id": campaign.meeting_id,
             "template": campaign.template, "to_email": email, "state": MessageState.QUEUED,
             "attempts": 0, "next_attempt_at": now, "created_at": now, "uncertain": False}
            for cid, email in rows
        ])
    campaign.state = S.RUNNING
    campaign.started_at = campaign.started_at or now
    session.flush()
    finish_if_done(session, campaign)
    return len(rows)


def start_due(session: Session, settings: Settings, templates: EmailTemplates, campaign_id: int,
              now: dt.datetime | None = None) -> str:
    """What the scheduler calls at send time: start, or mark missed when too late.

    A template broken since the campaign was scheduled sends it back to draft,
    with the reason in the outcome (the worker logs it): nobody gets half a round.
    """
    now = now or utcnow()
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.state is not S.SCHEDULED:
        return "not scheduled"
    if campaign.send_at and now - campaign.send_at > dt.timedelta(hours=settings.grace_period_hours):
        campaign.state = S.MISSED
        campaign.finished_at = now
        return "missed"
    try:
        check_templates(settings, templates, campaign)
    except TemplateProblem as exc:
        campaign.state = S.DRAFT
        return f"{NOT_STARTED}: template error {exc}"
    start(session, campaign)
    return "started"


def finish_if_done(session: Session, campaign: Campaign) -> bool:
    if campaign.state is not S.RUNNING:
        return False
    open_rows = session.scalar(
        select(func.count()).select_from(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign.id, OutboxMessage.state.not_in(FINAL_STATES))
    )
    if open_rows:
        return False
    campaign.state = S.FINISHED
    campaign.finished_at = utcnow()
    return True


def retry_failed(session: Session, campaign: Campaign) -> int:
    """Staff decided to try the failed rows again: they get a fresh set of attempts."""
    _require(campaign, (S.RUNNING, S.FINISHED), "retry")
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign.id, OutboxMessage.state == MessageState.FAILED)
        .values(state=MessageState.QUEUED, attempts=0, next_attempt_at=utcnow(), claimed_by=None)
    )
    if result.rowcount:
        campaign.state = S.RUNNING
        campaign.finished_at = None
    return result.rowcount


@dataclass
class CampaignStatus:
    id: int
    meeting: str
    template: str
    state: str
    send_at: dt.datetime | None
    audience: str
    recipients: int
    counts: dict[str, int]
    uncertain: int
    paused_until: dt.datetime | None = None  # this campaign's pause (state paused)
    pause_reason: str | None = None
    pause_reply: str | None = None
    relay_paused_until: dt.datetime | None = None  # all sending waits (a relay refusal, timeouts, a limit)
    relay_pause_reason: str | None = None

    @property
    def unsent(self) -> int:
        return self.counts["queued"] + self.counts["retrying"] + self.counts["sending"]

    @property
    def waits_until(self) -> dt.datetime | None:
        """When the unsent rest goes out, if something holds it."""
        times = [t for t in (self.paused_until, self.relay_paused_until) if t is not None]
        return max(times) if times and self.unsent else None

    def to_json(self) -> dict:
        def when(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id, "meeting": self.meeting, "template": self.template, "state": self.state,
            "send_at": when(self.send_at), "audience": self.audience,
            "recipients": self.recipients, **self.counts, "uncertain": self.uncertain,
            "paused_until": when(self.paused_until), "pause_reason": self.pause_reason,
            "pause_reply": self.pause_reply, "relay_paused_until": when(self.relay_paused_until),
            "relay_pause_reason": self.relay_pause_reason,
        }


def status(session: Session, campaign: Campaign) -> CampaignStatus:
    counts = {state.value: 0 for state in MessageState}
    for state, n in session.execute(
        select(OutboxMessage.state, func.count()).where(OutboxMessage.campaign_id == campaign.id)
        .group_by(OutboxMessage.state)
    ):
        counts[MessageState(state).value] = n
    uncertain = session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.campaign_id == campaign.id, OutboxMessage.uncertain.is_(True)))
    audience = Audience.from_json(campaign.audience)
    recipients = sum(counts.values()) if campaign.started_at else count_recipients(session, audience, campaign.meeting_id)
    result = CampaignStatus(campaign.id, campaign.meeting.slug, campaign.template, campaign.state.value,
                            campaign.send_at, audience.describe(), recipients, counts, uncertain)
    if campaign.state is S.PAUSED:
        result.paused_until, result.pause_reason = campaign.paused_until, campaign.pause_reason
        result.pause_reply = campaign.pause_reply
    if campaign.state in (S.RUNNING, S.PAUSED) and result.unsent:
        held = current_pause(session)
        if held is not None:
            result.relay_paused_until, result.relay_pause_reason = held.until, held.reason
    return result


def list_campaigns(session: Session) -> list[Campaign]:
    return list(session.scalars(select(Campaign).options(selectinload(Campaign.meeting)).order_by(Campaign.id)))


