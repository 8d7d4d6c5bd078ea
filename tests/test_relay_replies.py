"""Real relays' replies (RFC 3463): who is to blame decides between a bounce, a retry and a pause.

Against a real SMTP server (aiosmtpd, tests/smtp_server.py) scripted like Microsoft 365,
Google Workspace and a hosting relay answer: quota replies after N messages on RCPT and on
DATA, policy replies, 421, a refused sender. Times move with time-machine.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from relay_fixtures import attempts_used, campaign_of, counts, send_until_stopped, suppressions
from sqlalchemy import func, select

from mailer.audit.models import AuditEntry
from mailer.campaigns import service
from mailer.campaigns.models import Campaign, CampaignState
from mailer.db import utcnow
from mailer.mail.replies import (
    Fault,
    StatusClass,
    classify,
    enhanced_status,
    explain_reply,
    explain_status,
    reply_kind,
    status_class,
)
from mailer.outbox import relay
from mailer.outbox.models import MessageState, OutboxMessage

# Replies as real servers word them, and what they must mean.
REPLIES = [
    (
        "rcpt",
        550,
        "550 5.1.1 <anna@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
        Fault.HARD,
    ),
    (
        "rcpt",
        550,
        "550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking",
        Fault.HARD,
    ),
    ("rcpt", 550, "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", Fault.HARD),
    ("rcpt", 556, "556 5.1.10 Recipient address has null MX", Fault.HARD),
    ("rcpt", 550, "550 5.2.1 The email account that you tried to reach is disabled", Fault.HARD),
    ("rcpt", 550, "550 5.1.2 Host unknown (Name server: example.invalid: host not found)", Fault.HARD),
    ("rcpt", 550, "550 User unknown", Fault.HARD),  # a server without enhanced codes
    ("rcpt", 452, "452 4.2.2 The email account that you tried to reach is over quota", Fault.SOFT),
    ("data", 552, "552 5.2.2 Mailbox full", Fault.SOFT),
    ("rcpt", 550, "550 5.4.5 Daily SMTP relay limit exceeded for customer", Fault.RELAY),
    ("data", 550, "550 5.4.5 Daily user sending quota exceeded", Fault.RELAY),
    ("rcpt", 550, "550 5.7.1 Too many messages, slow down", Fault.RELAY),
    (
        "rcpt",
        554,
        "554 5.7.0 Your message could not be sent. The limit on the number of allowed outgoing messages was exceeded",
        Fault.RELAY,
    ),
    ("rcpt", 450, "450 Too many messages sent, rate limited", Fault.RELAY),  # no enhanced code
    ("rcpt", 550, "550 Sending limit exceeded", Fault.RELAY),
    ("rcpt", 421, "421 4.7.0 Try again later, closing connection", Fault.RELAY),
    (
        "data",
        554,
        "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process "
        "message due to a permanent exception",
        Fault.RELAY,
    ),  # Microsoft 365's daily quota
    ("data", 552, "552 5.2.0 Mailbox quota exceeded for this recipient", Fault.SOFT),
    ("rcpt", 550, "550 5.7.705 Access denied, tenant has exceeded threshold", Fault.RELAY),
    ("mail", 553, "553 5.7.1 <info@ax.example.org>: Sender address rejected: not owned by user", Fault.RELAY),
    ("mail", 550, "550 5.7.60 SMTP; Client does not have permissions to send as this sender", Fault.RELAY),
    ("connect", 535, "535 5.7.8 Username and Password not accepted", Fault.RELAY),
    ("rcpt", 451, "451 4.3.0 Error: queue file write error", Fault.RELAY),
    ("rcpt", 550, "550 5.7.1 Relaying denied", Fault.POLICY),
    ("data", 550, "550 5.7.1 Message rejected as spam by Content Filtering", Fault.POLICY),
    ("rcpt", 554, "554 Relay access denied", Fault.POLICY),  # no code, but about us, not the mailbox
    ("rcpt", 451, "451 4.7.1 Greylisted, try again", Fault.TEMPORARY),
    ("data", 552, "552 5.3.4 Message size exceeds fixed limit", Fault.MESSAGE),
    ("data", 554, "554 5.6.0 Transaction failed", Fault.MESSAGE),
]


@pytest.mark.parametrize("stage,code,reply,fault", REPLIES, ids=[r[2][:40] for r in REPLIES])
def test_a_reply_is_judged_by_its_enhanced_code(stage, code, reply, fault):
    verdict = classify(code, reply, stage)
    assert verdict.fault is fault
    assert verdict.suppresses is (fault is Fault.HARD)


@pytest.mark.parametrize(
    "text,status",
    [
        ("550 5.1.1 <anna@example.org>: no such user", "5.1.1"),
        ("Status: 5.1.1.", "5.1.1"),  # a sentence's full stop does not hide the code
        ("Diagnostic-Code: smtp; 550 5.7.1 blocked", "5.7.1"),
        ("relay 10.2.5.1 timed out", None),  # part of an address, not a code
        ("version 5.1.1.2", None),
        (None, None),
    ],
)
def test_one_reader_finds_the_status_code_for_sending_bounces_and_the_digest(text, status):
    """The refusal verdict, a delivery report's class and the digest's words all read the same code."""
    assert enhanced_status(text) == status
    verdict = classify(550, text or "550", "rcpt")
    assert verdict.status == status
    if status == "5.1.1":
        assert verdict.fault is Fault.HARD and status_class(status) is StatusClass.RECIPIENT
        assert reply_kind(text) == "no_such_user"
        assert explain_status(status, "sv").startswith("Adressen finns inte")
        assert explain_reply(text, "sv").startswith("Adressen finns inte")
        assert explain_reply(text, "en").startswith("The address does not exist")


# -- against a scripted relay ------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_a_quota_reply_after_n_messages_pauses_sending_and_suppresses_nobody(
    stage, db, smtp_server, sender, start_campaign
):
    smtp_server.script.after, smtp_server.script.later_stage = 3, stage
    smtp_server.script.later_reply = "550 5.4.5 Daily SMTP relay limit exceeded for customer"
    cid = start_campaign(8)
    result = send_until_stopped(sender())

    assert result.paused_until is not None
    assert counts(db, cid) == {**counts(db, cid), "sent": 3, "queued": 5, "bounced": 0, "failed": 0}
    assert suppressions(db) == 0
    assert attempts_used(db, cid) == {0}  # the refused message used no attempt: not its fault
    campaign = campaign_of(db, cid)
    assert campaign.state is CampaignState.PAUSED
    assert "5.4.5" in campaign.pause_reply and campaign.pause_reason == "quota"
    assert dt.timedelta(minutes=55) < campaign.paused_until - utcnow() <= dt.timedelta(hours=1)
    with db.transaction() as session:
        assert relay.current_pause(session).reason == "quota"
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "sending.pause"))
        assert entry.detail["status"] == "550 5.4.5" and entry.target == f"campaign:{cid}"

    # Another sender (a second worker) claims nothing while the relay is paused.
    assert sender().run_once().claimed == 0

    # The retry time comes: the campaign resumes by itself and the rest goes out.
    smtp_server.script.later_reply = None
    with time_machine.travel(campaign.paused_until + dt.timedelta(seconds=1)):
        send_until_stopped(sender())
        assert campaign_of(db, cid).state is CampaignState.FINISHED
        with db.transaction() as session:
            assert relay.current_pause(session) is None and not relay.troubled(session)
    assert counts(db, cid)["sent"] == 8 and len(smtp_server.received) == 8


def test_a_policy_reply_pauses_the_campaign_and_the_message_is_tried_again_later(
    db, smtp_server, sender, start_campaign
):
    cid = start_campaign(4)
    smtp_server.reply("person1@relay.example.org", "550 5.7.1 Message rejected due to content restrictions")
    assert send_until_stopped(sender()).paused_until is None  # only this campaign waits
    campaign = campaign_of(db, cid)
    assert campaign.state is CampaignState.PAUSED and campaign.pause_reason == "policy"
    assert "5.7.1" in campaign.pause_reply
    assert suppressions(db) == 0
    with db.transaction() as session:
        refused = session.scalar(select(OutboxMessage).where(OutboxMessage.to_email == "person1@relay.example.org"))
        assert refused.state is MessageState.RETRYING and refused.attempts == 1
        assert refused.next_attempt_at >= campaign.paused_until  # the others go first after the pause
        assert relay.current_pause(session) is None  # other campaigns and staff mail carry on
        before = session.scalar(
            select(func.count()).where(OutboxMessage.campaign_id == cid, OutboxMessage.id < refused.id)
        )
    assert counts(db, cid)["sent"] == before  # the rows after it wait for the campaign to resume
    assert counts(db, cid)["queued"] == 3 - before

    smtp_server.reply("person1@relay.example.org", "250 OK")
    with time_machine.travel(refused.next_attempt_at + dt.timedelta(seconds=1)):
        send_until_stopped(sender())
    assert counts(db, cid)["sent"] == 4 and campaign_of(db, cid).state is CampaignState.FINISHED


def test_421_and_a_refused_sender_pause_all_sending(db, smtp_server, sender, start_campaign):
    cid = start_campaign(3)
    smtp_server.script.mail_reply = "553 5.7.1 <info@ax.example.org>: Sender address rejected: not owned by user"
    result = send_until_stopped(sender())
    assert result.paused_until and counts(db, cid)["queued"] == 3 and suppressions(db) == 0
    with db.transaction() as session:
        assert relay.current_pause(session).reason == "sender"
        relay.clear(session)  # staff fixed the relay's settings and said "try now"
    smtp_server.script.mail_reply = None
    with db.transaction() as session:
        service.resume(session, session.get(Campaign, cid))

    smtp_server.reply("person0@relay.example.org", "421 4.7.0 Too many connections, closing transmission channel")
    result = send_until_stopped(sender())
    with db.transaction() as session:
        held = relay.current_pause(session)
        assert held.reason == "closing" and "421" in held.reply
        assert dt.timedelta(minutes=4) < held.until - utcnow() <= dt.timedelta(minutes=5)
    assert counts(db, cid)["queued"] == 3 and suppressions(db) == 0


def test_the_same_reply_for_three_recipients_in_a_row_trips_the_breaker(db, smtp_server, sender, start_campaign):
    cid = start_campaign(6)
    for i in range(6):  # a reply our rules do not know, quoting each address
        smtp_server.reply(
            f"person{i}@relay.example.org", f"554 5.6.0 <person{i}@relay.example.org>: Transaction failed"
        )
    result = send_until_stopped(sender())
    assert result.paused_until
    with db.transaction() as session:
        assert relay.current_pause(session).reason == "breaker"
    figures = counts(db, cid)
    assert figures["failed"] == 2 and figures["queued"] == 4 and figures["bounced"] == 0
    assert suppressions(db) == 0 and campaign_of(db, cid).state is CampaignState.PAUSED


def test_recipient_faults_still_bounce_and_a_full_mailbox_is_only_soft(db, smtp_server, sender, start_campaign):
    cid = start_campaign(4)
    smtp_server.reply("person0@relay.example.org", "550 5.1.1 User unknown")
    smtp_server.reply("person1@relay.example.org", "556 5.1.10 Recipient address has null MX")
    smtp_server.reply("person2@relay.example.org", "552 5.2.2 Mailbox full", "250 OK")
    send_until_stopped(sender(delays=(0, 0)))
    send_until_stopped(sender(delays=(0, 0)))  # the retry of the full mailbox
    figures = counts(db, cid)
    assert figures["bounced"] == 2 and figures["sent"] == 2
    assert suppressions(db) == 2
    assert campaign_of(db, cid).state is CampaignState.FINISHED


# -- slow and dead relays ------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_a_stalling_relay_stops_the_batch_after_three_timeouts_and_every_sender_waits_doubling(
    stage, db, smtp_server, sender, start_campaign, relay_settings
):
    cid = start_campaign(6)
    smtp_server.script.stall = stage
    impatient = relay_settings.with_overrides(smtp_timeout=0.3)
    before = utcnow()
    result = send_until_stopped(sender(impatient))
    assert result.paused_until and result.connection_error and "did not answer" in result.connection_error
    assert counts(db, cid) == {**counts(db, cid), "queued": 6, "sent": 0, "failed": 0, "retrying": 0}
    assert attempts_used(db, cid) == {0}  # a timeout alone marks nothing, uses nothing
    with db.transaction() as session:  # after the whole message went, the relay may have taken it
        flagged = session.scalar(select(func.count()).where(OutboxMessage.uncertain.is_(True)))
    assert flagged == (3 if stage == "data" else 0)
    with db.transaction() as session:
        first = relay.current_pause(session)
    assert first.reason == "timeout"
    assert (
        before + dt.timedelta(minutes=1) <= first.until <= utcnow() + dt.timedelta(minutes=1)
    )  # a minute from the pause
    assert campaign_of(db, cid).state is CampaignState.RUNNING  # nobody refused anything
    assert sender(impatient).run_once().claimed == 0  # every worker waits

    with time_machine.travel(first.until + dt.timedelta(seconds=1)):
        send_until_stopped(sender(impatient))
        with db.transaction() as session:
            second = relay.current_pause(session)
        assert second.reason == "timeout"
        assert dt.timedelta(seconds=119) < second.until - utcnow() <= dt.timedelta(minutes=2)

    with time_machine.travel(second.until + dt.timedelta(seconds=1)):
        smtp_server.script.stall = None  # the relay answers again
        send_until_stopped(sender(impatient))
        with db.transaction() as session:
            assert relay.current_pause(session) is None and not relay.troubled(session)
    assert counts(db, cid)["sent"] == 6


def test_timeout_waits_double_up_to_thirty_minutes(db):
    now = utcnow()
    waits = []
    for _ in range(8):
        with db.transaction() as session:
            waits.append(round((relay.pause(session, relay.TIMEOUT, "no answer", now=now).until - now).total_seconds()))
            session.get(relay.RelayStatus, relay.NAME).paused_until = now  # the wait ran out, no success since
    assert waits == [60, 120, 240, 480, 960, 1800, 1800, 1800]


def test_a_relay_that_never_greets_is_given_up_after_three_connect_timeouts(db, sender, start_campaign, relay_settings):
    from smtp_server import silent_server

    cid = start_campaign(2)
    with silent_server() as url:
        dead = relay_settings.with_overrides(smtp_url=url, smtp_connect_timeout=0.3)
        worker = sender(dead)
        errors = [worker.run_once() for _ in range(3)]
    assert all("did not answer within 0.3 s" in r.connection_error for r in errors)
    assert errors[-1].paused_until and not errors[0].paused_until
    with db.transaction() as session:
        assert relay.current_pause(session).reason == "timeout"
    assert counts(db, cid)["queued"] == 2 and attempts_used(db, cid) == {0}


# -- the relay's own limits per hour and per day --------------------------------------------------


def an_hour_passes(db):
    """The database's log of reserved slots ages by an hour (PostgreSQL keeps its own clock,
    which time-machine does not move)."""
    from sqlalchemy import update

    from mailer.outbox.ratelimit import SendReservation

    with db.transaction() as session:
        session.execute(update(SendReservation).values(at=SendReservation.at - 3601))


def test_the_hourly_limit_holds_across_two_workers_and_the_rest_goes_out_in_the_next_hour(
    db, smtp_server, sender, start_campaign, relay_settings
):
    cid = start_campaign(10)
    limited = relay_settings.with_overrides(send_limit_per_hour=4, send_batch_size=2)
    first, second = sender(limited, owner="host-a:1"), sender(limited, owner="host-b:2")
    for _ in range(4):  # two workers taking turns, batch by batch
        first.run_once()
        second.run_once()
    assert len(smtp_server.received) == 4 and counts(db, cid)["queued"] == 6
    with db.transaction() as session:
        held = relay.current_pause(session)
    assert held.reason == "limit" and held.reply is None
    assert dt.timedelta(minutes=59) < held.until - utcnow() <= dt.timedelta(hours=1)
    assert campaign_of(db, cid).state is CampaignState.RUNNING  # nothing is wrong: it waits its turn

    an_hour_passes(db)
    with time_machine.travel(held.until + dt.timedelta(seconds=1)):
        while first.run_once().claimed or second.run_once().claimed:
            pass
        assert len(smtp_server.received) == 8
        with db.transaction() as session:
            assert relay.current_pause(session).reason == "limit"


def test_the_daily_limit_stops_sending_for_the_rest_of_the_rolling_day(
    db, smtp_server, sender, start_campaign, relay_settings
):
    cid = start_campaign(5)
    send_until_stopped(sender(relay_settings.with_overrides(send_limit_per_day=3)))
    assert counts(db, cid)["sent"] == 3
    with db.transaction() as session:
        held = relay.current_pause(session)
    assert held.reason == "limit"
    assert dt.timedelta(hours=23, minutes=59) < held.until - utcnow() <= dt.timedelta(days=1)


# -- the worker process and the command line ------------------------------------------------------


def test_the_worker_process_leaves_a_paused_relay_alone_and_the_cli_says_why(
    db, cli_env, runner, smtp_server, start_campaign
):
    import os
    import subprocess
    import sys

    smtp_server.script.after, smtp_server.script.later_reply = 2, "550 5.7.1 Too many messages, slow down"
    cid = start_campaign(4)
    env = {
        **os.environ,
        **cli_env,
        "MAILER_SMTP_URL": smtp_server.url,
        "MAILER_SEND_RATE_PER_MINUTE": "60000",
        "MAILER_SEND_LIMIT_PER_DAY": "100",
        "MAILER_SMTP_CONNECT_TIMEOUT": "5",
    }
    worker = subprocess.run(
        [sys.executable, "-m", "mailer", "worker", "--until-idle"], env=env, capture_output=True, text=True, timeout=120
    )
    assert worker.returncode == 0, worker.stderr
    assert "sending paused until" in worker.stderr
    assert counts(db, cid) == {**counts(db, cid), "sent": 2, "queued": 2, "bounced": 0}

    status = runner.invoke(["campaigns", "status", cid])
    assert "paused" in status.output and "(quota)" in status.output and "Too many messages" in status.output
    assert runner.invoke(["campaigns", "resume", cid]).output.startswith(f"campaign {cid} resumed; 2 messages")
    assert campaign_of(db, cid).state is CampaignState.RUNNING


def test_relay_settings_come_from_the_environment_and_unset_limits_are_none(tmp_path):
    from mailer.config import ConfigError, load_settings

    base = {
        "instance_path": tmp_path,
        "secret_key": "x" * 20,
        "base_url": "https://x.example.org",
        "from": "Ax <info@ax.example.org>",
    }
    settings = load_settings(base, environ={})
    assert settings.send_limit_per_hour is None and settings.send_limit_per_day is None
    assert settings.smtp_connect_timeout == 10.0 and settings.smtp_timeout == 30.0
    settings = load_settings(
        base,
        environ={
            "MAILER_SEND_LIMIT_PER_HOUR": "1000",
            "MAILER_SEND_LIMIT_PER_DAY": "",
            "MAILER_SMTP_CONNECT_TIMEOUT": "2.5",
        },
    )
    assert (settings.send_limit_per_hour, settings.send_limit_per_day, settings.smtp_connect_timeout) == (
        1000,
        None,
        2.5,
    )
    with pytest.raises(ConfigError, match="MAILER_SEND_LIMIT_PER_DAY"):
        load_settings(base, environ={"MAILER_SEND_LIMIT_PER_DAY": "lots"})
