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
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Select, exists, func, insert, select, update
from sqlalchemy.orm import Session, selectinload

from mailer.campaigns.audience import Audience, count_recipients, left_out_answered, recipients_query
from mailer.campaigns.models import Campaign, CampaignState
from mailer.config import LANGUAGES, Settings
from mailer.contacts.models import Contact, Membership, Suppression, SuppressionReason, TestPerson, address_hash
from mailer.db import rowcount, utcnow
from mailer.errors import DomainError, NotFound
from mailer.mail.compose import Composer, compose, made_up_contact, organisation_names
from mailer.mail.context import language_of
from mailer.mail.message import new_message_id, parsed
from mailer.mail.templates import CAMPAIGN_TEMPLATES, SERIES_TEMPLATES, EmailTemplates, TemplateProblem
from mailer.meetings.models import Meeting, Series
from mailer.meetings.series import get_series, open_sessions
from mailer.meetings.service import MeetingError, get_meeting, parse_local
from mailer.outbox.models import FINAL_STATES, MessageState, OutboxMessage
from mailer.outbox.relay import current_pause

NOT_STARTED = "not started, back to draft"  # start_due's outcome when the campaign cannot go out


class CampaignError(DomainError, ValueError):
    """A campaign that cannot be made or moved as asked; the code says why."""

    prefix = "error.campaign."


ROUNDS_BEFORE_THE_MEETING = ("invitation", "reminder")  # pointless, and misleading, once it has started


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError("no_campaign", id=campaign_id)
    return campaign


def _require(campaign: Campaign, allowed: tuple[CampaignState, ...], action: str) -> None:
    if campaign.state not in allowed:
        raise CampaignError(f"wrong_state.{action}", id=campaign.id, state=campaign.state)


def recipients_of(campaign: Campaign, skip_answered: bool | None = None) -> Select[int]:
    """The campaign's recipients (audience.recipients_query) for its meeting or its series."""
    return recipients_query(
        Audience.from_json(campaign.audience), campaign.meeting_id, skip_answered, campaign.series_id
    )


def _contact_query() -> Select[Contact]:
    return select(Contact).options(selectinload(Contact.memberships).selectinload(Membership.organisation))


def sample_contact(session: Session, campaign: Campaign, email: str | None = None) -> Contact:
    """The given recipient, else the campaign's first, else a made-up one (empty audience)."""
    if email:
        contact = session.scalar(_contact_query().where(Contact.email == email.strip().lower()))
        if contact is None:
            raise CampaignError("no_contact", email=email)
        return contact
    first_id = session.scalar(recipients_of(campaign).limit(1))
    if first_id is None:
        return made_up_contact()
    return session.execute(_contact_query().where(Contact.id == first_id)).scalar_one()


WHY_NOT = (
    "unsubscribed",
    "bounced",
    "erased",
    "answered",
    "not_in_audience",
)  # will_not_get's codes; texts in the catalogs


def will_not_get(session: Session, campaign: Campaign, email: str | None) -> str | None:
    """Why the person previewed would not get this mail (a WHY_NOT code), or None when they would.

    A preview shows anyone's message; staff must not take it for a promise that it reaches them.
    """
    if not email or campaign.started_at:
        return None
    contact = sample_contact(session, campaign, email)
    audience = Audience.from_json(campaign.audience)
    suppression = session.scalar(
        select(Suppression.reason).where(Suppression.address_hash == address_hash(contact.email))
    )
    if suppression is not None and not (audience.service and suppression == SuppressionReason.UNSUBSCRIBED):
        return SuppressionReason(suppression).value
    if session.scalar(recipients_of(campaign).where(Contact.id == contact.id)) is not None:
        return None
    if session.scalar(recipients_of(campaign, False).where(Contact.id == contact.id)):
        return "answered"
    return "not_in_audience"


def has_been_mailed(session: Session, contact_id: int) -> bool:
    return bool(
        session.scalar(
            select(exists().where(OutboxMessage.contact_id == contact_id, OutboxMessage.state == MessageState.SENT))
        )
    )


