"""What staff see when the relay makes sending wait, and undoing a suppression a relay caused:
the campaign page, the dashboard, the suppressions page and the digest, in Swedish and English."""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes
from email import policy as email_policy
from html import unescape

from relay_fixtures import campaign_of, counts, send_until_stopped
from sqlalchemy import select
from staff_helpers import post, text

from mailer.audit.models import AuditEntry
from mailer.campaigns.models import CampaignState
from mailer.contacts.models import Suppression, SuppressionReason, address_hash
from mailer.db import utcnow
from mailer.digest.build import digest_context
from mailer.i18n import format_when
from mailer.mail.compose import compose_staff
from mailer.outbox import relay

QUOTA = "550 5.4.5 Daily SMTP relay limit exceeded for customer"


def page(client, url: str) -> str:
    reply = client.get(url)
    assert reply.status_code == 200, reply.status_code
    return " ".join(unescape(text(reply)).split())


def test_a_paused_campaign_shows_the_reply_and_the_next_try_and_staff_can_try_now(
    db, settings, smtp_server, sender, start_campaign, staff_client
):
    smtp_server.script.after, smtp_server.script.later_reply = 2, QUOTA
    cid = start_campaign(5)
    send_until_stopped(sender())
    campaign = campaign_of(db, cid)
    when_sv = format_when(campaign.paused_until, None, settings.timezone, "sv")

    shown = page(staff_client, f"/staff/campaigns/{cid}")
    assert "Utskicket är pausat. Reläets sändningskvot är slut för stunden. Ingen adress har spärrats för det." in shown
    assert QUOTA in shown
    assert f"Nästa försök {when_sv}; sedan fortsätter utskicket av sig självt." in shown
    english = page(staff_client, f"/staff/campaigns/{cid}?lang=en")
    assert "Sending is paused. The relay's sending quota is used up for now." in english
    assert f"Next try {format_when(campaign.paused_until, None, settings.timezone, 'en')}" in english

    dashboard = page(staff_client, "/staff/")
    assert "Utskicket väntar" in dashboard and "Allt utskick väntar. Reläets sändningskvot är slut" in dashboard
    assert QUOTA in dashboard

    status = staff_client.get(f"/staff/campaigns/{cid}/status.json").json
    assert status["state"] == "paused" and status["pause_reason"] == "quota" and status["pause_reply"] == QUOTA

    smtp_server.script.later_reply = None
    reply = post(staff_client, f"/staff/campaigns/{cid}/resume", {})
    assert reply.status_code == 303
    assert "Utskicket fortsätter; 3 mejl väntar på att skickas." in page(staff_client, f"/staff/campaigns/{cid}")
    assert campaign_of(db, cid).state is CampaignState.RUNNING
    with db.transaction() as session:
        assert relay.current_pause(session) is None
        assert (
            session.scalar(select(AuditEntry).where(AuditEntry.action == "campaigns.resume")).target
            == f"campaign:{cid}"
        )
    send_until_stopped(sender())
    assert counts(db, cid)["sent"] == 5


def test_at_a_sending_limit_the_page_says_when_the_rest_goes_out(
    db, settings, smtp_server, sender, start_campaign, relay_settings, staff_client
):
    cid = start_campaign(5)
    send_until_stopped(sender(relay_settings.with_overrides(send_limit_per_hour=3)))
    with db.transaction() as session:
        until = relay.current_pause(session).until
    shown = page(staff_client, f"/staff/campaigns/{cid}")
    assert f"3 av 5 skickade, resten går ut från {format_when(until, None, settings.timezone, 'sv')}." in shown
    english = page(staff_client, f"/staff/campaigns/{cid}?lang=en")
    assert f"3 of 5 sent, the rest goes out from {format_when(until, None, settings.timezone, 'en')}." in english


def test_a_relay_that_does_not_answer_is_named_on_the_campaign_page(
    db, smtp_server, sender, start_campaign, relay_settings, staff_client
):
    cid = start_campaign(3)
    smtp_server.script.stall = "rcpt"
    send_until_stopped(sender(relay_settings.with_overrides(smtp_timeout=0.3)))
    shown = page(staff_client, f"/staff/campaigns/{cid}")
    assert "E-postservern svarar inte. Inget mejl har markerats som skickat eller misslyckat för det" in shown
    assert "The mail server is not answering." in page(staff_client, f"/staff/campaigns/{cid}?lang=en")
    assert campaign_of(db, cid).state is CampaignState.RUNNING


