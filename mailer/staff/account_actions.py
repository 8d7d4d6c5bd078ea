"""Staff accounts managed by a person (an admin in the web app), each change in the audit log.

An invitation creates the account without a password and mails a one-time
set-password link; "resend" mails a fresh one (the old link stops working once
a password is chosen). Mail is sent after the transaction commits, as for the
campaign test message, so SQLite's write lock is never held while a server answers.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr

from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.config import Settings
from mailer.mail.message import new_message_id, wire_address
from mailer.mail.transport import make_transport
from mailer.staff import accounts
from mailer.staff.models import StaffUser
from mailer.translations import translate


@dataclass(frozen=True)
class Invitation:
    user_id: int
    email: str
    link: str


def set_password_link(settings: Settings, user: StaffUser) -> str:
    token = accounts.set_password_token(settings.secret_key, user, settings.old_secret_keys)
    return f"{settings.base_url}/staff/set-password/{token}"


def invite(
    session: Session,
    settings: Settings,
    actor: str,
    *,
    email: str,
    name: str | None,
    role: str,
    language: str | None = None,
) -> Invitation:
    """A new account (no password yet) and the link to mail; raises StaffError or RoleError."""
    user = accounts.add_staff(session, email, name, None, role=role)
    if language in ("sv", "en"):
        user.language = language
    record(session, actor, "staff.invite", f"staff:{user.id}", role=user.role)
    return Invitation(user.id, user.email, set_password_link(settings, user))


def new_link(session: Session, settings: Settings, actor: str, user_id: int) -> Invitation:
    """A fresh set-password link for an account (a forgotten password, a lost invitation)."""
    user = accounts.get_staff(session, user_id)
    if not user.active:
        raise accounts.StaffError("deactivated", email=user.email)
    record(session, actor, "staff.link", f"staff:{user.id}")
    return Invitation(user.id, user.email, set_password_link(settings, user))


def mail_link(settings: Settings, invitation: Invitation, language: str, inviter: str) -> None:
    """Send the set-password link (raises TransportError; the admin sees it and can resend)."""
    message = EmailMessage()
    message["From"] = formataddr((settings.mail_from.display_name, settings.mail_from.addr_spec))
    message["To"] = invitation.email
    message["Subject"] = translate("invite_mail_subject", language, site=settings.mail_from.display_name)
    message["Message-ID"] = new_message_id(settings.mail_from.domain)
    message.set_content(
        translate(
            "invite_mail_body",
            language,
            link=invitation.link,
            inviter=inviter,
            site=settings.mail_from.display_name,
            days=accounts.LINK_MAX_AGE // 86400,
        )
    )
    transport = make_transport(
        settings.smtp_url, settings.outbox_path, settings.smtp_timeout, settings.smtp_connect_timeout
    )
    try:
        transport.send(
            wire_address(settings.mail_from.addr_spec),
            wire_address(invitation.email),
            message.as_bytes(policy=email.policy.SMTP),
            message["Message-ID"],
        )
    finally:
        transport.close()


def change_role(session: Session, actor: str, user_id: int, role: str) -> StaffUser:
    user = accounts.get_staff(session, user_id)
    if accounts.set_role(session, user, role):
        record(session, actor, "staff.role", f"staff:{user.id}", role=user.role)
    return user


def set_active(session: Session, actor: str, user_id: int, active: bool) -> StaffUser:
    """Deactivate (no log-in, sessions end at the next click) or reactivate an account."""
    user = accounts.get_staff(session, user_id)
    if not active and user.email == actor:
        raise accounts.StaffError("self", email=user.email)  # nobody locks themselves out by a slip
    if accounts.set_active(session, user, active):
        record(session, actor, "staff.reactivate" if active else "staff.deactivate", f"staff:{user.id}")
    return user


def change_own_password(session: Session, user_id: int, current: str, new: str, repeat: str) -> StaffUser:
    """A person changes their own password; the current one is asked for (a walked-away screen)."""
    user = accounts.get_staff(session, user_id)
    if not accounts.password_matches(user, current):
        raise accounts.StaffError("wrong_password")
    if new != repeat:
        raise accounts.StaffError("mismatch")
    accounts.set_password(session, user, new)
    record(session, user.email, "staff.password_change", f"staff:{user.id}")
    return user