def preview_bytes(
    session: Session,
    settings: Settings,
    templates: EmailTemplates,
    campaign: Campaign,
    email: str | None = None,
    to_email: str | None = None,
    subject_prefix: str = "",
    message_id: str | None = None,
) -> bytes:
    """The message exactly as this recipient would get it, as sent (raises TemplateProblem).

    A fresh Message-ID each time: mail services drop a repeated one, so a second test
    after a template edit would never arrive.
    """
    contact = sample_contact(session, campaign, email)
    first = not contact.id or not has_been_mailed(session, contact.id)
    return compose(
        settings,
        templates,
        template=campaign.template,
        contact=contact,
        meeting=campaign.meeting,
        first_message=first,
        message_id=message_id or new_message_id(settings.mail_from.domain),
        to_email=to_email,
        subject_prefix=subject_prefix,
        series=campaign.series,
    )


def preview(
    session: Session,
    settings: Settings,
    templates: EmailTemplates,
    campaign: Campaign,
    email: str | None = None,
    to_email: str | None = None,
) -> EmailMessage:
    """The message exactly as this recipient would get it, read back as a mail program reads it."""
    return parsed(preview_bytes(session, settings, templates, campaign, email, to_email))


def test_message(
    session: Session,
    settings: Settings,
    templates: EmailTemplates,
    campaign: Campaign,
    to_email: str,
    message_id: str,
    email: str | None = None,
) -> bytes:
    """The test message for a made-up person, to `to_email` only, subject marked [TEST].

    Written for "Testa Testsson" with the first recipient's (or the given one's) organisations
    and language, so it reads as theirs would; its links open the real pages, marked as test
    links, and never change an answer, a subscription or a count.
    """
    sample = sample_contact(session, campaign, email)
    person = TestPerson(
        language=language_of(sample, settings), organisations=organisation_names(sample) if sample.id else []
    )
    return compose(
        settings,
        templates,
        template=campaign.template,
        contact=person,
        meeting=campaign.meeting,
        first_message=True,
        message_id=message_id,
        to_email=to_email,
        subject_prefix="[TEST] ",
        series=campaign.series,
    )


def check_meeting(meeting: Meeting | Series, template: str, now: dt.datetime | None = None) -> None:
    """No round of any kind for a cancelled meeting; no invitation or reminder once it has started.

    A series: invitations and reminders only, while a session is still ahead to choose.
    """
    if isinstance(meeting, Series):
        if template not in SERIES_TEMPLATES:
            raise CampaignError("series_template", template=template, choices=", ".join(SERIES_TEMPLATES))
        if not open_sessions(meeting, now):
            raise CampaignError("series_closed", slug=meeting.slug, title=meeting.title)
        return
    if meeting.cancelled_at is not None:
        raise CampaignError("meeting_cancelled", slug=meeting.slug, title=meeting.title)
    if template in ROUNDS_BEFORE_THE_MEETING and (now or utcnow()) >= meeting.starts_at:
        raise CampaignError("meeting_started", slug=meeting.slug, title=meeting.title, template=template)


def create_campaign(
    session: Session,
    settings: Settings,
    templates: EmailTemplates,
    *,
    meeting_slug: str | None = None,
    template: str,
    audience: Audience,
    send_at: str | None = None,
    created_by: str | None = None,
    now: dt.datetime | None = None,
    series_slug: str | None = None,
) -> Campaign:
    """Validate the meeting (or series), audience and template (rendered once for real) before saving.

    A round is about one meeting or about one series (`series_slug`: the invitee chooses a
    session), never both. `now` is the clock the meeting's start is checked against (default: the real one).
    """
    if template not in CAMPAIGN_TEMPLATES:
        raise CampaignError("bad_template", template=template, choices=", ".join(CAMPAIGN_TEMPLATES))
    if bool(meeting_slug) == bool(series_slug):
        raise CampaignError("meeting_or_series")
    target: Meeting | Series
    try:
        target = get_meeting(session, meeting_slug) if meeting_slug else get_series(session, series_slug or "")
    except NotFound:
        raise CampaignError("no_meeting" if meeting_slug else "no_series", slug=meeting_slug or series_slug) from None
    check_meeting(target, template, now)
    implied_audience(template, audience)
    audience.validate(session)
    when = _parse_when(send_at, settings, target, template) if send_at else None
    campaign = Campaign(
        template=template,
        audience=audience.to_json(),
        created_by=created_by,
        state=CampaignState.SCHEDULED if when else CampaignState.DRAFT,
        send_at=when,
    )
    if isinstance(target, Series):
        campaign.series = target
    else:
        campaign.meeting = target
    session.add(campaign)
    session.flush()
    check_templates(settings, templates, campaign)
    return campaign


