"""The evaluation form /e/<token> through HTTP: GET records nothing, POST records once, changeable."""

from __future__ import annotations

import pytest
from helpers import past_year
from rsvp_fixtures import csrf_of, links_for
from sqlalchemy import func, select

from mailer.attendance.checkin import check_in
from mailer.evaluations.models import Evaluation
from mailer.meetings.models import Meeting

LAST_YEAR = past_year()  # a year wholly behind us: its meetings have taken place


FORM = {"value": "5", "knowledge": "4", "cooperation": "yes", "comment": "<b>Mycket bra</b>"}


@pytest.fixture
def client_factory(app):
    """A new visitor (own cookies) each call."""
    return app.test_client


def evaluations(db) -> list[Evaluation]:
    with db.transaction() as session:
        return session.scalars(select(Evaluation).order_by(Evaluation.id)).all()


def setup(app, db, person, make_meeting, came=True):
    meeting = make_meeting(slug="falun", starts=f"{LAST_YEAR}-05-06 18:00")
    anna = person("anna@example.org", "Anna Andersson")
    if came:
        with db.transaction() as session:
            check_in(session, session.get(Meeting, meeting.id), ["anna@example.org"])
    return links_for(app, anna, meeting.id)["evaluation_url"], meeting.id


def test_get_records_nothing_and_post_records_once_changeably(app, db, client_factory, person, make_meeting):
    path, _ = setup(app, db, person, make_meeting)
    client = client_factory()
    page = client.get(path)
    assert page.status_code == 200 and "Hur givande var träffen" in page.get_data(as_text=True)
    client.head(path)
    assert evaluations(db) == []
    token = csrf_of(page.get_data(as_text=True))
    posted = client.post(path, data={"csrf_token": token, **FORM})
    assert posted.status_code == 303
    client.post(path, data={"csrf_token": token, **FORM, "value": "3"})
    (stored,) = evaluations(db)
    assert (stored.value, stored.knowledge, stored.cooperation) == (3, 4, True)
    shown = client.get(path + "?saved=1").get_data(as_text=True)
    assert "Tack för dina svar" in shown and "&lt;b&gt;Mycket bra&lt;/b&gt;" in shown


def test_invalid_input_is_shown_again_and_csrf_is_required(app, db, client_factory, person, make_meeting):
    path, _ = setup(app, db, person, make_meeting)
    client = client_factory()
    token = csrf_of(client.get(path).get_data(as_text=True))
    bad = client.post(path, data={"csrf_token": token, **FORM, "knowledge": "9"})
    assert bad.status_code == 422 and "Välj en siffra 1–5" in bad.get_data(as_text=True)
    forged = client_factory().post(path, data=FORM)
    assert forged.status_code == 400
    assert evaluations(db) == []


def test_only_participants_and_bad_tokens(app, db, client_factory, person, make_meeting):
    path, _ = setup(app, db, person, make_meeting, came=False)
    client = client_factory()
    page = client.get(path)
    assert "för dem som var med" in page.get_data(as_text=True)
    token = csrf_of(client.get(links_for(app, person("x@example.org"))["unsubscribe_url"]).get_data(as_text=True))
    assert client.post(path, data={"csrf_token": token, **FORM}).status_code == 409
    assert client.get(path[:-3] + "abc").status_code == 404
    rsvp_path = path.replace("/e/", "/r/")
    assert client.get(rsvp_path).status_code == 404  # an evaluation token is not an RSVP token


def test_anonymous_evaluation(app, db, client_factory, person, make_meeting):
    path, meeting_id = setup(app, db, person, make_meeting)
    with db.transaction() as session:
        session.get(Meeting, meeting_id).evaluation_anonymous = True
    client = client_factory()
    token = csrf_of(client.get(path).get_data(as_text=True))
    assert client.post(path, data={"csrf_token": token, **FORM}).status_code == 303
    again = client.post(path, data={"csrf_token": token, **FORM, "value": "1"})
    assert again.status_code == 409 and "redan svarat" in again.get_data(as_text=True)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Evaluation)) == 1
        assert session.scalar(select(Evaluation.contact_id)) is None
