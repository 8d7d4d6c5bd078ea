"""Recording and summarising evaluations. GET never records; POST does, once per person and meeting.

When staff make a meeting's evaluation anonymous, the answers are stored without
the person and a separate receipt stops a second submission; an anonymous
evaluation can therefore not be changed afterwards (nobody can tell which is whose).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.attendance.coverage import participants
from mailer.contacts.models import Contact
from mailer.db import utcnow
from mailer.evaluations.models import Evaluation, EvaluationReceipt
from mailer.meetings.models import Meeting

COMMENT_MAX = 2000
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # never stored: a NUL breaks PostgreSQL


class EvaluationError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


class NotEligible(Exception):
    """Only participants (checked in, or yes where nobody was checked in) evaluate a meeting."""


class AlreadyAnswered(Exception):
    """An anonymous evaluation was already given by this person."""


def is_participant(session: Session, contact: Contact, meeting: Meeting) -> bool:
    return contact.id in set(session.scalars(participants(meeting.id)))


def current_evaluation(session: Session, contact: Contact, meeting: Meeting) -> Evaluation | None:
    return session.scalar(
        select(Evaluation).where(Evaluation.meeting_id == meeting.id, Evaluation.contact_id == contact.id)
    )


def has_answered(session: Session, contact: Contact, meeting: Meeting) -> bool:
    if current_evaluation(session, contact, meeting) is not None:
        return True
    return (
        session.scalar(
            select(EvaluationReceipt.id).where(
                EvaluationReceipt.meeting_id == meeting.id, EvaluationReceipt.contact_id == contact.id
            )
        )
        is not None
    )


def _score(form: Mapping[str, str | None], name: str) -> int:
    raw = (form.get(name) or "").strip()
    if raw not in {"1", "2", "3", "4", "5"}:
        raise EvaluationError(name, "choose 1–5")
    return int(raw)


def parse(form: Mapping[str, str | None]) -> dict[str, Any]:
    cooperation = (form.get("cooperation") or "").strip()
    if cooperation not in ("yes", "no"):
        raise EvaluationError("cooperation", "choose yes or no")
    comment = CONTROL.sub("", form.get("comment") or "").strip()
    if len(comment) > COMMENT_MAX:
        raise EvaluationError("comment", f"at most {COMMENT_MAX} characters")
    return {
        "value": _score(form, "value"),
        "knowledge": _score(form, "knowledge"),
        "cooperation": cooperation == "yes",
        "comment": comment or None,
    }


def record_evaluation(
    session: Session, contact: Contact, meeting: Meeting, form: Mapping[str, str | None]
) -> Evaluation:
    values = parse(form)
    if not is_participant(session, contact, meeting):
        raise NotEligible()
    now = utcnow()
    if meeting.evaluation_anonymous:
        if has_answered(session, contact, meeting):
            raise AlreadyAnswered()
        session.add(EvaluationReceipt(meeting_id=meeting.id, contact_id=contact.id, at=now))
        # Only the day: the receipt's exact time must not point at the answer.
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        evaluation = Evaluation(meeting_id=meeting.id, contact_id=None, created_at=day, updated_at=day, **values)
        session.add(evaluation)
    else:
        current = current_evaluation(session, contact, meeting)
        if current is None:
            current = Evaluation(meeting_id=meeting.id, contact_id=contact.id, created_at=now, **values)
            session.add(current)
        evaluation = current
        for key, value in values.items():
            setattr(evaluation, key, value)
        evaluation.updated_at = now
    session.flush()
    return evaluation


@dataclass
class Summary:
    label: str
    count: int = 0
    value_avg: float | None = None
    knowledge_avg: float | None = None
    cooperation_yes: int = 0
    cooperation_no: int = 0
    comments: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _summarise(label: str, rows: list[Evaluation]) -> Summary:
    summary = Summary(label=label, count=len(rows))
    if rows:
        summary.value_avg = round(sum(row.value for row in rows) / len(rows), 2)
        summary.knowledge_avg = round(sum(row.knowledge for row in rows) / len(rows), 2)
        summary.cooperation_yes = sum(1 for row in rows if row.cooperation)
        summary.cooperation_no = len(rows) - summary.cooperation_yes
        summary.comments = [row.comment for row in rows if row.comment]
    return summary


def summarise(session: Session, meetings: Iterable[Meeting]) -> tuple[list[Summary], list[Summary]]:
    """(per meeting, per region) averages, counts and free-text answers."""
    meetings = list(meetings)
    rows = session.scalars(
        select(Evaluation)
        .where(Evaluation.meeting_id.in_([meeting.id for meeting in meetings]))
        .order_by(Evaluation.id)
    ).all()
    by_meeting: dict[int, list[Evaluation]] = defaultdict(list)
    for row in rows:
        by_meeting[row.meeting_id].append(row)
    by_region: dict[str, list[Evaluation]] = defaultdict(list)
    for meeting in meetings:
        by_region[meeting.region].extend(by_meeting[meeting.id])
    return (
        [_summarise(meeting.slug, by_meeting[meeting.id]) for meeting in meetings],
        [_summarise(region, items) for region, items in sorted(by_region.items())],
    )
