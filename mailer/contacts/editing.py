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
from mailer.errors import DomainError, NotFound, found
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


def update_contact(
    session: Session,
    contact: Contact,
    *,
    name: str | None,
    language: str | None,
    region: str | None,
    phone: str | None,
    roles: dict[str, str | None] | None = None,
) -> list[str]:
    """Set the fields (an empty value clears one); returns the names of the fields that changed."""
    language = (language or "").strip().lower() or None
    if language is not None and language not in LANGUAGES:
        raise ContactError("language", "language", language=language, choices=", ".join(LANGUAGES))
    values = {
        "name": _clean("name", name),
        "language": language,
        "region": _region(region),
        "phone": _clean("phone", phone),
    }
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


def update_organisation(
    session: Session,
    slug: str,
    *,
    name: str | None,
    short_name: str | None,
    region: str | None,
    contact_email: str | None,
) -> list[str]:
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
    values = {
        "name": text,
        "short_name": _clean("short_name", short_name),
        "region": _region(region),
        "contact_email": email,
    }
    changed = [key for key, value in values.items() if getattr(organisation, key) != value]
    for key in changed:
        setattr(organisation, key, values[key])
    if "name" in changed:
        organisation.named_by_staff = True
    session.flush()
    return changed


def organisation_by_slug(session: Session, slug: str) -> Organisation:
    return found(session.scalar(select(Organisation).where(Organisation.slug == slug)), "no_organisation", slug=slug)


def add_organisation(
    session: Session,
    slug: str,
    *,
    name: str | None,
    short_name: str | None = None,
    region: str | None = None,
    contact_email: str | None = None,
) -> Organisation:
    """A member organisation made by hand (the API); imports make theirs from the list's name.

    Raises ContactError naming the field (a bad or taken slug, a missing name, ...)."""
    from mailer.identifiers import SLUG_RE

    slug = (slug or "").strip().lower()
    if not SLUG_RE.match(slug):
        raise ContactError("slug", "bad_slug", slug=slug)
    if session.scalar(select(Organisation.id).where(Organisation.slug == slug)) is not None:
        raise ContactError("slug", "slug_taken", slug=slug)
    organisation = Organisation(slug=slug, name=slug)
    session.add(organisation)
    session.flush()
    update_organisation(session, slug, name=name, short_name=short_name, region=region, contact_email=contact_email)
    organisation.named_by_staff = True  # named by a person: organisations.csv does not rename it
    return organisation


def add_contact(
    session: Session,
    email: str,
    *,
    name: str | None = None,
    language: str | None = None,
    region: str | None = None,
    phone: str | None = None,
) -> Contact:
    """One person added by hand (the API); a suppressed or erased address is refused, as an import skips it.

    Raises ContactError naming the field."""
    from mailer.contacts.models import Suppression, address_hash

    try:
        address = normalise_email(email or "")
    except ValueError:
        raise ContactError("email", "not_email") from None
    if session.scalar(select(Contact.id).where(Contact.email == address)) is not None:
        raise ContactError("email", "email_taken", email=address)
    if (
        session.scalar(
            select(Suppression.id).where(
                Suppression.address_hash == address_hash(address), Suppression.reason == "erased"
            )
        )
        is not None
    ):
        raise ContactError("email", "erased")
    contact = Contact(email=address)
    session.add(contact)
    session.flush()
    session.refresh(contact, ["memberships"])
    update_contact(session, contact, name=name, language=language, region=region, phone=phone)
    return contact


def set_membership(
    session: Session, contact: Contact, organisation_slug: str, role: str | None, title: str | None = None
) -> tuple[Membership, bool]:
    """Put the person on the organisation's list, or change their role there; True when newly added."""
    organisation = organisation_by_slug(session, organisation_slug)
    membership = next(
        (membership for membership in contact.memberships if membership.organisation_id == organisation.id), None
    )
    added = membership is None
    if membership is None:
        membership = Membership(contact=contact, organisation=organisation, name=contact.name, region=contact.region)
        session.add(membership)
    membership.role = _clean("role", role)
    if title is not None:
        membership.title = _clean("name", title)
    session.flush()
    return membership, added
