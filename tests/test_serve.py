"""`mailer serve` as a real server: health, a whole RSVP flow, concurrent answers against
capacity, the one-click unsubscribe, and the abuse limits."""

from __future__ import annotations

import threading

import pytest
from rsvp_fixtures import confirmations, csrf_of, links_for, response_of, send_outbox
from sqlalchemy import func, select

from mailer.config import ConfigError, load_settings
from mailer.rsvp.models import Answer, LinkOpen, Response
from mailer.web.security import PUBLIC_LIMIT


def test_healthz(live_server):
    status, headers, body = live_server.browser().get("/healthz")
    assert status == 200 and b'"ok"' in body


def test_a_whole_rsvp_flow_on_a_real_server_and_smtp_server(app, db, live_server, person, make_meeting, smtp_server):
    meeting = make_meeting(slug="falun", title="Dialogträff i Falun", city="Falun", max_guests=1).id
    anna = person("anna@example.org", "Anna Andersson")
    links = links_for(app, anna, meeting)
    visitor = live_server.browser()

    status, _, body = visitor.get(links["rsvp_yes_url"])  # what a mail scanner does too
    assert status == 200 and 'value="yes" checked' in body.decode()
    assert response_of(db, anna, meeting) is None and confirmations(db) == []

    form = {"csrf_token": csrf_of(body.decode()), "answer": "yes", "guests": "1", "diet": "Vegetarisk"}
    status, _, body = visitor.post(links["rsvp_url"], form)  # follows the 303
    assert status == 200 and "Ja, du är anmäld och tar med 1 gäst." in body.decode()

    send_outbox(app, smtp_server.url)
    [mail] = smtp_server.to("anna@example.org")
    assert mail.message["Subject"].startswith("Du är anmäld: Dialogträff i Falun")
    assert [p.get_content_type() for p in mail.message.iter_attachments()] == ["text/calendar"]

    status, headers, body = visitor.get(links["calendar_url"])
    assert status == 200 and headers["Content-Type"].startswith("text/calendar") and b"BEGIN:VEVENT" in body

    form["answer"] = "no"
    status, _, body = visitor.post(links["rsvp_url"], form)
    assert status == 200 and "Nej, du kan inte komma." in body.decode()
    send_outbox(app, smtp_server.url)
    assert smtp_server.to("anna@example.org")[1].message["Subject"].startswith("Tack för ditt svar: ")
    assert [c.answer for c in response_of(db, anna, meeting).history] == [Answer.YES, Answer.NO]

    status, headers, body = live_server.browser(follow=False).post(
        links["unsubscribe_url"], b"List-Unsubscribe=One-Click", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 200 and "Location" not in headers
    assert "Du får inga fler utskick" in body.decode()

    status, _, body = visitor.get(links["rsvp_url"][:-4])
    assert status == 404 and "Länken fungerar inte" in body.decode()


def test_twenty_people_answering_yes_at_once_never_overbook(app, db, live_server, person, make_meeting):
    meeting = make_meeting(slug="trang", capacity=5, max_guests=0).id
    people = [person(f"p{i}@example.org", f"Person {i}") for i in range(20)]
    start = threading.Barrier(len(people))
    results: dict[int, int] = {}

    def respond(contact_id: int) -> None:
        visitor = live_server.browser(follow=False)
        path = links_for(app, contact_id, meeting)["rsvp_url"]
        _, _, body = visitor.get(path)
        token = csrf_of(body.decode())
        start.wait(timeout=60)
        results[contact_id] = visitor.post(path, {"csrf_token": token, "answer": "yes"})[0]

    threads = [threading.Thread(target=respond, args=(cid,)) for cid in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(results.values()) == [303] * 20
    with db.transaction() as session:
        rows = session.execute(
            select(Response.waitlisted, func.count())
            .where(Response.meeting_id == meeting)
            .group_by(Response.waitlisted)
        ).all()
    assert dict(rows) == {False: 5, True: 15}
    sent = confirmations(db)
    assert len(sent) == 20 and sum(not m["waitlisted"] for m in sent) == 5
    # the five with a place are the five who got there first
    with db.transaction() as session:
        order = session.execute(select(Response.contact_id, Response.waitlisted).order_by(Response.id)).all()
    assert [waitlisted for _, waitlisted in order] == [False] * 5 + [True] * 15


def test_more_than_one_worker_needs_a_shared_rate_limit_store(runner):
    result = runner.invoke(["serve", "--workers", "2"])
    assert result.exit_code == 2
    assert "--workers 2 needs a rate-limit store shared by all processes" in result.output
    assert "MAILER_RATELIMIT_STORAGE_URL" in result.output


def test_rate_limit_store_setting(test_config, monkeypatch):
    assert load_settings(test_config).ratelimit_storage_url == "memory://"
    monkeypatch.setenv("MAILER_RATELIMIT_STORAGE_URL", "redis://cache.internal:6379/2")
    assert load_settings(test_config).ratelimit_storage_url == "redis://cache.internal:6379/2"
    for bad in ("redis", "http://cache:6379", "async+redis://cache:6379"):
        monkeypatch.setenv("MAILER_RATELIMIT_STORAGE_URL", bad)
        with pytest.raises(ConfigError) as error:
            load_settings(test_config)
        assert error.value.setting == "MAILER_RATELIMIT_STORAGE_URL"


def test_public_pages_are_rate_limited_per_client_address(app, db, person, make_meeting):
    per_minute = int(PUBLIC_LIMIT.split()[0])
    path = links_for(app, person("anna@example.org"), make_meeting().id)["rsvp_url"]
    client = app.test_client()
    for _ in range(per_minute):
        assert client.get(path).status_code == 200
    refused = client.get(path)
    assert refused.status_code == 429
    assert "Vänta en stund" in refused.get_data(as_text=True) and "Retry-After" in refused.headers
    assert client.post(path, data={"answer": "yes"}).status_code == 429
    assert client.get("/u/whatever").status_code == 429  # one budget for all public pages
    assert client.get("/healthz").status_code == 200  # the load balancer is never limited
    elsewhere = app.test_client()
    assert elsewhere.get(path, environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200
    with db.transaction() as session:
        assert session.scalar(select(LinkOpen.count)) == per_minute + 1  # a refused request logs nothing


def test_large_bodies_are_refused(app, person, make_meeting):
    path = links_for(app, person("anna@example.org"), make_meeting().id)["rsvp_url"]
    reply = app.test_client().post(path, data={"comment": "x" * (3 * 1024 * 1024)})
    assert reply.status_code == 413
