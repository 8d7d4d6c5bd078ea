"""Contacts and their memberships: list, read, create, correct; GDPR export and erasure."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mailer.api import schemas
from mailer.api.bodies import changed, check
from mailer.api.context import Context
from mailer.api.errors import lookup, not_found
from mailer.api.paging import PageRequest, by_id, id_page
from mailer.contacts.editing import get_contact as find_contact
from mailer.contacts.editing import organisation_by_slug
from mailer.contacts.models import ERASED_DOMAIN, Contact, Membership
from mailer.contacts.subscriptions import suppression_of
from mailer.errors import NotFound
from mailer.privacy.export import export_person
from mailer.staff import contact_actions

FIELDS = ("name", "language", "region", "phone")


def render_membership(membership: Membership) -> dict[str, Any]:
    return {
        "organisation": membership.organisation.slug,
        "role": membership.role,
        "name": membership.name,
        "title": membership.title,
        "region": membership.region,
    }


def render(contact: Contact, suppressed: str | None = None) -> dict[str, Any]:
    return {
        "id": contact.id,
        "email": contact.email,
        "name": contact.name,
        "language": contact.language,
        "region": contact.region,
        "phone": contact.phone,
        "suppressed": suppressed,
        "memberships": [
            render_membership(membership)
            for membership in sorted(contact.memberships, key=lambda membership: membership.organisation.slug)
        ],
        "created_at": contact.created_at.isoformat(),
        "updated_at": contact.updated_at.isoformat(),
    }


def list_contacts(ctx: Context, paging: PageRequest, organisation: str | None) -> dict[str, Any]:
    """Erased people are left out, as on the organisation page."""
    query = by_id(
        select(Contact)
        .where(Contact.email.not_like(f"%@{ERASED_DOMAIN}"))
        .options(selectinload(Contact.memberships).selectinload(Membership.organisation)),
        Contact.id,
        paging,
    )
    with ctx.db.reading() as session:
        if organisation:
            org = lookup("organisation", organisation_by_slug, session, organisation)
            query = query.where(
                Contact.id.in_(select(Membership.contact_id).where(Membership.organisation_id == org.id))
            )
        return id_page(session, query, paging, render)


def _one(session: Session, contact_id: int) -> dict[str, Any]:
    contact = lookup("contact", find_contact, session, contact_id)
    suppression = suppression_of(session, contact.email)
    return render(contact, suppression.reason.value if suppression is not None else None)


def get_contact(ctx: Context, contact_id: int) -> dict[str, Any]:
    with ctx.db.reading() as session:
        return _one(session, contact_id)


def create_contact(ctx: Context, body: Any) -> dict[str, Any]:
    values = check(body, schemas.CONTACT_NEW)
    memberships = {membership["organisation"]: membership.get("role") for membership in values.get("memberships", [])}
    with ctx.db.transaction() as session:
        try:
            contact = contact_actions.create_contact(
                session, ctx.caller.actor, values["email"], memberships, **{k: values.get(k) for k in FIELDS}
            )
        except NotFound as exc:
            raise not_found("organisation", exc.params.get("slug")) from None
        return _one(session, contact.id)


def update_contact(ctx: Context, contact_id: int, body: Any) -> dict[str, Any]:
    """Only the fields given change; the address is the person's key and never changes."""
    values = check(body, schemas.CONTACT_CHANGE)
    with ctx.db.transaction() as session:
        contact = lookup("contact", find_contact, session, contact_id)
        contact_actions.edit_contact(session, ctx.caller.actor, contact_id, **changed(contact, FIELDS, values))
        return _one(session, contact_id)


def put_membership(ctx: Context, contact_id: int, organisation: str, body: Any) -> tuple[dict[str, Any], bool]:
    """Put the person on the organisation's list (201) or change their role there (200)."""
    values = check(body, schemas.MEMBERSHIP)
    with ctx.db.transaction() as session:
        try:
            added = contact_actions.put_membership(
                session, ctx.caller.actor, contact_id, organisation, values.get("role")
            )
        except NotFound as exc:
            what = "contact" if exc.code == "no_contact_id" else "organisation"
            raise not_found(what, contact_id if what == "contact" else organisation) from None
        return _one(session, contact_id), added


def export_contact(ctx: Context, contact_id: int) -> dict[str, Any]:
    """Everything held about the person (GDPR Art. 15), as `mailer contacts export-person` gives it."""
    with ctx.db.reading() as session:
        email = lookup("contact", find_contact, session, contact_id).email
        return export_person(session, email, ctx.settings)


def erase_contact(ctx: Context, contact_id: int) -> dict[str, Any]:
    """Erase the person on request (GDPR Art. 17) through mailer.privacy, as the staff web does."""
    try:
        erased = contact_actions.erase_contact(ctx.db, ctx.settings, ctx.caller.actor, contact_id, via="api")
    except NotFound:
        raise not_found("contact", contact_id) from None
    return {"id": erased, "erased": True}
