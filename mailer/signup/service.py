"""Signing up from the public page: a pending request and its mail, then, confirmed, a contact with consent.

Double opt-in: submitting the form stores only a `SignupRequest` (expires after seven days)
and queues a confirmation mail to the address given. Only a POST of the confirmation page
(link scanners open every link, so a GET shows a button) creates or finds the contact,
records their consent (what they were shown, when, from where) and, for a meeting, gives
them a place through the answer's one owner (rsvp.answers.record_answer: capacity and
waitlist as for any "yes"). For a series the person becomes a contact with a consent record
naming the series ("registered interest"); choosing a session is the series invitation's work.

Whatever the address, the form's answer is the same: nobody learns from it whether an
address is known. A repeated request for the same address and page within ten minutes,
or more than three pending for an address, is answered the same way but sends no mail,
so the form cannot be used to flood someone's mailbox.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError
from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.config import Settings
from mailer.contacts.consent import ConsentRecord, LawfulBasis
from mailer.contacts.csvfile import normalise_email
from mailer.contacts.models import Contact, Membership, Organisation, Suppression, address_hash
from mailer.db import utcnow
from mailer.errors import NotFound
from mailer.mail.context import meeting_context
from mailer.meetings.models import Meeting, Series
from mailer.outbox.models import OutboxMessage
from mailer.rsvp.answers import AnswersClosed, Saved, answers_closed, record_answer
from mailer.rsvp.models import Answer, Response
from mailer.signup.models import SignupRequest
from mailer.translations import language_or_default, translate

REQUEST_DAYS = 7
CONSENT_TEXT_KEY = "public.signup.consent.v1"  # a new wording gets a new version: records keep the old one's key
OTHER = "other"  # the organisation field's "other organisation or none"
RESEND_AFTER = dt.timedelta(minutes=10)
MAX_PENDING_PER_ADDRESS = 3
LIMITS = {"name": 200, "email": 320}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
TEMPLATE = "signup_confirmation"


class SignupError(ValueError):
    """Invalid input: `field` names the form field, `reason` a stable code the page translates."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class Target:
    """What a sign-up page is for: one meeting, or a series of them."""

    meeting: Meeting | None
    series: Series | None

    @property
    def title(self) -> str:
        return self.meeting.title if self.meeting is not None else self.series.title  # type: ignore[union-attr]

    @property
    def purpose(self) -> str:
        if self.meeting is not None:
            return f"meeting:{self.meeting.slug}"
        return f"series:{self.series.slug}"  # type: ignore[union-attr]

    @property
    def closes_at(self) -> dt.datetime | None:
        """When staff close (or closed) the page; None: open until it closes by itself."""
        owner = self.meeting if self.meeting is not None else self.series
        return owner.signup_closes_at  # type: ignore[union-attr]

    def closed_reason(self, tz: ZoneInfo, now: dt.datetime | None = None) -> str | None:
        """Why the page takes no sign-ups, or None while it does: a meeting "cancelled", "started" or
        past its last day to answer ("deadline"); a series whose every session is one of those ("past";
        a series without sessions yet takes interest); or closed by staff, now or at a time they set
        ("closed")."""
        now = now or utcnow()
        if self.meeting is not None:
            if self.meeting.cancelled_at is not None:
                return "cancelled"
            if now >= self.meeting.starts_at:
                return "started"
            if answers_closed(self.meeting, tz, now):
                return "deadline"
        else:
            sessions = list(self.series.sessions)  # type: ignore[union-attr]
            if sessions and all(answers_closed(meeting, tz, now) for meeting in sessions):
                return "past"
        if self.closes_at is not None and self.closes_at <= now:
            return "closed"
        return None

    def closed(self, tz: ZoneInfo, now: dt.datetime | None = None) -> bool:
        return self.closed_reason(tz, now) is not None


@dataclass(frozen=True)
class Confirmed:
    contact: Contact
    target: Target
    language: str
    saved: Saved | None  # the meeting's answer; None for a series, or when answers had closed
    closed: bool


def find_target(session: Session, key: str) -> Target:
    """The meeting or series whose link key is in the page's address; NotFound for anything else."""
    meeting = session.scalar(select(Meeting).where(Meeting.link_key == key))
    if meeting is not None:
        return Target(meeting, None)
    series = session.scalar(select(Series).where(Series.link_key == key))
    if series is not None:
        return Target(None, series)
    raise NotFound("no_signup_page")


