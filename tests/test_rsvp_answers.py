"""Answering: one response per person and meeting, history of changes, validation, CSRF,
language, escaping, the deadline, and the confirmation mail on a real SMTP server."""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import day, future_year, when
from rsvp_fixtures import answer, confirmations, csrf_of, links_for, response_of, send_outbox
from sqlalchemy import func, select

from mailer.contacts.models import Contact
from mailer.db import utcnow
from mailer.outbox.models import OutboxMessage
from mailer.rsvp.models import Answer, Response, ResponseChange
from mailer.rsvp.questions import given_answers

YEAR = future_year()  # a year still ahead: the tests keep their month and day, never go stale


@pytest.fixture
def meeting(make_meeting):
    return make_meeting(
        slug="falun",
        title="Dialogträff i Falun",
        city="Falun",
        region="Dalarna",
        venue="Dalarnas museum",
        max_guests=2,
        rsvp_by=f"{YEAR}-04-25",
    ).id


@pytest.fixture
def anna(person):
    return person("anna@example.org", "Anna Andersson")


def rsvp(app, contact, meeting) -> str:
    return links_for(app, contact, meeting)["rsvp_url"]


def count(db, model) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_answer_is_recorded_then_changed_with_history(app, db, anna, meeting):
    client, path = app.test_client(), rsvp(app, anna, meeting)
    posted = answer(
        client, path, answer="yes", guests="1", diet="Vegan", accessibility="Hörslinga", comment="Ser fram emot det"
    )
    assert posted.status_code == 303
    assert posted.headers["Location"].endswith("?saved=1")
    page = client.get(posted.headers["Location"]).get_data(as_text=True)
    assert "Tack! Ditt svar är sparat." in page
    assert "Ja, du är anmäld och tar med 1 gäst." in page
    assert 'value="Vegan"' in page and "Ser fram emot det</textarea>" in page

    assert answer(client, path, answer="no", comment="Blev sjuk").status_code == 303
    assert "Nej, du kan inte komma." in client.get(path).get_data(as_text=True)
    response = response_of(db, anna, meeting)
    assert (response.answer.value, response.guests, response.comment) == ("no", 0, "Blev sjuk")
    # A form without the diet field (a "no" here) leaves the diet answer as it was.
    assert [(c.answer.value, c.guests, (c.answers or {}).get("diet")) for c in response.history] == [
        ("yes", 1, "Vegan"),
        ("no", 0, "Vegan"),
    ]
    assert given_answers(response) == {"diet": "Vegan", "accessibility": "Hörslinga"}
    assert response.history[0].at <= response.history[1].at
    assert count(db, Response) == 1


def test_posting_the_same_answer_again_adds_no_history_and_no_mail(app, db, anna, meeting):
    client, path = app.test_client(), rsvp(app, anna, meeting)
    for _ in range(3):
        assert answer(client, path, answer="yes", guests="0").status_code == 303
    assert count(db, ResponseChange) == 1
    assert len(confirmations(db)) == 1


@pytest.mark.parametrize(
    "form, field, message",
    [
        ({}, "answer", "Välj ja eller nej."),
        ({"answer": "maybe"}, "answer", "Välj ja eller nej."),
        ({"answer": "yes", "guests": "3"}, "guests", "Antalet gäster kan vara högst 2."),
        ({"answer": "yes", "guests": "-1"}, "guests", "Ange antal gäster med siffror, 0–2."),
        ({"answer": "yes", "guests": "två"}, "guests", "Ange antal gäster med siffror, 0–2."),
        ({"answer": "yes", "comment": "x" * 1001}, "comment", "Skriv högst 1000 tecken."),
        ({"answer": "yes", "diet": "x" * 301}, "diet", "Skriv högst 300 tecken."),
        ({"answer": "yes", "accessibility": "x" * 301}, "accessibility", "Skriv högst 300 tecken."),
    ],
)
def test_invalid_input_reshows_the_form_with_a_message_and_writes_nothing(app, db, anna, meeting, form, field, message):
    client, path = app.test_client(), rsvp(app, anna, meeting)
    posted = answer(client, path, **{"comment": "behåll mig", **form})
    html = posted.get_data(as_text=True)
    assert posted.status_code == 422
    assert "Något behöver rättas" in html and message in html
    assert f'href="#{field}"' in html and f'id="{field}-error"' in html
    if "comment" not in form:
        assert "behåll mig</textarea>" in html  # what the person typed is kept
    assert count(db, Response) == 0 and count(db, OutboxMessage) == 0


def test_page_and_messages_in_english_for_english_contacts(app, db, person, meeting):
    john = person("john@example.org", "John Smith", language="en")
    client, path = app.test_client(), rsvp(app, john, meeting)
    html = client.get(path).get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Will you come?" in html and "Number of guests coming with you" in html and "Send reply" in html
    assert "Kommer du" not in html
    assert when(f"{YEAR}-05-01 18:00", "20:00", "en") in html
    wrong = answer(client, path, answer="yes", guests="5").get_data(as_text=True)
    assert "The number of guests can be at most 2." in wrong and "Something needs fixing" in wrong


