"""The digest's part about sending: when the relay made us wait this week, why, and what waits now.

Read from the audit log (the sender writes one entry when a pause begins, with the reply's
codes but no address) and from the pauses in force. The explanations are plain words for
staff, in the digest's language, from the catalogs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mailer.audit.models import AuditEntry
from mailer.campaigns.models import Campaign, CampaignState
from mailer.i18n import format_when
from mailer.mail.replies import explain_pause
from mailer.outbox.relay import current_pause

PAUSE_ACTIONS = ("sending.pause", "campaign.pause")


def sending_context(session: Session, start: dt.datetime, end: dt.datetime, tz: ZoneInfo, lang: str) -> dict[str, Any]:
    """`pauses`: each pause begun in the period; `waiting`: what waits now (the relay, paused campaigns)."""
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action.in_(PAUSE_ACTIONS), AuditEntry.at > start, AuditEntry.at <= end)
        .order_by(AuditEntry.at)
    ).all()
    pauses = []
    for entry in entries:
        detail = entry.detail or {}
        until = detail.get("until")
        pauses.append(
            {
                "when": format_when(entry.at, None, tz, lang),
                "reason": explain_pause(detail.get("reason"), lang),
                "status": detail.get("status") or "",
                "until": format_when(dt.datetime.fromisoformat(until), None, tz, lang) if until else "",
                "all_sending": entry.action == "sending.pause",
            }
        )
    waiting = []
    held = current_pause(session, end)
    if held is not None:
        waiting.append(
            {
                "what": "relay",
                "reason": explain_pause(held.reason, lang),
                "reply": held.reply or "",
                "until": format_when(held.until, None, tz, lang),
            }
        )
    for campaign in session.scalars(
        select(Campaign)
        .where(Campaign.state == CampaignState.PAUSED)
        .options(selectinload(Campaign.meeting))
        .order_by(Campaign.id)
    ):
        waiting.append(
            {
                "what": campaign.target.title,
                "template": campaign.template,
                "reason": explain_pause(campaign.pause_reason, lang),
                "reply": campaign.pause_reply or "",
                "until": format_when(campaign.paused_until, None, tz, lang) if campaign.paused_until else "",
            }
        )
    return {"pauses": pauses, "waiting": waiting}
