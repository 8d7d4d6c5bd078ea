"""What the organisation and contact pages list: organisations, a search, one organisation's people.

Reads only, built from `mailer.contacts` queries; `suppressed` holds address
hashes, so the pages can mark who gets no mail without a query per person.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from mailer.contacts.editing import organisation_by_slug, search_contacts
from mailer.contacts.models import Contact, Organisation
from mailer.contacts.queries import OrganisationRow, list_contacts, list_organisations, suppressed_hashes


@dataclass
class Directory:
    organisations: list[OrganisationRow]
    found: list[Contact] | None = None  # None: no search made
    suppressed: set[str] = field(default_factory=set)


@dataclass
class OrganisationPage:
    organisation: Organisation
    people: list[Contact]
    suppressed: set[str]


def directory(session: Session, query: str = "") -> Directory:
    found = search_contacts(session, query) if query.strip() else None
    return Directory(
        list_organisations(session), found, suppressed_hashes(session, [contact.email for contact in found or []])
    )


def organisation_page(session: Session, slug: str) -> OrganisationPage:
    """Raises LookupError for an unknown organisation."""
    organisation = organisation_by_slug(session, slug)
    people = list_contacts(session, slug)
    return OrganisationPage(organisation, people, suppressed_hashes(session, [contact.email for contact in people]))
