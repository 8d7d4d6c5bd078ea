"""Campaigns end to end against a real SMTP server (aiosmtpd) and a real SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import future_year, past_year, wait_until, when
from sqlalchemy import func, select

from mailer.campaigns import service
from mailer.campaigns.audience import Audience, AudienceError
from mailer.campaigns.models import Campaign, CampaignState
from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact, Suppression, SuppressionReason, address_hash
from mailer.db import utcnow
from mailer.mail.templates import EmailTemplates, TemplateProblem
from mailer.meetings.models import Meeting
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.rsvp.service import record_answer
from mailer.worker.sender import Sender

YEAR = future_year()  # a year still ahead: the tests keep their month and day, never go stale
LAST_YEAR = past_year()  # a year wholly behind us: its meetings have taken place


LISTS = {
    "korforbundet.csv": (
        "email,name,role,region\n"
        "anna@kor.example.org,Anna Andersson,ordförande,Sörmland\n"
        "bengt@kor.example.org,Bengt Berg,kassör,Dalarna\n"
        "cecilia@both.example.org,Cecilia Ceder,ledamot,Gävleborg\n"
    ),
    "teater.csv": (
        "email,name,role,region\n"
        "cecilia@both.example.org,Cecilia Ceder,sekreterare,Gävleborg\n"
        "david@teater.example.org,David Dahl,ordförande,Norrbotten\n"
        "eva@teater.example.org,Eva Ek,kanslist,Sörmland\n"
    ),
}


@pytest.fixture
def contacts(db, make_csv):
    paths = [make_csv(name, text) for name, text in LISTS.items()]
    with db.transaction() as session:
        import_lists(session, paths)


@pytest.fixture
def meeting(make_meeting):
    return make_meeting(
        slug="eskilstuna",
        title="Dialogträff med Landstinget Sörmland",
        host="Landstinget Sörmland",
        venue="Munktellarenan, Eskilstuna",
        starts=f"{YEAR}-09-16 18:00",
    )


@pytest.fixture
def smtp_settings(app, smtp_server):
    settings = app.extensions["mailer.settings"].with_overrides(smtp_url=smtp_server.url, send_rate_per_minute=60_000)
    return settings


@pytest.fixture
def make_campaign(db, app, contacts, meeting):
    def make(template="invitation", **audience):
        audience.setdefault(
            "all", not any(audience.get(k) for k in ("orgs", "regions", "roles", "only_unanswered", "only_yes"))
        )
        with db.transaction() as session:
            campaign = service.create_campaign(
                session,
                app.extensions["mailer.settings"],
                app.extensions["mailer.templates"],
                meeting_slug=meeting.slug,
                template=template,
                audience=Audience(**audience),
            )
            return campaign.id

    return make


def start_and_send(db, settings, app, campaign_id, delays=(0, 0, 0)):
    with db.transaction() as session:
        campaign = service.get_campaign(session, campaign_id)
        if campaign.state is not CampaignState.RUNNING:  # (a retry of failed rows runs it again)
            service.start(session, campaign)
    sender = Sender(db, settings, app.extensions["mailer.templates"], delays=delays)
    try:
        while sender.run_once(campaign_id).claimed:
            pass
    finally:
        sender.close()
    with db.transaction() as session:
        return service.status(session, service.get_campaign(session, campaign_id))


def recipients(db, campaign_id):
    with db.transaction() as session:
        return sorted(session.scalars(select(OutboxMessage.to_email).where(OutboxMessage.campaign_id == campaign_id)))


def test_audience_is_union_of_orgs_regions_roles_and_one_row_per_person(db, app, make_campaign):
    by_org = make_campaign(orgs=["korforbundet"])
    by_region_or_role = make_campaign(regions=["sörmland"], roles=["Ordförande"])
    everyone = make_campaign(all=True)
    for cid in (by_org, by_region_or_role, everyone):
        with db.transaction() as session:
            service.start(session, service.get_campaign(session, cid))
    assert recipients(db, by_org) == ["anna@kor.example.org", "bengt@kor.example.org", "cecilia@both.example.org"]
    assert recipients(db, by_region_or_role) == [
        "anna@kor.example.org",
        "david@teater.example.org",
        "eva@teater.example.org",
    ]
    assert len(recipients(db, everyone)) == 5  # Cecilia is on two lists and gets one message


def test_suppressed_addresses_are_never_in_the_audience(db, make_campaign):
    with db.transaction() as session:
        session.add(
            Suppression(
                address_hash=address_hash("bengt@kor.example.org"),
                email="bengt@kor.example.org",
                reason=SuppressionReason.UNSUBSCRIBED,
            )
        )
    cid = make_campaign(orgs=["korforbundet"])
    with db.transaction() as session:
        service.start(session, service.get_campaign(session, cid))
    assert "bengt@kor.example.org" not in recipients(db, cid)


def test_a_running_campaign_is_never_started_again(db, make_campaign, make_csv):
    cid = make_campaign(all=True)
    with db.transaction() as session:
        service.start(session, service.get_campaign(session, cid))
    with db.transaction() as session:  # someone is imported after the start …
        import_lists(session, [make_csv("sent.csv", "email\nlate@kor.example.org\n")])
    with db.transaction() as session:
        with pytest.raises(service.CampaignError, match="running"):
            service.start(session, service.get_campaign(session, cid))
    assert len(recipients(db, cid)) == 5  # … and is not added: recipients are fixed at the start


def test_practical_information_goes_to_those_who_said_yes_and_only_them(
    db, app, make_campaign, smtp_settings, smtp_server
):
    invitation = make_campaign()
    start_and_send(db, smtp_settings, app, invitation)
    with db.transaction() as session:
        meeting = session.scalar(select(Meeting))
        for email, answer in (("anna@kor.example.org", "yes"), ("bengt@kor.example.org", "no")):
            contact = session.scalar(select(Contact).where(Contact.email == email))
            record_answer(session, contact, meeting, {"answer": answer}, smtp_settings.timezone)
    information = make_campaign("information", all=True)  # the template itself narrows it to the yes
    start_and_send(db, smtp_settings, app, information)
    assert recipients(db, information) == ["anna@kor.example.org"]
    (mail,) = [r for r in smtp_server.to("anna@kor.example.org") if "Praktisk information" in r.message["Subject"]]
    body = mail.message.get_body(("plain",)).get_content()
    assert "Tack för att du har anmält dig" in body and "Munktellarenan, Eskilstuna" in body and "/r/" in body


def test_unknown_org_and_missing_audience_are_refused(db, app, meeting, contacts):
    with db.transaction() as session:
        with pytest.raises(AudienceError, match="unknown organisation"):
            Audience(orgs=["nope"]).validate(session)
        with pytest.raises(AudienceError, match="choose an audience"):
            Audience().validate(session)


def test_sent_message_is_complete_and_correct(db, app, smtp_settings, smtp_server, make_campaign):
    cid = make_campaign(orgs=["korforbundet"])
    status = start_and_send(db, smtp_settings, app, cid)
    assert status.state == "finished"
    assert status.counts["sent"] == 3
    assert sorted(smtp_server.recipients()) == [
        "anna@kor.example.org",
        "bengt@kor.example.org",
        "cecilia@both.example.org",
    ]
    message = smtp_server.to("anna@kor.example.org")[0].message
    assert message["Subject"].startswith("Inbjudan")
    assert message["Message-ID"].endswith("@ax.example.org>")
    assert message["Date"]
    assert message["List-Unsubscribe"].startswith("<http://mailer.test/u/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
    text = message.get_body(("plain",)).get_content()
    assert "Hej Anna" in text and when(f"{YEAR}-09-16 18:00", "20:00") in text
    assert "http://mailer.test/r/" in text and "avregistrera" in text.lower()
    assert "kontaktlistan" in text  # first message says why they get it
    html = message.get_body(("html",)).get_content()
    assert "<style" not in html and 'style="' in html  # CSS inlined
    ics = [part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"]
    assert len(ics) == 1
    calendar = ics[0].get_content()
    calendar = calendar if isinstance(calendar, str) else calendar.decode()
    assert "METHOD:PUBLISH" in calendar and "Dialogträff med Landstinget Sörmland" in calendar


def test_second_message_to_a_person_omits_the_why_paragraph(db, app, smtp_settings, smtp_server, make_campaign):
    start_and_send(db, smtp_settings, app, make_campaign(orgs=["korforbundet"]))
    start_and_send(db, smtp_settings, app, make_campaign(orgs=["korforbundet"]))
    first, second = [r.message.get_body(("plain",)).get_content() for r in smtp_server.to("anna@kor.example.org")]
    assert "kontaktlistan" in first and "kontaktlistan" not in second
    assert "avregistrera" in second.lower()  # the unsubscribe link is always there


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "stepwise"])
def test_throttling_is_retried_and_never_a_bounce(pipelining, db, app, smtp_settings, smtp_server, make_campaign):
    smtp_server.script.pipelining = pipelining
    smtp_server.reply("anna@kor.example.org", "451 4.7.1 Greylisted, try again", "250 OK")
    cid = make_campaign(orgs=["korforbundet"])
    status = start_and_send(db, smtp_settings, app, cid)
    assert status.counts["sent"] == 3 and status.counts["bounced"] == 0
    assert len(smtp_server.to("anna@kor.example.org")) == 1
    with db.transaction() as session:
        assert session.scalar(select(Suppression).where(Suppression.email == "anna@kor.example.org")) is None
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.to_email == "anna@kor.example.org"))
        assert row.attempts == 2


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "stepwise"])
def test_hard_bounce_suppresses_and_the_campaign_carries_on(
    pipelining, db, app, smtp_settings, smtp_server, make_campaign
):
    smtp_server.script.pipelining = pipelining
    smtp_server.reply("bengt@kor.example.org", "550 5.1.1 No such user")
    cid = make_campaign(orgs=["korforbundet"])
    status = start_and_send(db, smtp_settings, app, cid)
    assert status.counts == {**status.counts, "sent": 2, "bounced": 1}
    assert status.state == "finished"
    with db.transaction() as session:
        suppression = session.scalar(select(Suppression).where(Suppression.email == "bengt@kor.example.org"))
        assert suppression.reason is SuppressionReason.BOUNCED and "550" in suppression.detail
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.to_email == "bengt@kor.example.org"))
        assert "No such user" in row.last_error


def test_retries_are_bounded_then_failed_with_the_reply_and_staff_can_retry(
    db, app, smtp_settings, smtp_server, make_campaign
):
    smtp_server.reply("anna@kor.example.org", "452 4.2.2 Mailbox full")
    cid = make_campaign(orgs=["korforbundet"])
    status = start_and_send(db, smtp_settings, app, cid, delays=(0, 0))
    assert status.counts["failed"] == 1 and status.counts["sent"] == 2 and status.state == "finished"
    with db.transaction() as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.to_email == "anna@kor.example.org"))
        assert row.attempts == 3 and "Mailbox full" in row.last_error
    smtp_server.reply("anna@kor.example.org", "250 OK")
    with db.transaction() as session:
        assert service.retry_failed(session, service.get_campaign(session, cid)) == 1
    status = start_and_send(db, smtp_settings, app, cid)
    assert status.counts["sent"] == 3 and status.state == "finished"
    assert len(smtp_server.to("anna@kor.example.org")) == 1


def test_server_down_leaves_everything_queued_and_nothing_lost(db, app, smtp_settings, smtp_server, make_campaign):
    smtp_server.stop()
    cid = make_campaign(orgs=["korforbundet"])
    with db.transaction() as session:
        service.start(session, service.get_campaign(session, cid))
    sender = Sender(db, smtp_settings, app.extensions["mailer.templates"], delays=(0,))
    result = sender.run_once(cid)
    assert result.connection_error and not result.outcomes
    with db.transaction() as session:
        assert service.status(session, service.get_campaign(session, cid)).counts["queued"] == 3
    smtp_server.start()
    while sender.run_once(cid).claimed:
        pass
    sender.close()
    assert sorted(smtp_server.recipients()) == [
        "anna@kor.example.org",
        "bengt@kor.example.org",
        "cecilia@both.example.org",
    ]


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "stepwise"])
def test_dropped_connections_lose_nothing_and_duplicate_nothing(
    pipelining, db, app, smtp_settings, smtp_server, make_campaign
):
    smtp_server.script.pipelining = pipelining
    smtp_server.script.drop_every = 2
    status = start_and_send(db, smtp_settings, app, make_campaign(all=True))
    assert status.counts["sent"] == 5
    assert sorted(smtp_server.recipients()) == sorted(set(smtp_server.recipients()))
    assert len(smtp_server.recipients()) == 5


def test_header_injection_through_a_name_is_impossible(db, app, smtp_settings, smtp_server, make_csv, meeting):
    path = make_csv("evil.csv", 'email,name\nmallory@evil.example.org,"Mallory\r\nBcc: victim@example.org"\n')
    with db.transaction() as session:
        import_lists(session, [path])
        campaign = service.create_campaign(
            session,
            smtp_settings,
            app.extensions["mailer.templates"],
            meeting_slug=meeting.slug,
            template="invitation",
            audience=Audience(orgs=["evil"]),
        )
    start_and_send(db, smtp_settings, app, campaign.id)
    (received,) = smtp_server.received
    assert received.envelope_to == ["mallory@evil.example.org"]
    assert received.message["Bcc"] is None
    assert b"\r\nBcc:" not in received.data


def test_names_are_escaped_in_html(db, app, smtp_settings, smtp_server, make_csv, meeting):
    path = make_csv("xss.csv", "email,name\nx@xss.example.org,<script>alert(1)</script>\n")
    with db.transaction() as session:
        import_lists(session, [path])
        campaign = service.create_campaign(
            session,
            smtp_settings,
            app.extensions["mailer.templates"],
            meeting_slug=meeting.slug,
            template="invitation",
            audience=Audience(orgs=["xss"]),
        )
    start_and_send(db, smtp_settings, app, campaign.id)
    html = smtp_server.received[0].message.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.fixture
def broken_templates(tmp_path):
    """A copy of the default templates that staff can break."""
    import shutil

    from mailer.mail.templates import packaged_templates_path

    folder = tmp_path / "templates"
    shutil.copytree(packaged_templates_path(), folder)
    return folder


def test_a_template_typo_is_reported_with_its_line_when_the_campaign_is_created(
    db, app, broken_templates, contacts, meeting
):
    path = broken_templates / "sv" / "invitation.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(3, "{{ meetng.title }}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    templates = EmailTemplates(broken_templates)
    with db.transaction() as session:
        with pytest.raises(TemplateProblem) as info:
            service.create_campaign(
                session,
                app.extensions["mailer.settings"],
                templates,
                meeting_slug=meeting.slug,
                template="invitation",
                audience=Audience(all=True),
            )
    assert info.value.template == "sv/invitation.txt" and info.value.line == 4
    assert "meetng" in str(info.value)


def test_a_typo_in_the_subject_is_reported_with_its_own_line(db, app, broken_templates, contacts, meeting):
    path = broken_templates / "en" / "invitation.txt"
    text = path.read_text(encoding="utf-8")
    subject_line = next(i for i, line in enumerate(text.splitlines(), 1) if "block subject" in line)
    path.write_text(text.replace("{% block subject %}", "{% block subject %}{{ meeting.titel }}", 1), encoding="utf-8")
    with db.transaction() as session:
        with pytest.raises(TemplateProblem) as info:
            service.create_campaign(
                session,
                app.extensions["mailer.settings"],
                EmailTemplates(broken_templates),
                meeting_slug=meeting.slug,
                template="invitation",
                audience=Audience(all=True),
            )
    assert (info.value.template, info.value.line) == ("en/invitation.txt", subject_line)
    assert "titel" in str(info.value)


def test_a_template_broken_after_creation_stops_the_start_before_anyone_is_mailed(
    runner, db, app, broken_templates, contacts, meeting
):
    env = {"MAILER_TEMPLATES_PATH": str(broken_templates)}
    campaign_id = runner.invoke(
        ["campaigns", "create", "--meeting", "eskilstuna", "--template", "invitation", "--all"], env=env
    ).stdout.strip()
    scheduled_id = runner.invoke(
        [
            "campaigns",
            "create",
            "--meeting",
            "eskilstuna",
            "--template",
            "invitation",
            "--all",
            "--send-at",
            f"{YEAR}-01-01 10:00",
        ],
        env=env,
    ).stdout.strip()
    path = broken_templates / "en" / "invitation.txt"  # only the English-speaking recipients would hit it
    path.write_text(
        path.read_text(encoding="utf-8").replace("{%- endblock %}", "{{ meeting.whn }}{%- endblock %}"),
        encoding="utf-8",
    )
    sent = runner.invoke(["campaigns", "send", campaign_id], env=env)
    assert sent.exit_code == 1 and "en/invitation.txt:" in sent.stderr and "whn" in sent.stderr
    settings = app.extensions["mailer.settings"]
    with db.transaction() as session:
        assert session.get(Campaign, int(campaign_id)).state is CampaignState.DRAFT
        outcome = service.start_due(
            session,
            settings,
            EmailTemplates(broken_templates),
            int(scheduled_id),
            now=utcnow().replace(year=YEAR, month=1, day=1, hour=10),
        )
        assert outcome.startswith("not started, back to draft: template error en/invitation.txt:")
        assert session.get(Campaign, int(scheduled_id)).state is CampaignState.DRAFT
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_template_cannot_reach_python_internals(broken_templates):
    (broken_templates / "sv" / "reminder.txt").write_text(
        "{% extends 'base.txt' %}{% block subject %}x{% endblock %}"
        "{% block content %}{{ ''.__class__.__mro__[1].__subclasses__() }}{% endblock %}",
        encoding="utf-8",
    )
    from mailer.mail.context import recipient_context  # noqa: F401

    templates = EmailTemplates(broken_templates)
    with pytest.raises(TemplateProblem, match="unsafe|not safely|access"):
        templates.render(
            "reminder",
            "sv",
            {
                "lang": "sv",
                "sender": {"name": "Ax", "email": "a@b.se"},
                "first_message": False,
                "unsubscribe_url": "u",
                "organisations": [],
            },
        )


def test_cli_round_with_file_outbox(runner, contacts, meeting, instance_path):
    result = runner.invoke(
        ["campaigns", "create", "--meeting", "eskilstuna", "--template", "invitation", "--org", "teater"]
    )
    assert result.exit_code == 0, result.output
    campaign_id = result.stdout.strip()
    assert campaign_id.isdigit()
    preview = runner.invoke(["campaigns", "preview", campaign_id, "--contact", "eva@teater.example.org"])
    assert preview.exit_code == 0 and "To: Eva Ek <eva@teater.example.org>" in preview.output
    test = runner.invoke(["campaigns", "test", campaign_id, "--to", "kansli@ax.example.org"])
    assert test.exit_code == 0, test.output
    sent = runner.invoke(["campaigns", "send", campaign_id])
    assert sent.exit_code == 0, sent.output
    status = json.loads(runner.invoke(["campaigns", "status", campaign_id, "--json"]).output)
    assert status["state"] == "finished" and status["sent"] == 3 and status["queued"] == 0
    for key in ("queued", "sent", "retrying", "failed", "bounced", "skipped"):
        assert key in status
    files = sorted((instance_path / "outbox").glob("*.eml"))
    assert len(files) == 4  # three recipients and the test message
    assert any(b"[TEST]" in f.read_bytes() for f in files)
    listing = json.loads(runner.invoke(["campaigns", "list", "--json"]).output)
    assert [c["id"] for c in listing] == [int(campaign_id)]


def test_cli_test_message_reaches_a_real_smtp_server(runner, contacts, meeting, smtp_server):
    created = runner.invoke(["campaigns", "create", "--meeting", "eskilstuna", "--template", "invitation", "--all"])
    env = {"MAILER_SMTP_URL": smtp_server.url}
    test = runner.invoke(["campaigns", "test", created.stdout.strip(), "--to", "kansli@ax.example.org"], env=env)
    assert test.exit_code == 0, test.output
    (received,) = smtp_server.to("kansli@ax.example.org")
    assert received.message["Subject"].startswith("[TEST] ")
    assert b"\r\nList-Unsubscribe: <http://mailer.test/u/" in received.data  # CRLF, and the link as it is


def test_cli_schedule_and_cancel(runner, db, contacts, meeting):
    created = runner.invoke(
        [
            "campaigns",
            "create",
            "--meeting",
            "eskilstuna",
            "--template",
            "reminder",
            "--all",
            "--send-at",
            f"{YEAR}-09-01 09:00",
        ]
    )
    campaign_id = created.stdout.strip()
    status = json.loads(runner.invoke(["campaigns", "status", campaign_id, "--json"]).output)
    assert status["state"] == "scheduled" and status["send_at"].startswith(f"{YEAR}-09-01T07:00")
    moved = runner.invoke(["campaigns", "schedule", campaign_id, "--at", f"{YEAR}-09-02 10:00"])
    assert moved.exit_code == 0 and f"{YEAR}-09-02 10:00" in moved.output
    past = runner.invoke(["campaigns", "schedule", campaign_id, "--at", f"{LAST_YEAR}-01-01 09:00"])
    assert past.exit_code == 1 and f"'{LAST_YEAR}-01-01 09:00' is in the past" in past.stderr
    bad = runner.invoke(["campaigns", "schedule", campaign_id, "--at", "tomorrow"])
    assert bad.exit_code == 1 and "tomorrow" in bad.output
    assert runner.invoke(["campaigns", "cancel", campaign_id]).exit_code == 0
    with db.transaction() as session:
        assert service.get_campaign(session, int(campaign_id)).state is CampaignState.CANCELLED
    again = runner.invoke(["campaigns", "send", campaign_id])
    assert again.exit_code == 1 and "cancelled" in again.output


def test_cli_reports_template_errors_and_unknown_meetings(runner, contacts, meeting):
    result = runner.invoke(["campaigns", "create", "--meeting", "nowhere", "--template", "invitation", "--all"])
    assert result.exit_code == 1 and "nowhere" in result.output
    result = runner.invoke(["campaigns", "create", "--meeting", "eskilstuna", "--template", "digest", "--all"])
    assert result.exit_code == 1 and "--template" in result.output


def test_packaged_templates_exist_for_every_name_and_language():
    from mailer.mail.templates import TEMPLATE_NAMES, packaged_templates_path

    root = packaged_templates_path()
    for language in ("sv", "en"):
        for name in TEMPLATE_NAMES:
            assert (root / language / f"{name}.txt").is_file() and (root / language / f"{name}.html").is_file()
    assert isinstance(root, Path)


def test_server_gone_between_messages_uses_no_attempt_and_stops_the_batch(
    db, app, smtp_settings, smtp_server, make_campaign
):
    """The server dies after the first message: the next one cannot connect, nothing reached the
    server, so it goes back to the queue with its attempts untouched, and the batch stops there."""
    import threading

    smtp_server.script.drop_every = 1  # hang up after each message, so the next must reconnect
    cid = make_campaign(all=True)
    with db.transaction() as session:
        service.start(session, service.get_campaign(session, cid))

    def stop_after_first():
        wait_until(lambda: smtp_server.received, timeout=60, what="the first message", interval=0.01)
        smtp_server.stop()

    stopper = threading.Thread(target=stop_after_first)
    stopper.start()
    slow = smtp_settings.with_overrides(send_rate_per_minute=30)  # two seconds between messages
    sender = Sender(db, slow, app.extensions["mailer.templates"], delays=(0,))
    try:
        result = sender.run_once(cid)
    finally:
        sender.close()
        stopper.join()
    assert result.outcomes == {"sent": 1} and result.connection_error
    with db.transaction() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.campaign_id == cid)).all()
    waiting = [r for r in rows if r.state is not MessageState.SENT]
    assert len(waiting) == 4
    assert all(
        r.state is MessageState.QUEUED and r.attempts == 0 and not r.uncertain and r.claimed_by is None for r in waiting
    )


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "stepwise"])
def test_smtp_transport_keeps_dots_and_stays_in_step_after_a_refusal(pipelining, smtp_server):
    """Lines starting with a dot survive the SMTP dot-stuffing, with or without PIPELINING, and a
    refused recipient leaves the connection ready for the next message."""
    from mailer.mail.transport import RecipientRejected, SMTPTransport

    smtp_server.script.pipelining = pipelining
    smtp_server.reply("gone@example.org", "550 5.1.1 No such user")
    transport = SMTPTransport(smtp_server.url)
    data = b".First line is a dot\r\nSubject: x\r\n\r\n.\r\n..two\r\nend without line break"
    transport.send("info@ax.example.org", "one@example.org", data, "<1@ax>")
    with pytest.raises(RecipientRejected, match="No such user"):
        transport.send("info@ax.example.org", "gone@example.org", b"Subject: y\r\n\r\nhej\r\n", "<2@ax>")
    transport.send("info@ax.example.org", "two@example.org", b"Subject: z\r\n\r\nhej\r\n", "<3@ax>")
    transport.close()
    assert [r.envelope_to for r in smtp_server.received] == [["one@example.org"], ["two@example.org"]]
    assert smtp_server.received[0].data == data + b"\r\n"
