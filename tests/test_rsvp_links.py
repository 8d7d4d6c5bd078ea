"""RSVP links: signed tokens, one 404 for every bad link, key rotation, revocation, GET without effect."""

from __future__ import annotations

import base64
import json

import pytest
from helpers import future_year
from rsvp_fixtures import links_for
from sqlalchemy import inspect, select, text

from mailer.app import create_app
from mailer.contacts.models import Suppression
from mailer.mail.tokens import TokenCodec
from mailer.rsvp.models import LinkOpen

OLD_KEY = "the-old-secret-key-0123456789"
NEW_KEY = "the-new-secret-key-9876543210"


@pytest.fixture
def setup(app, person, make_meeting):
    meeting = make_meeting(
        slug="falun",
        title="Dialogträff i Falun",
        city="Falun",
        region="Dalarna",
        host="Landstinget Dalarna",
        venue="Dalarnas museum",
        max_guests=2,
    )
    anna = person("anna@example.org", "Anna Andersson")
    return {"meeting": meeting.id, "anna": anna, "links": links_for(app, anna, meeting.id)}


def snapshot(db, skip=("link_opens",)) -> dict:
    with db.engine.connect() as connection:
        tables = [t for t in inspect(connection).get_table_names() if t not in skip]
        return {t: [tuple(r) for r in connection.execute(text(f"SELECT * FROM {t} ORDER BY 1"))] for t in tables}


