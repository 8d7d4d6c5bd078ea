"""What every staff handler shares: who is logged in, their language, and rendering a page.

The session cookie holds the account id, a fingerprint of its password hash
and the account's session generation: removing the account, changing its
password, logging out, or anything that calls `accounts.end_sessions` ends
every open session of the account at its next request, on the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, flash, g, render_template, request, session

from mailer.i18n import format_clock, format_when
from mailer.operations.heartbeat import worker_health
from mailer.staff.accounts import fingerprint, session_is_current
from mailer.staff.models import StaffUser
from mailer.staff.roles import allows
from mailer.web.extensions import db_of, settings_of, templates_of
from mailer.web.i18n import Words


@dataclass(frozen=True)
class SignedInStaff:
    id: int
    email: str
    name: str | None
    language: str
    role: str

    def can(self, needed: str) -> bool:
        """May this person do what needs the role `needed` (pages hide what they may not do)?"""
        return allows(self.role, needed)

    @property
    def actor(self) -> str:
        """How the audit log names this person."""
        return self.email


def db():
    return db_of(current_app)


def settings():
    return settings_of(current_app)


def templates():
    return templates_of(current_app)


def start_session(user: StaffUser) -> None:
    language = session.get("lang")
    session.clear()  # nothing from before the log-in survives it
    session.permanent = True
    session["staff"] = user.id
    session["staff_fp"] = fingerprint(user.password_hash)
    session["staff_gen"] = user.session_generation
    if language and not user.language:
        session["lang"] = language


def end_session() -> None:
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language


def load_signed_in_staff() -> SignedInStaff | None:
    """The logged-in account, or None (no session, removed or deactivated account, changed password).

    Read afresh on every request: a new role or a deactivation applies at the next click.
    """
    staff_id = session.get("staff")
    if not isinstance(staff_id, int):
        return None
    with db().reading() as db_session:
        user = db_session.get(StaffUser, staff_id)
        if (
            user is None
            or not user.active
            or not session_is_current(user, session.get("staff_fp"), session.get("staff_gen"))
        ):
            return None
        language = user.language or session.get("lang") or settings().language
        return SignedInStaff(user.id, user.email, user.name, language, user.role)


def signed_in_staff() -> SignedInStaff:
    return g.staff


def words() -> Words:
    if "staff_words" not in g:
        staff = g.get("staff")
        wanted = request.args.get("lang") or (staff.language if staff else session.get("lang")) or settings().language
        g.staff_words = Words(wanted, prefix="")
    return g.staff_words


def flash_translated(key: str, category: str = "ok", **values: Any) -> None:
    """A one-line message on the next page ("Sparat.")."""
    flash(words()(key, **values), category)


def worker_banner(staff_words: Words) -> str | None:
    """The banner every staff page shows while mail waits and the worker is silent (or None).

    Read before the handler runs (see the staff blueprint): a page rendered inside the handler's
    own write transaction could not open a second one on SQLite.
    """
    with db().transaction() as db_session:
        health = worker_health(db_session)
    if not health.stalled:
        return None
    if health.last_seen is None:
        return staff_words("worker_never_started")
    tz = settings().timezone
    same_day = health.last_seen.astimezone(tz).date() == health.now.astimezone(tz).date()
    when = (
        format_clock(health.last_seen, tz, staff_words.lang)
        if same_day
        else format_when(health.last_seen, None, tz, staff_words.lang)
    )
    return staff_words("worker_stalled", when=when)


def page(template: str, status: int = 200, **context: Any):
    staff_words = words()
    return render_template(
        f"staff/{template}",
        t=staff_words,
        lang=staff_words.lang,
        signed_in=g.get("staff"),
        worker_banner=g.get("worker_banner"),
        **context,
    ), status
