"""One schema on both databases, built by the same Alembic migrations; and the one thing only
PostgreSQL does here: several senders claiming outbox rows at once, each skipping the others'."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mailer import models  # noqa: F401  (every table on Base.metadata)
from mailer.campaigns import service
from mailer.campaigns.audience import Audience
from mailer.contacts.importer import import_lists
from mailer.db import Base, head_revision
from mailer.worker.sender import Sender


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """As in migrations/env.py: APScheduler's job table is the migrations' but not the models'."""
    return (obj.table.name if type_ == "index" else name) != "apscheduler_jobs"


def test_the_migrations_build_the_schema_the_models_describe(db):
    assert db.current_revision() == head_revision()
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": include_object})
        assert compare_metadata(context, Base.metadata) == []


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_senders_claiming_at_the_same_time_get_disjoint_batches(db, app, settings, make_csv, make_meeting):
    rows = "".join(f"p{i}@stor.example.org,Person {i}\n" for i in range(30))
    meeting = make_meeting(slug="kiruna")
    with db.transaction() as session:
        import_lists(session, [make_csv("stor.csv", "email,name\n" + rows)])
        campaign = service.create_campaign(
            session,
            settings,
            app.extensions["mailer.templates"],
            meeting_slug=meeting.slug,
            template="invitation",
            audience=Audience(all=True),
        )
        service.start(session, campaign)
    batch = settings.with_overrides(send_batch_size=10)
    senders = [Sender(db, batch, app.extensions["mailer.templates"], owner=f"test:{n}") for n in range(3)]
    sessions = [db.sessionmaker() for _ in senders]
    try:
        for session in sessions:
            session.begin()
        # Each claim's transaction is still open (its rows locked) when the next one claims.
        claims = [sender._claim(session, campaign.id) for sender, session in zip(senders, sessions, strict=True)]
        for session in sessions:
            session.commit()
    finally:
        for session in sessions:
            session.close()
    assert [len(c) for c in claims] == [10, 10, 10]
    assert len(set().union(*claims)) == 30
