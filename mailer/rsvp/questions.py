"""Answers to a meeting's own questions (mailer.meetings.questions): read from the form, checked, kept.

A question whose field is missing from the form keeps its answer: the series page's "no" to
a session, or a form made before the question was added, changes nothing of what was said.
The answer pages send an empty hidden field for option questions, so unticking every box
clears the answer. Required questions are required of a yes only: a "no" needs no diet.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mailer.db import rowcount, utcnow
from mailer.meetings.models import Question, QuestionKind
from mailer.rsvp.models import QuestionAnswer, Response
from mailer.translations import translate

TEXT_LIMIT = 300
YES_NO = ("yes", "no")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class QuestionAnswerError(ValueError):
    """One question's answer is not right; `field` is its form field, `reason` a stable code."""

    def __init__(self, field: str, reason: str, limit: int | None = None):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.limit = field, reason, limit


class Asked(Protocol):
    """What checking and keeping an answer reads of a question: a Question, or a
    mailer.meetings.questions.AskedQuestion row (the answer POST's)."""

    @property
    def id(self) -> int: ...
    @property
    def field(self) -> str: ...
    @property
    def kind(self) -> QuestionKind: ...
    @property
    def options(self) -> list[dict[str, Any]]: ...
    @property
    def required(self) -> bool: ...


def _given(form: Mapping[str, Any], field: str) -> list[str] | None:
    """The field's non-empty values, or None when the form does not have the field at all."""
    if field not in form:
        return None
    raw = form[field]
    values = raw if isinstance(raw, (list, tuple)) else [raw]
    return [_CONTROL.sub("", value or "").strip() for value in values if value and str(value).strip()]


def parse_question_answers(
    form: Mapping[str, Any], questions: Iterable[Asked], required: bool = True
) -> dict[int, Any]:
    """{question id: value (None: no answer)} for each question the form has; raises QuestionAnswerError.

    `required=False` (a "no") leaves required questions unanswered without complaint. A field sent
    more than once is a list (mailer.web.rsvp.posted_form): a multi-choice question takes all its
    values, every other kind its first non-empty one (the option fields also carry an empty hidden one).
    """
    values: dict[int, Any] = {}
    for question in questions:
        given = _given(form, question.field)
        if given is None:
            if required and question.required:
                raise QuestionAnswerError(question.field, "required")
            continue
        value: Any
        if question.kind is QuestionKind.TEXT:
            value = given[0] if given else None
            if value is not None and len(value) > TEXT_LIMIT:
                raise QuestionAnswerError(question.field, "too_long", TEXT_LIMIT)
        elif question.kind is QuestionKind.MULTI:
            known = [option["sv"] for option in question.options]
            if any(choice not in known for choice in given):
                raise QuestionAnswerError(question.field, "unknown_option")
            value = [option for option in known if option in given] or None
        else:
            allowed = YES_NO if question.kind is QuestionKind.YESNO else [option["sv"] for option in question.options]
            value = given[0] if given else None
            if value is not None and value not in allowed:
                raise QuestionAnswerError(question.field, "unknown_option")
        if value is None and required and question.required:
            raise QuestionAnswerError(question.field, "required")
        values[question.id] = value
    return values


def current_answers(session: Session, response_id: int) -> dict[int, Any]:
    """{question id: value} of one response."""
    return {
        row.question_id: row.value
        for row in session.execute(
            select(QuestionAnswer.question_id, QuestionAnswer.value).where(QuestionAnswer.response_id == response_id)
        )
    }


def answers_of(session: Session, response_ids: Sequence[int]) -> dict[int, dict[int, Any]]:
    """{response id: {question id: value}} for many responses in one query."""
    found: dict[int, dict[int, Any]] = {response_id: {} for response_id in response_ids}
    if response_ids:
        for row in session.execute(
            select(QuestionAnswer.response_id, QuestionAnswer.question_id, QuestionAnswer.value).where(
                QuestionAnswer.response_id.in_(response_ids)
            )
        ):
            found[row.response_id][row.question_id] = row.value
    return found


def answers_differ(before: Mapping[int, Any], values: Mapping[int, Any]) -> bool:
    return any(before.get(question_id) != value for question_id, value in values.items())