def test_page_shows_the_meeting_in_swedish(app, setup):
    page = app.test_client().get(setup["links"]["rsvp_url"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<html lang="sv">' in html
    for expected in (
        "Dialogträff i Falun",
        "Landstinget Dalarna",
        "Dalarnas museum, Falun",
        "kl. 18.00–20.00",
        "openstreetmap.org",
        "Kommer du?",
        'name="guests"',
    ):
        assert expected in html
    assert page.headers["Referrer-Policy"] == "no-referrer"  # the token must not leak to the map site


def test_token_carries_only_random_keys(app, setup):
    token = setup["links"]["rsvp_url"].rsplit("/", 1)[1]
    payload = token.split(".")[0]
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert len(decoded) == 2 and all(len(key) >= 20 for key in decoded)
    assert "anna" not in token.lower() and str(setup["anna"]) not in decoded


def bad_links(app, links) -> dict[str, str]:
    rsvp = links["rsvp_url"]
    token = rsvp.rsplit("/", 1)[1]
    body, signature = token.split(".")
    other = TokenCodec(app.extensions["mailer.settings"].secret_key)
    # A middle character: the last one of a base64 signature carries padding bits.
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    return {
        "tampered signature": f"/r/{body}.{flipped}",
        "tampered payload": f"/r/{body[:-2]}xy.{signature}",
        "truncated": rsvp[:-6],
        "no signature": f"/r/{body}",
        "unsubscribe token on the answer page": "/r/" + links["unsubscribe_url"].rsplit("/", 1)[1],
        "evaluation token on the answer page": "/r/" + links["evaluation_url"].rsplit("/", 1)[1],
        "rsvp token on the unsubscribe page": "/u/" + token,
        "unknown keys, validly signed": "/r/" + other.dumps("rsvp", "no-such-person-key", "no-such-meeting"),
        "unknown person, unsubscribe": "/u/" + other.dumps("unsubscribe", "no-such-person-key"),
        "calendar of a forged token": f"/r/{body}.{flipped}/calendar.ics",
        "garbage": "/r/%3Cscript%3E",
        "calendar link cut off": rsvp + "/calendar",
        "trailing slash": rsvp + "/",
        "no token at all": "/r/",
        "unsubscribe without a token": "/u/",
    }


def test_every_bad_link_gets_the_same_friendly_404(app, setup):
    client = app.test_client()
    bodies = set()
    for why, path in bad_links(app, setup["links"]).items():
        page = client.get(path)
        assert page.status_code == 404, why
        bodies.add(page.get_data(as_text=True))
    assert len(bodies) == 1  # nothing tells a prober which check failed
    html = bodies.pop()
    assert "Länken fungerar inte" in html and "This link does not work" in html
    assert "info@ax.example.org" in html
    for word in ("signature", "Signature", "token", "expired", "purpose", "Traceback"):
        assert word not in html


def test_forged_post_is_404_and_changes_nothing(app, db, setup):
    client = app.test_client()
    before = snapshot(db, skip=())
    for path in bad_links(app, setup["links"]).values():
        if path.endswith(".ics"):
            continue
        assert client.post(path, data={"answer": "yes", "List-Unsubscribe": "One-Click"}).status_code == 404
    assert snapshot(db, skip=()) == before


def test_get_and_head_have_no_effect_but_are_logged_as_opened(app, db, setup):
    client = app.test_client()
    links = setup["links"]
    before = snapshot(db)
    yes_page = client.get(links["rsvp_yes_url"])
    no_page = client.get(links["rsvp_no_url"])
    assert client.head(links["rsvp_yes_url"]).status_code == 200
    assert client.get(links["calendar_url"]).status_code == 200
    assert client.get(links["unsubscribe_url"]).status_code == 200
    assert snapshot(db) == before  # no answer, no mail, no suppression
    assert 'value="yes" checked' in yes_page.get_data(as_text=True)  # preselected, not recorded
    assert 'value="no" checked' in no_page.get_data(as_text=True)
    assert "Ditt svar" not in yes_page.get_data(as_text=True)
    with db.transaction() as session:
        opens = session.scalars(select(LinkOpen)).all()
        assert [(o.contact_id, o.meeting_id, o.count) for o in opens] == [(setup["anna"], setup["meeting"], 3)]
        assert opens[0].last_at >= opens[0].first_at


def test_calendar_entry(app, setup):
    reply = app.test_client().get(setup["links"]["calendar_url"])
    assert reply.status_code == 200
    assert reply.mimetype == "text/calendar"
    assert 'filename="traff.ics"' in reply.headers["Content-Disposition"]
    body = reply.get_data(as_text=True)
    assert "BEGIN:VEVENT" in body and "SUMMARY:Dialogträff i Falun" in body
    assert (
        f"DTSTART:{future_year()}0501T160000Z" in body
    )  # make_meeting's default: 1 May, 18:00 CEST.replace("\r\n ", "")
    assert "LOCATION:Dalarnas museum\\, Falun" in body


def test_the_city_is_named_once_when_the_venue_names_it(make_meeting):
    meeting = make_meeting(slug="eskilstuna", city="Eskilstuna", venue="Munktellmuseet, Båtsmansgatan 6, Eskilstuna")
    assert meeting.place == "Munktellmuseet, Båtsmansgatan 6, Eskilstuna"


def test_rotated_secret_key_keeps_links_already_sent(test_config, setup):
    """Links signed with the old key work once it is listed in old_secret_keys, and only then."""
    sent_before = create_app({**test_config, "secret_key": OLD_KEY})
    old_links = links_for(sent_before, setup["anna"], setup["meeting"])
    rotated = create_app({**test_config, "secret_key": NEW_KEY, "old_secret_keys": [OLD_KEY]})
    client = rotated.test_client()
    for key in ("rsvp_url", "calendar_url", "unsubscribe_url"):
        assert client.get(old_links[key]).status_code == 200, key
    new_links = links_for(rotated, setup["anna"], setup["meeting"])
    assert new_links["rsvp_url"] != old_links["rsvp_url"]
    assert client.get(new_links["rsvp_url"]).status_code == 200
    forgotten = create_app({**test_config, "secret_key": NEW_KEY}).test_client()
    assert forgotten.get(old_links["rsvp_url"]).status_code == 404
    for each in (sent_before, rotated):
        each.extensions["mailer.db"].dispose()


def test_rotated_key_from_the_environment(test_config, setup, monkeypatch):
    sent_before = create_app({**test_config, "secret_key": OLD_KEY})
    old = links_for(sent_before, setup["anna"], setup["meeting"])["rsvp_url"]
    monkeypatch.setenv("MAILER_OLD_SECRET_KEYS", f"some-even-older-key-000000,{OLD_KEY}")
    rotated = create_app({k: v for k, v in test_config.items()} | {"secret_key": NEW_KEY})
    assert rotated.test_client().get(old).status_code == 200
    for each in (sent_before, rotated):
        each.extensions["mailer.db"].dispose()


def test_revoking_one_persons_links(app, runner, person, setup):
    bo = person("bo@example.org", "Bo")
    bo_links = links_for(app, bo, setup["meeting"])
    result = runner.invoke(["contacts", "revoke-links", " Anna@Example.org "])
    assert result.exit_code == 0, result.output
    assert "revoked" in result.output
    client = app.test_client()
    for key in ("rsvp_url", "calendar_url", "evaluation_url"):
        assert client.get(setup["links"][key]).status_code == 404, key
        assert client.get(bo_links[key]).status_code == 200, key  # nobody else is affected
    fresh = links_for(app, setup["anna"], setup["meeting"])
    assert client.get(fresh["rsvp_url"]).status_code == 200
    # Revoking stops answers on her behalf, never her way out: the old unsubscribe link still works.
    old_unsubscribe = setup["links"]["unsubscribe_url"]
    assert client.get(old_unsubscribe).status_code == 200
    assert client.post(old_unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    with app.extensions["mailer.db"].transaction() as session:
        assert (
            session.scalar(select(Suppression.reason).where(Suppression.email == "anna@example.org")) == "unsubscribed"
        )


def test_revoking_an_unknown_address_fails_clearly(runner):
    result = runner.invoke(["contacts", "revoke-links", "nobody@example.org"])
    assert result.exit_code == 1
    assert "no contact with address 'nobody@example.org'" in result.output