def organisations(session: Session) -> list[tuple[int, str]]:
    """The member organisations to choose from, by name."""
    return [
        (row.id, row.name)
        for row in session.execute(select(Organisation.id, Organisation.name).order_by(Organisation.name))
    ]


def consent_text(language: str, site: str) -> str:
    return translate(CONSENT_TEXT_KEY, language, site=site)


@dataclass(frozen=True)
class Where:
    """Where the form was shown and sent from (docs/signup.md: what is kept and why)."""

    page_url: str | None
    embedded_from: str | None
    network: str | None


def _text(form: Mapping[str, str | None], name: str) -> str:
    value = _CONTROL.sub("", form.get(name) or "").strip()
    if len(value) > LIMITS[name]:
        raise SignupError(name, "too_long")
    return value


def parse_form(session: Session, form: Mapping[str, str | None]) -> dict[str, object]:
    """The form's values checked, the first problem raised as SignupError; writes nothing."""
    name = _text(form, "name")
    if not name:
        raise SignupError("name", "required")
    raw_email = _text(form, "email")
    if not raw_email:
        raise SignupError("email", "required")
    try:
        email = normalise_email(raw_email)
    except (EmailNotValidError, ValueError):
        raise SignupError("email", "invalid") from None
    choice = (form.get("organisation") or "").strip()
    organisation_id = None
    if choice != OTHER:
        if not (choice.isascii() and choice.isdigit() and len(choice) < 10):
            raise SignupError("organisation", "required")
        organisation_id = session.scalar(select(Organisation.id).where(Organisation.id == int(choice)))
        if organisation_id is None:
            raise SignupError("organisation", "required")
    if (form.get("consent") or "") != "yes":
        raise SignupError("consent", "required")
    return {"name": name, "email": email, "organisation_id": organisation_id}


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("ascii", "replace")).hexdigest()


def request_signup(
    session: Session,
    settings: Settings,
    target: Target,
    form: Mapping[str, str | None],
    language: str,
    where: Where,
    now: dt.datetime | None = None,
) -> bool:
    """Store the pending request and queue its confirmation mail; raises SignupError for bad input.

    Returns whether a mail was queued (False: a repeat within RESEND_AFTER, or too many pending
    for the address). Callers answer the same either way.
    """
    now = now or utcnow()
    values = parse_form(session, form)
    email = str(values["email"])
    language = language_or_default(language)
    pending = list(
        session.scalars(select(SignupRequest).where(SignupRequest.email == email, SignupRequest.expires_at > now))
    )
    same_page = [request for request in pending if (request.meeting_id, request.series_id) == _ids(target)]
    if any(request.created_at > now - RESEND_AFTER for request in same_page) or len(pending) >= MAX_PENDING_PER_ADDRESS:
        return False
    for earlier in same_page:  # the newest request for a page replaces the ones before it
        session.delete(earlier)
    key = secrets.token_urlsafe(32)
    site = settings.mail_from.display_name or settings.mail_from.addr_spec
    request = SignupRequest(
        key_hash=_key_hash(key),
        meeting_id=_ids(target)[0],
        series_id=_ids(target)[1],
        email=email,
        name=str(values["name"]),
        organisation_id=values["organisation_id"],
        language=language,
        text_key=CONSENT_TEXT_KEY,
        text=consent_text(language, site),
        page_url=where.page_url,
        embedded_from=where.embedded_from,
        requested_from=where.network,
        created_at=now,
        expires_at=now + dt.timedelta(days=REQUEST_DAYS),
    )
    session.add(request)
    session.add(
        OutboxMessage(
            template=TEMPLATE,
            to_email=email,
            extra=_mail_context(settings, target, request, f"{settings.base_url}/signup/confirm/{key}"),
            next_attempt_at=now,
        )
    )
    session.flush()
    return True


def _ids(target: Target) -> tuple[int | None, int | None]:
    return (
        target.meeting.id if target.meeting is not None else None,
        target.series.id if target.series is not None else None,
    )


