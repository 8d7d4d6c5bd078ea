"""What identifies one person in free text and files, and where to look for it (their contact row: contacts.queries.find_contact)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import JSON, Column, ColumnElement, Table, Text, cast, func, or_, select
from sqlalchemy.orm import Session, object_session

from mailer.contacts.models import Contact, Membership
from mailer.privacy.catalogue import all_tables, personal_columns

# Shorter names would match inside unrelated words ("Li" in "Linköping").
MIN_NAME_LENGTH = 4
MIN_PHONE_LENGTH = 6


@dataclass(frozen=True)
class Identity:
    """What identifies a person in text: their address, and their name and phone when long enough.

    In the database any of them marks a row as naming the person (`needles`). A file is theirs
    only by what tells them apart from everyone else (`file_pattern`): the address, always; the
    name or the phone only when no other contact's name, address or phone holds it (`of` decides,
    `name_distinct` and `phone_distinct`), because two people may share a name and an office phone.
    """

    address: str
    name: str | None = None
    phone: str | None = None
    name_distinct: bool = False
    phone_distinct: bool = False

    @classmethod
    def of(cls, contact: Contact) -> Identity:
        name = (contact.name or "").strip()
        phone = (contact.phone or "").strip()
        identity = cls(
            contact.email,
            name if len(name) >= MIN_NAME_LENGTH else None,
            phone if len(phone) >= MIN_PHONE_LENGTH else None,
        )
        session = object_session(contact)
        if session is None:  # nobody to compare with: the address alone decides
            return identity
        distinct = _held_by_nobody_else(session, contact.id, identity)
        return cls(identity.address, identity.name, identity.phone, "name" in distinct, "phone" in distinct)

    @property
    def needles(self) -> list[str]:
        """Lower-cased, as written and as JSON writes them (non-ASCII letters as \\u escapes).

        Also lower-cased in ASCII only, as SQLite's lower() does it ("Åsa" stays "Åsa").
        """
        found: list[str] = []
        for value in (self.address, self.name, self.phone):
            for lowered in _forms(value):
                if lowered not in found:
                    found.append(lowered)
        return found

    @cached_property
    def file_pattern(self) -> re.Pattern[str]:
        """What makes a file the person's, searched in lower-cased text; see the class docstring.

        Each value must stand on its own: "anna@kor.se" inside "hanna@kor.se", "Anna Lind" inside
        "Anna Lindqvist" or "070-123456" inside "070-1234567" is someone else. A name may take a
        genitive s ("Anna Linds anmälan").
        """
        return re.compile("|".join(_alone(kind, value) for kind, value in self._file_values))

    @property
    def file_needles(self) -> list[str]:
        """The lower-cased forms `file_pattern` looks for, as plain text (a quick test before the pattern)."""
        return [form for _, value in self._file_values for form in _forms(value)]

    @property
    def _file_values(self) -> list[tuple[str, str]]:
        values = [("address", self.address)]
        values += [("name", self.name)] if self.name and self.name_distinct else []
        values += [("phone", self.phone)] if self.phone and self.phone_distinct else []
        return values

    def __repr__(self) -> str:  # never in a log or a traceback
        return "Identity(…)"


def _ascii_lower(text: str) -> str:
    return "".join(char.lower() if char.isascii() else char for char in text)


def _forms(value: str | None) -> list[str]:
    if not value:
        return []
    forms = [lowered for form in (value, json.dumps(value)[1:-1]) for lowered in (form.lower(), _ascii_lower(form))]
    return list(dict.fromkeys(forms))


# Before and after each value, what would make it part of a longer one. A JSON escape (\n, \t, ...)
# before it is a boundary too, though its letter is a word character.
_ESCAPE = r"(?<=\\[nrtbf])"
_BOUNDS = {
    "address": (rf"(?:(?<![\w.+-])|{_ESCAPE})", r"(?![^\W_]|[.-][^\W_])"),
    "name": (rf"(?:(?<!\w)|{_ESCAPE})", r"s?(?!\w)"),
    "phone": (r"(?<!\d)", r"(?!\d)"),
}


def _alone(kind: str, value: str) -> str:
    before, after = _BOUNDS[kind]
    return before + "(?:" + "|".join(re.escape(form) for form in _forms(value)) + ")" + after


def _held_by_nobody_else(session: Session, contact_id: int, identity: Identity) -> set[str]:
    """Which of "name" and "phone" no other contact's name (any list's spelling), address or phone holds."""
    patterns = {
        kind: re.compile(_alone(kind, value))
        for kind, value in (("name", identity.name), ("phone", identity.phone))
        if value
    }
    if not patterns:
        return set()
    others = (
        select(Contact.name, Contact.email, Contact.phone).where(Contact.id != contact_id),
        select(Membership.name).where(Membership.contact_id != contact_id, Membership.name.is_not(None)),
    )
    for query in others:
        for row in session.execute(query.execution_options(yield_per=2000)):
            text = "\n".join(value for value in row if value).lower()
            for kind in [kind for kind, pattern in patterns.items() if pattern.search(text)]:
                del patterns[kind]
    return set(patterns)


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