def check_templates(settings: Settings, templates: EmailTemplates, campaign: Campaign) -> None:
    """Render the campaign's template in both languages once for real (raises TemplateProblem).

    At creation and again at start: staff may edit a template in between, and a
    typo must stop the start with its file and line, not fail halfway through a send.
    A message without the recipient's unsubscribe link (MissingUnsubscribe) never starts.
    """
    composer = Composer(settings, templates, campaign.template, campaign.meeting, campaign.series)
    for language in LANGUAGES:
        for first in (True, False):
            rendered, context = composer.render(made_up_contact(language), first)
            templates.require_unsubscribe(campaign.template, context["lang"], rendered, context["unsubscribe_url"])
        compose(
            settings,
            templates,
            template=campaign.template,
            contact=made_up_contact(language),
            meeting=campaign.meeting,
            first_message=True,
            message_id="<check@localhost>",
            series=campaign.series,
        )


def implied_audience(template: str | None, audience: Audience) -> Audience:
    """What a template always narrows its audience to; the one rule for creating and for counting."""
    if template == "thanks":
        audience.participants = True  # thanks carry the evaluation link: participants only
    if template == "information":
        audience.only_yes = True  # "thank you for signing up": only for those who did
        audience.service = True  # about a meeting they said yes to: unsubscribing from invitations does not stop it
    audience.skip_answered = template in ROUNDS_BEFORE_THE_MEETING  # already answered: not asked again
    return audience


def _parse_when(text: str, settings: Settings, meeting: Meeting | Series, template: str) -> dt.datetime:
    """A send time: this minute or later (the worker would send one in the past late, or mark it
    missed), and for an invitation or reminder before the meeting starts (a series: its last session)."""
    try:
        when = parse_local("send_at", text, settings.timezone)
    except MeetingError as exc:
        raise CampaignError(f"send_at.{exc.code}", **exc.params) from None
    if when < utcnow().replace(second=0, microsecond=0):
        raise CampaignError("send_at_past", text=text.strip())
    starts_at = (
        max((sitting.starts_at for sitting in open_sessions(meeting)), default=utcnow())
        if isinstance(meeting, Series)
        else meeting.starts_at
    )
    if template in ROUNDS_BEFORE_THE_MEETING and when >= starts_at:
        raise CampaignError("send_at_after_meeting", text=text.strip())
    return when


def schedule(session: Session, settings: Settings, campaign: Campaign, at: str) -> Campaign:
    _require(campaign, (CampaignState.DRAFT, CampaignState.SCHEDULED, CampaignState.MISSED), "schedule")
    check_meeting(campaign.target, campaign.template)
    campaign.send_at = _parse_when(at, settings, campaign.target, campaign.template)
    campaign.state = CampaignState.SCHEDULED
    return campaign


def cancel(session: Session, campaign: Campaign) -> int:
    """Stop a campaign; rows not yet sent become skipped. Returns how many were skipped."""
    _require(
        campaign,
        (
            CampaignState.DRAFT,
            CampaignState.SCHEDULED,
            CampaignState.RUNNING,
            CampaignState.PAUSED,
            CampaignState.MISSED,
        ),
        "cancel",
    )
    campaign.state = CampaignState.CANCELLED
    campaign.finished_at = utcnow()
    campaign.paused_until = campaign.pause_reason = campaign.pause_reply = None
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.campaign_id == campaign.id,
            OutboxMessage.state.in_([MessageState.QUEUED, MessageState.RETRYING]),
        )
        .values(state=MessageState.SKIPPED, last_error="campaign cancelled", claimed_by=None)
    )
    return rowcount(result)


