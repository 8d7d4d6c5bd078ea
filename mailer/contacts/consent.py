"""Why mailer may mail a person: the lawful basis of each contact, as a record per occasion.

Two bases: `consent` (the person signed up through the public form and confirmed it from
their mailbox: double opt-in) and `member_list` (a member organisation's list named them;
Ax's legitimate interest in inviting its members' people). A consent record keeps what the
person was shown (the text's versioned key and the text itself, in the language shown),
when, and from where; see docs/signup.md for what is kept and why.

Here, in the contacts layer, because the list import writes one for each new membership.
Erasure deletes a person's records (`info={"erasure": "delete"}`, mailer.privacy.erasure):
a record of a consent that no longer matters is itself personal data.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.contacts.models import Contact, Organisation
from mailer.db import Base, UTCDateTime, not_personal, personal, str_enum, utcnow


class LawfulBasis(enum.StrEnum):
    CONSENT = "consent"
    MEMBER_LIST = "member_list"


class ConsentRecord(Base):
    __tablename__ = "consent_records"
    __table_args__ = {"info": {"erasure": "delete"}}

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True, info=not_personal()
    )
    basis: Mapped[LawfulBasis] = mapped_column(str_enum(LawfulBasis), info=not_personal())
    # member_list: whose list; consent: the organisation the person chose on the form (None: other/none).
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), info=not_personal()
    )
    # What was shown: the catalog key with its version ("public.signup.consent.v1") and its text.
    text_key: Mapped[str | None] = mapped_column(String(100), info=not_personal())
    text: Mapped[str | None] = mapped_column(Text, info=not_personal())
    language: Mapped[str | None] = mapped_column(String(5), info=not_personal())
    # What it was for ("meeting:<slug>", "series:<slug>") or where it came from ("import:<file>").
    purpose: Mapped[str | None] = mapped_column(String(300), info=not_personal())
    # Where: the sign-up page's URL and, when it was embedded, the embedding site's origin.
    page_url: Mapped[str | None] = mapped_column(String(500), info=not_personal())
    embedded_from: Mapped[str | None] = mapped_column(String(300), info=not_personal())
    # The network the form was sent from and confirmed from, shortened (IPv4 /24, IPv6 /48).
    requested_from: Mapped[str | None] = mapped_column(String(64), info=personal())
    confirmed_from: Mapped[str | None] = mapped_column(String(64), info=personal())
    given_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())

    contact: Mapped[Contact] = relationship()
    organisation: Mapped[Organisation | None] = relationship()

    def __repr__(self) -> str:
        return f"<ConsentRecord {self.id} {self.basis.value}>"
