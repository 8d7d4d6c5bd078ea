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

from mailer.staff.accounts import add_staff

STAFF_EMAIL = "kansli@ax.example.org"
PASSWORD = "ett långt lösenord"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client, path: str = "/staff/") -> str:
    page = client.get(path).get_data(as_text=True)
    match = CSRF.search(page)
    assert match, f"{path} has no CSRF token"
    return match.group(1)


def log_in(client, email: str = STAFF_EMAIL, password: str = PASSWORD, **extra: Any):
    return client.post("/staff/login", data={"csrf_token": csrf(client, "/staff/login"), "email": email,
                                             "password": password, **extra})


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
    boundary, body = encode_multipart({"csrf_token": csrf(client), "org": org, "new_org": new_org,
                                       "file": FileStorage(io.BytesIO(data), name)})
    return client.post("/staff/upload", data=body, content_type=f"multipart/form-data; boundary={boundary}")


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
