"""The digest's part about sending: when the relay made us wait this week, why, and what waits now.

Read from the audit log (the sender writes one entry when a pause begins, with the reply's
codes but no address) and from the pauses in force. The explanations are plain words for
staff, in the digest's language.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mailer.audit.models import AuditEntry
from mailer.campaigns.models import Campaign, CampaignState
from mailer.i18n import format_when
from mailer.outbox.relay import current_pause

REASONS = {
    "sv": {
        "quota": "reläets sändningskvot var slut",
        "policy": "reläet vägrade mejlet enligt sina regler",
        "closing": "reläet var upptaget (421)",
        "sender": "reläet godtog inte vår avsändaradress",
        "login": "reläet nekade inloggningen",
        "system": "reläet hade ett tillfälligt fel",
        "breaker": "samma svar för tre mottagare i rad: felet var reläets",
        "timeout": "e-postservern svarade inte",
        "limit": "gränsen för antal mejl per timme eller dygn var nådd",
    },
    "en": {
        "quota": "the relay's sending quota was used up",
        "policy": "the relay refused the message by its rules",
        "closing": "the relay was busy (421)",
        "sender": "the relay did not accept our sender address",
        "login": "the relay refused the log-in",
        "system": "the relay had a temporary fault",
        "breaker": "the same reply for three recipients in a row: the relay was at fault",
        "timeout": "the mail server did not answer",
        "limit": "the limit of messages per hour or per day was reached",
    },
}
PAUSE_ACTIONS = ("sending.pause", "campaign.pause")


def explain(reason: str | None, lang: str) -> str:
    words = REASONS.get(lang, REASONS["sv"])
    return words.get(reason or "", reason or "")


def sending_context(session: Session, start: dt.datetime, end: dt.datetime, tz, lang: str) -> dict[str, Any]:
    """`pauses`: each pause begun in the period; `waiting`: what waits now (the relay, paused campaigns)."""
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action.in_(PAUSE_ACTIONS), AuditEntry.at > start,
                                                       AuditEntry.at <= end).order_by(AuditEntry.at)).all()
    pauses = []
    for entry in entries:
        detail = entry.detail or {}
        until = detail.get("until")
        pauses.append({
            "when": format_when(entry.at, None, tz, lang),
            "reason": explain(detail.get("reason"), lang),
            "status": detail.get("status") or "",
            "until": format_when(dt.datetime.fromisoformat(until), None, tz, lang) if until else "",
            "all_sending": entry.action == "sending.pause",
        })
    waiting = []
    held = current_pause(session, end)
    if held is not None:
        waiting.append({"what": "relay", "reason": explain(held.reason, lang), "reply": held.reply or "",
                        "until": format_when(held.until, None, tz, lang)})
    for campaign in session.scalars(select(Campaign).where(Campaign.state == CampaignState.PAUSED)
                                    .options(selectinload(Campaign.meeting)).order_by(Campaign.id)):
        waiting.append({"what": campaign.meeting.title, "template": campaign.template,
                        "reason": explain(campaign.pause_reason, lang), "reply": campaign.pause_reply or "",
                        "until": format_when(campaign.paused_until, None, tz, lang) if campaign.paused_until else ""})
    return {"pauses": pauses, "waiting": waiting}
