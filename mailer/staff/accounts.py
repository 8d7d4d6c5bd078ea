"""Staff accounts: adding, listing, removing, passwords and one-time set-password links.

Passwords are stored only as slow scrypt hashes (Werkzeug). A set-password link
is signed, expires, and carries a fingerprint of the current password hash, so
it stops working the moment it has been used (the hash changes) and a link
sent before a password change cannot undo that change.
"""

from __future__ import annotations

import functools
import hashlib
import secrets

from email_validator import EmailNotValidError
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from mailer.contacts.csvfile import normalise_email
from mailer.db import utcnow
from mailer.errors import DomainError
from mailer.staff.models import StaffUser
from mailer.staff.roles import ADMIN, STAFF, parse_role

PASSWORD_MIN = 10
PASSWORD_MAX = 200
LINK_MAX_AGE = 3 * 24 * 3600  # seconds: long enough to reach someone back from a weekend
HASH_METHOD = "scrypt"


class StaffError(DomainError, ValueError):
    """Bad input for an account; `reason` (the code) is what the pages and the CLI translate."""

    prefix = "error.staff."

    @property
    def reason(self) -> str:
        return self.code


class BadLink(Exception):
    """A set-password link that is tampered with, expired, already used or for a removed account."""


def normalised(email: str) -> str:
    try:
        return normalise_email(email)
    except (EmailNotValidError, ValueError) as exc:
        raise StaffError("email", email=email, detail=str(exc)) from None


def fingerprint(password_hash: str | None) -> str:
    """Changes whenever the password changes: set-password links and sessions are bound to it."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:20]


def check_password_rules(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise StaffError("too_short", n=PASSWORD_MIN)
    if len(password) > PASSWORD_MAX:
        raise StaffError("too_long", n=PASSWORD_MAX)


def hash_password(password: str) -> str:
    check_password_rules(password)
    return generate_password_hash(password, method=HASH_METHOD)


def password_matches(user: StaffUser | None, password: str) -> bool:
    """Always does the slow hash, so a wrong address takes as long as a wrong password.

    A deactivated account never matches: it cannot log in, whatever its password.
    """
    stored = user.password_hash if user is not None and user.password_hash else _dummy_hash()
    ok = check_password_hash(stored, password)
    return ok and user is not None and user.password_hash is not None and user.active


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16), method=HASH_METHOD)


def find_staff(session: Session, email: str) -> StaffUser | None:
    try:
        address = normalised(email)
    except StaffError:
        return None
    return session.scalar(select(StaffUser).where(StaffUser.email == address))


def add_staff(
    session: Session, email: str, name: str | None = None, password: str | None = None, role: str | None = None
) -> StaffUser:
    """A new account; without a password it can only be activated through a set-password link.

    Without a role the very first account is admin (someone must be able to add the
    others) and later ones are staff.
    """
    address = normalised(email)
    chosen = parse_role(role) if role is not None else None
    if session.scalar(select(StaffUser.id).where(StaffUser.email == address)) is not None:
        raise StaffError("exists", email=address)
    if chosen is None:
        chosen = STAFF if session.scalar(select(StaffUser.id).limit(1)) is not None else ADMIN
    user = StaffUser(
        email=address,
        name=(name or "").strip() or None,
        role=chosen,
        password_hash=hash_password(password) if password is not None else None,
    )
    session.add(user)
    session.flush()
    return user


def _other_active_admins(session: Session, user: StaffUser) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(StaffUser)
            .where(StaffUser.role == ADMIN, StaffUser.deactivated_at.is_(None), StaffUser.id != user.id)
        )
        or 0
    )


def set_role(session: Session, user: StaffUser, role: str) -> bool:
    """Give the account another role; True when it changed. The last active admin keeps the role."""
    chosen = parse_role(role)
    if chosen == user.role:
        return False
    if user.role == ADMIN and user.active and not _other_active_admins(session, user):
        raise StaffError("last_admin", email=user.email)
    user.role = chosen
    session.flush()
    end_sessions(session, user)  # the next page is opened under the new role, after a new log-in
    return True


def set_active(session: Session, user: StaffUser, active: bool) -> bool:
    """Deactivate (cannot log in, sessions end) or reactivate an account; True when it changed."""
    if active == user.active:
        return False
    if not active and user.role == ADMIN and not _other_active_admins(session, user):
        raise StaffError("last_admin", email=user.email)
    user.deactivated_at = None if active else utcnow()
    session.flush()
    if not active:
        end_sessions(session, user)
    return True


def get_staff(session: Session, user_id: int) -> StaffUser:
    user = session.get(StaffUser, user_id)
    if user is None:
        raise StaffError("unknown", email=str(user_id))
    return user


def first_staff_email(session: Session) -> str | None:
    """The oldest active account's address: where the weekly digest goes when nobody chose."""
    return session.scalar(
        select(StaffUser.email).where(StaffUser.deactivated_at.is_(None)).order_by(StaffUser.id).limit(1)
    )


