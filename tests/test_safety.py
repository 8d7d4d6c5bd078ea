"""Staff can't hurt members by mistake (issue 15): test mails act on no one, the unsubscribe link
cannot be removed, rounds know who answered, times are checked, meeting changes reach those who
come, service mail is not marketing, unsubscribing always works, and the small ones.

Every test runs on SQLite and, with MAILER_TEST_POSTGRES_URL, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from helpers import past_year
from icalendar import Calendar
from rsvp_fixtures import answer, csrf_of, links_for, send_outbox
from sqlalchemy import func, select
from staff_helpers import STAFF_EMAIL, post, text

from mailer.app import create_app
from mailer.audit.models import AuditEntry
from mailer.campaigns.models import Campaign, CampaignState
from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact, RetiredLinkKey, Suppression, SuppressionReason, address_hash
from mailer.evaluations.models import Evaluation
from mailer.mail.context import codec
from mailer.meetings.models import Meeting
from mailer.outbox.models import OutboxMessage
from mailer.rsvp.answers import AnswersClosed, record_answer
from mailer.rsvp.models import LinkOpen, Response
from mailer.tracking.status import full_status

LAST_YEAR = past_year()  # a year wholly behind us: its meetings have taken place


CHECKOUT = Path(__file__).resolve().parent.parent / "templates" / "email"
LISTS = {
    "korforbundet.csv": "email,name,language,region\nanna@kor.example.org,Anna Andersson,sv,Sörmland\n"
    "bengt@kor.example.org,Bengt Berg,en,Sörmland\n",
    "teater.csv": "email,name,region\ncecilia@teater.example.org,Cecilia Ceder,Gävleborg\n",
}
LINK = re.compile(r"http://mailer\.test(/[rue]/[^\s\"<>]+)")


@pytest.fixture
def test_config(test_config, tmp_path):
    """Templates in a copy: tests break and mend them without touching the checkout."""
    folder = tmp_path / "templates" / "email"
    shutil.copytree(CHECKOUT, folder)
    return {**test_config, "templates_path": str(folder)}


@pytest.fixture
def cli_env(cli_env, test_config):
    return {**cli_env, "MAILER_TEMPLATES_PATH": test_config["templates_path"]}


@pytest.fixture
def folder(settings) -> Path:
    return settings.templates_path


def local_day(settings, days: int) -> str:
    return (dt.datetime.now(settings.timezone) + dt.timedelta(days=days)).strftime("%Y-%m-%d")


@pytest.fixture
def world(db, settings, make_csv, make_meeting):
    """Three people on two lists and a meeting a month ahead with two places."""
    with db.transaction() as session:
        import_lists(session, [make_csv(name, body) for name, body in LISTS.items()])
    meeting = make_meeting(
        slug="eskilstuna",
        title="Dialogträff i Eskilstuna",
        city="Eskilstuna",
        venue="Stadsbiblioteket",
        starts=f"{local_day(settings, 30)} 18:00",
        capacity=2,
    )
    with db.transaction() as session:
        ids = dict(session.execute(select(Contact.email, Contact.id)).all())
    return {
        "meeting": meeting.id,
        "anna": ids["anna@kor.example.org"],
        "bengt": ids["bengt@kor.example.org"],
        "cecilia": ids["cecilia@teater.example.org"],
    }


def say(app, world, who: str, **form):
    client = app.test_client()
    reply = answer(client, links_for(app, world[who], world["meeting"])["rsvp_url"], **form)
    assert reply.status_code == 303, reply.get_data(as_text=True)


def count(db, model) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model))


def create(runner, *args) -> int:
    result = runner.invoke(["campaigns", "create", "--meeting", "eskilstuna", *args])
    assert result.exit_code == 0, result.output
    return int(result.stdout.strip())


def mails(settings) -> list:
    return [message_from_bytes(p.read_bytes(), policy=default) for p in sorted(settings.outbox_path.glob("*.eml"))]


def calendar_of(message) -> Calendar:
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    return Calendar.from_ical(part.get_content())


def event_of(message):
    return next(iter(calendar_of(message).walk("VEVENT")))


# -- 1. test mails act on no one ----------------------------------------------------------------------------


def test_a_test_mail_is_for_a_made_up_person_and_its_links_save_nothing(app, db, settings, runner, world):
    campaign_id = create(runner, "--template", "invitation", "--org", "korforbundet")
    result = runner.invoke(["campaigns", "test", campaign_id, "--to", "me@example.org"])
    assert result.exit_code == 0, result.output
    [mail] = mails(settings)
    assert [a.addr_spec for a in mail["To"].addresses] == ["me@example.org"]  # the address given, and only it
    assert mail["To"].addresses[0].display_name == "Testa Testsson"
    assert mail["Subject"].startswith("[TEST] Inbjudan: Dialogträff i Eskilstuna")
    body = mail.get_body(("plain",)).get_content()
    assert "Hej Testa!" in body and "Korforbundet" in body  # the first recipient's organisation
    assert "Anna" not in body and "anna@" not in mail.as_string()
    paths = {path.split("?")[0] for path in LINK.findall(body)}
    rsvp = next(p for p in paths if p.startswith("/r/") and not p.endswith(".ics"))
    unsubscribe = next(p for p in paths if p.startswith("/u/"))

    client = app.test_client()
    page = client.get(rsvp + "?answer=yes")
    assert page.status_code == 200 and "Testlänk – inget sparas" in text(page)
    sent = answer(client, rsvp, answer="yes", guests="0", comment="prov")
    assert sent.status_code == 200 and "Det här var en testlänk, så inget sparades" in text(sent)
    bad = answer(client, rsvp, answer="kanske")
    assert bad.status_code == 422 and "Välj ja eller nej." in text(bad)  # checked like a real answer
    assert client.get(f"{rsvp}/calendar.ics").status_code == 200
    page = client.get(unsubscribe)
    assert page.status_code == 200 and "Testlänk – inget sparas" in text(page)
    assert client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    done = client.post(unsubscribe, data={"action": "unsubscribe", "csrf_token": csrf_of(page.get_data(as_text=True))})
    assert done.status_code == 200 and "Testlänk: ingen adress avregistrerades." in text(done)
    with db.transaction() as session:
        meeting_key = session.get(Meeting, world["meeting"]).link_key
    evaluation = f"/e/{codec(settings).dumps('evaluation', 'test.sv', meeting_key)}"
    page = client.get(evaluation)
    assert page.status_code == 200 and "Testlänk – inget sparas" in text(page)
    sent = client.post(
        evaluation,
        data={"csrf_token": csrf_of(page.get_data(as_text=True)), "value": "5", "knowledge": "4", "cooperation": "yes"},
    )
    assert sent.status_code == 200 and "inget sparades" in text(sent)

    for model in (Response, LinkOpen, Suppression, Evaluation, OutboxMessage):
        assert count(db, model) == 0, model  # no answer, open, unsubscription, evaluation or queued mail
    with db.transaction() as session:
        figures = full_status(session, session.get(Meeting, world["meeting"]))
        assert (figures["yes"], figures["no"], figures["opened_not_answered"]) == (0, 0, 0)
        assert (
            session.scalar(select(AuditEntry.target).where(AuditEntry.action == "campaigns.test"))
            == f"campaign:{campaign_id}"
        )


def test_the_web_test_button_writes_in_the_chosen_recipients_language(db, settings, staff_client, runner, world):
    campaign_id = create(runner, "--template", "invitation", "--org", "korforbundet")
    reply = post(
        staff_client,
        f"/staff/campaigns/{campaign_id}/test",
        {"to": "", "contact": "bengt@kor.example.org"},
        follow_redirects=True,
    )
    assert f"Testmejlet är skickat till {STAFF_EMAIL}." in text(reply)
    assert "Testa Testsson" in text(staff_client.get(f"/staff/campaigns/{campaign_id}"))  # the hint says so
    [mail] = mails(settings)
    assert [a.addr_spec for a in mail["To"].addresses] == [STAFF_EMAIL] and mail["Subject"].startswith("[TEST] ")
    body = mail.get_body(("plain",)).get_content()
    assert "Hello Testa," in body and "Bengt" not in body  # Bengt reads English
    assert count(db, OutboxMessage) == 0


# -- 2. the unsubscribe link cannot be removed ----------------------------------------------------------------


def test_a_campaign_whose_mail_lost_the_unsubscribe_link_does_not_start(app, db, runner, staff_client, world, folder):
    campaign_id = create(runner, "--template", "invitation", "--all")
    footer = folder / "sv" / "footer.txt"
    original = footer.read_text(encoding="utf-8")
    footer.write_text(original.replace("{{ unsubscribe_url }}", ""), encoding="utf-8")
    result = runner.invoke(["campaigns", "send", campaign_id])
    assert result.exit_code == 1
    assert "sv/invitation.txt: the rendered message has no unsubscribe link" in result.stderr
    assert count(db, OutboxMessage) == 0
    footer.write_text(original, encoding="utf-8")

    html_footer = folder / "sv" / "footer.html"
    html_footer.write_text(
        re.sub(r"<p><a href=\"\{\{ unsubscribe_url \}\}\">[^<]*</a></p>", "", html_footer.read_text(encoding="utf-8")),
        encoding="utf-8",
    )
    reply = post(staff_client, f"/staff/campaigns/{campaign_id}/send", follow_redirects=True)
    assert "Mallen sv/invitation.html: avregistreringslänken" in text(reply)
    assert count(db, OutboxMessage) == 0
    with db.transaction() as session:
        assert session.get(Campaign, campaign_id).state is CampaignState.DRAFT
    # Any layout that keeps the link passes: the link moved into the invitation itself.
    invitation = folder / "sv" / "invitation.html"
    invitation.write_text(
        invitation.read_text(encoding="utf-8").replace(
            "{% endblock %}", '<p><a href="{{ unsubscribe_url }}">Sluta få utskick</a></p>\n{% endblock %}', 1
        ),
        encoding="utf-8",
    )
    assert runner.invoke(["campaigns", "send", campaign_id]).exit_code == 0


def test_the_template_editor_refuses_a_footer_without_the_link(staff_client, folder):
    path = folder / "sv" / "footer.txt"
    original = path.read_text(encoding="utf-8")
    edited = original.replace("{{ unsubscribe_url }}", "")
    reply = post(staff_client, "/staff/templates/sv/footer.txt", {"text": edited, "action": "save"})
    assert reply.status_code == 422
    assert "avregistreringslänken ({{ unsubscribe_url }}) saknas i det färdiga mejlet" in text(reply)
    assert path.read_text(encoding="utf-8") == original  # not saved


# -- 3. rounds know the meeting ---------------------------------------------------------------------------------


def test_invitations_and_reminders_leave_out_who_already_answered(app, db, runner, staff_client, world):
    say(app, world, "anna", answer="yes")
    say(app, world, "bengt", answer="no")
    result = runner.invoke(["campaigns", "create", "--meeting", "eskilstuna", "--template", "invitation", "--all"])
    assert result.exit_code == 0
    assert "1 recipients" in result.stderr and "2 left out: they already answered the meeting" in result.stderr
    again = create(runner, "--template", "invitation", "--all", "--include-answered")
    status = runner.invoke(["campaigns", "status", again, "--json"])
    assert '"recipients": 3' in status.stdout
    reply = staff_client.get("/staff/campaigns/count?meeting=eskilstuna&all=1&template=invitation").json
    assert reply["count"] == 1
    assert "2 som redan svarat på träffen (ja, nej eller väntelista) är inte med" in reply["text"]
    assert (
        staff_client.get("/staff/campaigns/count?meeting=eskilstuna&all=1&template=invitation&include_answered=1").json[
            "count"
        ]
        == 3
    )
    assert staff_client.get("/staff/campaigns/count?meeting=eskilstuna&all=1&template=thanks").json["count"] == 1
    reply = post(
        staff_client,
        "/staff/campaigns/new",
        {"meeting": "eskilstuna", "template": "reminder", "all": "1", "action": "create"},
    )
    page = text(staff_client.get(reply.headers["Location"]))
    assert "2 som redan svarat på träffen" in page


# -- 4. time is checked --------------------------------------------------------------------------------------------


def test_past_starts_and_rounds_for_started_meetings_are_refused(
    app, db, settings, runner, staff_client, world, make_meeting
):
    yesterday = f"{local_day(settings, -1)} 18:00"
    result = runner.invoke(
        [
            "meetings",
            "add",
            "--slug",
            "forr",
            "--title",
            "T",
            "--region",
            "Sörmland",
            "--city",
            "C",
            "--starts",
            yesterday,
        ]
    )
    assert result.exit_code == 1 and f"--starts: '{yesterday}' is in the past" in result.stderr
    result = runner.invoke(["meetings", "edit", "eskilstuna", "--starts", yesterday])
    assert result.exit_code == 1 and "--starts: " in result.stderr and "is in the past" in result.stderr
    reply = post(
        staff_client,
        "/staff/meetings/new",
        {"title": "T", "region": "Sörmland", "city": "C", "date": local_day(settings, -1), "start": "18:00"},
    )
    assert reply.status_code == 422 and "har redan varit. Välj en tid framåt." in text(reply)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Meeting)) == 1

    started = make_meeting(slug="igang", starts=f"{local_day(settings, -1)} 18:00")
    result = runner.invoke(["campaigns", "create", "--meeting", "igang", "--template", "invitation", "--all"])
    assert (
        result.exit_code == 1
        and "meeting igang (“Dialogträff 2”) has already started: no invitation can be sent" in result.stderr
    )
    reply = post(
        staff_client,
        "/staff/campaigns/new",
        {"meeting": "igang", "template": "reminder", "all": "1", "action": "create"},
    )
    assert reply.status_code == 422 and "har redan börjat" in text(reply)
    assert runner.invoke(["campaigns", "create", "--meeting", started.slug, "--template", "thanks"]).exit_code == 0

    campaign_id = create(runner, "--template", "invitation", "--all")
    past = (dt.datetime.now(settings.timezone) - dt.timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M")
    result = runner.invoke(["campaigns", "schedule", campaign_id, "--at", past])
    assert result.exit_code == 1 and "is in the past" in result.stderr
    result = runner.invoke(["campaigns", "schedule", campaign_id, "--at", f"{local_day(settings, 31)} 09:00"])
    assert result.exit_code == 1 and "is after the meeting starts" in result.stderr
    reply = post(
        staff_client,
        f"/staff/campaigns/{campaign_id}/schedule",
        {"date": past[:10], "time": past[11:]},
        follow_redirects=True,
    )
    assert "har redan varit" in text(reply)
    with db.transaction() as session:
        assert session.get(Campaign, campaign_id).state is CampaignState.DRAFT

    page = staff_client.get(f"/staff/campaigns/{campaign_id}").get_data(as_text=True)
    soon = (dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)).astimezone(
        settings.timezone
    )
    assert f'name="date" required value="{soon:%Y-%m-%d}"' in page
    assert f'name="time" required step="300" value="{soon:%H:%M}"' in page


# -- 5. changes reach the people they concern -------------------------------------------------------------------------


def test_a_time_change_and_a_cancellation_reach_those_coming_with_calendar_updates(
    app, db, settings, runner, world, smtp_server
):
    say(app, world, "anna", answer="yes", guests="1")  # both places
    say(app, world, "cecilia", answer="yes")  # waitlisted
    say(app, world, "bengt", answer="no")
    send_outbox(app, smtp_server.url)
    confirmation = smtp_server.to("anna@kor.example.org")[0].message
    first = event_of(confirmation)
    assert int(first.get("SEQUENCE", 0)) == 0

    before = count(db, OutboxMessage)
    result = runner.invoke(["meetings", "edit", "eskilstuna", "--capacity", "1"])
    assert result.exit_code == 1 and "--capacity: 2 places are already taken" in result.stderr
    assert runner.invoke(["meetings", "edit", "eskilstuna", "--starts", f"{LAST_YEAR}-01-01 18:00"]).exit_code == 1
    assert count(db, OutboxMessage) == before  # refused: nothing changed, nothing queued

    new_start = f"{local_day(settings, 31)} 19:00"
    result = runner.invoke(["meetings", "edit", "eskilstuna", "--starts", new_start])
    assert result.exit_code == 0 and "2 update mails queued" in result.stdout
    send_outbox(app, smtp_server.url)
    update = smtp_server.to("anna@kor.example.org")[-1].message
    assert update["Subject"].startswith("Ändrad träff: Dialogträff i Eskilstuna")
    assert "Ny tid:" in update.get_body(("plain",)).get_content()
    event = event_of(update)
    assert str(event["UID"]) == str(first["UID"]) and int(event["SEQUENCE"]) == 1
    assert str(calendar_of(update)["METHOD"]) == str(calendar_of(confirmation)["METHOD"]) == "PUBLISH"
    assert event.decoded("DTSTART").astimezone(settings.timezone).strftime("%H:%M") == "19:00"
    waiting = smtp_server.to("cecilia@teater.example.org")[-1].message
    assert (
        waiting["Subject"].startswith("Ändrad träff:")
        and "står på väntelistan till" in waiting.get_body(("plain",)).get_content()
    )
    assert smtp_server.to("bengt@kor.example.org") == []  # said no: not concerned

    result = runner.invoke(["meetings", "edit", "eskilstuna", "--venue", "Konsthallen", "--no-notify"])
    assert result.exit_code == 0 and "queued" not in result.stdout
    assert (
        runner.invoke(["meetings", "edit", "eskilstuna", "--title", "Ny rubrik"]).stdout.strip() == "eskilstuna updated"
    )
    with db.transaction() as session:
        assert session.get(Meeting, world["meeting"]).sequence == 2  # the venue, not the title
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("meetings.%"))))
    assert actions == ["meetings.edit"] * 3

    scheduled = create(runner, "--template", "reminder", "--all", "--send-at", f"{local_day(settings, 20)} 09:00")
    result = runner.invoke(["meetings", "cancel", "eskilstuna"])
    assert result.exit_code == 0 and "2 cancellation mails queued" in result.stdout
    send_outbox(app, smtp_server.url)
    cancellation = smtp_server.to("anna@kor.example.org")[-1].message
    assert cancellation["Subject"].startswith("Inställd: Ny rubrik")
    calendar, event = calendar_of(cancellation), event_of(cancellation)
    assert str(calendar["METHOD"]) == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == str(first["UID"]) and int(event["SEQUENCE"]) == 3
    assert smtp_server.to("cecilia@teater.example.org")[-1].message["Subject"].startswith("Inställd:")
    with db.transaction() as session:
        assert session.get(Campaign, scheduled).state is CampaignState.CANCELLED
        assert session.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc()).limit(1)) == "meetings.cancel"

    client = app.test_client()
    rsvp = links_for(app, world["cecilia"], world["meeting"])["rsvp_url"]
    page = text(client.get(rsvp))
    assert "Träffen är inställd." in page and "Spara ändringen" not in page  # answers are closed
    with db.transaction() as session:
        meeting = session.get(Meeting, world["meeting"])
        with pytest.raises(AnswersClosed):
            record_answer(session, session.get(Contact, world["bengt"]), meeting, {"answer": "yes"}, settings.timezone)
    result = runner.invoke(["campaigns", "create", "--meeting", "eskilstuna", "--template", "thanks"])
    assert result.exit_code == 1 and "meeting eskilstuna (“Ny rubrik”) is cancelled" in result.stderr
    result = runner.invoke(["meetings", "cancel", "eskilstuna"])
    assert result.exit_code == 1 and "is already cancelled" in result.stderr


def test_the_web_asks_before_telling_about_a_change_and_can_cancel(app, db, settings, staff_client, world):
    say(app, world, "anna", answer="yes")
    queued = count(db, OutboxMessage)
    page = text(staff_client.get("/staff/meetings/eskilstuna/edit"))
    assert "Mejla de 1 som anmält sig eller står på väntelistan" in page and "Mejla ingen" in page
    form = {
        "title": "Dialogträff i Eskilstuna",
        "region": "Sörmland",
        "city": "Eskilstuna",
        "venue": "Stadsbiblioteket",
        "date": local_day(settings, 30),
        "start": "17:00",
        "end": "19:00",
        "capacity": "2",
        "max_guests": "1",
    }
    reply = post(staff_client, "/staff/meetings/eskilstuna/edit", {**form, "notify": "0"}, follow_redirects=True)
    assert "Träffen är sparad." in text(reply) and count(db, OutboxMessage) == queued
    reply = post(
        staff_client,
        "/staff/meetings/eskilstuna/edit",
        {**form, "start": "16:00", "notify": "1"},
        follow_redirects=True,
    )
    assert "1 mejl om ändringen skickas" in text(reply) and count(db, OutboxMessage) == queued + 1
    reply = post(staff_client, "/staff/meetings/eskilstuna/edit", {**form, "capacity": "", "max_guests": "x"})
    assert reply.status_code == 422 and count(db, OutboxMessage) == queued + 1
    reply = post(staff_client, "/staff/meetings/eskilstuna/cancel", follow_redirects=True)
    assert "Träffen är inställd. 1 mejl om det skickas." in text(reply) and "Inställd" in text(reply)
    reply = post(staff_client, "/staff/meetings/eskilstuna/cancel", follow_redirects=True)
    assert "träffen eskilstuna är redan inställd." in text(reply)
    assert "Inga kommande träffar." in text(staff_client.get("/staff/"))  # not shown as coming any more
    with db.transaction() as session:
        templates = list(session.scalars(select(OutboxMessage.template).order_by(OutboxMessage.id)))
        assert templates[-2:] == ["meeting_update", "meeting_cancelled"]
        assert session.scalar(select(AuditEntry.actor).where(AuditEntry.action == "meetings.cancel")) == STAFF_EMAIL


# -- 6. service mail is not marketing -------------------------------------------------------------------------------


def test_service_mail_reaches_those_who_said_yes_after_unsubscribing(app, db, settings, runner, world, smtp_server):
    say(app, world, "anna", answer="yes")
    client = app.test_client()
    unsubscribe = links_for(app, world["anna"])["unsubscribe_url"]
    page = text(client.get(unsubscribe))
    assert "Har du anmält dig till en träff får du ändå mejl om den" in page
    assert client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    with db.transaction() as session:  # Cecilia's address bounced: nothing goes there
        session.add(
            Suppression(
                address_hash=address_hash("cecilia@teater.example.org"),
                email="cecilia@teater.example.org",
                reason=SuppressionReason.BOUNCED,
            )
        )
    send_outbox(app, smtp_server.url)
    received = len(smtp_server.to("anna@kor.example.org"))

    say(app, world, "anna", answer="yes", guests="1")  # a confirmation of her own change
    say(app, world, "cecilia", answer="yes")  # waitlisted, but her address bounces
    information = create(runner, "--template", "information")
    result = runner.invoke(["campaigns", "send", information], env={"MAILER_SMTP_URL": smtp_server.url})
    assert result.exit_code == 0 and "sent 1" in result.stdout
    assert runner.invoke(["meetings", "edit", "eskilstuna", "--venue", "Konsthallen"]).exit_code == 0
    invitation = create(runner, "--template", "invitation", "--all", "--include-answered")
    assert '"recipients": 1' in runner.invoke(["campaigns", "status", invitation, "--json"]).stdout  # Bengt only
    send_outbox(app, smtp_server.url)
    subjects = [m.message["Subject"] for m in smtp_server.to("anna@kor.example.org")[received:]]
    assert sorted(s.split(":")[0] for s in subjects) == ["Du är anmäld", "Praktisk information", "Ändrad träff"]
    assert len(smtp_server.to("cecilia@teater.example.org")) == 0


# -- 7. unsubscribing always works ------------------------------------------------------------------------------------


def test_a_valid_unsubscribe_link_is_never_rate_limited(test_config, runner, world):
    limited = create_app({**test_config, "public_rate_limit": "3 per minute"})
    try:
        client = limited.test_client()
        unsubscribe = links_for(limited, world["anna"])["unsubscribe_url"]
        for _ in range(6):
            assert client.get(unsubscribe).status_code == 200
            assert client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200
        statuses = [client.get("/u/not-a-token").status_code for _ in range(5)]
        assert statuses[:3] == [404] * 3 and 429 in statuses  # the limit is for invalid tokens
        assert client.get(unsubscribe).status_code == 200  # and still not for a valid one
        assert runner.invoke(["contacts", "revoke-links", "anna@kor.example.org"]).exit_code == 0
        assert client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    finally:
        limited.extensions["mailer.db"].dispose()


# -- 8. the small ones --------------------------------------------------------------------------------------------------


def test_a_round_without_recipients_cannot_start(db, runner, staff_client, world):
    campaign_id = create(runner, "--template", "invitation", "--region", "Norrbotten")
    result = runner.invoke(["campaigns", "send", campaign_id])
    assert result.exit_code == 1 and "has no recipients" in result.stderr
    reply = post(staff_client, f"/staff/campaigns/{campaign_id}/send", follow_redirects=True)
    assert f"Utskick {campaign_id} har inga mottagare" in text(reply)
    with db.transaction() as session:
        assert session.get(Campaign, campaign_id).state is CampaignState.DRAFT


def test_a_walk_in_counts_as_came_on_the_checkin_page(db, staff_client, world):
    reply = post(
        staff_client,
        "/staff/meetings/eskilstuna/walk-in",
        {"name": "Greta Gäst", "organisation": "Sensus"},
        follow_redirects=True,
    )
    page = text(reply)
    assert "Kom utan anmälan" in page and "Greta Gäst" in page and "Sensus" in page
    assert "1 har kommit" in page  # she came
    with db.transaction() as session:
        figures = full_status(session, session.get(Meeting, world["meeting"]))
    assert (figures["checked_in"], figures["walk_ins"], figures["participants"]) == (1, 1, 1)


def test_a_cancelled_campaign_shows_no_send_time(db, settings, runner, staff_client, world):
    when = f"{local_day(settings, 10)} 09:00"
    campaign_id = create(runner, "--template", "invitation", "--all", "--send-at", when)
    assert when in runner.invoke(["campaigns", "list"]).stdout
    assert runner.invoke(["campaigns", "cancel", campaign_id]).exit_code == 0
    assert when not in runner.invoke(["campaigns", "list"]).stdout
    assert '"send_at": null' in runner.invoke(["campaigns", "status", campaign_id, "--json"]).stdout
    assert when not in text(staff_client.get("/staff/campaigns"))
    assert when not in text(staff_client.get(f"/staff/campaigns/{campaign_id}"))


def test_previewing_someone_who_will_not_get_it_says_so(app, db, runner, staff_client, world):
    say(app, world, "bengt", answer="no")
    client = app.test_client()
    client.post(links_for(app, world["anna"])["unsubscribe_url"], data={"List-Unsubscribe": "One-Click"})
    campaign_id = create(runner, "--template", "invitation", "--all")
    page = text(staff_client.get(f"/staff/campaigns/{campaign_id}?contact=anna@kor.example.org"))
    assert "anna@kor.example.org har avregistrerat sig och får inte det här mejlet." in page
    page = text(staff_client.get(f"/staff/campaigns/{campaign_id}?contact=bengt@kor.example.org"))
    assert "har redan svarat på träffen och får inte det här mejlet" in page
    page = text(staff_client.get(f"/staff/campaigns/{campaign_id}?contact=cecilia@teater.example.org"))
    assert "får inte det här mejlet" not in page
    result = runner.invoke(["campaigns", "preview", campaign_id, "--contact", "anna@kor.example.org"])
    assert (
        result.exit_code == 0
        and "note: anna@kor.example.org will not get this mail: they unsubscribed" in result.stderr
    )


def test_erasure_also_ends_the_unsubscribe_links_kept_by_revoking(app, db, runner, world):
    unsubscribe = links_for(app, world["anna"])["unsubscribe_url"]
    assert runner.invoke(["contacts", "revoke-links", "anna@kor.example.org"]).exit_code == 0
    assert app.test_client().get(unsubscribe).status_code == 200
    assert count(db, RetiredLinkKey) == 1
    assert runner.invoke(["contacts", "forget", "anna@kor.example.org", "--yes"]).exit_code == 0
    assert app.test_client().get(unsubscribe).status_code == 404  # every link ever sent stops working
