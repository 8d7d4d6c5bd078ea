"""Fixtures and helpers for the relay tests: a running campaign, senders against the scripted
relay (tests/smtp_server.py), and what to read back.

Registered as a pytest plugin from conftest.py: the fixtures (start_campaign, sender,
relay_settings) need no import; import the plain helpers by name.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mailer.campaigns import service
from mailer.campaigns.audience import Audience
from mailer.campaigns.models import Campaign
from mailer.contacts.importer import import_lists
from mailer.contacts.models import Suppression
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.worker.sender import Sender


@pytest.fixture
def start_campaign(db, app, make_csv, make_meeting):
    """start_campaign(n) -> id of a running invitation campaign to n people."""
    settings, templates = app.extensions["mailer.settings"], app.extensions["mailer.templates"]

    def make(count: int, org: str = "relay") -> int:
        rows = "".join(f"person{i}@{org}.example.org,Person {i}\n" for i in range(count))
        with db.transaction() as session:
            import_lists(session, [make_csv(f"{org}.csv", "email,name\n" + rows)])
        meeting = make_meeting()
        with db.transaction() as session:
            campaign = service.create_campaign(
                session,
                settings,
                templates,
                meeting_slug=meeting.slug,
                template="invitation",
                audience=Audience(orgs=[org]),
            )
            service.start(session, campaign)
            return campaign.id

    return make


@pytest.fixture
def relay_settings(app, smtp_server):
    return app.extensions["mailer.settings"].with_overrides(smtp_url=smtp_server.url, send_rate_per_minute=60_000)


@pytest.fixture
def sender(db, app, relay_settings):
    senders = []

    def make(settings=None, delays=(0, 0, 0), owner=None) -> Sender:
        made = Sender(db, settings or relay_settings, app.extensions["mailer.templates"], delays=delays, owner=owner)
        senders.append(made)
        return made

    yield make
    for made in senders:
        made.close()


def send_until_stopped(sender: Sender):
    """Batches until there is nothing to claim, or sending is paused; the last batch's result."""
    while True:
        result = sender.run_once()
        if not result.claimed or result.paused_until or result.connection_error:
            return result


def campaign_of(db, campaign_id):
    with db.transaction() as session:
        campaign = session.get(Campaign, campaign_id)
        session.expunge(campaign)
        return campaign


def counts(db, campaign_id) -> dict[str, int]:
    with db.transaction() as session:
        return service.status(session, session.get(Campaign, campaign_id)).counts


def suppressions(db) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(Suppression))


def attempts_used(db, campaign_id) -> set[int]:
    with db.transaction() as session:
        return set(
            session.scalars(
                select(OutboxMessage.attempts).where(
                    OutboxMessage.campaign_id == campaign_id, OutboxMessage.state != MessageState.SENT
                )
            )
        )
