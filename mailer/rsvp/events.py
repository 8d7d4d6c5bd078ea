"""The answer.changed webhook event: a person's answer to a meeting, as it stands after the change."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from mailer.contacts.events import contact_data
from mailer.contacts.models import Contact
from mailer.meetings.events import meeting_data
from mailer.meetings.models import Meeting
from mailer.rsvp.models import Response
from mailer.rsvp.questions import described_answers
from mailer.webhooks import ANSWER_CHANGED
from mailer.webhooks.events import emit


def answer_data(response: Response) -> dict[str, Any]:
    return {
        "answer": response.answer.value,
        "guests": response.guests,
        "waitlisted": response.waitlisted,
        "answers": described_answers(response),
        "comment": response.comment,
        "updated_at": response.updated_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        if response.updated_at
        else None,
    }


def answer_changed(session: Session, response_id: int, contact_id: int, meeting_id: int, change: str) -> int:
    """Queue answer.changed; `change` is "answered" (the person's own answer) or "promoted" (off the waitlist)."""

    def payload() -> dict[str, Any]:
        response = session.get(Response, response_id, populate_existing=True)
        contact, meeting = session.get(Contact, contact_id), session.get(Meeting, meeting_id)
        assert response is not None and contact is not None and meeting is not None
        return {
            "change": change,
            "answer": answer_data(response),
            "contact": contact_data(session, contact),
            "meeting": meeting_data(meeting),
        }

    return emit(session, ANSWER_CHANGED, payload, contact_id=contact_id, meeting_id=meeting_id)
