"""Webhooks end to end: events recorded with the change, signed deliveries to a real receiver,
retries with backoff then failed, a worker killed mid-queue, the SSRF guard, and the staff page.

The receiver is a real HTTP server on 127.0.0.1 (tests/webhook_receiver.py); delivering to it
needs `webhook_allow_private`, which is exactly what the guard tests check without it.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import threading

import pytest
from helpers import wait_until
from process_helpers import ROOT
from rsvp_fixtures import answer, links_for, send_outbox
from sqlalchemy import select
from staff_helpers import client_as, post, text
from webhook_receiver import receiver

from mailer.contacts.models import SuppressionReason
from mailer.contacts.subscriptions import suppress
from mailer.db import utcnow
from mailer.meetings.models import Meeting
from mailer.outbox.models import OutboxMessage
from mailer.privacy.erasure import erase_person
from mailer.staff.meeting_changes import cancel_meeting, edit_meeting
from mailer.staff.roles import STAFF, VIEWER
from mailer.webhooks import EVENTS
from mailer.webhooks.addresses import WebhookError, check_url
from mailer.webhooks.delivery import DELAYS, MAX_ATTEMPTS, Deliverer
from mailer.webhooks.endpoints import register
from mailer.webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint


def endpoint_for(db, url: str, events=EVENTS) -> tuple[int, str]:
    """An endpoint registered as an admin would, the local receiver allowed (webhook_allow_private)."""
    with db.transaction() as session:
        endpoint = register(session, url, events, allow_private=True)
        return endpoint.id, endpoint.secret


def deliverer(db, settings, **options) -> Deliverer:
    return Deliverer(db, settings.with_overrides(webhook_allow_private=True), **options)


def deliver_all(db, settings) -> None:
    hooks = deliverer(db, settings)
    while hooks.run_once().claimed:
        pass


def deliveries(db) -> list[WebhookDelivery]:
    with db.reading() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_each_event_reaches_a_real_receiver_signed(app, db, settings, person, make_meeting, invite, smtp_server):
    meeting = make_meeting(slug="falun", title="Dialogträff i Falun", city="Falun", capacity=30)
    anna = person("anna@kor.example.org", name="Anna Lind")
    bo = person("bo@kor.example.org", name="Bo Ek")
    invite(meeting.id, [anna, bo])
    with receiver() as hooks:
        endpoint_id, secret = endpoint_for(db, hooks.url)
        client = app.test_client()
        assert answer(client, links_for(app, anna, meeting.id)["rsvp_url"], answer="yes", diet="vegan").status_code in (
            200,
            303,
        )
        unsubscribe = links_for(app, bo)["unsubscribe_url"]
        assert (
            app.test_client(use_cookies=False)
            .post(unsubscribe, data=b"List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
            .status_code
            == 200
        )
        with db.transaction() as session:  # a second unsubscription of the same address is no new event
            suppress(session, "bo@kor.example.org", SuppressionReason.UNSUBSCRIBED)
        # A hard bounce while sending: the relay refuses the mailbox.
        smtp_server.reply("cilla@kor.example.org", "550 5.1.1 no such user")
        cilla = person("cilla@kor.example.org", name="Cilla Holm")
        with db.transaction() as session:
            session.add(
                OutboxMessage(
                    contact_id=cilla, meeting_id=meeting.id, template="invitation", to_email="cilla@kor.example.org"
                )
            )
        send_outbox(app, smtp_server.url)
        with db.transaction() as session:
            held = session.get(Meeting, meeting.id)
            edit_meeting(session, settings.timezone, "sv", "test", held, venue="Dalarnas museum")
        deliver_all(db, settings)

        assert sorted({r.headers["X-Mailer-Event"] for r in hooks.events()}) == sorted(EVENTS)
        for received in hooks.events():
            assert received.verifies(secret), received.headers
            assert not received.verifies("another secret")
            body = received.json
            assert body["event"] == received.headers["X-Mailer-Event"]
            assert body["id"] == received.headers["X-Mailer-Event-Id"]
            assert str(body["timestamp"]) == received.headers["X-Mailer-Timestamp"]
            assert received.headers["Content-Type"].startswith("application/json")
        answered = hooks.events("answer.changed")[0].json["data"]
        assert answered["answer"]["answer"] == "yes" and answered["answer"]["answers"] == [
            {
                "question": "diet",
                "label_sv": "Kost/allergier",
                "label_en": "Diet/allergies",
                "kind": "text",
                "value": "vegan",
            }
        ]
        assert answered["contact"]["email"] == "anna@kor.example.org" and answered["meeting"]["slug"] == "falun"
        unsubscribed = hooks.events("contact.unsubscribed")
        assert len(unsubscribed) == 1 and unsubscribed[0].json["data"]["contact"]["email"] == "bo@kor.example.org"
        bounced = hooks.events("contact.bounced")[0].json["data"]
        assert bounced["contact"]["email"] == "cilla@kor.example.org" and "550" in bounced["detail"]
        changed = hooks.events("meeting.changed")[0].json["data"]
        assert changed["change"] == "edited" and changed["changed"] == ["venue"]
        assert changed["meeting"]["venue"] == "Dalarnas museum"
    assert {d.state for d in deliveries(db)} == {DeliveryState.DELIVERED}
    assert all(d.last_status == 200 and d.attempts == 1 for d in deliveries(db))


def test_events_are_queued_in_the_changes_transaction_and_only_for_subscribers(db, settings, make_meeting):
    meeting = make_meeting(slug="visby", city="Visby")
    endpoint_for(db, "http://127.0.0.1:9/meetings", events=["meeting.changed"])
    endpoint_for(db, "http://127.0.0.1:9/answers", events=["answer.changed"])
    with pytest.raises(RuntimeError), db.transaction() as session:
        cancel_meeting(session, "test", session.get(Meeting, meeting.id))
        raise RuntimeError("the change is rolled back")
    assert deliveries(db) == []  # no delivery without the change
    with db.transaction() as session:
        cancel_meeting(session, "test", session.get(Meeting, meeting.id))
    [queued] = deliveries(db)
    assert queued.event == "meeting.changed" and queued.payload["change"] == "cancelled"
    assert queued.payload["meeting"]["cancelled"] is True and queued.state is DeliveryState.PENDING


def test_a_failing_receiver_gets_retries_with_backoff_then_failed(db, settings, make_meeting):
    meeting = make_meeting(slug="umea", city="Umeå")
    with receiver(statuses=[500]) as hooks:
        endpoint_for(db, hooks.url)
        with db.transaction() as session:
            edit_meeting(session, settings.timezone, "sv", "test", session.get(Meeting, meeting.id), venue="Väven")
        worker = deliverer(db, settings)
        now, waits = utcnow(), []
        for attempt in range(1, MAX_ATTEMPTS + 1):
            assert worker.run_once(now=now).claimed == 1
            assert worker.run_once(now=now).claimed == 0  # not due again at once
            [row] = deliveries(db)
            assert row.attempts == attempt and row.last_status == 500 and "receiver trouble" in row.last_error
            if attempt < MAX_ATTEMPTS:
                assert row.state is DeliveryState.PENDING
                waits.append((row.next_attempt_at - now).total_seconds())
                now = row.next_attempt_at
        assert row.state is DeliveryState.FAILED
        assert waits == [float(d) for d in DELAYS] and waits == sorted(waits) and waits[-1] >= 100 * waits[0]
        assert worker.run_once(now=now + dt.timedelta(days=30)).claimed == 0  # failed stays failed, and is kept
        assert len(hooks.events()) == MAX_ATTEMPTS
        assert len({r.headers["X-Mailer-Event-Id"] for r in hooks.events()}) == 1  # the receiver can dedupe


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/hook",
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://192.168.1.10/hook",
        "http://0.0.0.0/hook",
        "http://[::ffff:10.0.0.1]/",
    ],
)
def test_the_ssrf_guard_refuses_local_and_private_addresses(url):
    with pytest.raises(WebhookError) as refused:
        check_url(url, allow_private=False)
    assert refused.value.code == "url_private"
    assert check_url(url, allow_private=True).address  # allowed only by the setting


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org/x", "file:///etc/passwd", "gopher://x", "http://", "hook", "http://user:pw@93.184.215.14/"],
)
def test_only_plain_http_and_https_urls(url):
    with pytest.raises(WebhookError) as refused:
        check_url(url, allow_private=True)
    assert refused.value.code in ("url_scheme", "url_invalid")


def test_a_public_address_passes_the_guard():
    target = check_url("https://93.184.215.14/hooks?x=1", allow_private=False)
    assert (target.scheme, target.port, target.path, target.address) == ("https", 443, "/hooks?x=1", "93.184.215.14")


def test_the_guard_is_checked_again_at_delivery_time(db, settings, make_meeting):
    """Registered while allowed (or while its name pointed elsewhere): the delivery itself is refused."""
    meeting = make_meeting(slug="lund", city="Lund")
    with receiver() as hooks:
        endpoint_for(db, hooks.url)
        with db.transaction() as session:
            cancel_meeting(session, "test", session.get(Meeting, meeting.id))
        assert Deliverer(db, settings).run_once().claimed == 1  # webhook_allow_private is off
        [row] = deliveries(db)
        assert row.state is DeliveryState.PENDING and row.last_status is None and "127.0.0.1" in row.last_error
        assert hooks.events() == []
        with db.transaction() as session:
            with pytest.raises(WebhookError):
                register(session, hooks.url, EVENTS, allow_private=False)


def test_erasure_clears_the_payloads_about_the_person(db, settings, app, person, make_meeting, invite):
    meeting = make_meeting(slug="kiruna", city="Kiruna")
    anna = person("asa.odmark@kor.example.org", name="Åsa Ödmark")
    invite(meeting.id, [anna])
    endpoint_for(db, "http://127.0.0.1:9/hook")
    answer(app.test_client(), links_for(app, anna, meeting.id)["rsvp_url"], answer="yes", comment="Hälsningar")
    [row] = deliveries(db)
    assert row.payload["contact"]["name"] == "Åsa Ödmark"
    erase_person(db, settings, "asa.odmark@kor.example.org", "test")
    [row] = deliveries(db)
    assert row.payload is None
    assert deliverer(db, settings).run_once().outcomes == {"failed": 1}  # nothing left to send about her


# -- the staff page ------------------------------------------------------------------------------


def test_admins_register_see_the_secret_disable_and_remove(app, db):
    admin = client_as(app, db, "admin")
    reply = post(
        admin,
        "/staff/webhooks",
        {"url": "https://93.184.215.14/mailer", "description": "CRM", "events": ["answer.changed", "meeting.changed"]},
    )
    assert reply.status_code == 303
    with db.reading() as session:
        endpoint = session.scalar(select(WebhookEndpoint))
    assert endpoint.events == ["answer.changed", "meeting.changed"] and endpoint.active
    page = text(admin.get("/staff/webhooks"))
    assert "https://93.184.215.14/mailer" in page and endpoint.secret in page and "CRM" in page

    refused = post(admin, "/staff/webhooks", {"url": "http://169.254.169.254/latest", "events": ["answer.changed"]})
    assert (
        refused.status_code == 400 and "169.254.169.254" in text(refused) and "webhook_allow_private" in text(refused)
    )
    none = post(admin, "/staff/webhooks", {"url": "https://93.184.215.14/x"})
    assert none.status_code == 400 and "Välj minst en händelse" in text(none)

    assert post(admin, f"/staff/webhooks/{endpoint.id}/disable").status_code == 303
    with db.reading() as session:
        assert session.get(WebhookEndpoint, endpoint.id).active is False
    assert post(admin, f"/staff/webhooks/{endpoint.id}/remove").status_code == 303
    with db.reading() as session:
        assert session.scalar(select(WebhookEndpoint)) is None
    audit = text(admin.get("/staff/audit"))
    assert "Webhook tillagd" in audit and "Webhook borttagen" in audit


@pytest.mark.parametrize("role", [STAFF, VIEWER])
def test_only_admins_reach_the_webhooks(app, db, role):
    endpoint_id, secret = endpoint_for(db, "http://127.0.0.1:9/hook")
    client = client_as(app, db, role)
    page = client.get("/staff/webhooks")
    assert page.status_code == 403 and secret not in page.get_data(as_text=True)
    for path in ("/staff/webhooks", f"/staff/webhooks/{endpoint_id}/remove", "/staff/webhooks/deliveries/1/resend"):
        assert post(client, path, {"url": "https://93.184.215.14/", "events": ["answer.changed"]}).status_code == 403
    with db.reading() as session:
        assert len(session.scalars(select(WebhookEndpoint)).all()) == 1


def test_staff_see_each_delivery_and_resend_a_failed_one(app, db, settings, make_meeting):
    meeting = make_meeting(slug="orebro", city="Örebro")
    with receiver(statuses=[503, 200]) as hooks:
        endpoint_for(db, hooks.url)
        with db.transaction() as session:
            cancel_meeting(session, "test", session.get(Meeting, meeting.id))
        worker = deliverer(db, settings, delays=())  # one attempt, then failed
        assert worker.run_once().outcomes == {"failed": 1}
        admin = client_as(app, db, "admin")
        page = text(admin.get("/staff/webhooks"))
        assert "meeting.changed" in page and "Misslyckad" in page and "HTTP 503" in page
        [row] = deliveries(db)
        assert post(admin, f"/staff/webhooks/deliveries/{row.id}/resend").status_code == 303
        assert deliveries(db)[0].state is DeliveryState.PENDING
        assert worker.run_once().outcomes == {"delivered": 1}
        assert "Levererad" in text(admin.get("/staff/webhooks")) and len(hooks.events()) == 2
        assert hooks.events()[0].json["id"] == hooks.events()[1].json["id"]  # the same event, sent again


# -- the worker process ------------------------------------------------------------------------


def test_a_worker_killed_mid_queue_loses_nothing(db, settings, make_meeting, cli_env, tmp_path):
    """`mailer worker` is killed (SIGKILL) while a delivery is under way; a new worker sends every one."""
    meetings = [make_meeting(slug=f"moment-{n}", city="Sundsvall") for n in range(3)]
    release = threading.Event()
    env = {**cli_env, "MAILER_WEBHOOK_ALLOW_PRIVATE": "true"}
    with receiver(hold=release) as hooks:
        endpoint_for(db, hooks.url)
        with db.transaction() as session:
            for meeting in meetings:
                cancel_meeting(session, "test", session.get(Meeting, meeting.id))
        with (tmp_path / "worker.log").open("ab") as log:  # closed on failure too (warnings are errors)
            first = subprocess.Popen(
                [sys.executable, "-m", "mailer", "worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            try:
                wait_until(lambda: hooks.events(), timeout=60, what="the first delivery to arrive")
                assert any(d.state is DeliveryState.DELIVERING for d in deliveries(db))
            finally:
                first.send_signal(signal.SIGKILL)
                first.wait()
            hooks.statuses = [200]
            release.set()  # the killed worker's request is answered, but nobody records it
            second = subprocess.Popen(
                [sys.executable, "-m", "mailer", "worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            try:
                wait_until(
                    lambda: all(d.state is DeliveryState.DELIVERED for d in deliveries(db)),
                    timeout=60,
                    what="every delivery to be delivered after the restart",
                )
            finally:
                second.send_signal(signal.SIGTERM)
                second.wait(timeout=60)
        ids = {json.loads(r.body)["id"] for r in hooks.events()}
    assert len(deliveries(db)) == 3 and len(ids) == 3  # each event arrived; the interrupted one twice at most


# -- the command line ------------------------------------------------------------------------------


def test_the_cli_adds_lists_disables_and_refuses_private_urls(runner, db):
    added = runner.invoke(["webhooks", "add", "https://93.184.215.14/mailer", "--event", "contact.bounced"])
    assert added.exit_code == 0, added.output
    with db.reading() as session:
        endpoint = session.scalar(select(WebhookEndpoint))
    assert endpoint.secret in added.output and endpoint.events == ["contact.bounced"]
    listed = runner.invoke(["webhooks", "list"]).output
    assert f"{endpoint.id}\tactive\tcontact.bounced\thttps://93.184.215.14/mailer\t{endpoint.secret}" in listed
    assert runner.invoke(["webhooks", "disable", endpoint.id]).exit_code == 0
    assert "\tdisabled\t" in runner.invoke(["webhooks", "list"]).output
    refused = runner.invoke(["webhooks", "add", "http://10.0.0.7/hook"])
    assert refused.exit_code == 2 and "10.0.0.7" in refused.output and "webhook_allow_private" in refused.output
    assert runner.invoke(["webhooks", "resend", "999"]).exit_code == 2
