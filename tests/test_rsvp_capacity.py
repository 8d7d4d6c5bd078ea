"""Capacity: yes answers plus guests never exceed it; the rest wait in line and are moved up
in order when places free up, each with a mail. (Concurrent answers: test_serve.py.)"""

from __future__ import annotations

import pytest
from rsvp_fixtures import answer, confirmations, links_for, response_of, send_outbox
from sqlalchemy import func, select

from mailer.rsvp.models import Answer, Response


@pytest.fixture
def meeting(make_meeting):
    return make_meeting(slug="liten", title="Liten träff", capacity=3, max_guests=2).id


@pytest.fixture
def people(person):
    return {name: person(f"{name}@example.org", name.title()) for name in ("anna", "bo", "cilla", "dan")}


def say(app, contact, meeting, **form):
    client = app.test_client()
    path = links_for(app, contact, meeting)["rsvp_url"]
    posted = answer(client, path, **form)
    return posted, client.get(path).get_data(as_text=True)


def places_taken(db, meeting) -> int:
    with db.transaction() as session:
        return session.scalar(
            select(func.coalesce(func.sum(1 + Response.guests), 0)).where(
                Response.meeting_id == meeting, Response.answer == Answer.YES, Response.waitlisted.is_(False)
            )
        )


def test_waitlist_gives_each_free_place_to_the_first_in_line_whose_party_fits(app, db, meeting, people, smtp_server):
    anna, bo, cilla, dan = people.values()
    say(app, anna, meeting, answer="yes", guests="1")  # 2 of 3 places
    posted, page = say(app, bo, meeting, answer="yes", guests="1")  # needs 2, 1 left: waits
    assert posted.status_code == 303
    assert "en plats är kvar, men det räcker inte för dig och dina gäster" in page  # not "fully booked"
    _, page = say(app, cilla, meeting, answer="yes")  # fits the one place left: Bo's party does not
    assert "Ja, du är anmäld" in page
    _, page = say(app, dan, meeting, answer="yes")  # full now
    assert "Du står på väntelistan. Blir en plats ledig" in page
    assert places_taken(db, meeting) == 3
    assert [response_of(db, c, meeting).waitlisted for c in (bo, cilla, dan)] == [True, False, True]

    say(app, anna, meeting, answer="yes", guests="0")  # 1 place free: Bo (2) does not fit, Dan does
    assert [response_of(db, c, meeting).waitlisted for c in (bo, cilla, dan)] == [True, False, False]
    assert places_taken(db, meeting) == 3
    say(app, anna, meeting, answer="no")  # 1 place free: still not enough for Bo, who keeps his turn
    assert response_of(db, bo, meeting).waitlisted and places_taken(db, meeting) == 2
    say(app, cilla, meeting, answer="no")  # 2 places free: Bo moves up
    assert not response_of(db, bo, meeting).waitlisted and places_taken(db, meeting) == 3
    assert [c.waitlisted for c in response_of(db, bo, meeting).history] == [True, False]

    mails = [(m["contact_id"], m["answer"], m["guests"], m["waitlisted"], m["promoted"]) for m in confirmations(db)]
    assert mails == [
        (anna, "yes", 1, False, False),
        (bo, "yes", 1, True, False),
        (cilla, "yes", 0, False, False),
        (dan, "yes", 0, True, False),
        (dan, "yes", 0, False, True),
        (anna, "yes", 0, False, False),
        (anna, "no", 0, False, False),
        (bo, "yes", 1, False, True),
        (cilla, "no", 0, False, False),
    ]
    send_outbox(app, smtp_server.url)
    one_left = smtp_server.to("bo@example.org")[0].message
    assert one_left["Subject"].startswith("Du står på väntelistan: ")
    assert "finns bara en plats kvar, och det räcker inte" in one_left.get_body(("plain",)).get_content()
    waitlisted = smtp_server.to("dan@example.org")[0].message
    assert "fullbokad just nu" in waitlisted.get_body(("plain",)).get_content()
    assert not [p for p in waitlisted.iter_attachments() if p.get_content_type() == "text/calendar"]
    promoted = smtp_server.to("dan@example.org")[1].message
    assert promoted["Subject"].startswith("Du har fått en plats: ")
    assert "en plats har blivit ledig" in promoted.get_body(("plain",)).get_content()
    assert [p.get_filename() for p in promoted.iter_attachments()] == ["traff.ics"]


def test_leaving_the_waitlist_frees_nothing_and_keeps_the_order(app, db, meeting, people):
    anna, bo, cilla, dan = people.values()
    say(app, anna, meeting, answer="yes", guests="2")  # full
    say(app, bo, meeting, answer="yes")
    say(app, cilla, meeting, answer="yes")
    say(app, bo, meeting, answer="no")  # Bo leaves the line
    say(app, bo, meeting, answer="yes")  # and rejoins at the end
    say(app, anna, meeting, answer="yes", guests="1")  # one place frees up: Cilla, not Bo
    assert response_of(db, cilla, meeting).waitlisted is False
    assert response_of(db, bo, meeting).waitlisted is True


def test_someone_with_a_place_keeps_it_and_cannot_add_guests_beyond_capacity(app, db, meeting, people):
    anna, bo, *_ = people.values()
    say(app, anna, meeting, answer="yes")
    say(app, bo, meeting, answer="yes", guests="1")  # full: 1 + 2
    posted, _ = say(app, anna, meeting, answer="yes", guests="2")
    html = posted.get_data(as_text=True)
    assert posted.status_code == 422
    assert "Gäster med dig: högst 0, för träffen är nästan full." in html
    response = response_of(db, anna, meeting)
    assert (response.guests, response.waitlisted) == (0, False)
    assert places_taken(db, meeting) == 3


def test_no_capacity_means_nobody_waits(app, db, make_meeting, people):
    open_meeting = make_meeting(slug="stor", capacity=None, max_guests=2).id
    for contact in people.values():
        say(app, contact, open_meeting, answer="yes", guests="2")
    assert places_taken(db, open_meeting) == 12
    assert not any(m["waitlisted"] for m in confirmations(db))


def test_raising_the_capacity_moves_the_waiting_list_up_at_once(db, settings, make_meeting):
    from sqlalchemy import select

    from mailer.contacts.models import Contact
    from mailer.meetings.models import Meeting
    from mailer.rsvp.models import Response
    from mailer.rsvp.service import record_answer
    from mailer.staff.meeting_changes import update_meeting

    meeting_id = make_meeting(slug="liten", capacity=1).id
    with db.transaction() as session:
        for email in ("a@x.example.org", "b@x.example.org", "c@x.example.org"):
            session.add(Contact(email=email))
    with db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        for contact in session.scalars(select(Contact).order_by(Contact.id)):
            record_answer(session, contact, meeting, {"answer": "yes"}, settings.timezone)
    with db.transaction() as session:
        update_meeting(session, settings.timezone, session.get(Meeting, meeting_id), capacity=2)
    with db.transaction() as session:
        waiting = [r.waitlisted for r in session.scalars(select(Response).order_by(Response.id))]
    assert waiting == [False, False, True]  # b moved up (and was mailed), c still waits