def pause(session: Session, campaign: Campaign, reason: str, reply: str | None, until: dt.datetime) -> bool:
    """The relay refused for reasons of its own: stop this campaign until `until`, keeping its reply.

    Called by the sender; its rows stay queued and nobody is suppressed. A pause already
    running longer is kept. Returns False when the campaign is not running (or already paused).
    """
    if campaign.state is CampaignState.PAUSED:
        if campaign.paused_until is None or campaign.paused_until < until:
            campaign.paused_until, campaign.pause_reason, campaign.pause_reply = until, reason, reply
        return False
    if campaign.state is not CampaignState.RUNNING:
        return False
    campaign.state = CampaignState.PAUSED
    campaign.paused_until, campaign.pause_reason, campaign.pause_reply = until, reason, reply
    return True


def resume(session: Session, campaign: Campaign) -> Campaign:
    """Back to running (staff, or the worker when the retry time has come); the reply is forgotten."""
    _require(campaign, (CampaignState.PAUSED,), "resume")
    campaign.state = CampaignState.RUNNING
    campaign.paused_until = campaign.pause_reason = campaign.pause_reply = None
    session.flush()
    finish_if_done(session, campaign)
    return campaign


def resume_due(session: Session, now: dt.datetime | None = None) -> list[int]:
    """The worker's part: paused campaigns whose retry time has come run again."""
    now = now or utcnow()
    due = list(
        session.scalars(select(Campaign).where(Campaign.state == CampaignState.PAUSED, Campaign.paused_until <= now))
    )
    for campaign in due:
        resume(session, campaign)
    return [campaign.id for campaign in due]


def start(session: Session, campaign: Campaign, now: dt.datetime | None = None) -> int:
    """Fix the recipients (one outbox row each) and mark the campaign running.

    Done in one transaction: after a crash either nothing happened or every row
    exists. A running campaign is never started again: its recipients were fixed
    when it started, and people imported since must not be added.
    """
    _require(campaign, (CampaignState.DRAFT, CampaignState.SCHEDULED), "start")
    check_meeting(campaign.target, campaign.template, now)
    audience = Audience.from_json(campaign.audience)
    existing = select(OutboxMessage.contact_id).where(OutboxMessage.campaign_id == campaign.id)
    recipients = recipients_of(campaign).where(Contact.id.not_in(existing))
    rows = session.execute(select(Contact.id, Contact.email).where(Contact.id.in_(recipients.scalar_subquery()))).all()
    now = now or utcnow()
    if not rows and not session.scalar(select(func.count()).select_from(existing.subquery())):
        raise CampaignError("no_recipients", id=campaign.id, audience=audience.describe())
    if rows:
        session.execute(
            insert(OutboxMessage),
            [
                {
                    "campaign_id": campaign.id,
                    "contact_id": cid,
                    "meeting_id": campaign.meeting_id,
                    "template": campaign.template,
                    "to_email": email,
                    "state": MessageState.QUEUED,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "uncertain": False,
                }
                for cid, email in rows
            ],
        )
    campaign.state = CampaignState.RUNNING
    campaign.started_at = campaign.started_at or now
    session.flush()
    finish_if_done(session, campaign)
    return len(rows)


def start_due(
    session: Session, settings: Settings, templates: EmailTemplates, campaign_id: int, now: dt.datetime | None = None
) -> str:
    """What the scheduler calls at send time: start, or mark missed when too late.

    A template broken since the campaign was scheduled sends it back to draft,
    with the reason in the outcome (the worker logs it): nobody gets half a round.
    """
    now = now or utcnow()
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.state is not CampaignState.SCHEDULED:
        return "not scheduled"
    if campaign.send_at and now - campaign.send_at > dt.timedelta(hours=settings.grace_period_hours):
        campaign.state = CampaignState.MISSED
        campaign.finished_at = now
        return "missed"
    try:
        check_templates(settings, templates, campaign)
    except TemplateProblem as exc:
        campaign.state = CampaignState.DRAFT
        return f"{NOT_STARTED}: template error {exc}"
    try:
        start(session, campaign, now)
    except CampaignError as exc:
        campaign.state = CampaignState.DRAFT
        return f"{NOT_STARTED}: {exc}"
    return "started"


