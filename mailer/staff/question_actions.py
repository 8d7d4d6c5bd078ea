"""Question changes by a person (web app or CLI), each with its audit-log entry in the same transaction.

`owner` is "meetings" or "series" (the staff pages' and the CLI's word for where a question belongs).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.meetings.models import Question
from mailer.meetings.questions import Owner, add_question, list_questions, move_question, remove_question
from mailer.meetings.series import get_series
from mailer.meetings.service import get_meeting

OWNERS = ("meetings", "series")


def owner_of(session: Session, owner: str, slug: str) -> Owner:
    """The meeting or series a page or command names; NotFound for an unknown slug."""
    return get_series(session, slug) if owner == "series" else get_meeting(session, slug)


def _target(owner: str, slug: str) -> str:
    return f"{'series' if owner == 'series' else 'meeting'}:{slug}"


def questions(session: Session, owner: str, slug: str) -> tuple[Owner, list[Question]]:
    found = owner_of(session, owner, slug)
    return found, list_questions(session, found)


def add(
    session: Session,
    actor: str,
    owner: str,
    slug: str,
    *,
    label_sv: str,
    label_en: str = "",
    kind: str = "text",
    options_sv: str = "",
    options_en: str = "",
    required: bool = False,
) -> Question:
    question = add_question(
        session,
        owner_of(session, owner, slug),
        label_sv=label_sv,
        label_en=label_en,
        kind=kind,
        options_sv=options_sv,
        options_en=options_en,
        required=required,
    )
    record(session, actor, "questions.add", _target(owner, slug), question=question.field, kind=question.kind.value)
    return question


def remove(session: Session, actor: str, owner: str, slug: str, field: str) -> Question:
    question = remove_question(session, owner_of(session, owner, slug), field)
    record(session, actor, "questions.remove", _target(owner, slug), question=field)
    return question


def move(session: Session, actor: str, owner: str, slug: str, field: str, step: int) -> Question:
    question = move_question(session, owner_of(session, owner, slug), field, step)
    record(session, actor, "questions.move", _target(owner, slug), question=field, step=step)
    return question
