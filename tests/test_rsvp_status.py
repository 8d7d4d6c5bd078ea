"""`mailer meetings status`: invited, yes, no, waitlisted, no answer, guests, opened-not-answered."""

from __future__ import annotations

import json
import secrets
import time

import pytest
from rsvp_fixtures import answer, links_for
from sqlalchemy import insert

from mailer.campaigns.models import Campaign, CampaignState
from mailer.contacts.models import Contact
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.rsvp.models import LinkOpen, Response
from mailer.tracking.figures import meeting_status


@pytest.fixture
def scene(app, db, person, invite, make_meeting):
    """Capacity 4: Anna +1 and Bo +1 fill it, Cilla waits, Dan says no, Eva only looked,
    Finn did nothing, and Gun answered without being in the invitation round."""
    meeting = make_meeting(slug="falun", capacity=4, max_guests=2).id
    other = make_meeting(slug="annan").id
    ids = {
        name: person(f"{name}@example.org", name.title())
        for name in ("anna", "bo", "cilla", "dan", "eva", "finn", "gun")
    }
    invite(meeting, [ids[n] for n in ("anna", "bo", "cilla", "dan", "eva", "finn")])
    invite(other, [ids["anna"]])
    client = app.test_client()
    for name, form in (
        ("anna", {"answer": "yes", "guests": "1"}),
        ("bo", {"answer": "yes", "guests": "1"}),
        ("cilla", {"answer": "yes"}),
        ("dan", {"answer": "no"}),
        ("gun", {"answer": "no"}),
    ):
        assert answer(client, links_for(app, ids[name], meeting)["rsvp_url"], **form).status_code == 303
    client.get(links_for(app, ids["eva"], meeting)["rsvp_yes_url"])
    client.get(links_for(app, ids["eva"], meeting)["rsvp_url"])
    return meeting


EXPECTED = {"invited": 6, "yes": 2, "no": 2, "waitlisted": 1, "no_answer": 2, "guests": 2, "opened_not_answered": 1}


def test_status_json(runner, scene):
    result = runner.invoke(["meetings", "status", "falun", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert {k: figures[k] for k in EXPECTED} == EXPECTED
    assert figures["slug"] == "falun" and figures["capacity"] == 4
    other = json.loads(runner.invoke(["meetings", "status", "annan", "--json"]).output)
    assert {k: other[k] for k in EXPECTED} == {**dict.fromkeys(EXPECTED, 0), "invited": 1, "no_answer": 1}


def test_status_text(runner, scene):
    result = runner.invoke(["meetings", "status", "falun"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "falun: Dialogträff 1 (capacity 4)"
    figures = dict(line.rsplit(None, 1) for line in lines[1:9])
    assert {k.strip(): v for k, v in figures.items()} == {
        "invited (invitation sent)": "6",
        "bounced": "0",
        "yes": "2",
        "no": "2",
        "waitlisted": "1",
        "no answer yet": "2",
        "guests (with a place)": "2",
        "opened, not answered": "1",
    }


def test_unknown_meeting(runner):
    result = runner.invoke(["meetings", "status", "nope"])
    assert result.exit_code == 1 and "no meeting with slug 'nope'" in result.output


@pytest.mark.slow
def test_status_of_100000_invited_is_fast(db, make_meeting):
    meeting = make_meeting(slug="stor").id
    n = 100_000
    with db.transaction() as session:
        session.execute(
            insert(Contact), [{"email": f"p{i}@example.org", "link_key": secrets.token_urlsafe(16)} for i in range(n)]
        )
        campaign = Campaign(meeting_id=meeting, template="invitation", audience={}, state=CampaignState.FINISHED)
        session.add(campaign)
        session.flush()
        session.execute(
            insert(OutboxMessage),
            [
                {
                    "campaign_id": campaign.id,
                    "contact_id": i,
                    "meeting_id": meeting,
                    "template": "invitation",
                    "state": MessageState.SENT,
                }
                for i in range(1, n + 1)
            ],
        )
        session.execute(
            insert(Response),
            [
                {
                    "meeting_id": meeting,
                    "contact_id": i,
                    "answer": "yes" if i % 2 else "no",
                    "guests": i % 3,
                    "waitlisted": False,
                }
                for i in range(1, n + 1, 4)
            ],
        )
        session.execute(insert(LinkOpen), [{"meeting_id": meeting, "contact_id": i} for i in range(1, n + 1, 5)])
    started = time.perf_counter()
    with db.transaction() as session:
        figures = meeting_status(session, meeting)
    elapsed = time.perf_counter() - started
    assert (figures.invited, figures.yes, figures.no, figures.no_answer) == (n, 25_000, 0, 75_000)
    assert figures.opened_not_answered == 15_000
    assert elapsed < 3, f"status took {elapsed:.2f}s"
