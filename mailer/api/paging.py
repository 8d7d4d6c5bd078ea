"""Cursor pagination: `limit` items from where the opaque `cursor` says the last page ended.

The cursor is the sort key of the last item given (an id, or a time and an id), in
URL-safe base64: clients pass it back and never build one. Keyset paging, not offsets:
rows added while a client pages through never make it skip or repeat one.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

from mailer.api.errors import ApiError

DEFAULT_LIMIT, MAX_LIMIT = 50, 200
Query = TypeVar("Query", bound="Select[*tuple[Any, ...]]")  # a select of any row shape


@dataclass(frozen=True)
class PageRequest:
    after: list[Any] | None  # the sort key of the last item of the previous page
    limit: int


def page_request(cursor: str | None, limit: str | None) -> PageRequest:
    if limit in (None, ""):
        size = DEFAULT_LIMIT
    elif not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
        raise ApiError("bad_limit", 400, field="limit", max=MAX_LIMIT)
    else:
        size = int(limit)
    if not cursor:
        return PageRequest(None, size)
    try:
        after = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii") + b"==="))
    except (ValueError, UnicodeError, binascii.Error):
        raise ApiError("bad_cursor", 400, field="cursor") from None
    if not isinstance(after, list) or not after:
        raise ApiError("bad_cursor", 400, field="cursor")
    return PageRequest(after, size)


def encode(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def page(
    rows: Sequence[Any], request: PageRequest, key: Callable[[Any], list[Any]], render: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    """`rows` were fetched with limit + 1: one more than asked tells whether a next page exists."""
    shown = list(rows[: request.limit])
    more = len(rows) > request.limit
    return {"items": [render(row) for row in shown], "next_cursor": encode(key(shown[-1])) if more else None}


def by_id(query: Query, id_column: Any, request: PageRequest) -> Query:
    """The list in id order, from after the previous page's last id, with one row more than asked."""
    query = query.order_by(id_column).limit(request.limit + 1)
    if request.after:
        query = query.where(id_column > request.after[0])
    return query


def id_page(
    session: Session, query: Select[Any], request: PageRequest, render: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    """One page of a `by_id` list of rows that have an `id`."""
    return page(list(session.scalars(query)), request, key=lambda row: [row.id], render=render)
