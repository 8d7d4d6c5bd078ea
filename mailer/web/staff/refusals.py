"""A domain refusal in the staff member's language: its code and parameters, else its (English) text."""

from __future__ import annotations

from mailer.campaigns.service import CampaignError
from mailer.mail.templates import MissingUnsubscribe
from mailer.meetings.service import MeetingError
from mailer.web.staff.common import words


def refusal(exc: Exception) -> str:
    t = words()
    if isinstance(exc, MissingUnsubscribe):
        return t("refusal_unsubscribe_missing", file=exc.template)
    code = getattr(exc, "code", None)
    if code and isinstance(exc, CampaignError):
        return t(f"refusal_{code}", **exc.params)
    if code and isinstance(exc, MeetingError):
        return t(f"meeting_refusal_{code}", **exc.params)
    return str(exc)
