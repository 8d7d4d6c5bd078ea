"""Data quality back to a member organisation: what in its list did not work, so it can fix it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.bounces.quality import described, last_status, soft_bounces
from mailer.bounces.service import SOFT_WINDOW
from mailer.config import Settings
from mailer.contacts.models import Contact, ImportRejection, Membership, Organisation, Suppression, SuppressionReason
from mailer.db import utcnow
from mailer.errors import NotFound
from mailer.tracking.export import neutralise
from mailer.translations import translate


@dataclass
class OrgReport:
    slug: str
    name: str
    contact_email: str | None
    contacts: int
    bounced: list[dict[str, Any]] = field(default_factory=list)
    unsubscribed: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    soft_bounced: list[dict[str, Any]] = field(default_factory=list)  # not suppressed yet: full mailbox and the like

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()

    @property
    def empty(self) -> bool:
        return not (self.bounced or self.unsubscribed or self.rejected or self.soft_bounced)


def org_report(session: Session, slug: str, tz: ZoneInfo, lang: str = "sv") -> OrgReport:
    """`tz`: the dates are the organisation's days, not UTC's (an evening bounce is not tomorrow's).
    Each bounce says what the receiving server's reply means, in `lang`."""
    organisation = session.scalar(select(Organisation).where(Organisation.slug == slug))
    if organisation is None:
        raise NotFound("no_organisation", slug=slug)
    members = select(Contact.email).join(Membership).where(Membership.organisation_id == organisation.id)
    count = len(session.scalars(members).all())
    report = OrgReport(organisation.slug, organisation.name, organisation.contact_email, count)
    suppressions = session.scalars(
        select(Suppression).where(Suppression.email.in_(members)).order_by(Suppression.created_at)
    ).all()
    statuses = last_status(
        session,
        [
            suppression.email
            for suppression in suppressions
            if suppression.email is not None and suppression.reason is SuppressionReason.BOUNCED
        ],
    )
    for suppression in suppressions:
        entry = {
            "email": suppression.email,
            "since": suppression.created_at.astimezone(tz).date().isoformat(),
            "detail": suppression.detail,
        }
        if suppression.reason is SuppressionReason.BOUNCED:
            report.bounced.append({**entry, **described(suppression.email, suppression.detail, statuses, lang)})
        elif suppression.reason is SuppressionReason.UNSUBSCRIBED:
            report.unsubscribed.append(entry)
    suppressed = {suppression.email for suppression in suppressions}
    member_ids = select(Membership.contact_id).where(Membership.organisation_id == organisation.id)
    now = utcnow()
    for soft in soft_bounces(session, now - SOFT_WINDOW, now, lang, member_ids):
        if soft["email"] not in suppressed:
            report.soft_bounced.append(
                {
                    "email": soft["email"],
                    "since": soft["last"].astimezone(tz).date().isoformat(),
                    "status": soft["status"],
                    "explanation": soft["explanation"],
                    "count": soft["count"],
                }
            )
    for rejection in session.scalars(
        select(ImportRejection)
        .where(ImportRejection.organisation_id == organisation.id)
        .order_by(ImportRejection.file_name, ImportRejection.line)
    ):
        report.rejected.append(
            {"file": rejection.file_name, "line": rejection.line, "value": rejection.value, "reason": rejection.reason}
        )
    return report


def queue_org_report(session: Session, settings: Settings, report: OrgReport) -> None:
    """Queue the report to the organisation's own address; the worker sends it."""
    from mailer.outbox.models import OutboxMessage

    context = {
        "lang": settings.language,
        "sender": {"name": settings.mail_from.display_name, "email": settings.mail_from.addr_spec},
        "report": report.to_json(),
    }
    session.add(OutboxMessage(template="org_report", to_email=report.contact_email, extra=context))


def org_report_csv(report: OrgReport, language: str) -> bytes:
    """The report as a spreadsheet to send back to the organisation: one row per address to fix.

    UTF-8 with BOM and `;` for Swedish Excel (`,` in English); cells Excel would run as
    formulas are neutralised as in the attendee export.
    """

    def phrase(key: str) -> str:
        return translate(f"quality.{key}", language)

    rows: list[list[object]] = [[phrase("col_problem"), phrase("col_email"), phrase("col_since"), phrase("col_detail")]]
    rows += [[phrase("bounced"), entry["email"], entry["since"], entry["detail"] or ""] for entry in report.bounced]
    rows += [[phrase("unsubscribed"), entry["email"], entry["since"], ""] for entry in report.unsubscribed]
    rows += [
        [phrase("rejected"), entry["value"] or "", "", f"{entry['file']}:{entry['line']}: {entry['reason']}"]
        for entry in report.rejected
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if language == "sv" else ",", lineterminator="\r\n")
    writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
