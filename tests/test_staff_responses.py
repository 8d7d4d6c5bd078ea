"""A meeting's answers for staff: figures, a filtered table, check-in at the door, walk-ins,
evaluation results and the attendee export; and the dashboard built from the same figures."""

from __future__ import annotations

import io

import pytest
from helpers import past_year
from openpyxl import load_workbook
from sqlalchemy import select
from staff_helpers import post, text

from mailer.attendance.models import Attendance
from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact, SuppressionReason
from mailer.contacts.subscriptions import suppress
from mailer.evaluations.service import record_evaluation
from mailer.meetings.models import Meeting
from mailer.rsvp.service import record_answer

LAST_YEAR = past_year()  # a year wholly behind us: its meetings have taken place


LISTS = {
    "korforbundet.csv": "email,name\nanna@kor.example.org,Anna Andersson\nbengt@kor.example.org,Bengt Berg\n"
    "=evil@kor.example.org,Formel Person\n",
    "teater.csv": "email,name\ncecilia@teater.example.org,Cecilia Ceder\ndavid@teater.example.org,David Dahl\n",
}


@pytest.fixture
def answered(db, settings, make_csv, make_meeting, invite):
    """Five invited: Anna yes (vegetarian), Bengt no, Cecilia yes with a guest, David and Formel silent."""
    with db.transaction() as session:
        import_lists(session, [make_csv(name, body) for name, body in LISTS.items()])
    meeting_id = make_meeting(slug="falun", title="Dialogträff i Falun", capacity=10, max_guests=1).id
    with db.transaction() as session:
        everyone = list(session.scalars(select(Contact.id)))
    invite(meeting_id, everyone)
    with db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        people = {c.email.split("@")[0]: c for c in session.scalars(select(Contact))}
        record_answer(session, people["anna"], meeting, {"answer": "yes", "diet": "Vegetarisk"}, settings.timezone)
        record_answer(session, people["bengt"], meeting, {"answer": "no"}, settings.timezone)
        record_answer(session, people["cecilia"], meeting, {"answer": "yes", "guests": "1"}, settings.timezone)
    return meeting_id


def test_figures_and_the_table_with_filters(staff_client, answered):
    page = staff_client.get("/staff/meetings/falun/responses")
    words = text(page)
    assert "Inbjudna 5 Ja 2 Väntelista 0 Nej 1 Inget svar 2 Gäster 1 Kom 0" in words
    assert "2 av 2 organisationer representerade" in words
    assert "5 personer visas." in words
    yes = text(staff_client.get("/staff/meetings/falun/responses?answer=yes"))
    assert "2 personer visas." in yes and "Vegetarisk" in yes and "Bengt" not in yes
    teater = text(staff_client.get("/staff/meetings/falun/responses?org=teater"))
    assert "2 personer visas." in teater and "Cecilia Ceder" in teater and "David Dahl" in teater
    silent = text(staff_client.get("/staff/meetings/falun/responses?answer=no_answer&org=korforbundet"))
    assert "1 personer visas." in silent and "Formel Person" in silent
    assert staff_client.get("/staff/meetings/nope/responses").status_code == 404


def test_check_in_at_the_door_and_walk_ins(db, staff_client, answered):
    door = staff_client.get("/staff/meetings/falun/checkin")
    assert "0 har kommit" in text(door)
    reply = post(
        staff_client, "/staff/meetings/falun/checkin", {"email": "anna@kor.example.org", "action": "in", "q": "anna"}
    )
    assert reply.headers["Location"] == "/staff/meetings/falun/checkin?q=anna"
    found = text(staff_client.get(reply.headers["Location"]))
    assert "1 har kommit" in found and "Anna Andersson" in found and "Bengt" not in found
    assert "Har kommit" in found and "anna@kor.example.org är incheckad." in found
    post(staff_client, "/staff/meetings/falun/walk-in", {"name": " Gustav  Gäst ", "organisation": "Riksteatern"})
    nameless = post(staff_client, "/staff/meetings/falun/walk-in", {"name": " "}, follow_redirects=True)
    assert "Skriv personens namn." in text(nameless)
    page = text(staff_client.get("/staff/meetings/falun/responses"))
    assert "Kom 2" in page and "Gustav Gäst (Riksteatern)" in page
    post(staff_client, "/staff/meetings/falun/checkin", {"email": "anna@kor.example.org", "action": "undo"})
    with db.transaction() as session:
        assert [a.name for a in session.scalars(select(Attendance))] == ["Gustav Gäst"]


def test_evaluation_results(db, settings, staff_client, answered):
    assert "Inga utvärderingar ännu." in text(staff_client.get("/staff/meetings/falun/responses"))
    with db.transaction() as session:
        meeting = session.get(Meeting, answered)
        anna = session.scalar(select(Contact).where(Contact.email == "anna@kor.example.org"))
        record_evaluation(
            session, anna, meeting, {"value": "5", "knowledge": "4", "cooperation": "yes", "comment": "Mycket givande!"}
        )
    page = text(staff_client.get("/staff/meetings/falun/responses"))
    assert "Svar 1 Givande (1–5) 5.0 Ny kunskap (1–5) 4.0 Vill samarbeta (ja / nej) 1 / 0" in page
    assert "Mycket givande!" in page


def test_attendee_list_downloads(staff_client, answered):
    reply = staff_client.get("/staff/meetings/falun/export.csv")
    assert reply.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert reply.headers["Content-Disposition"] == 'attachment; filename="falun.csv"'
    lines = reply.data.decode("utf-8-sig").splitlines()
    assert lines[0] == "Namn;Organisationer;E-post;Svar;Gäster;Kost/allergier;Tillgänglighet;Kommentar;Svarade"
    assert [line.split(";")[3] for line in lines[1:]] == ["ja", "ja", "nej"]
    reply = staff_client.get("/staff/meetings/falun/export.xlsx")
    sheet = load_workbook(io.BytesIO(reply.data)).active
    assert [cell.value for cell in sheet[2]][:4] == ["Anna Andersson", "Korforbundet", "anna@kor.example.org", "ja"]
    english = staff_client.get("/staff/meetings/falun/export.csv?lang=en")
    assert english.data.decode("utf-8-sig").startswith("Name;Organisations;Email;Answer")


def test_the_dashboard(db, staff_client, answered, make_meeting):
    make_meeting(slug="past", title="Förra årets träff", starts=f"{LAST_YEAR}-01-01 18:00")
    with db.transaction() as session:
        suppress(session, "david@teater.example.org", SuppressionReason.BOUNCED, "550 no such user")
    page = text(staff_client.get("/staff/"))
    assert "Dialogträff i Falun" in page and "Ja: 2 Nej: 1 Inget svar: 2" in page
    assert "5 inbjudna · 2 av 2 organisationer representerade" in page
    assert "Förra årets träff" not in page  # meetings that are over are not "coming"
    assert "Alla organisationer är representerade." in page
    assert "david@teater.example.org Mottagarens server tog inte emot adressen. 550 no such user" in page
    html = staff_client.get("/staff/").get_data(as_text=True)
    assert 'role="img" aria-label="Ja 2, väntelista 0, nej 1, inget svar 2"' in html
    assert 'class="yes" style="width: 40.0%"' in html
