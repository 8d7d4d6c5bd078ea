"""The fast path for mail to contacts: the MIME skeleton once, only per-recipient parts per message.

Why: `compose()` builds an EmailMessage and flattens it, which costs about 2 ms a message
(every header is parsed into an object and refolded, every body QP-encoded in pure Python,
the calendar entry rebuilt by icalendar): a 20,000-recipient round would be bound by the
email object model, not by the mail server. Here the constant parts are built once per
template, meeting, language and header policy, by compose() itself, and only what differs per
recipient is made per message: the text and HTML (rendered once per kind of recipient where
the templates allow, see prerender.py), the folded To, Subject, Date, Message-ID and
List-Unsubscribe headers, and the calendar entry's link and time stamp.

Exactness: every message is byte for byte what `compose()` + `as_bytes()` builds, apart
from the Date header, the calendar's DTSTAMP (both the current time) and the MIME boundaries
(random in compose(), fixed here per skeleton). Each skeleton is checked against compose()'s
output for its first recipient before it is used, and anything unusual (an address that needs
a different header policy than the skeleton's, a link with characters the calendar escapes, a
template error) returns None, and the caller uses compose() for that message.
"""

from __future__ import annotations

import logging
import re
from email.generator import Generator
from email.utils import format_datetime
from typing import Any

from mailer.config import Settings
from mailer.contacts.models import Contact
from mailer.db import utcnow
from mailer.mail.context import language_of, links, meeting_context, recipient_context
from mailer.mail.message import flatten, one_line, policy_for, recipient_address
from mailer.mail.templates import EmailTemplates
from mailer.meetings.models import Meeting
from mailer.outbox.compose import compose, organisation_names, wants_calendar
from mailer.outbox.prerender import Prerender, finish, only_printed, personal_names
from mailer.outbox.mimeparts import (
    CalendarTemplate, Skeleton, attachment_body, cut, fold_header, qp_body, raw_header,
)

log = logging.getLogger(__name__)

DISABLED = object()


