"""Which role each staff page needs, declared on the handler and checked before it runs.

    @bp.get("/meetings")
    @requires(VIEWER)                 # reading: every role
    @bp.route("/meetings/<slug>/edit", methods=["GET", "POST"])
    @requires(STAFF)                  # the form and saving it: staff and admin
    @bp.route("/contacts/<int:id>", methods=["GET", "POST"])
    @requires(VIEWER, post=STAFF)     # everyone reads the page, staff change it

A handler without a declaration needs admin (closed by default), and a test walks
the URL map so that every staff route's role is stated and checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app

from mailer.staff.roles import ADMIN, ROLES

View = TypeVar("View", bound=Callable)
READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def requires(role: str, *, post: str | None = None) -> Callable[[View], View]:
    """Declare the role a page needs to be read (GET) and to be changed (POST, default the same)."""
    assert role in ROLES and (post is None or post in ROLES)

    def declare(view: View) -> View:
        view.staff_roles = {"read": role, "write": post or role}  # type: ignore[attr-defined]
        return view

    return declare


def declared_roles(endpoint: str | None) -> dict[str, str] | None:
    view = current_app.view_functions.get(endpoint or "")
    return getattr(view, "staff_roles", None)


def role_needed(endpoint: str | None, method: str) -> str:
    roles = declared_roles(endpoint) or {"read": ADMIN, "write": ADMIN}
    return roles["read"] if method in READ_METHODS else roles["write"]
