"""Read-only views of contacts and organisations: listings, and finding one contact by address."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from mailer.contacts.csvfile import normalise_email
from mailer.contacts.models import ERASED_DOMAIN, Contact, Membership, Organisation, Suppression, address_hash
from mailer.errors import NotFound, found


@dataclass
class OrganisationRow:
    slug: str
    name: str
    short_name: str | None
    region: str | None
    contacts: int


def organisations_with_counts() -> Select[Organisation, Any]:
    """Each organisation with the number of people on its list; erased people are not counted."""
    counts = (
        select(Membership.organisation_id, func.count().label("n"))
        .join(Contact, Contact.id == Membership.contact_id)
        .where(Contact.email.not_like(f"%@{ERASED_DOMAIN}"))
        .group_by(Membership.organisation_id)
        .subquery()
    )
    return select(Organisation, func.coalesce(counts.c.n, 0)).outerjoin(
        counts, counts.c.organisation_id == Organisation.id
    )


def list_organisations(session: Session) -> list[OrganisationRow]:
    rows = session.execute(organisations_with_counts().order_by(Organisation.name))
    return [
        OrganisationRow(organisation.slug, organisation.name, organisation.short_name, organisation.region, count)
        for organisation, count in rows
    ]


def find_contact(session: Session, email: str) -> Contact:
    """The contact with this address, written as a person types it (any case, spaces, an IDN domain).

    Raises NotFound("no_contact") naming the address as given. The one lookup by address for
    the privacy commands and for revoking someone's links.
    """
    try:
        key = normalise_email(email)
    except ValueError:  # not a valid address: still looked up as written, and then not found
        key = email.strip().lower()
    return found(session.scalar(select(Contact).where(Contact.email == key)), "no_contact", email=email.strip())


def list_contacts(session: Session, org: str | None = None) -> list[Contact]:
    """Contacts with their memberships loaded; raises LookupError for an unknown organisation."""
    query = (
        select(Contact)
        .where(Contact.email.not_like(f"%@{ERASED_DOMAIN}"))
        .options(selectinload(Contact.memberships).selectinload(Membership.organisation))
    )
    if org is not None:
        organisation = session.scalar(select(Organisation).where(Organisation.slug == org))
        if organisation is None:
            raise NotFound("no_organisation", slug=org)
        query = query.join(Membership).where(Membership.organisation_id == organisation.id)
    return list(session.scalars(query.order_by(Contact.email)))


def suppressed_hashes(session: Session, emails: list[str]) -> set[str]:
    hashes = {address_hash(email) for email in emails}
    return set(session.scalars(select(Suppression.address_hash).where(Suppression.address_hash.in_(hashes))))
