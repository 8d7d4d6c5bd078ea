"""What a template sees: plain dicts of strings, never ORM objects (the sandbox stays small)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import quote_plus

from mailer.config import Settings
from mailer.i18n import format_clock, format_day, format_when
from mailer.mail.tokens import TokenCodec
from mailer.meetings.models import Meeting, Series
from mailer.meetings.series import open_sessions


class Addressee(Protocol):
    """What composing a mail reads of its recipient: a Contact, a test person
    (contacts.models.TestPerson) or a batch's plain copy of a contact (outbox.batch.Recipient)."""

    @property
    def id(self) -> int | None: ...
    @property
    def email(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def language(self) -> str | None: ...
    @property
    def link_key(self) -> str: ...
    @property
    def memberships(self) -> Sequence[Any]: ...  # each with .organisation.name


def codec(settings: Settings) -> TokenCodec:
    return _codec(settings.secret_key, tuple(settings.old_secret_keys))


@functools.lru_cache(maxsize=8)
def _codec(secret_key: str, old_secret_keys: tuple[str, ...]) -> TokenCodec:
    """One codec per key set, so its serializers are made once per process, not per link."""
    return TokenCodec(secret_key, old_secret_keys)


def language_of(contact: Addressee | None, settings: Settings) -> str:
    return (contact.language if contact is not None else None) or settings.language


def meeting_context(meeting: Meeting, settings: Settings, lang: str) -> dict[str, Any]:
    tz = settings.timezone
    place = meeting.place
    return {
        "title": meeting.title,
        "host": meeting.host,
        "city": meeting.city,
        "venue": meeting.venue,
        "place": place,  # venue and city, the city once (Meeting.place)
        "region": meeting.region,
        "description": meeting.description,
        "when": format_when(meeting.starts_at, meeting.ends_at, tz, lang),
        "day": format_day(meeting.starts_at, tz, lang),
        "start_time": format_clock(meeting.starts_at, tz, lang),
        "end_time": format_clock(meeting.ends_at, tz, lang),
        "rsvp_by": format_day(meeting.rsvp_by, tz, lang) if meeting.rsvp_by else None,
        "map_url": f"https://www.openstreetmap.org/search?query={quote_plus(place)}" if place else None,
        "capacity": meeting.capacity,
    }


def series_context(series: Series, settings: Settings, lang: str) -> dict[str, Any]:
    """A series as its invitation shows it: the sessions still open, in time order."""
    return {
        "title": series.title,
        "description": series.description,
        "choice": series.choice.value,  # "one" or "several"
        "sessions": [meeting_context(meeting, settings, lang) for meeting in open_sessions(series)],
    }


def links(
    settings: Settings, contact: Addressee, meeting: Meeting | None, series: Series | None = None
) -> dict[str, str]:
    tokens = codec(settings)
    base = settings.base_url
    result = {"unsubscribe_url": f"{base}/u/{tokens.dumps('unsubscribe', contact.link_key)}"}
    if series is not None:
        result["series_url"] = f"{base}/s/{tokens.dumps('series', contact.link_key, series.link_key)}"
    if meeting is not None:
        rsvp = tokens.dumps("rsvp", contact.link_key, meeting.link_key)
        result.update(
            rsvp_url=f"{base}/r/{rsvp}",
            rsvp_yes_url=f"{base}/r/{rsvp}?answer=yes",
            rsvp_no_url=f"{base}/r/{rsvp}?answer=no",
            calendar_url=f"{base}/r/{rsvp}/calendar.ics",
            evaluation_url=f"{base}/e/{tokens.dumps('evaluation', contact.link_key, meeting.link_key)}",
        )
    return result


def recipient_context(
    settings: Settings,
    contact: Addressee,
    meeting: Meeting | None,
    organisations: list[str],
    first_message: bool,
    extra: dict[str, Any] | None = None,
    meeting_view: dict[str, Any] | None = None,
    series: Series | None = None,
    series_view: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything one recipient's message may print. `meeting_view` is meeting_context() for the
    recipient's language when the caller already has it (a sender makes it once per round); the
    same for `series_view` and series_context()."""
    lang = language_of(contact, settings)
    name = contact.name or ""
    context: dict[str, Any] = {
        "lang": lang,
        "sender": {"name": settings.mail_from.display_name, "email": settings.mail_from.addr_spec},
        "contact": {"name": name, "first_name": name.split(" ")[0] if name else "", "email": contact.email},
        "organisations": organisations,
        "first_message": first_message,
        **links(settings, contact, meeting, series),
    }
    if meeting is not None:
        context["meeting"] = meeting_view if meeting_view is not None else meeting_context(meeting, settings, lang)
    if series is not None:
        context["series"] = series_view if series_view is not None else series_context(series, settings, lang)
    if extra:
        context.update(extra)
    return context
