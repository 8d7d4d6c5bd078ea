"""What staff and the organisations read about bounces: the code and what it means, in their language."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from mailer.bounces.models import BounceEvent
from mailer.bounces.reading import SOFT
from mailer.contacts.models import Contact, Membership, Organisation
from mailer.mail.replies import enhanced_status, explain_status
from mailer.translations import N_, translate

REFUSED = N_("bounce.explain.refused")


def last_status(session: Session, emails: list[str]) -> dict[str, str]:
    """The status code of each address's latest report from the bounce mailbox."""
    found: dict[str, str] = {}
    rows = session.execute(
        select(Contact.email, BounceEvent.status)
        .join(BounceEvent, BounceEvent.contact_id == Contact.id)
        .where(Contact.email.in_(emails), BounceEvent.status.is_not(None))
        .order_by(BounceEvent.created_at)
    )
    for email, status in rows:
        if status is not None:  # (selected: never None)
            found[email] = status
    return found


REFUSED_REPLY = re.compile(r"^\s*5\d\d\b")


def described(email: str | None, detail: str | None, statuses: dict[str, str], lang: str) -> dict[str, Any]:
    """status and explanation for one suppressed address: the report's code, else the one in the
    kept reply (a refusal during sending keeps the relay's reply, with its code); a 5xx reply
    without an enhanced code says no more than that the server refused the address."""
    status = (statuses.get(email) if email is not None else None) or enhanced_status(detail)  # None: erased
    if status is None and REFUSED_REPLY.match(detail or ""):
        return {"status": None, "explanation": translate(REFUSED, lang)}
    return {"status": status, "explanation": explain_status(status, lang)}


def organisations_of(session: Session, emails: list[str]) -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for email, name in session.execute(
        select(Contact.email, Organisation.name)
        .join(Membership, Membership.contact_id == Contact.id)
        .join(Organisation)
        .where(Contact.email.in_(emails))
        .order_by(Organisation.name)
    ):
        names.setdefault(email, []).append(name)
    return names


def soft_bounces(
    session: Session, start: dt.datetime, end: dt.datetime, lang: str, contact_ids: Select[int] | None = None
) -> list[dict[str, Any]]:
    """Counted soft bounces in a period, newest per address (the address is not suppressed yet)."""
    query = (
        select(Contact.email, BounceEvent.status, BounceEvent.created_at)
        .join(BounceEvent, BounceEvent.contact_id == Contact.id)
        .where(BounceEvent.counts.is_(True), BounceEvent.created_at > start, BounceEvent.created_at <= end)
        .order_by(BounceEvent.created_at)
    )
    if contact_ids is not None:
        query = query.where(Contact.id.in_(contact_ids))
    latest: dict[str, tuple[str | None, dt.datetime, int]] = {}
    for email, status, created_at in session.execute(query):
        count = latest.get(email, (None, created_at, 0))[2] + 1
        latest[email] = (status, created_at, count)
    return [
        {
            "email": email,
            "status": status,
            "explanation": explain_status(status, lang),
            "count": count,
            "last": created_at,
        }
        for email, (status, created_at, count) in latest.items()
    ]


def refusals(session: Session, start: dt.datetime, end: dt.datetime, lang: str) -> list[dict[str, Any]]:
    """Reports in a period that were the sender's, relay's or message's fault (policy, spam lists,
    authentication), by code: nobody's address is to blame, but many of them mean our mail has a
    problem (SPF/DKIM, a blocklisted relay) that staff should take to the mail provider."""
    rows = session.execute(
        select(BounceEvent.status, func.count())
        .where(
            BounceEvent.kind == SOFT,
            BounceEvent.counts.is_(False),
            BounceEvent.created_at > start,
            BounceEvent.created_at <= end,
        )
        .group_by(BounceEvent.status)
        .order_by(func.count().desc(), BounceEvent.status)
    )
    return [{"status": status, "explanation": explain_status(status, lang), "count": count} for status, count in rows]