def save_question_answers(
    session: Session,
    response_id: int,
    before: Mapping[int, Any],
    values: Mapping[int, Any],
    now: dt.datetime | None = None,
) -> None:
    """Write the answers that changed; an answer taken back (None) is deleted, not kept empty."""
    now = now or utcnow()
    db = session.connection()
    table = QuestionAnswer.__table__
    for question_id, value in values.items():
        if before.get(question_id) == value:
            continue
        if value is None:
            db.execute(delete(table).where(table.c.response_id == response_id, table.c.question_id == question_id))
        elif question_id in before:
            db.execute(
                table.update()
                .where(table.c.response_id == response_id, table.c.question_id == question_id)
                .values(value=value, updated_at=now)
            )
        else:
            db.execute(
                table.insert().values(response_id=response_id, question_id=question_id, value=value, updated_at=now)
            )


def snapshot(questions: Iterable[Asked], answers: Mapping[int, Any]) -> dict[str, Any] | None:
    """The answers by form field, for the history: {"diet": "vegan"}; None when nothing is answered."""
    given = {question.field: answers[question.id] for question in questions if answers.get(question.id) is not None}
    return given or None


def answer_text(question: Question, value: Any, language: str) -> str:
    """An answer as a person reads it, in `language`: option texts translated, yes/no in words."""
    if value is None:
        return ""
    if question.kind is QuestionKind.YESNO:
        return translate(f"public.question_{value}", language) if value in YES_NO else str(value)
    if question.kind in (QuestionKind.CHOICE, QuestionKind.MULTI):
        labels = dict(question.option_labels(language))
        chosen = value if isinstance(value, list) else [value]
        return ", ".join(labels.get(choice) or str(choice) for choice in chosen)
    return str(value)


def form_values_of(questions: Iterable[Question], answers: Mapping[int, Any]) -> dict[str, Any]:
    """The answer page's fields as the person left them: text as a string, options as a list."""
    values: dict[str, Any] = {}
    for question in questions:
        value = answers.get(question.id)
        if question.kind is QuestionKind.MULTI:
            values[question.field] = list(value or [])
        else:
            values[question.field] = value or ""
    return values


def answers_by_field(questions: Iterable[Question], answers: Mapping[int, Any]) -> dict[str, Any]:
    """{field: value} of the questions asked, unanswered ones as None (the API's and webhooks' shape)."""
    return {question.field: answers.get(question.id) for question in questions}


def described_answers(response: Response) -> list[dict[str, Any]]:
    """The answers of one response with their questions, in the questions' order (API and webhooks);
    an erased answer (None) is left out, as an unanswered one."""
    given = sorted(
        (answer for answer in response.answers if answer.value is not None),
        key=lambda answer: (answer.question.position, answer.question_id),
    )
    return [
        {
            "question": answer.question.field,
            "label_sv": answer.question.label_sv,
            "label_en": answer.question.label_en,
            "kind": answer.question.kind.value,
            "value": answer.value,
        }
        for answer in given
    ]


def given_answers(response: Response) -> dict[str, Any]:
    """{form field: value} of one response's answers ("diet": "vegan"), whatever the questions now asked."""
    return {answer.question.field: answer.value for answer in response.answers}


class AnswersStranded(ValueError):
    """Answers to a question that the meeting would no longer ask (no question with its key on
    the other side); `labels` names those questions."""

    def __init__(self, labels: list[str]):
        super().__init__(", ".join(labels))
        self.labels = labels


def carry_answers(session: Session, meeting_id: int, asked: Sequence[Question], to_ask: Sequence[Question]) -> int:
    """Move the meeting's answers from the questions it asked to the ones it will ask, matched by
    key (diet, accessibility), when it joins or leaves a series; returns how many moved.

    Why: a session asks its series' questions, so answers given to the meeting's own would no
    longer show on its pages or exports. Answers to a question without a counterpart would be
    hidden: AnswersStranded is raised before anything moves.
    """
    by_key = {question.key: question.id for question in to_ask if question.key}
    move = {question.id: by_key.get(question.key or "") for question in asked}
    responses = select(Response.id).where(Response.meeting_id == meeting_id).scalar_subquery()
    answered = set(
        session.scalars(
            select(QuestionAnswer.question_id).where(
                QuestionAnswer.response_id.in_(responses),
                QuestionAnswer.question_id.in_(list(move)),
                QuestionAnswer.value.is_not(None),
            )
        )
    )
    stranded = [question.label_sv for question in asked if question.id in answered and move[question.id] is None]
    if stranded:
        raise AnswersStranded(stranded)
    moved = 0
    for old_id, new_id in move.items():
        if old_id in answered and new_id is not None:
            result = session.execute(
                update(QuestionAnswer)
                .where(QuestionAnswer.response_id.in_(responses), QuestionAnswer.question_id == old_id)
                .values(question_id=new_id)
            )
            moved += rowcount(result)
    return moved
