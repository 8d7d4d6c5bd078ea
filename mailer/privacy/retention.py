"""Retention: what people said about meetings older than the retention period loses its link to them.

The figures stay (how many said yes, the scores), the person goes: in every row that
belongs to an expired meeting (through foreign keys) and to a contact, the link to the
contact is cut and each column declared personal is cleared. Rows of the tables declared
`deleted_after_retention` (bounce reports: tied to one person by design) are deleted once their
declared time is older than the period. File-outbox messages older than the period are deleted.
Run daily by the worker; harmless to repeat.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Table, and_, delete, select, update
from sqlalchemy.orm import Session

from mailer.db import rowcount, utcnow
from mailer.meetings.models import Meeting
from mailer.privacy.catalogue import (
    CONTACTS,
    MEETINGS,
    all_tables,
    linked,
    path_to,
    personal_columns,
    tables_linked_to,
)


@dataclass
class Anonymised:
    meetings: int
    responses: int
    evaluations: int
    rows: dict[str, int]
    deleted: dict[str, int] = field(default_factory=dict)  # table -> rows deleted (deleted_after_retention)


def cutoff(months: int, now: dt.datetime | None = None) -> dt.datetime:
    return (now or utcnow()) - dt.timedelta(days=round(months * 365.25 / 12))


def anonymise_expired(session: Session, months: int, now: dt.datetime | None = None) -> Anonymised:
    deleted = delete_expired_rows(session, cutoff(months, now))
    meeting_ids = list(session.scalars(select(Meeting.id).where(Meeting.ends_at < cutoff(months, now))))
    if not meeting_ids:
        return Anonymised(0, 0, 0, {}, deleted)
    rows = {}
    # Children first (response_history before responses): a child finds its rows through
    # its parent's link to the meeting, which anonymising the parent does not change.
    for source in reversed(tables_linked_to(MEETINGS)):
        values = {column.name: None for column in _contact_links(source)}
        values.update({column.name: None for column in personal_columns(source)})
        if not values:
            continue
        clause = linked(source, MEETINGS, meeting_ids)
        done = and_(*(column.is_(None) for column in _contact_links(source) + personal_columns(source)))
        rows[source.name] = rowcount(session.execute(update(source).where(clause, ~done).values(values)))
    return Anonymised(len(meeting_ids), rows.get("responses", 0), rows.get("evaluations", 0), rows, deleted)


def delete_expired_rows(session: Session, before: dt.datetime) -> dict[str, int]:
    """Rows of every table declared deleted_after_retention whose declared time is before `before`."""
    deleted = {}
    for source in all_tables():
        if source.info.get("retention") == "delete":  # declared with db.deleted_after_retention
            column_name = source.info["retention_from"]
            deleted[source.name] = rowcount(session.execute(delete(source).where(source.c[column_name] < before)))
    return deleted


def _contact_links(source: Table) -> list[Column[Any]]:
    """The nullable foreign keys that point straight at a contact (a NOT NULL one is a membership, not an answer)."""
    chain = path_to(source, CONTACTS)
    return [chain[0][0]] if chain and len(chain) == 1 and chain[0][0].nullable else []
