"""The personal-data declaration, read from the table metadata.

Why from the metadata: a column added tomorrow is exported, erased and expired the day
it is added, because every column must declare `info=personal()` or `info=not_personal()`
(mailer.db) and the paths from a table to a contact or a meeting are its foreign keys.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Column, ColumnElement, MetaData, Table, select

import mailer.models  # noqa: F401  (every table on the metadata)
from mailer.db import Base

CONTACTS = "contacts"
MEETINGS = "meetings"


def all_tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)


def table(name: str) -> Table:
    return Base.metadata.tables[name]


def is_personal(column: Column[Any], of: str = "contact") -> bool:
    return column.info.get("personal") is True and column.info.get("of", "contact") == of


def personal_columns(source: Table, of: str = "contact") -> list[Column[Any]]:
    return [column for column in source.columns if is_personal(column, of)]


def undeclared_columns(metadata: MetaData = Base.metadata) -> list[str]:
    """Columns that say neither personal nor not personal: each is a test failure."""
    return [
        f"{source.name}.{column.name}"
        for source in metadata.sorted_tables
        for column in source.columns
        if column.info.get("personal") not in (True, False)
    ]


def path_to(source: Table, target: str) -> list[tuple[Column[Any], Column[Any]]] | None:
    """The shortest chain of foreign keys from `source` to the table named `target`, or None.

    Each step is (column in this table, column it references in the next table). Foreign keys
    declared `reference()` (mailer.db) point at a definition, not at an owner, and are not followed.
    """
    if source.name == target:
        return []
    seen = {source.name}
    queue: deque[tuple[Table, list[tuple[Column[Any], Column[Any]]]]] = deque([(source, [])])
    while queue:
        current, steps = queue.popleft()
        owners = [key for key in current.foreign_keys if not key.parent.info.get("reference")]
        for key in sorted(owners, key=lambda fk: fk.parent.name):
            parent = key.column.table
            chain = steps + [(key.parent, key.column)]
            if parent.name == target:
                return chain
            if parent.name not in seen:
                seen.add(parent.name)
                queue.append((parent, chain))
    return None


def linked(source: Table, target: str, ids: Iterable[Any] | Any) -> ColumnElement[bool]:
    """A WHERE clause on `source` for its rows that lead, through foreign keys, to the given target rows.

    `ids` is a list of the target's ids or a SELECT of them. Only for tables that lead there
    (tables_linked_to): raises ValueError for one that does not.
    """
    chain = path_to(source, target)
    if not chain:
        raise ValueError(f"no foreign keys lead from {source.name} to {target}")
    last_column, _ = chain[-1]
    clause = last_column.in_(ids)
    for column, referenced in reversed(chain[:-1]):
        clause = column.in_(select(referenced).where(clause))
    return clause


def tables_linked_to(target: str) -> list[Table]:
    """Every table with rows that belong to a row of `target` (directly or through a parent)."""
    return [source for source in all_tables() if source.name != target and path_to(source, target)]
