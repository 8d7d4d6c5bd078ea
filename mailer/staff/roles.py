"""What each staff account may do: one role per account, checked on the server for every page.

- admin: everything, including staff accounts, erasing people and settings;
- staff: contacts, meetings, campaigns, check-in and reports (no accounts, no erasure);
- viewer: reads the dashboard, lists and reports, and changes nothing.

Each role may do everything the roles below it may (a ladder, not a matrix): the
office has three kinds of people, and a ladder is what they can explain to each other.
"""

from __future__ import annotations

from mailer.errors import DomainError

ADMIN, STAFF, VIEWER = "admin", "staff", "viewer"
ROLES = (ADMIN, STAFF, VIEWER)
_RANK = {VIEWER: 0, STAFF: 1, ADMIN: 2}


class RoleError(DomainError, ValueError):
    prefix = "error.role."


def parse_role(text: str | None) -> str:
    """A role from a form or the command line; an unknown one is named in the error."""
    role = (text or "").strip().lower()
    if role not in _RANK:
        raise RoleError("unknown", role=text or "", choices=", ".join(ROLES))
    return role


def allows(role: str | None, needed: str) -> bool:
    """May an account with `role` do what needs `needed`? An unknown role may do nothing."""
    return role in _RANK and _RANK[role] >= _RANK[needed]
