"""Unsubscribing: a confirmation page, a CSRF-protected form, RFC 8058 one-click, re-subscribing."""

from __future__ import annotations

import pytest
from rsvp_fixtures import csrf_of, links_for
from sqlalchemy import select

from mailer.campaigns.audience import Audience, recipients_query
from mailer.contacts.models import Suppression, SuppressionReason, address_hash


@pytest.fixture
def anna(person):
    return person("anna.andersson@example.org", "Anna Andersson")


@pytest.fixture
def path(app, anna):
    return links_for(app, anna)["unsubscribe_url"]


def suppressions(db) -> list[tuple[str | None, str]]:
    with db.transaction() as session:
        return [(s.email, s.reason.value) for s in session.scalars(select(Suppression))]


def in_audience(db, meeting_id: int) -> list[int]:
    with db.transaction() as session:
        return list(session.scalars(recipients_query(Audience(all=True), meeting_id)))


def test_get_shows_a_confirmation_and_changes_nothing(app, db, path):
    page = app.test_client().get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Avsluta utskick" in html and "Ja, avsluta utskicken" in html
    assert "an…@example.org" in html and "anna.andersson@" not in html  # masked
    assert suppressions(db) == []


def test_the_form_unsubscribes_and_repeating_it_is_harmless(app, db, anna, path, make_meeting):
    meeting = make_meeting().id
    assert in_audience(db, meeting) == [anna]
    client = app.test_client()
    token = csrf_of(client.get(path).get_data(as_text=True))
    for _ in range(2):
        posted = client.post(path, data={"csrf_token": token, "action": "unsubscribe"})
        assert posted.status_code == 303
    page = client.get(posted.headers["Location"]).get_data(as_text=True)
    assert "Du får inga fler utskick" in page and "Få utskick igen" in page
    assert suppressions(db) == [("anna.andersson@example.org", "unsubscribed")]
    assert in_audience(db, meeting) == []


def test_the_form_needs_a_csrf_token(app, db, path):
    client = app.test_client()
    client.get(path)
    assert client.post(path, data={"action": "unsubscribe"}).status_code == 400
    assert client.post(path, data={"action": "unsubscribe", "csrf_token": "x"}).status_code == 400
    assert suppressions(db) == []


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_rfc8058_one_click_post_needs_no_cookie_and_answers_200(app, db, path, encoding):
    for _ in range(2):  # a mail client may retry
        client = app.test_client(use_cookies=False)
        if encoding == "urlencoded":
            reply = client.post(
                path, data=b"List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
            )
        else:
            reply = client.post(path, data={"List-Unsubscribe": "One-Click"}, content_type="multipart/form-data")
        assert reply.status_code == 200
        assert "Location" not in reply.headers
        assert "Du får inga fler utskick" in reply.get_data(as_text=True)
    assert suppressions(db) == [("anna.andersson@example.org", "unsubscribed")]


def test_a_post_that_is_not_one_click_cannot_skip_csrf(app, db, path):
    client = app.test_client(use_cookies=False)
    for body in (b"List-Unsubscribe=Yes", b"action=unsubscribe", b""):
        reply = client.post(path, data=body, content_type="application/x-www-form-urlencoded")
        assert reply.status_code == 400
    assert suppressions(db) == []


def test_resubscribing_from_the_same_page(app, db, path):
    app.test_client(use_cookies=False).post(path, data={"List-Unsubscribe": "One-Click"})
    client = app.test_client()
    token = csrf_of(client.get(path).get_data(as_text=True))
    assert client.post(path, data={"action": "resubscribe"}).status_code == 400  # CSRF-protected
    assert suppressions(db) == [("anna.andersson@example.org", "unsubscribed")]
    for _ in range(2):
        posted = client.post(path, data={"csrf_token": token, "action": "resubscribe"})
        assert posted.status_code == 303
    assert suppressions(db) == []
    page = client.get(posted.headers["Location"]).get_data(as_text=True)
    assert "Välkommen tillbaka!" in page and "Ja, avsluta utskicken" in page


def test_resubscribing_lifts_a_bounce_but_never_an_erasure(app, db, anna, path):
    client = app.test_client()
    token = csrf_of(client.get(path).get_data(as_text=True))
    for reason in (SuppressionReason.BOUNCED, SuppressionReason.ERASED):
        with db.transaction() as session:
            session.add(
                Suppression(
                    address_hash=address_hash("anna.andersson@example.org"),
                    email="anna.andersson@example.org",
                    reason=reason,
                )
            )
        client.post(path, data={"csrf_token": token, "action": "resubscribe"})
    assert suppressions(db) == [("anna.andersson@example.org", "erased")]


def test_english_page_for_english_contacts(app, person):
    john = person("john@example.org", "John", language="en")
    html = app.test_client().get(links_for(app, john)["unsubscribe_url"]).get_data(as_text=True)
    assert '<html lang="en">' in html and "Yes, unsubscribe me" in html


def test_unsubscribe_links_in_sent_mails_survive_a_key_rotation(test_config, anna):
    from mailer.app import create_app

    old = create_app({**test_config, "secret_key": "an-old-secret-key-0123456789"})
    path = links_for(old, anna)["unsubscribe_url"]
    new = create_app(
        {
            **test_config,
            "secret_key": "a-new-secret-key-0123456789",
            "old_secret_keys": ["an-old-secret-key-0123456789"],
        }
    )
    assert new.test_client(use_cookies=False).post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    for each in (old, new):
        each.extensions["mailer.db"].dispose()
