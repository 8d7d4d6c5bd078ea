"""Organisations, contacts, their memberships, and the suppression list."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from dataclasses import dataclass, field
from types import SimpleNamespace

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.db import Base, UTCDateTime, not_personal, personal, utcnow
from mailer.identifiers import new_link_key

ERASED_DOMAIN = "erased.invalid"  # placeholder addresses of erased people (RFC 2606: never delivered)


TEST_KEY_PREFIX = "test."  # never made by new_link_key(): token_urlsafe has no "."
TEST_NAME = "Testa Testsson"
TEST_EMAIL = "testa.testsson@example.invalid"


def is_test_key(key: str | None) -> bool:
    """A link key of the made-up test person: its links open real pages that save nothing."""
    return key is not None and key.startswith(TEST_KEY_PREFIX)


@dataclass
class TestPerson:
    """Who a test mail is written for, so that no member's live links ever leave in one.

    Duck-types the Contact attributes that composing a mail and showing a page read.
    Carries a real recipient's organisations and language, so the test reads as theirs would.
    """

    __test__ = False  # not a pytest test class, whatever its name

    language: str | None = None
    organisations: list[str] = field(default_factory=list)
    id: int = 0
    name: str = TEST_NAME
    email: str = TEST_EMAIL

    @property
    def link_key(self) -> str:
        return f"{TEST_KEY_PREFIX}{self.language or ''}"

    @property
    def memberships(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(organisation=SimpleNamespace(name=name)) for name in self.organisations]

    @property
    def first_name(self) -> str:
        return self.name.split(" ")[0]

    @property
    def is_erased(self) -> bool:
        return False

    @classmethod
    def from_key(cls, key: str) -> TestPerson:
        language = key.removeprefix(TEST_KEY_PREFIX)
        return cls(language=language if language in ("sv", "en") else None)


def is_test_person(contact: object) -> bool:
    return isinstance(contact, TestPerson)


def address_hash(email: str) -> str:
    """One-way hash of a normalised address: lets an erased person stay suppressed."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    slug: Mapped[str] = mapped_column(String(80), unique=True, info=not_personal())
    name: Mapped[str] = mapped_column(String(200), info=not_personal())
    # The abbreviation staff use ("SKF"); set on the organisation page, never by an import.
    short_name: Mapped[str | None] = mapped_column(String(40), info=not_personal())
    region: Mapped[str | None] = mapped_column(String(100), info=not_personal())  # canonical (mailer.regions)
    contact_email: Mapped[str | None] = mapped_column(String(320), info=personal())
    # Staff corrected the name on the organisation page: organisations.csv no longer overwrites it.
    named_by_staff: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), info=not_personal())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())

    memberships: Mapped[list[Membership]] = relationship(back_populates="organisation")

    def __repr__(self) -> str:
        return f"<Organisation {self.slug}>"


class Contact(Base):
    """One row per person, keyed by the normalised (lower-case) email address."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    email: Mapped[str] = mapped_column(String(320), unique=True, info=personal())
    name: Mapped[str | None] = mapped_column(String(200), info=personal())  # shown; each list's own on Membership
    language: Mapped[str | None] = mapped_column(String(5), info=personal())
    region: Mapped[str | None] = mapped_column(String(100), info=not_personal())  # canonical; each list's on Membership
    phone: Mapped[str | None] = mapped_column(String(50), info=personal())
    link_key: Mapped[str] = mapped_column(String(32), unique=True, default=new_link_key, info=not_personal())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, info=not_personal())

    memberships: Mapped[list[Membership]] = relationship(back_populates="contact", cascade="all, delete-orphan")

    @property
    def is_erased(self) -> bool:
        return self.email.endswith("@" + ERASED_DOMAIN)

    @property
    def first_name(self) -> str:
        return (self.name or "").split(" ")[0]

    def __repr__(self) -> str:
        return f"<Contact {self.id}>"


class RetiredLinkKey(Base):
    """A link key replaced by `contacts revoke-links`: its unsubscribe links keep working.

    Revoking stops answers and evaluations on someone's behalf; it must never take away
    their way out of the mailings. Not personal, like `contacts.link_key`: a random key that
    says nothing about the person; an erased person's retired keys no longer resolve.
    """

    __tablename__ = "retired_link_keys"

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True, info=not_personal()
    )
    link_key: Mapped[str] = mapped_column(String(32), unique=True, info=not_personal())
    retired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())


class Membership(Base):
    """A person on one organisation's list, with what that list says of them.

    Lists disagree ("Leyla SEHLSTEDT", "Leyla Sehlstedt"): each keeps its own spelling here,
    and the contact shows the most recently confirmed one, so re-importing changes nothing.
    """

    __tablename__ = "memberships"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, info=not_personal()
    )
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True, index=True, info=not_personal()
    )
    role: Mapped[str | None] = mapped_column(String(100), info=personal())
    name: Mapped[str | None] = mapped_column(String(200), info=personal())  # the name as this list writes it
    title: Mapped[str | None] = mapped_column(String(200), info=personal())  # job title on this list
    # Canonical (mailer.regions); coarse, like Contact.region, and kept on erasure.
    region: Mapped[str | None] = mapped_column(String(100), info=not_personal())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())

    contact: Mapped[Contact] = relationship(back_populates="memberships")
    organisation: Mapped[Organisation] = relationship(back_populates="memberships")


class SuppressionReason(enum.StrEnum):
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    ERASED = "erased"


class Suppression(Base):
    """An address that must never be mailed again by a campaign.

    Keyed by the hash of the address so that the entry survives erasure of the
    person (then `email` is cleared) and a later import cannot bring them back.
    """

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    address_hash: Mapped[str] = mapped_column(String(64), unique=True, info=not_personal())
    email: Mapped[str | None] = mapped_column(String(320), info=personal())
    reason: Mapped[SuppressionReason] = mapped_column(
        Enum(
            SuppressionReason,
            native_enum=False,
            length=20,
            values_callable=lambda enum_type: [member.value for member in enum_type],
        ),
        info=not_personal(),
    )
    detail: Mapped[str | None] = mapped_column(Text, info=personal())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())


class ImportRejection(Base):
    """A row an import rejected, kept so the organisation can fix its own records."""

    __tablename__ = "import_rejections"
    __table_args__ = (UniqueConstraint("organisation_id", "file_name", "line"),)

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True, info=not_personal()
    )
    file_name: Mapped[str] = mapped_column(String(255), info=not_personal())
    line: Mapped[int] = mapped_column(Integer, info=not_personal())
    value: Mapped[str | None] = mapped_column(String(400), info=personal())
    reason: Mapped[str] = mapped_column(String(400), info=personal())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
