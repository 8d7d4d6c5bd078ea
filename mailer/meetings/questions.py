"""A meeting's own questions (or a series'): what staff ask besides yes/no and guests.

Every meeting and series starts with the two default questions, diet and accessibility
(`add_default_questions`, called where meetings and series are made); staff add their own,
move them and remove them. A session of a series asks its series' questions, not its own
(`questions_for`). Answers live with the person's answer (mailer.rsvp.questions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from mailer.errors import DomainError, NotFound
from mailer.meetings.models import Meeting, Question, QuestionKind, Series

LABEL_LIMIT = 300
OPTION_LIMIT = 200
# (key, Swedish label, English label): asked of every new meeting and series, not required.
DEFAULT_QUESTIONS = (
    ("diet", "Kost/allergier", "Diet/allergies"),
    ("accessibility", "Tillgänglighet", "Accessibility"),
)


class QuestionError(DomainError, ValueError):
    """A question that cannot be added or changed as asked; `field` names the input at fault."""

    prefix = "error.question."

    def __init__(self, field: str, code: str, /, **params: object):
        super().__init__(code, **params)
        self.field = field


Owner = Meeting | Series


def _owned_by(owner: Owner) -> dict[str, Any]:
    return {"meeting_id": owner.id} if isinstance(owner, Meeting) else {"series_id": owner.id}


def add_default_questions(session: Session, owner: Owner) -> None:
    """The diet and accessibility questions, for a meeting or series just made (flushed: it has an id)."""
    for position, (key, label_sv, label_en) in enumerate(DEFAULT_QUESTIONS):
        session.add(
            Question(
                **_owned_by(owner),
                key=key,
                kind=QuestionKind.TEXT,
                label_sv=label_sv,
                label_en=label_en,
                options=[],
                required=False,
                position=position,
                is_default=True,
            )
        )
    session.flush()


def list_questions(session: Session, owner: Owner) -> list[Question]:
    """The owner's own questions, in the order they are asked."""
    column = Question.meeting_id if isinstance(owner, Meeting) else Question.series_id
    return list(session.scalars(select(Question).where(column == owner.id).order_by(Question.position, Question.id)))


def questions_for(session: Session, meeting_id: int, series_id: int | None) -> list[Question]:
    """The questions a meeting's answer page asks: its series' for a session, otherwise its own."""
    column, owner_id = (Question.series_id, series_id) if series_id is not None else (Question.meeting_id, meeting_id)
    return list(session.scalars(select(Question).where(column == owner_id).order_by(Question.position, Question.id)))


@dataclass(frozen=True, slots=True)
class AskedQuestion:
    """What checking and keeping an answer reads of a question (mailer.rsvp.questions): a plain
    row, not a Question. Why: it is read on every answer POST, where loading ORM objects cost
    as much as the rest of the answer (measured in bench/rsvp.py)."""

    id: int
    field: str
    kind: QuestionKind
    options: list[dict[str, str]]
    required: bool


_ASKED = select(Question.id, Question.field, Question.kind, Question.options, Question.required).order_by(
    Question.position, Question.id
)
_ASKED_BY_MEETING = _ASKED.where(Question.meeting_id == bindparam("owner_id"))
_ASKED_BY_SERIES = _ASKED.where(Question.series_id == bindparam("owner_id"))


def asked_questions(session: Session, meeting_id: int, series_id: int | None) -> list[AskedQuestion]:
    """The questions of `questions_for`, as rows for answering."""
    statement, owner_id = (_ASKED_BY_SERIES, series_id) if series_id is not None else (_ASKED_BY_MEETING, meeting_id)
    return [AskedQuestion(*row) for row in session.connection().execute(statement, {"owner_id": owner_id})]


def _options(kind: QuestionKind, options_sv: str, options_en: str) -> list[dict[str, str]]:
    """One option a line, Swedish and English line by line (an English line left out: the Swedish text)."""
    if kind not in (QuestionKind.CHOICE, QuestionKind.MULTI):
        return []
    swedish = [line.strip() for line in (options_sv or "").splitlines()]
    english = [line.strip() for line in (options_en or "").splitlines()]
    options = []
    for number, text in enumerate(swedish):
        if not text:
            continue
        if len(text) > OPTION_LIMIT:
            raise QuestionError("options_sv", "option_too_long", line=number + 1, limit=OPTION_LIMIT)
        translated = english[number] if number < len(english) and english[number] else text
        options.append({"sv": text, "en": translated[:OPTION_LIMIT]})
    if len(options) < 2:
        raise QuestionError("options_sv", "too_few_options")
    if len({option["sv"] for option in options}) < len(options):
        raise QuestionError("options_sv", "same_option_twice")
    return options


def add_question(
    session: Session,
    owner: Owner,
    *,
    label_sv: str,
    label_en: str = "",
    kind: str = "text",
    options_sv: str = "",
    options_en: str = "",
    required: bool = False,
) -> Question:
    """Validate everything before writing anything; the new question goes last. Raises QuestionError."""
    label_sv, label_en = (label_sv or "").strip(), (label_en or "").strip()
    if not label_sv:
        raise QuestionError("label_sv", "required")
    for name, value in (("label_sv", label_sv), ("label_en", label_en)):
        if len(value) > LABEL_LIMIT:
            raise QuestionError(name, "too_long", limit=LABEL_LIMIT)
    try:
        how = QuestionKind((kind or "").strip().lower())
    except ValueError:
        raise QuestionError("kind", "bad_kind", kind=kind) from None
    options = _options(how, options_sv, options_en)
    column = Question.meeting_id if isinstance(owner, Meeting) else Question.series_id
    last = session.scalar(select(func.max(Question.position)).where(column == owner.id))
    question = Question(
        **_owned_by(owner),
        kind=how,
        label_sv=label_sv,
        label_en=label_en or label_sv,
        options=options,
        required=required,
        position=(last + 1) if last is not None else 0,
    )
    session.add(question)
    session.flush()
    return question


def get_question(session: Session, owner: Owner, field: str) -> Question:
    """One of the owner's questions by its form field name ("diet", "q12")."""
    for question in list_questions(session, owner):
        if question.field == field:
            return question
    raise NotFound("no_question", question=field)


def remove_question(session: Session, owner: Owner, field: str) -> Question:
    """The question goes, and its answers with it (they were answers to it only)."""
    question = get_question(session, owner, field)
    session.delete(question)
    session.flush()
    return question


def move_question(session: Session, owner: Owner, field: str, step: int) -> Question:
    """One place up (step -1) or down (+1); at either end nothing changes."""
    questions = list_questions(session, owner)
    question = get_question(session, owner, field)
    at = questions.index(question)
    to = min(max(at + step, 0), len(questions) - 1)
    questions.insert(to, questions.pop(at))
    for position, each in enumerate(questions):
        each.position = position
    session.flush()
    return question
