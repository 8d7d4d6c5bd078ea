"""API tokens: made for one account, shown once, stored as a hash, revoked by staff.

A token is `mailer_` and 43 random URL-safe characters (256 bits): far too many to guess,
so a fast hash (SHA-256) is enough to store it and look it up; a slow password hash would
only make every API call slow. The lookup is by hash and the hashes are compared again in
constant time. A token acts with its account's role of the moment: a deactivated account,
a removed one, or a revoked token is refused at the next request, and a changed role governs
the very next request (nothing about the account is copied into the token).

Everyone manages their own tokens; an admin sees and may revoke every account's (someone
leaves, a token leaks), each revoke in the audit log under the owner's account.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.db import utcnow
from mailer.errors import DomainError
from mailer.staff.models import ApiToken, StaffUser
from mailer.staff.roles import ADMIN, allows

READ, WRITE = "read", "write"
SCOPES = (READ, WRITE)
PREFIX = "mailer_"
LABEL_MAX = 100
USE_RECORDED_EVERY = dt.timedelta(minutes=10)  # last_used_at: fresh enough to spot unused tokens, few writes


class TokenError(DomainError, ValueError):
    prefix = "error.token."


@dataclass(frozen=True)
class Caller:
    """Who an API request comes from: the account (as of now) and what its token allows."""

    staff_id: int
    email: str
    role: str
    scope: str
    token_id: int
    use_to_record: bool = False  # last_used_at is stale: the caller records this use (record_use)

    @property
    def actor(self) -> str:
        """How the audit log names the caller: the account, and which of its tokens."""
        return f"{self.email} (api:{self.token_id})"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_scope(text: str | None) -> str:
    scope = (text or "").strip().lower()
    if scope not in SCOPES:
        raise TokenError("scope", scope=text or "", choices=", ".join(SCOPES))
    return scope


def create_token(session: Session, user: StaffUser, scope: str, label: str | None, actor: str) -> tuple[ApiToken, str]:
    """A new token for the account; returns the row and the token itself, which is never stored."""
    chosen = parse_scope(scope)
    text = " ".join((label or "").split()) or None
    if text is not None and len(text) > LABEL_MAX:
        raise TokenError("label_too_long", n=LABEL_MAX)
    if not user.active:
        raise TokenError("inactive", email=user.email)
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        staff_user_id=user.id, token_hash=hash_token(token), prefix=token[: len(PREFIX) + 4], label=text, scope=chosen
    )
    session.add(row)
    session.flush()
    record(session, actor, "tokens.create", f"staff:{user.id}", token=row.id, scope=chosen)
    return row, token


@dataclass(frozen=True)
class OwnedToken:
    """A token and whose it is, for the page that lists more than one account's tokens."""

    token: ApiToken
    owner_email: str
    owner_role: str
    owner_active: bool


def manages_all(role: str) -> bool:
    """Does this role see and revoke every account's tokens (not only its own)?"""
    return allows(role, ADMIN)


def list_tokens(session: Session, user_id: int) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.staff_user_id == user_id).order_by(ApiToken.id)))


def tokens_for(session: Session, viewer_id: int, viewer_role: str) -> list[OwnedToken]:
    """The tokens a signed-in person manages: an admin every account's, anyone else their own."""
    query = select(ApiToken, StaffUser).join(StaffUser, StaffUser.id == ApiToken.staff_user_id)
    if not manages_all(viewer_role):
        query = query.where(ApiToken.staff_user_id == viewer_id)
    rows = session.execute(query.order_by(StaffUser.email, ApiToken.id))
    return [OwnedToken(token, user.email, user.role, user.active) for token, user in rows]


def revoke_token(session: Session, user_id: int, token_id: int, actor: str) -> ApiToken:
    """Revoke one of the account's tokens (a token of another account is "not found")."""
    row = session.get(ApiToken, token_id)
    if row is None or row.staff_user_id != user_id:
        raise TokenError("unknown", id=token_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record(session, actor, "tokens.revoke", f"staff:{user_id}", token=row.id)
    return row


def revoke_as(session: Session, viewer_id: int, viewer_role: str, token_id: int, actor: str) -> ApiToken:
    """Revoke a token from the staff page: an admin any account's, anyone else one of their own."""
    row = session.get(ApiToken, token_id)
    if row is None or not (row.staff_user_id == viewer_id or manages_all(viewer_role)):
        raise TokenError("unknown", id=token_id)
    return revoke_token(session, row.staff_user_id, token_id, actor)


def authenticate(session: Session, token: str, now: dt.datetime | None = None) -> Caller | None:
    """The caller a token stands for, or None (unknown, revoked, or its account is gone or deactivated).

    Reads only, so it runs without SQLite's write lock: an API read never queues recipients'
    answers. When the token's last use is older than USE_RECORDED_EVERY, `use_to_record` says so.
    """
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    digest = hash_token(token)
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if row is None or not hmac.compare_digest(row.token_hash, digest) or row.revoked_at is not None:
        return None
    user = session.get(StaffUser, row.staff_user_id)
    if user is None or not user.active:
        return None
    now = now or utcnow()
    stale = row.last_used_at is None or now - row.last_used_at >= USE_RECORDED_EVERY
    return Caller(user.id, user.email, user.role, row.scope, row.id, use_to_record=stale)


def record_use(session: Session, token_id: int, now: dt.datetime | None = None) -> None:
    """Note when the token was last used (shown on the staff page, to spot tokens nobody uses)."""
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now or utcnow()))
