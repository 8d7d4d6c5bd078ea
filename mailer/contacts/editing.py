"""Finding and correcting one contact by hand (the lists themselves change by import).

The address is not editable: it is the person's key, and suppressions are kept
by its hash. A changed address is a new contact (erase the old one if asked).
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from mailer.contacts.models import Contact, Membership, Organisation
from mailer.errors import DomainError, NotFound

LIMITS = {"name": 200, "region": 100, "phone": 50, "role": 100}
LANGUAGES = ("sv", "en")


class ContactError(DomainError, ValueError):
    """A contact field that cannot be saved; `field` names it, the code says why."""

    prefix = "error.contact."

    def __init__(self, field: str, code: str, /, **params):
        super().__init__(code, **params)
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.render('en')}"


def _with_memberships():
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
    text = " ".join((value or "").split())
    if len(text) > LIMITS[field]:
        raise ContactError(field, "too_long", limit=LIMITS[field])
    return text or None


def update_contact(session: Session, contact: Contact, *, name: str | None, language: str | None,
                   region: str | None, phone: str | None, roles: dict[str, str | None] | None = None) -> list[str]:
    """Set the fields (an empty value clears one); returns the names of the fields that changed."""
    language = (language or "").strip().lower() or None
    if language is not None and language not in LANGUAGES:
        raise ContactError("language", "language", language=language, choices=", ".join(LANGUAGES))
    values = {"name": _clean("name", name), "language": language, "region": _clean("region", region),
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


def organisation_by_slug(session: Session, slug: str) -> Organisation:
    organisation = session.scalar(select(Organisation).where(Organisation.slug == slug))
    if organisation is None:
        raise NotFound("no_organisation", slug=slug)
    return organisation


class OrganisationError(DomainError, ValueError):
    """An organisation field that cannot be saved; `field` names it, the code says why."""

    prefix = "error.organisation."

    def __init__(self, field: str, code: str, /, **params):
        super().__init__(code, **params)
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.render('en')}"


ORGANISATION_LIMITS = {"name": 200, "region": 100}


def update_organisation(session: Session, organisation: Organisation, *, name: str, slug: str,
                        region: str | None, contact_email: str | None) -> list[str]:
    """Name, short name (slug), region and contact address; returns the names of the fields that changed.

    The short name is what lists and the command line use (`--org`), so a new one must be
    free and well-formed; campaigns keep their audience by the old one, which is why the
    page warns before it is changed.
    """
    from mailer.contacts.csvfile import SLUG_RE, normalise_email

    values: dict[str, str | None] = {"name": " ".join((name or "").split()),
                                     "slug": (slug or "").strip().lower(),
                                     "region": " ".join((region or "").split()) or None,
                                     "contact_email": (contact_email or "").strip() or None}
    if not values["name"]:
        raise OrganisationError("name", "required")
    for field_name, limit in ORGANISATION_LIMITS.items():
        if values[field_name] and len(values[field_name]) > limit:
            raise OrganisationError(field_name, "too_long", limit=limit)
    if not SLUG_RE.match(values["slug"] or ""):
        raise OrganisationError("slug", "bad_slug", slug=values["slug"])
    if values["slug"] != organisation.slug and session.scalar(
            select(Organisation.id).where(Organisation.slug == values["slug"])) is not None:
        raise OrganisationError("slug", "slug_taken", slug=values["slug"])
    if values["contact_email"]:
        try:
            values["contact_email"] = normalise_email(values["contact_email"])
        except ValueError:
            raise OrganisationError("contact_email", "bad_email", email=values["contact_email"]) from None
    changed = [key for key, value in values.items() if getattr(organisation, key) != value]
    for key in changed:
        setattr(organisation, key, values[key])
    session.flush()
    return changed
