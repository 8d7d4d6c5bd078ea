"""Everything held about one person, as plain JSON-able data (GDPR Art. 15).

Every row that leads to the person's contact row through foreign keys, with all its
columns; every other row whose personal text names them ("mentions"); their entry on
the suppression list; and the files under the instance folder that hold their data.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.contacts.models import Suppression, address_hash
from mailer.contacts.queries import find_contact
from mailer.privacy.catalogue import CONTACTS, linked, table, tables_linked_to
from mailer.privacy.files import files_about
from mailer.privacy.person import Identity, mentions


def export_person(session: Session, email: str, settings: Settings | None = None) -> dict[str, Any]:
    """`settings` given: the files under its instance folder that hold the person's data are listed too."""
    contact = find_contact(session, email)
    render = _Renderer(session)
    contacts = table(CONTACTS)
    data: dict[str, Any] = {
        "contact": render.row(
            contacts, session.execute(select(contacts).where(contacts.c.id == contact.id)).mappings().one()
        )
    }
    seen: set[tuple[str, tuple[Any, ...]]] = {(CONTACTS, (contact.id,))}
    for source in sorted(tables_linked_to(CONTACTS), key=lambda table: table.name):
        rows = (
            session.execute(
                select(source).where(linked(source, CONTACTS, [contact.id])).order_by(*source.primary_key.columns)
            )
            .mappings()
            .all()
        )
        data[source.name] = [render.row(source, row) for row in rows]
        seen.update((source.name, _key(source, row)) for row in rows)
    suppression = session.scalar(select(Suppression).where(Suppression.address_hash == address_hash(contact.email)))
    data["suppression"] = (
        None
        if suppression is None
        else {"reason": suppression.reason.value, "since": _plain(suppression.created_at), "detail": suppression.detail}
    )
    identity = Identity.of(contact)
    data["mentions"] = [
        {"table": source.name, "column": column.name, "value": _plain(row[column.name])}
        for source, column, row in mentions(session, identity)
        if (source.name, _key(source, row)) not in seen
    ]
    if settings is not None:
        data["files"] = [str(path.relative_to(settings.instance_path)) for path in files_about(settings, identity)]
    return data


def _key(source: Table, row: Mapping[Any, Any]) -> tuple[Any, ...]:
    return tuple(row[column.name] for column in source.primary_key.columns)


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


class _Renderer:
    """A row as a dict: the link to the person left out, links to meetings or organisations as their slugs."""

    def __init__(self, session: Session):
        self.session = session
        self.slugs: dict[str, dict[Any, str]] = {}

    def row(self, source: Table, row: Mapping[Any, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for column in source.columns:
            value = row[column.name]
            target = next(iter(column.foreign_keys), None)
            if target is not None and target.column.table.name == CONTACTS:
                continue
            if target is not None and "slug" in target.column.table.c and column.name.endswith("_id"):
                out[column.name[:-3]] = self._slug(target.column.table, value)
            else:
                out[column.name] = _plain(value)
        return out

    def _slug(self, referenced: Table, value: Any) -> str | None:
        if value is None:
            return None
        if referenced.name not in self.slugs:
            self.slugs[referenced.name] = dict(self.session.execute(select(referenced.c.id, referenced.c.slug)).all())
        return self.slugs[referenced.name].get(value)
