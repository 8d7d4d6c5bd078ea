"""Fixtures for the public sign-up tests: an app with the form's time check off, a meeting in it,
and helpers that fill in the form like a browser and find the confirmation link.

Registered as a pytest plugin from conftest.py: the fixtures (signup_app, sdb, org, smeeting,
person_in) need no import; the helpers are imported by name.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from mailer.app import create_app
from mailer.contacts.models import Contact, Organisation
from mailer.db import Database
from mailer.outbox.models import OutboxMessage

ADDRESS = "kim.signup@example.org"
CONFIRM = re.compile(r"http://mailer\.test(/signup/confirm/[A-Za-z0-9_-]+)")
FORM = re.compile(r'name="form" value="([^"]+)"')


@pytest.fixture
def signup_app(test_config):
    """The app with the time check off (`signup_min_seconds` 0): these tests post at once."""
    app = create_app({**test_config, "signup_min_seconds": 0})
    app.extensions["mailer.db"].upgrade()
    yield app
    app.extensions["mailer.db"].dispose()


@pytest.fixture
def sdb(signup_app) -> Database:
    return signup_app.extensions["mailer.db"]


@pytest.fixture
def org(sdb) -> int:
    with sdb.transaction() as session:
        organisation = Organisation(slug="teaterforbundet", name="Teaterförbundet")
        session.add(organisation)
        session.flush()
        return organisation.id


@pytest.fixture
def smeeting(signup_app, sdb):
    """A meeting in the sign-up app's database: make(capacity=…) -> (id, link_key)."""
    from helpers import future_year

    from mailer.meetings.service import add_meeting, parse_local

    settings = signup_app.extensions["mailer.settings"]

    def make(**fields):
        starts = parse_local("starts", f"{future_year()}-05-06 18:00", settings.timezone)
        values = {
            "slug": "umea",
            "title": "Dialogträff Umeå",
            "region": "Västerbotten",
            "city": "Umeå",
            "starts": f"{future_year()}-05-06 18:00",
            "now": starts - dt.timedelta(days=30),
            **fields,
        }
        with sdb.transaction() as session:
            meeting = add_meeting(session, settings.timezone, **values)
            return meeting.id, meeting.link_key

    return make


def sign_up(client, path: str, **fields):
    """Open the page like a browser, then send the form with its signed token."""
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    token = FORM.search(page.get_data(as_text=True)).group(1)
    data = {"form": token, "website": "", "name": "Kim Signup", "email": ADDRESS, "consent": "yes", **fields}
    return client.post(path, data={k: v for k, v in data.items() if v is not None})


def queued_link(db) -> str:
    with db.reading() as session:
        message = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "signup_confirmation")
            .order_by(OutboxMessage.id.desc())
        ).first()
        return CONFIRM.search(message.extra["signup"]["confirm_url"]).group(1)


def count(db, model) -> int:
    with db.reading() as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def person_in():
    def make(db, address: str) -> int:
        with db.transaction() as session:
            contact = Contact(email=address, name="Someone Else")
            session.add(contact)
            session.flush()
            return contact.id

    return make
