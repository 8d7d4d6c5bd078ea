"""What identifies one person in free text and files, and where to look for it (their contact row: contacts.queries.find_contact)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Column, ColumnElement, Table, Text, cast, func, or_, select
from sqlalchemy.orm import Session

from mailer.contacts.models import Contact
from mailer.privacy.catalogue import all_tables, personal_columns

# Shorter names would match inside unrelated words ("Li" in "Linköping").
MIN_NAME_LENGTH = 4
MIN_PHONE_LENGTH = 6


@dataclass(frozen=True)
class Identity:
    """What identifies a person in text: their address, and their name and phone when long enough."""

    address: str
    name: str | None = None
    phone: str | None = None

    @classmethod
    def of(cls, contact: Contact) -> Identity:
        name = (contact.name or "").strip()
        phone = (contact.phone or "").strip()
        return cls(
            contact.email,
            name if len(name) >= MIN_NAME_LENGTH else None,
            phone if len(phone) >= MIN_PHONE_LENGTH else None,
        )

    @property
    def needles(self) -> list[str]:
        """Lower-cased, as written and as JSON writes them (non-ASCII letters as \\u escapes).

        Also lower-cased in ASCII only, as SQLite's lower() does it ("Åsa" stays "Åsa").
        """
        found: list[str] = []
        for value in (self.address, self.name, self.phone):
            if not value:
                continue
            for form in (value, json.dumps(value)[1:-1]):
                for lowered in (form.lower(), _ascii_lower(form)):
                    if lowered not in found:
                        found.append(lowered)
        return found

    def __repr__(self) -> str:  # never in a log or a traceback
        return "Identity(…)"


def _ascii_lower(text: str) -> str:
    return "".join(char.lower() if char.isascii() else char for char in text)


def mention_clause(column: Column[Any], identity: Identity) -> ColumnElement[bool]:
    text = func.lower(cast(column, Text)) if isinstance(column.type, JSON) else func.lower(column)
    return or_(*(text.contains(needle, autoescape=True) for needle in identity.needles))


def searchable_columns(source: Table) -> list[Column[Any]]:
    """Personal columns about contacts that hold text (names, addresses, free text, JSON)."""
    return [column for column in personal_columns(source) if isinstance(column.type, JSON) or _holds_text(column)]


def _holds_text(column: Column[Any]) -> bool:
    try:
        return column.type.python_type is str
    except NotImplementedError:
        return False


def mentions(session: Session, identity: Identity) -> Iterator[tuple[Table, Column[Any], dict[str, Any]]]:
    """Every row whose personal text names the person: (table, column, row as a mapping)."""
    for source in all_tables():
        for column in searchable_columns(source):
            query = select(source).where(mention_clause(column, identity))
            for row in session.execute(query).mappings():
                yield source, column, dict(row)
