"""Staff close, reopen or time a meeting's or a series' public sign-up page; the page also closes by
itself (meeting started or cancelled, series past), says why in Swedish or English, and a request
sent while it was open is still honoured when confirmed after it closed (docs/signup.md)."""

from __future__ import annotations

import datetime as dt

import time_machine
from helpers import future, past
from signup_fixtures import ADDRESS, FORM, count, queued_link, sign_up
from sqlalchemy import select
from staff_helpers import log_in, post, text

from mailer.audit.models import AuditEntry
from mailer.contacts.models import Contact
from mailer.db import utcnow
from mailer.meetings.models import Series
from mailer.rsvp.models import Answer, Response
from mailer.signup.models import SignupRequest

OPEN_SV, CLOSED_SV = "Anmälan är öppen.", "Anmälan är stängd."


def switch(client, path: str, action: str, **fields):
    return post(client, f"{path}/signup", {"action": action, **fields}, follow_redirects=True)


def audit_actions(db) -> list[tuple[str, str]]:
    with db.reading() as session:
        return [
            (e.action, e.target)
            for e in session.scalars(
                select(AuditEntry).where(AuditEntry.action.like("signup.%")).order_by(AuditEntry.id)
            )
        ]


def test_staff_close_and_reopen_a_meeting_s_sign_up_and_the_page_says_so(signup_app, sdb, smeeting, staff_client):
    _, key = smeeting()
    client = signup_app.test_client()
    assert OPEN_SV in text(staff_client.get("/staff/meetings/umea/edit"))

    closed = switch(staff_client, "/staff/meetings/umea", "close")
    assert "Anmälan är stängd (sedan" in text(closed) and 'id="signup-reopen"' in closed.get_data(as_text=True)
    page = client.get(f"/signup/{key}")
    assert page.status_code == 200 and 'id="signup-closed"' in page.get_data(as_text=True)
    assert "Anmälan är stängd. Arrangören har stängt anmälan." in text(page) and 'name="email"' not in text(page)
    assert "Sign-up is closed. The organiser has closed sign-up." in text(client.get(f"/signup/{key}?lang=en"))
    assert FORM.search(page.get_data(as_text=True)) is None  # the closed page carries no form at all
    refused = client.post(
        f"/signup/{key}",
        data={"name": "Kim", "email": ADDRESS, "consent": "yes", "organisation": "other", "website": "", "form": "x"},
    )
    assert "Anmälan är stängd" in text(refused) and count(sdb, SignupRequest) == 0

    reopened = switch(staff_client, "/staff/meetings/umea", "reopen")
    assert "Anmälan är öppen igen." in text(reopened) and OPEN_SV in text(reopened)
    assert sign_up(client, f"/signup/{key}", organisation="other").status_code == 200
    assert count(sdb, SignupRequest) == 1
    assert audit_actions(sdb) == [("signup.close", "meeting:umea"), ("signup.reopen", "meeting:umea")]
    assert post(staff_client, "/staff/meetings/nope/signup", {"action": "close"}).status_code == 404
    assert post(staff_client, "/staff/series/nope/signup", {"action": "close"}).status_code == 404
    assert staff_client.get("/staff/series/nope").status_code == 404


def test_a_closing_time_must_lie_ahead_and_closes_the_page_when_it_comes(signup_app, sdb, smeeting, staff_client):
    _, key = smeeting()
    client = signup_app.test_client()
    earlier = past(days=1)
    refused = switch(
        staff_client, "/staff/meetings/umea", "schedule", closes_date=earlier.strftime("%Y-%m-%d"), closes_time="18:00"
    )
    assert "har redan passerat" in text(refused) and OPEN_SV in text(refused)
    assert "Fyll i datum och tid" in text(switch(staff_client, "/staff/meetings/umea", "schedule", closes_date=""))

    closes = future(days=3, hour=12)
    set_time = switch(
        staff_client, "/staff/meetings/umea", "schedule", closes_date=closes.strftime("%Y-%m-%d"), closes_time="12:00"
    )
    assert "Anmälan är öppen och stänger" in text(set_time) and "kl. 12.00" in text(set_time)
    assert "Anmälan stänger" in text(client.get(f"/signup/{key}"))  # the public page says until when
    assert "Sign-up closes" in text(client.get(f"/signup/{key}?lang=en"))

    with time_machine.travel(closes + dt.timedelta(minutes=1), tick=True):
        assert "Arrangören har stängt anmälan." in text(client.get(f"/signup/{key}"))
        log_in(staff_client)  # days later: the staff session has ended
        assert "Anmälan är stängd (sedan" in text(staff_client.get("/staff/meetings/umea/edit"))
    assert [action for action, _ in audit_actions(sdb)] == ["signup.schedule"]


