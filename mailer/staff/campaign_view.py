"""What the campaign pages show: the audience choices, the live count, and one campaign with its preview.

Reads only. The preview is `mailer.campaigns.service.preview`, the very
function the sender's compose path shares, so staff see what recipients get.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from mailer.campaigns import service
from mailer.campaigns.audience import Audience, count_recipients, left_out_answered
from mailer.campaigns.models import Campaign
from mailer.config import Settings
from mailer.contacts.models import Contact, Membership, Organisation
from mailer.errors import NotFound, render
from mailer.mail.templates import EmailTemplates, TemplateProblem
from mailer.meetings.models import Meeting, Series
from mailer.meetings.series import get_series, list_series
from mailer.meetings.service import get_meeting, list_meetings
from mailer.regions import canonical_region, region_names

PREVIEW_CHOICES = 50


@dataclass
class AudienceChoices:
    meetings: list[Meeting]
    organisations: list[tuple[str, str, int]]  # slug, name, contacts
    regions: list[str]
    roles: list[str]
    series: list[Series] = field(default_factory=list)  # a round may invite to a series instead of a meeting


def audience_choices(session: Session) -> AudienceChoices:
    counts = dict(
        session.execute(select(Membership.organisation_id, func.count()).group_by(Membership.organisation_id)).all()
    )
    organisations = [
        (organisation.slug, organisation.name, counts.get(organisation.id, 0))
        for organisation in session.scalars(select(Organisation).order_by(Organisation.name))
    ]
    region_rows = union(
        select(Contact.region.label("r")).where(Contact.region.is_not(None)),
        select(Membership.region).where(Membership.region.is_not(None)),
        select(Organisation.region).where(Organisation.region.is_not(None)),
    )
    present = {canonical_region(region) for region in session.scalars(select(region_rows.subquery().c.r))}
    regions = [name for name in region_names() if name in present]  # the fixed list's order
    roles = sorted(
        {role.strip().lower() for role in session.scalars(select(Membership.role).distinct()) if role and role.strip()}
    )
    return AudienceChoices(list_meetings(session), organisations, regions, roles, list_series(session))


def audience_count(
    session: Session, meeting_slug: str | None, audience: Audience, series_slug: str | None = None
) -> tuple[int, int]:
    """How many would get the mail now, and how many are left out as they already answered the
    meeting (or series); raises AudienceError or LookupError (unknown meeting or series)."""
    audience.validate(session)
    if (audience.only_unanswered or audience.only_yes) and not (meeting_slug or series_slug):
        raise NotFound("choose_meeting_first")
    series_id = get_series(session, series_slug).id if series_slug else None
    meeting_id = get_meeting(session, meeting_slug).id if meeting_slug and series_id is None else 0
    return (
        count_recipients(session, audience, meeting_id, None, series_id),
        left_out_answered(session, audience, meeting_id, series_id),
    )


@dataclass
class Preview:
    sender: str
    to: str
    subject: str
    html: str
    text: str


@dataclass
class CampaignPage:
    campaign: Campaign
    status: service.CampaignStatus
    audience: Audience
    preview: Preview | None = None
    problem: str | None = None  # a template error (file:line) or an unknown recipient
    will_not_get: str | None = None  # the previewed person would not get it: service.WHY_NOT code
    recipients: list[str] = field(default_factory=list)  # the first few, to pick a preview from
    organisation_names: dict[str, str] = field(default_factory=dict)  # slug -> name, for the audience


def _parts(message: EmailMessage) -> Preview:
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    return Preview(
        sender=str(message["From"]),
        to=str(message["To"]),
        subject=str(message["Subject"]),
        html=html.get_content() if html is not None else "",
        text=text.get_content() if text is not None else "",
    )


def campaign_page(
    session: Session,
    settings: Settings,
    templates: EmailTemplates,
    campaign_id: int,
    contact_email: str | None = None,
    language: str | None = None,
) -> CampaignPage:
    """Raises CampaignError for an unknown campaign; a preview problem is shown, not raised."""
    campaign = service.get_campaign(session, campaign_id)
    audience = Audience.from_json(campaign.audience)
    page = CampaignPage(campaign, service.status(session, campaign), audience)
    page.organisation_names = dict(
        session.execute(select(Organisation.slug, Organisation.name).where(Organisation.slug.in_(audience.orgs))).all()
    )
    ids = service.recipients_of(campaign).limit(PREVIEW_CHOICES).subquery()
    page.recipients = list(
        session.scalars(select(Contact.email).where(Contact.id.in_(select(ids.c.id))).order_by(Contact.email))
    )
    try:
        page.preview = _parts(service.preview(session, settings, templates, campaign, contact_email or None))
        page.will_not_get = service.will_not_get(session, campaign, contact_email or None)
    except (service.CampaignError, TemplateProblem) as exc:
        page.problem = render(exc, language or settings.language)
    return page


def campaigns_overview(session: Session) -> list[service.CampaignStatus]:
    """Newest first: the campaign just made or sent is the one staff look for."""
    return [service.status(session, campaign) for campaign in reversed(service.list_campaigns(session))]