def _mail_context(settings: Settings, target: Target, request: SignupRequest, confirm_url: str) -> dict[str, object]:
    """Fixed when queued: the mail goes to an address that is nobody's contact yet."""
    lang = request.language
    signup: dict[str, object] = {
        "name": request.name,
        "title": target.title,
        "confirm_url": confirm_url,
        "kind": "meeting" if target.meeting is not None else "series",
        "days": REQUEST_DAYS,
    }
    if target.meeting is not None:
        view = meeting_context(target.meeting, settings, lang)
        signup.update(when=view["when"], city=target.meeting.city)
    return {
        "lang": lang,
        "signup": signup,
        "sender": {"name": settings.mail_from.display_name, "email": settings.mail_from.addr_spec},
    }


def pending(session: Session, key: str, now: dt.datetime | None = None) -> SignupRequest:
    """The unexpired request a confirmation link names; NotFound when used, expired or unknown."""
    request = session.scalar(select(SignupRequest).where(SignupRequest.key_hash == _key_hash(key)))
    if request is None or request.expires_at <= (now or utcnow()):
        raise NotFound("signup_link")
    return request


def confirm(
    session: Session, settings: Settings, key: str, network: str | None, now: dt.datetime | None = None
) -> Confirmed:
    """The person confirmed from their mailbox: contact, consent record, and for a meeting a place."""
    now = now or utcnow()
    request = pending(session, key, now)
    target = Target(request.meeting, request.series)
    contact = _contact(session, request)
    _lift_suppression(session, contact.email)
    session.add(
        ConsentRecord(
            contact_id=contact.id,
            basis=LawfulBasis.CONSENT,
            organisation_id=request.organisation_id,
            text_key=request.text_key,
            text=request.text,
            language=request.language,
            purpose=target.purpose,
            page_url=request.page_url,
            embedded_from=request.embedded_from,
            requested_from=request.requested_from,
            confirmed_from=network,
            given_at=request.created_at,
            confirmed_at=now,
        )
    )
    saved, closed = None, False
    if target.meeting is not None:
        saved, closed = _register(session, settings.timezone, contact, target.meeting, now)
    record(session, "signup", "signup.confirmed", f"contact:{contact.id}", purpose=target.purpose)
    language = request.language
    session.delete(request)
    session.flush()
    return Confirmed(contact, target, language, saved, closed)


def _contact(session: Session, request: SignupRequest) -> Contact:
    """The contact with this address, made now if there is none; a known person's details stay as they are."""
    assert request.email is not None
    contact = session.scalar(select(Contact).where(Contact.email == request.email))
    if contact is None:
        contact = Contact(email=request.email, name=request.name, language=request.language)
        session.add(contact)
        session.flush()
    elif contact.language is None:
        contact.language = request.language
    if (
        request.organisation_id is not None
        and session.get(Membership, {"contact_id": contact.id, "organisation_id": request.organisation_id}) is None
    ):
        session.add(Membership(contact_id=contact.id, organisation_id=request.organisation_id, name=request.name))
        session.flush()
    return contact


def _lift_suppression(session: Session, email: str) -> None:
    """They just proved they read this mailbox and asked to be mailed: an earlier unsubscription,
    bounce or erasure of the address no longer stands against their own new consent."""
    session.execute(delete(Suppression).where(Suppression.address_hash == address_hash(email)))


def _register(
    session: Session, tz: ZoneInfo, contact: Contact, meeting: Meeting, now: dt.datetime
) -> tuple[Saved | None, bool]:
    """A "yes" through the answer's one owner; someone who already said yes keeps their answer.

    The sign-up form does not ask the meeting's questions: the yes is taken without them, and the
    person answers them on their answer page, /r/<token>.
    """
    current = session.scalar(
        select(Response).where(Response.meeting_id == meeting.id, Response.contact_id == contact.id)
    )
    if current is not None and current.answer is Answer.YES:
        return Saved(current.id, current.answer, current.guests, current.waitlisted), False
    try:
        return record_answer(session, contact, meeting, {"answer": "yes"}, tz, now, require_questions=False), False
    except AnswersClosed:
        return None, True


def delete_expired(session: Session, now: dt.datetime | None = None) -> int:
    """Unconfirmed requests past their seven days are deleted (the worker's daily retention job)."""
    result = cast(
        CursorResult[Any], session.execute(delete(SignupRequest).where(SignupRequest.expires_at <= (now or utcnow())))
    )
    return int(result.rowcount or 0)


def pending_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(SignupRequest)) or 0)