def test_a_request_made_while_open_is_honoured_when_confirmed_after_staff_closed(
    signup_app, sdb, smeeting, staff_client
):
    meeting_id, key = smeeting()
    client = signup_app.test_client()
    sign_up(client, f"/signup/{key}", organisation="other")
    link = queued_link(sdb)
    switch(staff_client, "/staff/meetings/umea", "close")

    assert client.get(link).status_code == 200  # the confirmation page still opens
    done = client.post(link)
    assert done.status_code == 200 and "Du är anmäld till Dialogträff Umeå" in text(done)
    with sdb.reading() as session:
        contact = session.scalar(select(Contact).where(Contact.email == ADDRESS))
        response = session.scalar(select(Response).where(Response.contact_id == contact.id))
        assert response.meeting_id == meeting_id and response.answer is Answer.YES


def test_sign_up_closes_by_itself_when_the_meeting_is_cancelled_or_has_started(signup_app, sdb, smeeting, staff_client):
    _, key = smeeting()
    _, later_key = smeeting(slug="later", starts=future(days=60).strftime("%Y-%m-%d %H:%M"), now=utcnow())
    client = signup_app.test_client()
    assert post(staff_client, "/staff/meetings/umea/cancel").status_code == 303
    assert "Anmälan är stängd. Träffen är inställd." in text(client.get(f"/signup/{key}"))
    assert "The meeting has been cancelled." in text(client.get(f"/signup/{key}?lang=en"))
    staff_page = staff_client.get("/staff/meetings/umea/edit").get_data(as_text=True)
    assert "Anmälan är stängd: träffen är inställd." in staff_page and 'id="signup-close"' not in staff_page

    with time_machine.travel(future(days=60) + dt.timedelta(minutes=5), tick=True):
        assert "Träffen har redan börjat." in text(client.get(f"/signup/{later_key}"))
        log_in(staff_client)
        assert "Anmälan är stängd: träffen har börjat." in text(staff_client.get("/staff/meetings/later/edit"))


def test_a_series_closes_when_staff_close_it_or_every_session_is_past(signup_app, sdb, smeeting, staff_client):
    with sdb.transaction() as session:
        series = Series(slug="utbildning", title="Utbildning i kulturpolitik")
        session.add(series)
        session.flush()
        key = series.link_key
    client = signup_app.test_client()
    assert OPEN_SV in text(staff_client.get("/staff/series/utbildning"))  # no sessions yet: takes interest

    closed = switch(staff_client, "/staff/series/utbildning", "close")
    assert "Anmälan är stängd (sedan" in text(closed)
    assert "Arrangören har stängt anmälan." in text(client.get(f"/signup/{key}"))
    switch(staff_client, "/staff/series/utbildning", "reopen")
    assert 'name="email"' in client.get(f"/signup/{key}").get_data(as_text=True)
    assert audit_actions(sdb) == [("signup.close", "series:utbildning"), ("signup.reopen", "series:utbildning")]

    smeeting(slug="forsta", starts=future(days=10).strftime("%Y-%m-%d %H:%M"), now=utcnow())
    assert post(staff_client, "/staff/series/utbildning/sessions", {"meeting": "forsta"}).status_code == 303
    with time_machine.travel(future(days=10) + dt.timedelta(minutes=5), tick=True):
        page = client.get(f"/signup/{key}?lang=en")
        assert "Every session of the series has already taken place" in text(page)
        log_in(staff_client)
        staff_page = text(staff_client.get("/staff/series/utbildning"))
        assert "Anmälan är stängd: alla tillfällen i serien har varit" in staff_page