def finish_if_done(session: Session, campaign: Campaign) -> bool:
    if campaign.state is not CampaignState.RUNNING:
        return False
    open_rows = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign.id, OutboxMessage.state.not_in(FINAL_STATES))
    )
    if open_rows:
        return False
    campaign.state = CampaignState.FINISHED
    campaign.finished_at = utcnow()
    return True


def retry_failed(session: Session, campaign: Campaign) -> int:
    """Staff decided to try the failed rows again: they get a fresh set of attempts."""
    _require(campaign, (CampaignState.RUNNING, CampaignState.FINISHED), "retry")
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign.id, OutboxMessage.state == MessageState.FAILED)
        .values(state=MessageState.QUEUED, attempts=0, next_attempt_at=utcnow(), claimed_by=None)
    )
    retried = rowcount(result)
    if retried:
        campaign.state = CampaignState.RUNNING
        campaign.finished_at = None
    return retried


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
        times = [until for until in (self.paused_until, self.relay_paused_until) if until is not None]
        return max(times) if times and self.unsent else None

    left_out: int = 0  # not started yet: how many the audience leaves out as they already answered
    series: str | None = None  # a round to a series: its slug (and `meeting` is empty)

    def to_json(self) -> dict[str, Any]:
        def when(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "meeting": self.meeting,
            "template": self.template,
            "state": self.state,
            "send_at": when(self.send_at),
            "audience": self.audience,
            "recipients": self.recipients,
            **self.counts,
            "uncertain": self.uncertain,
            "paused_until": when(self.paused_until),
            "pause_reason": self.pause_reason,
            "pause_reply": self.pause_reply,
            "relay_paused_until": when(self.relay_paused_until),
            "relay_pause_reason": self.relay_pause_reason,
            "left_out_answered": self.left_out,
            "series": self.series,
        }


def status(session: Session, campaign: Campaign) -> CampaignStatus:
    counts = {state.value: 0 for state in MessageState}
    for state, count in session.execute(
        select(OutboxMessage.state, func.count())
        .where(OutboxMessage.campaign_id == campaign.id)
        .group_by(OutboxMessage.state)
    ):
        counts[MessageState(state).value] = count
    uncertain = session.execute(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign.id, OutboxMessage.uncertain.is_(True))
    ).scalar_one()
    audience = Audience.from_json(campaign.audience)
    recipients = (
        sum(counts.values())
        if campaign.started_at
        else count_recipients(session, audience, campaign.meeting_id, None, campaign.series_id)
    )
    # A send time means "goes out then": a cancelled campaign has none to show.
    send_at = None if campaign.state is CampaignState.CANCELLED else campaign.send_at
    result = CampaignStatus(
        campaign.id,
        campaign.meeting.slug if campaign.meeting else "",
        campaign.template,
        campaign.state.value,
        send_at,
        audience.describe(),
        recipients,
        counts,
        uncertain,
    )
    result.series = campaign.series.slug if campaign.series else None
    result.left_out = (
        0 if campaign.started_at else left_out_answered(session, audience, campaign.meeting_id, campaign.series_id)
    )
    if campaign.state is CampaignState.PAUSED:
        result.paused_until, result.pause_reason = campaign.paused_until, campaign.pause_reason
        result.pause_reply = campaign.pause_reply
    if campaign.state in (CampaignState.RUNNING, CampaignState.PAUSED) and result.unsent:
        held = current_pause(session)
        if held is not None:
            result.relay_paused_until, result.relay_pause_reason = held.until, held.reason
    return result


def list_campaigns(session: Session) -> list[Campaign]:
    return list(
        session.scalars(
            select(Campaign)
            .options(selectinload(Campaign.meeting), selectinload(Campaign.series))
            .order_by(Campaign.id)
        )
    )


def series_of_campaigns(session: Session, campaign_ids: set[int]) -> dict[int, Series]:
    """The series each of these campaigns invites to (with its sessions loaded), for the outbox's
    batches: a series round's outbox rows name no meeting."""
    return {
        campaign.id: campaign.series
        for campaign in session.scalars(
            select(Campaign)
            .where(Campaign.id.in_(campaign_ids), Campaign.series_id.is_not(None))
            .options(selectinload(Campaign.series).selectinload(Series.sessions))
        )
        if campaign.series is not None
    }
