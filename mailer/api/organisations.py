"""Member organisations: list, read, create and correct (as on the organisation page)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from mailer.api import schemas
from mailer.api.bodies import changed, check
from mailer.api.context import Context
from mailer.api.errors import lookup, not_found
from mailer.api.paging import PageRequest, by_id, page
from mailer.contacts.editing import organisation_by_slug
from mailer.contacts.models import Organisation
from mailer.contacts.queries import organisations_with_counts
from mailer.staff import contact_actions

FIELDS = ("name", "short_name", "region", "contact_email")


def render(organisation: Organisation, contacts: int) -> dict[str, Any]:
    return {
        "slug": organisation.slug,
        "name": organisation.name,
        "short_name": organisation.short_name,
        "region": organisation.region,
        "contact_email": organisation.contact_email,
        "contacts": contacts,
        "created_at": organisation.created_at.isoformat(),
    }


def list_organisations(ctx: Context, paging: PageRequest) -> dict[str, Any]:
    query = by_id(organisations_with_counts(), Organisation.id, paging)
    with ctx.db.reading() as session:
        rows = session.execute(query).all()
        return page(rows, paging, key=lambda row: [row[0].id], render=lambda row: render(row[0], row[1]))


def _one(session: Session, slug: str) -> dict[str, Any]:
    row = session.execute(organisations_with_counts().where(Organisation.slug == slug)).first()
    if row is None:
        raise not_found("organisation", slug)
    return render(row[0], row[1])


def get_organisation(ctx: Context, slug: str) -> dict[str, Any]:
    with ctx.db.reading() as session:
        return _one(session, slug)


def create_organisation(ctx: Context, body: Any) -> dict[str, Any]:
    values = check(body, schemas.ORGANISATION_NEW)
    with ctx.db.transaction() as session:
        organisation = contact_actions.create_organisation(
            session, ctx.caller.actor, values["slug"], **{k: values.get(k) for k in FIELDS}
        )
        return _one(session, organisation.slug)


def update_organisation(ctx: Context, slug: str, body: Any) -> dict[str, Any]:
    """Only the fields given change (the web form sends them all)."""
    values = check(body, schemas.ORGANISATION_CHANGE)
    with ctx.db.transaction() as session:
        organisation = lookup("organisation", organisation_by_slug, session, slug)
        contact_actions.edit_organisation(session, ctx.caller.actor, slug, **changed(organisation, FIELDS, values))
        return _one(session, slug)
