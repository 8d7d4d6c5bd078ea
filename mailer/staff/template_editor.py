"""Editing the email templates in the browser: read, preview unsaved text, save only what renders.

Before a file is saved, every template in both languages is rendered with the
edited text in place, with sample data for each kind of mail (and each branch
a confirmation can take). A template with an error is therefore never
written: the error, with its file and line, is shown instead. Nor is one whose
mail to members would lose the unsubscribe link (and the notice beside it). Files are
written to `settings.templates_path` (the checkout's templates/email/), which
the running app and the worker read on their next render.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.config import LANGUAGES, Settings
from mailer.db import Database, utcnow
from mailer.digest.build import current_period, digest_context
from mailer.mail.compose import made_up_contact
from mailer.mail.context import meeting_context, recipient_context
from mailer.mail.replies import explain_status
from mailer.mail.sandbox import render_work
from mailer.mail.templates import (
    RECIPIENT_TEMPLATES,
    TEMPLATE_NAMES,
    EmailTemplates,
    Rendered,
    TemplateProblem,
    packaged_templates_path,
)
from mailer.meetings.models import Meeting, Series, SeriesChoice

NAME = re.compile(r"^(?:(sv|en)/)?([a-z_]+)\.(html|txt)$")
CONFIRMATIONS = (
    {"answer": "yes", "guests": 1, "waitlisted": False, "promoted": False},
    {"answer": "yes", "guests": 0, "waitlisted": True, "promoted": False},
    {"answer": "yes", "guests": 1, "waitlisted": True, "promoted": False, "places_left": 1},
    {"answer": "yes", "guests": 0, "waitlisted": False, "promoted": True},
    {"answer": "no", "guests": 0, "waitlisted": False, "promoted": False},
)


class NotEditable(LookupError):
    """Not one of the template files (or no folder to save edited templates in)."""


def _roots(settings: Settings) -> list[Path]:
    return [path for path in (settings.templates_path, packaged_templates_path()) if path is not None and path.is_dir()]


def template_files(settings: Settings) -> list[str]:
    """Relative names such as "sv/invitation.html", shared files first, then by language."""
    names = {
        str(path.relative_to(root))
        for root in _roots(settings)
        for path in root.rglob("*")
        if path.is_file() and NAME.match(str(path.relative_to(root)))
    }
    return sorted(names, key=lambda name: (name.count("/"), name))


def read_template(settings: Settings, name: str) -> str:
    if name not in template_files(settings):
        raise NotEditable(name)
    for root in _roots(settings):
        if (root / name).is_file():
            return (root / name).read_text(encoding="utf-8")
    raise NotEditable(name)


def shown_as(name: str, settings: Settings) -> tuple[str, str]:
    """The (template, language) to preview for a file: shared parts show in an invitation."""
    match = NAME.match(name)
    if match is None:
        raise NotEditable(name)
    language, stem = match.group(1) or settings.language, match.group(2)
    return (stem if stem in TEMPLATE_NAMES else "invitation"), language


def sample_meeting(settings: Settings, now: dt.datetime | None = None) -> Meeting:
    """A meeting a month ahead, never stored: previews work before any meeting exists."""
    day = ((now or utcnow()).astimezone(settings.timezone) + dt.timedelta(days=30)).date()
    starts = dt.datetime.combine(day, dt.time(18, 0), settings.timezone)
    return Meeting(
        slug="exempel",
        link_key="sample-meeting-key",
        title="Dialogträff med Region Exempel",
        region="Exempelregionen",
        host="Region Exempel",
        city="Exempelstad",
        venue="Kulturhuset, Storgatan 1, Exempelstad",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        capacity=40,
        max_guests=1,
        rsvp_by=day - dt.timedelta(days=7),
        description="Två timmar en vardagskväll.",
    )


def sample_series(settings: Settings, now: dt.datetime | None = None) -> Series:
    """A series of two sample sessions, never stored: previews of the series mails."""
    first, second = sample_meeting(settings, now), sample_meeting(settings, now)
    second.slug, second.link_key, second.city = "exempel-2", "sample-meeting-key-2", "Andra staden"
    second.starts_at += dt.timedelta(days=7)
    second.ends_at += dt.timedelta(days=7)
    return Series(
        slug="exempelserie",
        link_key="sample-series-key",
        title="Utbildning i kulturpolitik",
        description="Fem tillfällen i fem regioner.",
        choice=SeriesChoice.ONE,
        sessions=[first, second],
    )


def _contexts(session: Session, settings: Settings, template: str, language: str) -> list[dict]:
    """Sample data for one kind of mail, one context per branch worth checking."""
    if template == "digest":
        context = digest_context(session, settings, *current_period(session))
        return [context | {"lang": language}]
    if template == "org_report":
        entry = {"email": "anna@example.org", "since": "2027-01-15", "detail": "550 mailbox unavailable"}
        return [
            {
                "lang": language,
                "sender": {"name": settings.mail_from.display_name, "email": settings.mail_from.addr_spec},
                "report": {
                    "slug": "exempelforbundet",
                    "name": "Exempelförbundet",
                    "contact_email": None,
                    "contacts": 84,
                    "unsubscribed": [entry],
                    "bounced": [entry | {"status": "5.1.1", "explanation": explain_status("5.1.1", language)}],
                    "soft_bounced": [
                        {
                            "email": "bo@example.org",
                            "since": "2027-01-20",
                            "status": "5.2.2",
                            "explanation": explain_status("5.2.2", language),
                            "count": 1,
                        }
                    ],
                    "rejected": [
                        {"file": "exempel.csv", "line": 12, "value": "anna.example.org", "reason": "bad address"}
                    ],
                },
            }
        ]
    if template == "signup_confirmation":
        sender = {"name": settings.mail_from.display_name, "email": settings.mail_from.addr_spec}
        signup = {
            "name": "Anna Andersson",
            "title": "Dialogträff med Region Exempel",
            "days": 7,
            "confirm_url": f"{settings.base_url}/signup/confirm/sample-key",
        }
        when = meeting_context(sample_meeting(settings), settings, language)["when"]
        return [
            {
                "lang": language,
                "sender": sender,
                "signup": signup | {"kind": "meeting", "when": when, "city": "Exempelstad"},
            },
            {"lang": language, "sender": sender, "signup": signup | {"kind": "series"}},
        ]
    meeting = sample_meeting(settings)
    contact = made_up_contact(language)
    if template.startswith("series_"):
        series = sample_series(settings)
        return [
            recipient_context(settings, contact, None, ["Exempelförbundet"], first, series=series)
            for first in (True, False)
        ]
    extras: list[dict[str, object]] = [{}]
    if template == "confirmation":
        extras = [{"response": response} for response in CONFIRMATIONS]
    elif template == "meeting_update":
        earlier = "tisdag 1 september kl. 18.00–20.00" if language == "sv" else "Tuesday 1 September, 6–8 pm"
        extras = [
            {
                "change": {"when_before": earlier, "place_before": "Stadsbiblioteket, Exempelstad"},
                "response": {"waitlisted": False},
            },
            {"change": {"when_before": None, "place_before": None}, "response": {"waitlisted": True}},
        ]
    elif template == "meeting_cancelled":
        extras = [{"response": {"waitlisted": False}}]
    return [
        recipient_context(settings, contact, meeting, ["Exempelförbundet"], first, extra)
        for extra in extras
        for first in (True, False)
    ]


@contextmanager
def _edited(settings: Settings, name: str, text: str) -> Iterator[EmailTemplates]:
    """Templates as they would be after the edit, in a scratch copy of the folder.

    A real folder rather than an in-memory loader, so that an error in the
    edited file is reported with its name and line like any other.
    """
    source = settings.templates_path or packaged_templates_path()
    with tempfile.TemporaryDirectory(prefix="mailer-template-") as scratch:
        folder = Path(scratch) / "email"
        shutil.copytree(source, folder)
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
        yield EmailTemplates(folder, settings.max_message_bytes)


def preview(session: Session, settings: Settings, name: str, text: str) -> Rendered:
    """The file's text (saved or not) rendered as a recipient would see it; raises TemplateProblem."""
    template, language = shown_as(name, settings)
    with _edited(settings, name, text) as templates:
        return templates.render(template, language, _contexts(session, settings, template, language)[0])