class FastComposer:
    """Builds the messages of one template and meeting; `build()` returns None for the slow path."""

    def __init__(self, settings: Settings, templates: EmailTemplates, template: str, meeting: Meeting | None):
        self.settings, self.templates, self.template, self.meeting = settings, templates, template, meeting
        self.calendar = CalendarTemplate(meeting, settings) if meeting is not None else None
        self.skeletons: dict[tuple, Skeleton | object] = {}
        self.languages: dict[str, tuple] = {}
        self.subjects: dict[tuple[str, bool], bytes] = {}
        self.prerenders: dict[str, Prerender | None] = {}
        self.fast = self.slow = 0
        # The same environment without a file-system check per template per render (eight stat()
        # calls a message, with base and footer); up_to_date() checks once per batch instead.
        self.env = templates.env.overlay(auto_reload=False)

    def up_to_date(self) -> bool:
        """False once a staff member edited one of the templates this composer has loaded."""
        return all(template.is_up_to_date for template in self.env.cache.values())

    # -- per language: the templates and the meeting as the templates see it ------------------------
    def _language(self, lang: str) -> tuple:
        if lang not in self.languages:
            text_name, html_name = self.templates.names(self.template, lang)
            env = self.env
            meeting = meeting_context(self.meeting, self.settings, lang) if self.meeting is not None else None
            self.languages[lang] = (env.get_template(text_name), env.get_template(html_name), meeting)
        return self.languages[lang]

    def context(self, contact: Contact, organisations: list[str], first_message: bool,
                extra: dict[str, Any] | None) -> dict[str, Any]:
        """recipient_context() with the meeting's part computed once (checked equal in `_check_context`)."""
        lang = language_of(contact, self.settings)
        name = contact.name or ""
        context: dict[str, Any] = {
            "lang": lang,
            "sender": {"name": self.settings.mail_from.display_name, "email": self.settings.mail_from.addr_spec},
            "contact": {"name": name, "first_name": name.split(" ")[0] if name else "", "email": contact.email},
            "organisations": organisations,
            "first_message": first_message,
            **links(self.settings, contact, self.meeting),
        }
        if self.meeting is not None:
            context["meeting"] = self._language(lang)[2]
        if extra:
            context.update(extra)
        return context

    def _render(self, lang: str, context: dict[str, Any]) -> tuple[str, str, str] | None:
        """What EmailTemplates.render does, once per kind of recipient where the templates allow."""
        if lang not in self.prerenders:
            text_name, html_name = self.templates.names(self.template, lang)
            personal = personal_names(context)
            self.prerenders[lang] = Prerender(lambda c: self._render_raw(lang, c), personal) \
                if only_printed(self.env, [text_name, html_name], set(personal), lang) else None
        prerender = self.prerenders[lang]
        if prerender is not None and (rendered := prerender(context)) is not None:
            return rendered
        raw = self._render_raw(lang, context)
        return finish(*raw) if raw is not None else None

    def _render_raw(self, lang: str, context: dict[str, Any]) -> tuple[str, str, str] | None:
        """The subject block and text as Jinja writes them and the finished HTML; None for no subject."""
        text_template, html_template, _ = self._language(lang)
        subject = ""
        if "subject" in text_template.blocks:
            subject = "".join(text_template.blocks["subject"](text_template.new_context(dict(context))))
        if not subject.split():
            return None
        html = html_template.render(context, subject=" ".join(subject.split()))
        return subject, text_template.render(context), self.templates._inliner.inline(html)

    # -- per message ------------------------------------------------------------------------------
    def build(self, contact: Contact, first_message: bool, message_id: str,
              extra: dict[str, Any] | None = None) -> bytes | None:
        """The message's bytes, or None when this message must go through compose()."""
        try:
            built = self._build(contact, organisation_names(contact), first_message, message_id, extra)
        except Exception as exc:  # the slow path reports template and data problems properly
            log.debug("fast path declined message %s: %s", message_id, exc)
            built = None
        if built is None:
            self.slow += 1
        else:
            self.fast += 1
        return built

    def _build(self, contact, organisations, first_message, message_id, extra) -> bytes | None:
        context = self.context(contact, organisations, first_message, extra)
        lang = context["lang"]
        rendered = self._render(lang, context)
        if rendered is None:
            return None
        subject, text, html = rendered
        to = str(recipient_address(contact.name, contact.email))
        policy = policy_for(contact.email)
        now = utcnow()
        date, dtstamp = format_datetime(now), now.strftime("%Y%m%dT%H%M%SZ")
        cte, calendar = None, None
        if self.calendar is not None and wants_calendar(self.template, extra):
            ics = self.calendar.render(context["rsvp_url"], dtstamp)
            if ics is None:
                return None
            cte, calendar = attachment_body(ics)
        key = (lang, policy.utf8, cte)
        parts = self._parts(to, subject, date, message_id, context["unsubscribe_url"], text, html, calendar, policy)
        skeleton = self.skeletons.get(key)
        if skeleton is None:
            return self._make_skeleton(key, parts, contact, organisations, first_message, message_id, extra, dtstamp)
        if skeleton is DISABLED or (calendar is not None and any(b in calendar for b in skeleton.boundaries)):
            return None
        return skeleton.fill(parts)

    def _parts(self, to, subject, date, message_id, unsubscribe_url, text, html, calendar, policy) -> dict[str, bytes]:
        subject_key = (subject, policy.utf8)
        if subject_key not in self.subjects:
            self.subjects[subject_key] = fold_header("Subject", one_line(subject), policy)
        parts = {
            "to": fold_header("To", to, policy),
            "subject": self.subjects[subject_key],
            "date": fold_header("Date", date, policy),
            "message-id": fold_header("Message-ID", message_id, policy),
            "list-unsubscribe": raw_header("List-Unsubscribe", f"<{unsubscribe_url}>"),
            "text": qp_body(text),
            "html": qp_body(html),
        }
        if calendar is not None:
            parts["calendar"] = calendar
        return parts

    # -- the skeleton, made from compose()'s own message and checked against it ---------------------
    def _make_skeleton(self, key, parts, contact, organisations, first_message, message_id, extra, dtstamp):
        message = compose(self.settings, self.templates, template=self.template, contact=contact,
                          meeting=self.meeting, first_message=first_message, message_id=message_id, extra=extra)
        boundaries = []
        for part in message.walk():
            if part.is_multipart():
                boundary = Generator._make_boundary()
                part.set_boundary(boundary)
                boundaries.append(b"--" + boundary.encode("ascii"))
        policy = policy_for(message["To"].addresses[0].addr_spec)
        flat = flatten(message)
        self.skeletons[key] = DISABLED
        if not self._same_context(contact, organisations, first_message, extra):
            log.warning("fast path off for %s: its template context differs from recipient_context()", self.template)
            return flat
        # compose() read the clock itself: take its Date and DTSTAMP for the comparison.
        parts = dict(parts, date=fold_header("Date", str(message["Date"]), policy))
        stamp = re.search(rb"\r\nDTSTAMP:(\d{8}T\d{6}Z)\r\n", flat)
        if "calendar" in parts and stamp:
            url = self.context(contact, organisations, first_message, extra)["rsvp_url"]
            parts["calendar"] = attachment_body(self.calendar.render(url, stamp.group(1).decode()))[1]
        bodies = [(name, parts[name]) for name in ("text", "html", "calendar") if name in parts]
        headers = {name.encode(): parts[name] for name in ("to", "subject", "date", "message-id", "list-unsubscribe")}
        pieces = cut(flat, headers, bodies)
        skeleton = Skeleton(pieces, boundaries) if pieces is not None else None
        if skeleton is None or skeleton.fill(parts) != flat:
            log.warning("fast path off for %s (%s): its skeleton does not rebuild compose()'s message", self.template, key)
        else:
            self.skeletons[key] = skeleton
        return flat

    def _same_context(self, contact, organisations, first_message, extra) -> bool:
        """The fast path stays off unless `context()` is exactly what recipient_context() builds."""
        slow = recipient_context(self.settings, contact, self.meeting, organisations, first_message, extra)
        return slow == self.context(contact, organisations, first_message, extra)
