"""Erase one person's personal data everywhere, on request (GDPR Art. 17).

Erasure keeps the anonymous counts right: the contact row stays as an anonymous
placeholder (`erased-<id>@erased.invalid`; its memberships and coarse region stay, so
"invited", "yes" and "organisations represented" do not change). In every row that
leads to the person through foreign keys, each column declared personal is cleared;
in every other row, personal text that names the person (address, name, phone) is
rewritten; files under the instance folder that hold their data are deleted. A one-way
hash of the address goes on the suppression list, so a later import of the same list
cannot bring them back, and every link ever sent stops working (a new link key).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, delete, select, update
from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.config import Settings
from mailer.contacts.models import (
    ERASED_DOMAIN,
    Contact,
    Suppression,
    SuppressionReason,
    address_hash,
)
from mailer.contacts.queries import find_contact
from mailer.db import Database, rowcount
from mailer.identifiers import new_link_key
from mailer.privacy.catalogue import CONTACTS, all_tables, linked, personal_columns, table, tables_linked_to
from mailer.privacy.files import remove_files
from mailer.privacy.person import Identity, mention_clause, searchable_columns

ERASED_TEXT = "[raderad]"


@dataclass
class Erasure:
    contact_id: int
    rows: dict[str, int]  # per table: rows of the person's whose personal columns were cleared
    mentions_rewritten: int
    identity: Identity = field(repr=False)
    files: list[Path] = field(default_factory=list)  # removed, relative to the instance folder

    @property
    def messages(self) -> int:
        return self.rows.get("messages", 0)

    @property
    def responses(self) -> int:
        return self.rows.get("responses", 0)


def erase_person(db: Database, settings: Settings, email: str, actor: str, **detail: Any) -> Erasure:
    """The whole erasure: the database (with its audit entry) in one transaction, then the files.

    Files go after the commit, so a failed transaction leaves both as they were; they are
    found by the person's details kept in memory, which also catches a message the worker
    wrote while the transaction ran.
    """
    with db.transaction() as session:
        erasure = forget(session, email)
        record(session, actor, "contacts.forget", f"contact:{erasure.contact_id}", **detail)
    erasure.files = remove_files(settings, erasure.identity)
    db.checkpoint()  # old versions of the changed pages would wait in SQLite's write-ahead log
    return erasure


def forget(session: Session, email: str) -> Erasure:
    """The database part of the erasure, in the caller's transaction; see the module docstring."""
    contact = find_contact(session, email)
    identity = Identity.of(contact)
    _suppress_for_good(session, contact)
    session.flush()

    contacts = table(CONTACTS)
    placeholder = f"erased-{contact.id}@{ERASED_DOMAIN}"
    values: dict[str, Any] = {column.name: _blank(column) for column in personal_columns(contacts)}
    values.update(email=placeholder, link_key=new_link_key())  # every link ever sent stops working
    session.execute(update(contacts).where(contacts.c.id == contact.id).values(**values))
    # The placeholder is suppressed too, so the audience and the sender skip it
    # through the same suppression check as everyone else.
    session.add(Suppression(address_hash=address_hash(placeholder), email=placeholder, reason=SuppressionReason.ERASED))
    session.flush()

    rows = {}
    for source in tables_linked_to(CONTACTS):
        columns = personal_columns(source)
        if source.info.get("erasure") == "delete":  # a row that says nothing once the person is gone (consents)
            rows[source.name] = rowcount(session.execute(delete(source).where(linked(source, CONTACTS, [contact.id]))))
        elif columns:
            clause = linked(source, CONTACTS, [contact.id])
            rows[source.name] = rowcount(
                session.execute(
                    update(source).where(clause).values({column.name: _blank(column) for column in columns})
                )
            )
    rewritten = _rewrite_mentions(session, identity)
    session.flush()
    session.expire_all()
    return Erasure(contact.id, rows, rewritten, identity)


def _suppress_for_good(session: Session, contact: Contact) -> None:
    hashed = address_hash(contact.email)
    suppression = session.scalar(select(Suppression).where(Suppression.address_hash == hashed))
    if suppression is None:
        session.add(Suppression(address_hash=hashed, reason=SuppressionReason.ERASED))
    else:
        suppression.reason, suppression.email, suppression.detail = SuppressionReason.ERASED, None, None


def _blank(column: Column[Any]) -> Any:
    return None if column.nullable else ERASED_TEXT


def _rewrite_mentions(session: Session, identity: Identity) -> int:
    """Personal text elsewhere that names the person: staff digests, import rejections, others' comments.

    Other contacts' own rows are left alone: another person may share the name.
    """
    count = 0
    for source in (candidate for candidate in all_tables() if candidate.name != CONTACTS):
        keys = list(source.primary_key.columns)
        for column in searchable_columns(source):
            query = select(*keys, column).where(mention_clause(column, identity))
            for row in session.execute(query).all():
                *key, value = row
                new = _rewritten(column, value, identity)
                if new != value:
                    session.execute(
                        update(source)
                        .where(*(column == value for column, value in zip(keys, key, strict=True)))
                        .values({column.name: new})
                    )
                    count += 1
    return count


def _rewritten(column: Column[Any], value: Any, identity: Identity) -> Any:
    if isinstance(column.type, JSON):
        serialised = json.dumps(value, ensure_ascii=False)
        cleaned = _replace(serialised, identity, quoted=True)
        return json.loads(cleaned)
    if any(value.strip().lower() == needle for needle in identity.needles):
        return _blank(column)
    cleaned = _replace(value, identity)
    length = getattr(column.type, "length", None)
    return cleaned[:length] if length else cleaned


def _replace(value: str, identity: Identity, quoted: bool = False) -> str:
    for needle in (identity.address, identity.name, identity.phone):
        if needle:
            found = json.dumps(needle, ensure_ascii=False)[1:-1] if quoted else needle
            value = re.sub(re.escape(found), ERASED_TEXT, value, flags=re.IGNORECASE)
    return value
