"""Campaigns from the browser: live count, create, preview for any recipient, a test to
yourself, schedule, send now (the worker sends, not the request), cancel, progress."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import default

import pytest
from helpers import day, future_year, when
from sqlalchemy import func, select
from staff_helpers import STAFF_EMAIL, post, text

from mailer.audit.models import AuditEntry
from mailer.campaigns.models import Campaign, CampaignState
from mailer.contacts.importer import import_lists
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.worker.sender import Sender

YEAR = future_year()  # a year still ahead: the tests keep their month and day, never go stale


LISTS = {
    "korforbundet.csv": "email,name,role,region\nanna@kor.example.org,Anna Andersson,ordförande,Sörmland\n"
    "bengt@kor.example.org,Bengt Berg,kassör,Dalarna\n",
    "teater.csv": "email,name,role,region\ncecilia@teater.example.org,Cecilia Ceder,ordförande,Gävleborg\n",
}


@pytest.fixture
def ready(db, make_csv, make_meeting):
    with db.transaction() as session:
        import_lists(session, [make_csv(name, body) for name, body in LISTS.items()])
    return make_meeting(slug="eskilstuna", title="Dialogträff i Eskilstuna", starts=f"{YEAR}-09-16 18:00")


def create(client, **form) -> int:
    reply = post(
        client, "/staff/campaigns/new", {"meeting": "eskilstuna", "template": "invitation", "action": "create", **form}
    )
    assert reply.status_code == 303, text(reply)
    return int(reply.headers["Location"].rsplit("/", 1)[1])


def campaign(db, campaign_id: int) -> Campaign:
    with db.transaction() as session:
        return session.get(Campaign, campaign_id)


def test_the_live_count_follows_the_audience(staff_client, ready):
    def count(query: str) -> dict:
        return staff_client.get(f"/staff/campaigns/count?{query}").json

    assert count("meeting=eskilstuna&org=korforbundet") == {"count": 2, "text": "2 mottagare"}
    assert count("meeting=eskilstuna&org=korforbundet&org=teater")["count"] == 3
    assert count("meeting=eskilstuna&role=ordförande") == {"count": 2, "text": "2 mottagare"}
    assert count("region=Gävleborg") == {"count": 1, "text": "1 mottagare"}
    assert count("all=1")["count"] == 3
    assert count("meeting=eskilstuna") == {"count": None, "text": "välj organisationer, regioner, roller eller alla"}
    assert count("all=1&only=unanswered")["text"] == "välj träffen först"
    assert count("meeting=eskilstuna&all=1&only=unanswered")["count"] == 0  # nobody invited yet
    assert count("meeting=nope&all=1")["text"] == "välj träffen först"
    # The template's own narrowing counts too: practical information only reaches those who said yes.
    assert count("meeting=eskilstuna&all=1&template=invitation")["count"] == 3
    assert count("meeting=eskilstuna&all=1&template=information")["count"] == 0  # nobody has said yes yet
    # Without scripts the form counts on a button press.
    page = post(staff_client, "/staff/campaigns/new", {"meeting": "eskilstuna", "org": "teater", "action": "count"})
    assert "Mottagare just nu: 1 mottagare" in text(page)


def test_create_preview_for_any_recipient(db, staff_client, ready):
    campaign_id = create(staff_client, org="korforbundet")
    assert campaign(db, campaign_id).created_by == STAFF_EMAIL
    page = staff_client.get(f"/staff/campaigns/{campaign_id}")
    words = text(page)
    assert "Inbjudan: Dialogträff i Eskilstuna" in words and "Organisationer: Korforbundet" in words
    assert "Anna Andersson <anna@kor.example.org>" in words and "Hej Anna!" in words
    html = page.get_data(as_text=True)
    assert re.search(r'<iframe[^>]+sandbox srcdoc="[^"]*Dialogtr', html)  # the HTML, isolated
    other = text(staff_client.get(f"/staff/campaigns/{campaign_id}?contact=bengt@kor.example.org"))
    assert "Bengt Berg <bengt@kor.example.org>" in other and "Hej Bengt!" in other
    unknown = text(staff_client.get(f"/staff/campaigns/{campaign_id}?contact=nobody@example.org"))
    assert "Ingen kontakt har adressen 'nobody@example.org'." in unknown
    assert staff_client.get("/staff/campaigns/999").status_code == 404
    assert "Inbjudan #" in text(staff_client.get("/staff/campaigns"))


def test_create_refuses_an_incomplete_form(staff_client, ready):
    reply = post(
        staff_client, "/staff/campaigns/new", {"meeting": "eskilstuna", "template": "invitation", "action": "create"}
    )
    assert reply.status_code == 422 and "Välj mottagare: organisationer, regioner, roller eller alla." in text(reply)


def test_a_test_goes_to_yourself_marked_test(app, db, staff_client, ready):
    campaign_id = create(staff_client, org="korforbundet")
    reply = post(
        staff_client,
        f"/staff/campaigns/{campaign_id}/test",
        {"to": "", "contact": "bengt@kor.example.org"},
        follow_redirects=True,
    )
    assert f"Testmejlet är skickat till {STAFF_EMAIL}." in text(reply)
    [eml] = (app.extensions["mailer.settings"].outbox_path).glob("*.eml")
    mail = message_from_bytes(eml.read_bytes(), policy=default)
    assert mail["Subject"] == f"[TEST] Inbjudan: Dialogträff i Eskilstuna, {day(f'{YEAR}-09-16')}"
    assert [a.addr_spec for a in mail["To"].addresses] == [STAFF_EMAIL]  # to the address given only
    assert mail["To"].addresses[0].display_name == "Testa Testsson"  # never a member's name
    body = mail.get_body(("plain",)).get_content()
    assert "Hej Testa!" in body and "Bengt" not in body  # written for the made-up test person
    bad = post(staff_client, f"/staff/campaigns/{campaign_id}/test", {"to": "inte en adress"}, follow_redirects=True)
    assert "Testmejlet kunde inte skickas" in text(bad)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0  # nothing queued
        assert session.scalar(select(AuditEntry.action).where(AuditEntry.action == "campaigns.test"))


def test_schedule_then_send_now_then_the_worker_sends(app, db, staff_client, ready):
    campaign_id = create(staff_client, all="1")
    reply = post(
        staff_client,
        f"/staff/campaigns/{campaign_id}/schedule",
        {"date": f"{YEAR}-09-01", "time": "08:30"},
        follow_redirects=True,
    )
    assert f"Utskicket skickas {YEAR}-09-01 08:30." in text(reply)
    scheduled = campaign(db, campaign_id)
    assert scheduled.state is CampaignState.SCHEDULED
    assert scheduled.send_at.astimezone(app.extensions["mailer.settings"].timezone).strftime("%H:%M") == "08:30"
    bad = post(
        staff_client,
        f"/staff/campaigns/{campaign_id}/schedule",
        {"date": f"{YEAR}-13-01", "time": "08:30"},
        follow_redirects=True,
    )
    assert "Kunde inte schemalägga" in text(bad)

    reply = post(staff_client, f"/staff/campaigns/{campaign_id}/send", follow_redirects=True)
    assert "Utskicket har startat: 3 mejl skickas nu." in text(reply)
    with db.transaction() as session:  # the request only queued them
        states = session.scalars(select(OutboxMessage.state).where(OutboxMessage.campaign_id == campaign_id)).all()
    assert states == [MessageState.QUEUED] * 3
    status = staff_client.get(f"/staff/campaigns/{campaign_id}/status.json").json
    assert status["state"] == "running" and status["queued"] == 3 and status["sent"] == 0
    assert 'http-equiv="refresh"' in reply.get_data(as_text=True)  # follows progress without scripts too

    sender = Sender(
        app.extensions["mailer.db"],
        app.extensions["mailer.settings"].with_overrides(send_rate_per_minute=60_000),
        app.extensions["mailer.templates"],
    )
    try:
        while sender.run_once().claimed:
            pass
    finally:
        sender.close()
    status = staff_client.get(f"/staff/campaigns/{campaign_id}/status.json").json
    assert status["state"] == "finished" and status["sent"] == 3
    final = staff_client.get(f"/staff/campaigns/{campaign_id}")
    assert "klart" in text(final) and 'http-equiv="refresh"' not in final.get_data(as_text=True)
    again = post(staff_client, f"/staff/campaigns/{campaign_id}/send", follow_redirects=True)
    assert "Det gick inte" in text(again)
    with db.transaction() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["staff.login", "campaigns.create", "campaigns.schedule", "campaigns.start"]


def test_cancel(db, staff_client, ready):
    campaign_id = create(staff_client, org="teater")
    post(staff_client, f"/staff/campaigns/{campaign_id}/send")
    reply = post(staff_client, f"/staff/campaigns/{campaign_id}/cancel", follow_redirects=True)
    assert "Utskicket är avbrutet (1 mejl skickas inte)." in text(reply)
    assert campaign(db, campaign_id).state is CampaignState.CANCELLED
    with db.transaction() as session:
        assert session.scalar(select(OutboxMessage.state)) is MessageState.SKIPPED
        assert session.scalar(select(AuditEntry.detail).where(AuditEntry.action == "campaigns.cancel")) == {
            "skipped": 1
        }


def test_dashboard_shows_what_is_being_sent(db, staff_client, ready):
    campaign_id = create(staff_client, org="teater")
    post(staff_client, f"/staff/campaigns/{campaign_id}/schedule", {"date": f"{YEAR}-09-01", "time": "08:30"})
    page = text(staff_client.get("/staff/"))
    assert f"Inbjudan: Dialogträff i Eskilstuna schemalagt skickas {when(f'{YEAR}-09-01 08:30')}" in page
    post(staff_client, f"/staff/campaigns/{campaign_id}/send")
    assert "skickas 0 av 1 klara" in text(staff_client.get("/staff/"))


def test_a_campaign_keeps_an_internal_note_that_a_viewer_reads(app, db, staff_client, ready):
    campaign_id = create(staff_client, org="korforbundet", note="Följ upp med Körförbundet vecka 38.")
    assert campaign(db, campaign_id).note == "Följ upp med Körförbundet vecka 38."
    post(staff_client, f"/staff/campaigns/{campaign_id}/note", {"note": "Ny plan:\nring Anna."})
    assert "Anteckningen är sparad." in text(staff_client.get(f"/staff/campaigns/{campaign_id}"))
    assert campaign(db, campaign_id).note == "Ny plan:\nring Anna."
    too_long = post(staff_client, f"/staff/campaigns/{campaign_id}/note", {"note": "x" * 2001}, follow_redirects=True)
    assert "högst 2000 tecken" in text(too_long)
    from staff_helpers import client_as

    viewer = client_as(app, db, "viewer")
    page = viewer.get(f"/staff/campaigns/{campaign_id}")
    assert "Ny plan: ring Anna." in text(page) and 'name="note"' not in page.get_data(as_text=True)
    assert post(viewer, f"/staff/campaigns/{campaign_id}/note", {"note": "ändrat"}).status_code == 403
    assert campaign(db, campaign_id).note == "Ny plan:\nring Anna."