def list_staff(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.email)))


def remove_staff(session: Session, email: str) -> StaffUser:
    """Delete the account; its open sessions end at their next request (the user is gone)."""
    user = find_staff(session, email)
    if user is None:
        raise StaffError("unknown", email=email.strip())
    session.delete(user)
    session.flush()
    return user


def set_password(session: Session, user: StaffUser, password: str, password_hash: str | None = None) -> StaffUser:
    """A new password ends every open session of the account (the caller may start a new one).

    `password_hash` lets a caller hash (slowly) before its write transaction opens.
    """
    user.password_hash = password_hash or hash_password(password)
    end_sessions(session, user)
    return user


def end_sessions(session: Session, user: StaffUser) -> int:
    """End every open session of the account at once; returns the new session generation.

    Why: the session lives in a signed cookie the browser keeps, and a copy of it (a
    shared computer, a stolen cookie) would stay valid until it expires. Every request
    compares the generation in the cookie with the account's (`session_is_current`), so
    raising it here ends them all at the next request. Call it on log-out, password
    change, deactivation and role change. Raised in SQL, so two at once both count.
    """
    session.execute(
        update(StaffUser).where(StaffUser.id == user.id).values(session_generation=StaffUser.session_generation + 1)
    )
    session.refresh(user, ["session_generation"])
    return user.session_generation


def log_out(session: Session, user_id: int) -> None:
    """Log-out ends the account's sessions on the server, not only the cookie in this browser."""
    user = session.get(StaffUser, user_id)
    if user is not None:
        end_sessions(session, user)


def session_is_current(user: StaffUser | None, password_fingerprint: object, generation: object) -> bool:
    """Whether a session started for this account (with these values) is still valid."""
    return (
        user is not None
        and user.password_hash is not None
        and password_fingerprint == fingerprint(user.password_hash)
        and generation == user.session_generation
    )


def set_language(session: Session, user_id: int, language: str) -> StaffUser | None:
    """The pages' language for this person, kept with the account so it follows them to a phone."""
    if language not in ("sv", "en"):
        raise StaffError("language", language=language, choices="sv, en")
    user = session.get(StaffUser, user_id)
    if user is not None:
        user.language = language
    return user


def _links(secret_key: str, old_secret_keys: tuple[str, ...]) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer([*old_secret_keys, secret_key], salt="mailer.staff.set-password")


def set_password_token(secret_key: str, user: StaffUser, old_secret_keys: tuple[str, ...] = ()) -> str:
    return _links(secret_key, old_secret_keys).dumps({"id": user.id, "fp": fingerprint(user.password_hash)})


def user_for_token(
    session: Session, secret_key: str, token: str, old_secret_keys: tuple[str, ...] = (), max_age: int = LINK_MAX_AGE
) -> StaffUser:
    """The account a set-password link is for; BadLink when it is not (or no longer) valid."""
    try:
        payload = _links(secret_key, old_secret_keys).loads(token, max_age=max_age)
    except (BadData, UnicodeError, ValueError):
        raise BadLink() from None
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), int):
        raise BadLink()
    user = session.get(StaffUser, payload["id"])
    if user is None or not user.active or payload.get("fp") != fingerprint(user.password_hash):
        raise BadLink()
    return user