def test_suppressions_by_reason_and_the_ones_a_relay_caused_are_lifted_with_an_audit_entry(db, staff_client):
    old = utcnow() - dt.timedelta(days=40)
    with db.transaction() as session:  # as the old sender left them: every 5xx on RCPT was a "bounce"
        for email, detail in (
            ("quota@kor.example.org", QUOTA),
            ("policy@kor.example.org", "550 5.7.1 Relaying denied"),
            ("gone@kor.example.org", "550 5.1.1 <gone@kor.example.org>: User unknown"),
        ):
            session.add(
                Suppression(
                    address_hash=address_hash(email),
                    email=email,
                    reason=SuppressionReason.BOUNCED,
                    detail=detail,
                    created_at=old,
                )
            )
        session.add(
            Suppression(
                address_hash=address_hash("left@kor.example.org"),
                email="left@kor.example.org",
                reason=SuppressionReason.UNSUBSCRIBED,
                created_at=old,
            )
        )
        session.add(
            Suppression(
                address_hash=address_hash("erased@kor.example.org"),
                email=None,
                reason=SuppressionReason.ERASED,
                created_at=old,
            )
        )

    shown = page(staff_client, "/staff/suppressions")
    assert "Studsade (3)" in shown and "Avregistrerade (1)" in shown and "Raderade personer (1)" in shown
    assert QUOTA in shown and "Raderad person" in shown
    assert shown.count("Troligen fel: svaret gäller reläet, inte adressen.") == 2
    assert "Häv alla 2 som gällde reläet" in shown

    reply = post(staff_client, "/staff/suppressions/lift-not-the-address", {})
    assert reply.status_code == 303
    with db.transaction() as session:
        left = set(session.scalars(select(Suppression.email)))
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "suppressions.lift")).all()
    assert left == {"gone@kor.example.org", "left@kor.example.org", None}
    assert len(entries) == 2 and all("@" not in (e.target or "") for e in entries)

    with db.transaction() as session:
        gone = session.scalar(select(Suppression.id).where(Suppression.email == "gone@kor.example.org"))
    post(staff_client, f"/staff/suppressions/{gone}/lift", {})
    assert "Spärren för gone@kor.example.org är hävd." in page(staff_client, "/staff/suppressions")


def test_the_digest_tells_of_the_weeks_pauses_and_what_waits_now(
    db, app, settings, smtp_server, sender, start_campaign
):
    smtp_server.script.after, smtp_server.script.later_reply = 1, QUOTA
    start_campaign(3)
    send_until_stopped(sender())
    with db.transaction() as session:
        context = digest_context(session, settings, utcnow() - dt.timedelta(days=7), utcnow())
    sending = context["digest"]["sending"]
    assert [p["reason"] for p in sending["pauses"]] == ["reläets sändningskvot var slut"]
    assert sending["pauses"][0]["status"] == "550 5.4.5" and sending["pauses"][0]["all_sending"]
    assert {w["what"] for w in sending["waiting"]} == {"relay", "Dialogträff 1"}
    assert all(w["reply"] == QUOTA for w in sending["waiting"])
    message = message_from_bytes(
        compose_staff(
            settings,
            app.extensions["mailer.templates"],
            template="digest",
            to_email="kansli@ax.example.org",
            context=context,
            message_id="<digest@test>",
        ),
        policy=email_policy.default,
    )
    plain = message.get_body(("plain",)).get_content()
    assert "== Utskick som fick vänta ==" in plain
    assert "Väntar nu (allt utskick): reläets sändningskvot var slut" in plain
    assert "Ingen adress spärras för sådana svar" in plain
    assert "Utskick som fick vänta" in message.get_body(("html",)).get_content()


def test_erasing_a_person_takes_their_address_out_of_a_kept_relay_reply(db, smtp_server, sender, start_campaign):
    from mailer.privacy.erasure import forget

    cid = start_campaign(2)
    smtp_server.reply("person0@relay.example.org", "550 5.7.1 <Person0@relay.example.org>: Relay access denied")
    send_until_stopped(sender())
    assert "Person0@relay.example.org" in campaign_of(db, cid).pause_reply
    with db.transaction() as session:
        forget(session, "person0@relay.example.org")
    assert campaign_of(db, cid).pause_reply == "550 5.7.1 <[raderad]>: Relay access denied"