def check_all(session: Session, settings: Settings, name: str, text: str) -> None:
    """Render every template, both languages, every sample branch, with the edit in place: under
    one work budget (mailer.mail.sandbox), so a slow template holds a thread for seconds, not for
    seconds times the fifty renders."""
    with _edited(settings, name, text) as templates, render_work(settings.max_message_bytes):
        for template in TEMPLATE_NAMES:
            for language in LANGUAGES:
                for context in _contexts(session, settings, template, language):
                    rendered = templates.render(template, language, context)
                    if template in RECIPIENT_TEMPLATES:
                        templates.require_unsubscribe(template, language, rendered, context["unsubscribe_url"])


def save_template(db: Database, settings: Settings, live: EmailTemplates, actor: str, name: str, text: str) -> Path:
    """Write the file only if everything still renders, with the unsubscribe link in every mail to
    members; raises TemplateProblem (MissingUnsubscribe for a lost link) or NotEditable.

    Every template is rendered in a read-only session (sample data from the database),
    and only the audit entry is written in a transaction of its own: rendering never
    holds SQLite's write lock.
    """
    if name not in template_files(settings):
        raise NotEditable(name)
    if settings.templates_path is None:
        raise NotEditable("no folder for edited templates: set MAILER_TEMPLATES_PATH")
    text = text.replace("\r\n", "\n")
    with db.reading() as session:
        check_all(session, settings, name, text)
    path = settings.templates_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    if live.env.cache is not None:
        live.env.cache.clear()  # the next render reads the new file
    with db.transaction() as session:
        record(session, actor, "templates.save", f"template:{name}", characters=len(text))
    return path


__all__ = [
    "NotEditable",
    "TemplateProblem",
    "check_all",
    "preview",
    "read_template",
    "save_template",
    "shown_as",
    "template_files",
]
