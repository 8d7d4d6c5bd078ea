"""Fixtures and helpers for the staff web app tests: an account, a logged-in client, and form posting.

Registered as a pytest plugin from conftest.py: the fixtures (staff, staff_client) need no
import; import the plain helpers (post, text, csrf, log_in, STAFF_EMAIL, PASSWORD) by name.
"""

from __future__ import annotations

import io
import re
from html import unescape
from typing import Any

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from mailer.staff import accounts
from mailer.staff.accounts import add_staff
from mailer.web.staff import OPEN_ENDPOINTS

STAFF_EMAIL = "kansli@ax.example.org"
PASSWORD = "ett långt lösenord"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client, path: str = "/staff/") -> str:
    page = client.get(path).get_data(as_text=True)
    match = CSRF.search(page)
    assert match, f"{path} has no CSRF token"
    return match.group(1)


def log_in(client, email: str = STAFF_EMAIL, password: str = PASSWORD, **extra: Any):
    return client.post(
        "/staff/login", data={"csrf_token": csrf(client, "/staff/login"), "email": email, "password": password, **extra}
    )


def post(client, path: str, data: dict | None = None, **kwargs: Any):
    """A staff form POST with a valid CSRF token, like a browser submitting the page's form."""
    return client.post(path, data={"csrf_token": csrf(client), **(data or {})}, **kwargs)


def text(reply) -> str:
    """The page's visible words, tags removed and spaces collapsed (for assertions)."""
    html = reply.get_data(as_text=True)
    html = re.sub(r"(?s)<(script|style|iframe)\b.*?</\1>", " ", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def upload(client, data: bytes, org: str = "", new_org: str = "exempelforbundet", name: str = "lista.csv"):
    """The form as a browser sends it. Encoded here, in memory: the test client would spool a
    large body to a temporary file that it never closes."""
    boundary, body = encode_multipart(
        {"csrf_token": csrf(client), "org": org, "new_org": new_org, "file": FileStorage(io.BytesIO(data), name)}
    )
    return client.post("/staff/upload", data=body, content_type=f"multipart/form-data; boundary={boundary}")


SAMPLE_VALUES = {"IntegerConverter": 1, "UnicodeConverter": "falun", "PathConverter": "sv/invitation.html"}


def staff_routes(app, methods: set[str]) -> list[tuple[str, str]]:
    """(method, path) for every staff route of the running app, its parameters filled in.

    Walking the URL map, not a list: a page added later is covered without anyone
    remembering to add it here.
    """
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("staff.") or rule.endpoint in OPEN_ENDPOINTS:
            continue
        values = {
            name: (
                sorted(conv.items)[0] if type(conv).__name__ == "AnyConverter" else SAMPLE_VALUES[type(conv).__name__]
            )
            for name, conv in rule._converters.items()
        }
        path = rule.build(values)[1]
        routes += [(method, path) for method in sorted(rule.methods & methods)]
    return sorted(routes)


def client_as(app, db, role: str, email: str | None = None):
    """A test client logged in as a new account with this role."""
    email = email or f"{role}@ax.example.org"
    with db.transaction() as session:
        accounts.add_staff(session, email, role.title(), PASSWORD, role=role)
    client = app.test_client()
    assert log_in(client, email=email).status_code == 303
    return client


@pytest.fixture
def staff(db) -> int:
    with db.transaction() as session:
        return add_staff(session, STAFF_EMAIL, "Karin Kansli", PASSWORD).id


@pytest.fixture
def staff_client(app, staff):
    client = app.test_client()
    reply = log_in(client)
    assert reply.status_code == 303, reply.get_data(as_text=True)
    return client