def test_post_without_a_valid_csrf_token_is_refused(app, db, anna, meeting):
    client, path = app.test_client(), rsvp(app, anna, meeting)
    client.get(path)
    for data in ({"answer": "yes"}, {"answer": "yes", "csrf_token": "forged"}):
        refused = client.post(path, data=data)
        assert refused.status_code == 400
        assert "Kontrollera ditt svar och skicka igen" in refused.get_data(as_text=True)
    other = app.test_client()  # a token from another visitor's session does not help
    token = csrf_of(other.get(path).get_data(as_text=True))
    assert app.test_client().post(path, data={"answer": "yes", "csrf_token": token}).status_code == 400
    assert count(db, Response) == 0


def test_nothing_a_visitor_types_runs_as_html(app, db, person, meeting, smtp_server):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    mallory = person("mallory@example.org", name="<i>Mallory</i> Evil")
    client, path = app.test_client(), rsvp(app, mallory, meeting)
    answer(client, path, answer="yes", diet=evil, accessibility=evil, comment=evil)
    html = client.get(path).get_data(as_text=True)
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    invalid = answer(client, path, answer="maybe", comment=evil).get_data(as_text=True)
    assert "<script>" not in invalid and "&lt;script&gt;" in invalid
    send_outbox(app, smtp_server.url)
    mail = smtp_server.to("mallory@example.org")[0].message
    body = mail.get_body(("html",)).get_content()
    assert "<i>Mallory" not in body and "Hej &lt;i&gt;Mallory&lt;/i&gt;!" in body


def test_after_the_deadline_the_answer_shows_but_the_form_is_closed(app, db, anna, make_meeting, settings):
    today = utcnow().astimezone(settings.timezone).date()
    closed = make_meeting(
        slug="stangd", starts=f"{today + dt.timedelta(days=10)} 18:00", rsvp_by=str(today - dt.timedelta(days=1))
    ).id
    started = make_meeting(slug="igang", starts=f"{today - dt.timedelta(days=1)} 18:00").id
    with db.transaction() as session:
        session.add(Response(meeting_id=closed, contact_id=anna, answer=Answer.YES, guests=0))
    client = app.test_client()
    for meeting_id, shows_answer in ((closed, True), (started, False)):
        path = rsvp(app, anna, meeting_id)
        page = client.get(path).get_data(as_text=True)
        assert "Anmälan är stängd." in page and "info@ax.example.org" in page
        assert "<form" not in page
        assert ("Ja, du är anmäld." in page) is shows_answer
        # The closed page has no form; any of our pages gives this session a CSRF token.
        token = csrf_of(client.get(links_for(app, anna, meeting_id)["unsubscribe_url"]).get_data(as_text=True))
        refused = client.post(path, data={"csrf_token": token, "answer": "no"})
        assert refused.status_code == 409
    assert response_of(db, anna, closed).answer.value == "yes"
    assert response_of(db, anna, started) is None
    assert count(db, OutboxMessage) == 0
    with db.transaction() as session:  # someone still waiting once it has closed is promised nothing
        session.add(Response(meeting_id=started, contact_id=anna, answer=Answer.YES, guests=0, waitlisted=True))
    waiting = client.get(rsvp(app, anna, started)).get_data(as_text=True)
    assert "Du står på väntelistan." in waiting and "Blir en plats ledig" not in waiting


def test_confirmation_mails_are_queued_with_the_answer(app, db, anna, person, meeting):
    bo = person("bo@example.org", "Bo")
    client = app.test_client()
    answer(client, rsvp(app, bo, meeting), answer="no")  # a first no: nothing to confirm
    assert confirmations(db) == []
    path = rsvp(app, anna, meeting)
    answer(client, path, answer="yes", guests="2")
    answer(client, path, answer="yes", guests="2", diet="Glutenfri")  # nothing new to confirm
    answer(client, path, answer="yes", guests="1")  # fewer guests: confirmed again
    answer(client, path, answer="no")
    expected = {"contact_id": anna, "template": "confirmation", "waitlisted": False, "promoted": False}
    assert confirmations(db) == [
        {**expected, "answer": "yes", "guests": 2},
        {**expected, "answer": "yes", "guests": 1},
        {**expected, "answer": "no", "guests": 0},
    ]


def test_confirmation_arrives_at_a_real_smtp_server_with_the_calendar_file(app, db, anna, meeting, smtp_server):
    client, path = app.test_client(), rsvp(app, anna, meeting)
    answer(client, path, answer="yes", guests="1")
    send_outbox(app, smtp_server.url)
    [yes] = smtp_server.to("anna@example.org")
    message = yes.message
    assert message["Subject"] == f"Du är anmäld: Dialogträff i Falun, {day(f'{YEAR}-05-01')}"
    text = message.get_body(("plain",)).get_content()
    assert "Hej Anna!" in text and "1 gäst som följer med dig" in text
    [ics] = [part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"]
    assert ics.get_filename() == "traff.ics"
    assert b"SUMMARY:Dialogtr" in ics.get_payload(decode=True)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    answer(client, path, answer="no")
    send_outbox(app, smtp_server.url)
    no = smtp_server.to("anna@example.org")[1].message
    assert no["Subject"] == f"Tack för ditt svar: Dialogträff i Falun, {day(f'{YEAR}-05-01')}"
    assert not [p for p in no.iter_attachments() if p.get_content_type() == "text/calendar"]
    with db.transaction() as session:
        assert session.scalar(select(Contact.email).where(Contact.id == anna)) == "anna@example.org"
