"""Campaigns (rounds): create, schedule, start, cancel and follow, with the staff web's own actions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mailer.api import schemas
from mailer.api.bodies import check
from mailer.api.context import Context
from mailer.api.errors import not_found
from mailer.api.paging import PageRequest, by_id, id_page
from mailer.campaigns.audience import Audience
from mailer.campaigns.models import Campaign
from mailer.campaigns.service import CampaignError, implied_audience, status
from mailer.staff import campaign_actions


def render(session: Session, campaign: Campaign) -> dict[str, Any]:
    data = status(session, campaign).to_json()
    data["note"] = campaign.note
    data["created_at"] = campaign.created_at.isoformat()
    data["started_at"] = campaign.started_at.isoformat() if campaign.started_at else None
    data["finished_at"] = campaign.finished_at.isoformat() if campaign.finished_at else None
    return data


def _existing(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise not_found("campaign", campaign_id)
    return campaign


def _one(session: Session, campaign_id: int) -> dict[str, Any]:
    return render(session, _existing(session, campaign_id))


def list_campaigns(ctx: Context, paging: PageRequest) -> dict[str, Any]:
    query = by_id(select(Campaign).options(selectinload(Campaign.meeting)), Campaign.id, paging)
    with ctx.db.reading() as session:
        return id_page(session, query, paging, lambda campaign: render(session, campaign))


def get_campaign(ctx: Context, campaign_id: int) -> dict[str, Any]:
    with ctx.db.reading() as session:
        return _one(session, campaign_id)


def create_campaign(ctx: Context, body: Any) -> dict[str, Any]:
    """A draft, or scheduled when `send_at` is given; checked as on the staff web (meeting, audience, template)."""
    values = check(body, schemas.CAMPAIGN_NEW)
    audience = implied_audience(values["template"], Audience(**values["audience"]))
    with ctx.db.transaction() as session:
        campaign = campaign_actions.create(
            session,
            ctx.settings,
            ctx.templates,
            ctx.caller.actor,
            meeting_slug=values["meeting"],
            template=values["template"],
            audience=audience,
            send_at=values.get("send_at"),
            note=values.get("note"),
        )
        return render(session, campaign)


def schedule_campaign(ctx: Context, campaign_id: int, body: Any) -> dict[str, Any]:
    values = check(body, schemas.CAMPAIGN_SCHEDULE)
    with ctx.db.transaction() as session:
        _existing(session, campaign_id)
        campaign = campaign_actions.schedule(session, ctx.settings, ctx.caller.actor, campaign_id, values["send_at"])
        return render(session, campaign)


def start_campaign(ctx: Context, campaign_id: int) -> dict[str, Any]:
    """ "Send now": the recipients are fixed (one outbox row each) and the worker sends."""
    with ctx.db.transaction() as session:
        _existing(session, campaign_id)
        campaign_actions.send_now(session, ctx.settings, ctx.templates, ctx.caller.actor, campaign_id)
        return _one(session, campaign_id)


def cancel_campaign(ctx: Context, campaign_id: int) -> dict[str, Any]:
    with ctx.db.transaction() as session:
        _existing(session, campaign_id)
        campaign_actions.cancel(session, ctx.caller.actor, campaign_id)
        return _one(session, campaign_id)


__all__ = [
    "CampaignError",
    "cancel_campaign",
    "create_campaign",
    "get_campaign",
    "list_campaigns",
    "schedule_campaign",
    "start_campaign",
]
