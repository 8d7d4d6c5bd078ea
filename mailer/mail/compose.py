"""Turning one recipient and one template into the exact bytes that are sent.

Preview, test sends and the real send all go through `Composer.compose`, so what staff
preview is what recipients get. A sender keeps one Composer per template and meeting for
a batch: what is the same for every recipient (the template files, the meeting as the
templates see it, the calendar entry, the encoded From and Subject) is made once; each
message costs its rendering, its links and its encoding.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from mailer.config import Settings
from mailer.contacts.models import Contact
from mailer.mail.context import Addressee, language_of, meeting_context, recipient_context, series_context
from mailer.mail.ics import MeetingCalendar
from mailer.mail.message import Attachment, build_message
from mailer.mail.templates import STAFF_TEMPLATES, EmailTemplates, Loaded, Rendered  # noqa: F401  (re-exported)
from mailer.meetings.models import Meeting, Series


def made_up_contact(language: str | None = None) -> Contact:
    """Stands in for a recipient when an audience is still empty (previews, template checks)."""
    return Contact(
        id=0,
        email="anna.andersson@example.org",
        name="Anna Andersson",
        link_key="sample-preview-key",
        language=language,
    )


def organisation_names(contact: Addressee) -> list[str]:
    """A made-up person without organisations reads as from an example one."""
    names = sorted(membership.organisation.name for membership in contact.memberships)
    return names if names or contact.id else ["Exempelförbundet"]


def wants_calendar(template: str, extra: dict[str, Any] | None) -> bool:
    if template in ("invitation", "meeting_update", "meeting_cancelled"):
        return True
    response = (extra or {}).get("response") or {}
    return template == "confirmation" and response.get("answer") == "yes" and not response.get("waitlisted")


def template_file(template: str, series: Series | None) -> str:
    """A round to a series uses the series' own file: "invitation" -> "series_invitation"."""
    return f"series_{template}" if series is not None else template


class Composer:
    """The messages of one template (and meeting, or series) to contacts."""

    def __init__(
        self,
        settings: Settings,
        templates: EmailTemplates,
        template: str,
        meeting: Meeting | None,
        series: Series | None = None,
    ):
        self.settings, self.templates, self.meeting, self.series = settings, templates, meeting, series
        self.template = template_file(template, series)
        self.calendar = MeetingCalendar(meeting, settings) if meeting is not None else None
        self._languages: dict[str, tuple[Loaded, dict[str, Any] | None, dict[str, Any] | None]] = {}

    def _language(self, lang: str) -> tuple[Loaded, dict[str, Any] | None, dict[str, Any] | None]:
        if lang not in self._languages:
            view = meeting_context(self.meeting, self.settings, lang) if self.meeting is not None else None
            series = series_context(self.series, self.settings, lang) if self.series is not None else None
            self._languages[lang] = (self.templates.load(self.template, lang), view, series)
        return self._languages[lang]

    def render(
        self, contact: Addressee, first_message: bool, extra: dict[str, Any] | None = None
    ) -> tuple[Rendered, dict[str, Any]]:
        """The recipient's subject, text and HTML, and the context they were rendered with."""
        loaded, view, series_view = self._language(language_of(contact, self.settings))
        context = recipient_context(
            self.settings,
            contact,
            self.meeting,
            organisation_names(contact),
            first_message,
            extra,
            meeting_view=view,
            series=self.series,
            series_view=series_view,
        )
        return self.templates.render_loaded(loaded, context), context

    def compose(
        self,
        contact: Addressee,
        first_message: bool,
        message_id: str,
        extra: dict[str, Any] | None = None,
        to_email: str | None = None,
        subject_prefix: str = "",
        now: dt.datetime | None = None,
    ) -> bytes:
        """The message's bytes (raises TemplateProblem, or ValueError for an address or link)."""
        rendered, context = self.render(contact, first_message, extra)
        if subject_prefix:
            rendered = Rendered(subject_prefix + rendered.subject, rendered.text, rendered.html)
        attachments: tuple[Attachment, ...] = ()
        if self.calendar is not None and wants_calendar(self.template, extra):
            name = "traff.ics" if context["lang"] == "sv" else "meeting.ics"
            attachments = (Attachment(name, "text", "calendar", self.calendar.for_link(context.get("rsvp_url"))),)
        return build_message(
            rendered,
            self.settings.mail_from,
            contact.name,
            to_email or contact.email,
            message_id,
            unsubscribe_url=context["unsubscribe_url"],
            attachments=attachments,
            now=now,
        )


def compose(
    settings: Settings,
    templates: EmailTemplates,
    *,
    template: str,
    contact: Addressee,
    meeting: Meeting | None,
    first_message: bool,
    message_id: str,
    extra: dict[str, Any] | None = None,
    to_email: str | None = None,
    subject_prefix: str = "",
    series: Series | None = None,
) -> bytes:
    """One message (previews, test sends, template checks): a Composer for one recipient."""
    return Composer(settings, templates, template, meeting, series).compose(
        contact, first_message, message_id, extra, to_email=to_email, subject_prefix=subject_prefix
    )


def compose_staff(
    settings: Settings,
    templates: EmailTemplates,
    *,
    template: str,
    to_email: str,
    context: dict[str, Any],
    message_id: str,
) -> bytes:
    """Mail to staff or to an organisation's office: the context was fixed when it was queued."""
    rendered = templates.render(template, context.get("lang", settings.language), context)
    return build_message(rendered, settings.mail_from, None, to_email, message_id)
