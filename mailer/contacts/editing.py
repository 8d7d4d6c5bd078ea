"""Finding and correcting one contact by hand (the lists themselves change by import).

The address is not editable: it is the person's key, and suppressions are kept
by its hash. A changed address is a new contact (erase the old one if asked).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from mailer.contacts.csvfile import clean_text, normalise_email
from mailer.contacts.models import Contact, Membership, Organisation
from mailer.errors import DomainError, NotFound
from mailer.regions import canonical_region

LIMITS = {"name": 200, "region": 100, "phone": 50, "role": 100, "organisation_name": 200, "short_name": 40}
LANGUAGES = ("sv", "en")


class ContactError(DomainError, ValueError):
    """A contact field that cannot be saved; `field` names it, the code says why."""

    prefix = "error.contact."

    def __init__(self, field: str, code: str, /, **params: Any):
        super().__init__(code, **params)
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.render('en')}"


def _with_memberships() -> Select[Contact]:
    return select(Contact).options(selectinload(Contact.memberships).selectinload(Membership.organisation))


def get_contact(session: Session, contact_id: int) -> Contact:
    contact = session.scalar(_with_memberships().where(Contact.id == contact_id))
    if contact is None:
        raise NotFound("no_contact_id", id=contact_id)
    return contact


def search_contacts(session: Session, text: str, limit: int = 100) -> list[Contact]:
    """Contacts whose address or name contains the text, by address.

    SQLite folds only ASCII case, so "örjan" is also tried as "Örjan".
    """
    typed = " ".join(text.split())
    if not typed:
        return []
    conditions = []
    for variant in {typed, typed.lower(), typed.capitalize(), typed.title()}:
        escaped = variant.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        conditions += [Contact.email.like(pattern, escape="\\"), Contact.name.like(pattern, escape="\\")]
    return list(session.scalars(_with_memberships().where(or_(*conditions)).order_by(Contact.email).limit(limit)))


def _clean(field: str, value: str | None) -> str | None:
    text = clean_text(value or "")[0] or ""
    if len(text) > LIMITS[field]:
        raise ContactError(field, "too_long", limit=LIMITS[field])
    return text or None


def update_contact(session: Session, contact: Contact, *, name: str | None, language: str | None,
                   region: str | None, phone: str | None, roles: dict[str, str | None] | None = None) -> list[str]:
    """Set the fields (an empty value clears one); returns the names of the fields that changed."""
    language = (language or "").strip().lower() or None
    if language is not None and language not in LANGUAGES:
        raise ContactError("language", "language", language=language, choices=", ".join(LANGUAGES))
    values = {"name": _clean("name", name), "language": language, "region": _region(region),
              "phone": _clean("phone", phone)}
    cleaned_roles = {slug: _clean("role", role) for slug, role in (roles or {}).items()}
    changed = [key for key, value in values.items() if getattr(contact, key) != value]
    for key in changed:
        setattr(contact, key, values[key])
    for membership in contact.memberships:
        slug = membership.organisation.slug
        if slug in cleaned_roles and membership.role != cleaned_roles[slug]:
            membership.role = cleaned_roles[slug]
            changed.append(f"role:{slug}")
    session.flush()
    return changed


def _region(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    region = canonical_region(value)
    if region is None:
        raise ContactError("region", "not_region", value=value.strip())
    return region


def update_organisation(session: Session, slug: str, *, name: str | None, short_name: str | None,
                        region: str | None, contact_email: str | None) -> list[str]:
    """Staff correct an organisation; a name set here is kept when organisations.csv says otherwise.

    Raises LookupError (unknown slug) or ContactError naming the field."""
    organisation = organisation_by_slug(session, slug)
    text = _clean("organisation_name", name)
    if not text:
        raise ContactError("organisation_name", "required")
    email = (contact_email or "").strip() or None
    if email is not None:
        try:
            email = normalise_email(email)
        except ValueError:
            raise ContactError("contact_email", "not_email") from None
    values = {"name": text, "short_name": _clean("short_name", short_name), "region": _region(region),
              "contact_email": email}
    changed = [key for key, value in values.items() if getattr(organisation, key) != value]
    for key in changed:
        setattr(organisation, key, values[key])
    if "name" in changed:
        organisation.named_by_staff = True
    session.flush()
    return changed


def organisation_by_slug(session: Session, slug: str) -> Organisation:
    organisation = session.scalar(select(Organisation).where(Organisation.slug == slug))
    if organisation is None:
        raise NotFound("no_organisation", slug=slug)
    return organisation

