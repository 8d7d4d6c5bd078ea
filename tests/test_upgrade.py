"""Upgrading an instance from the first release's schema (migration 0001) to the latest, with data:
links in mails sent back then, the answers given, and mail still queued all carry on (docs/operations.md)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

from alembic import command
from rsvp_fixtures import answer
from sqlalchemy import MetaData, Table, select

from mailer.app import create_app
from mailer.config import load_settings
from mailer.db import Database, alembic_config, head_revision, utcnow
from mailer.mail.context import codec
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.rsvp.models import Response


def migrate(database: Database, revision: str, down: bool = False) -> None:
    with database.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def insert(database: Database, table: str, **values) -> int | None:
    """A row as that release's schema had it: the table is read from the database, not from our models."""
    with database.engine.begin() as connection:
        reflected = Table(table, MetaData(), autoload_with=connection)
        result = connection.execute(reflected.insert().values(**values))
        return result.inserted_primary_key[0] if result.inserted_primary_key else None


def test_an_instance_of_the_first_release_upgrades_and_keeps_links_answers_and_the_outbox(
    database_url, test_config, cli_env, instance_path, runner_for
):
    instance_path.mkdir(parents=True, exist_ok=True)
    database = Database(database_url)
    migrate(database, "base", down=True)  # PostgreSQL's test database comes migrated: start from nothing
    migrate(database, "0001")
    now = utcnow()
    starts = (now + dt.timedelta(days=30)).replace(hour=16, minute=0, second=0, microsecond=0)
    org = insert(database, "organisations", slug="dans", name="Dansförbundet", region="Jämtland", created_at=now)
    anna = insert(
        database,
        "contacts",
        email="anna@dans.example.org",
        name="Anna Berg",
        link_key="a" * 32,
        created_at=now,
        updated_at=now,
    )
    bo = insert(
        database,
        "contacts",
        email="bo@dans.example.org",
        name="Bo Ek",
        link_key="b" * 32,
        created_at=now,
        updated_at=now,
    )
    for contact in (anna, bo):
        insert(database, "memberships", contact_id=contact, organisation_id=org, created_at=now)
    meeting = insert(
        database,
        "meetings",
        slug="ostersund",
        link_key="m" * 32,
        title="Dialogträff i Östersund",
        region="Jämtland",
        city="Östersund",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        max_guests=1,
        evaluation_anonymous=False,
        created_at=now,
    )
    migrate(database, "0002")  # the release that brought campaigns, answers and the outbox
    campaign = insert(
        database,
        "campaigns",
        meeting_id=meeting,
        template="invitation",
        audience={"orgs": ["dans"]},
        state="running",
        created_at=now,
        started_at=now,
    )
    insert(
        database,
        "responses",
        meeting_id=meeting,
        contact_id=anna,
        answer="yes",
        waitlisted=False,
        guests=0,
        comment="Kommer gärna",
        created_at=now,
        updated_at=now,
    )
    insert(
        database,
        "messages",
        campaign_id=campaign,
        contact_id=anna,
        meeting_id=meeting,
        template="invitation",
        to_email="anna@dans.example.org",
        state="sent",
        attempts=1,
        next_attempt_at=now,
        uncertain=False,
        created_at=now,
        sent_at=now,
    )
    insert(
        database,
        "messages",
        campaign_id=campaign,
        contact_id=bo,
        meeting_id=meeting,
        template="invitation",
        to_email="bo@dans.example.org",
        state="queued",
        attempts=0,
        next_attempt_at=now,
        uncertain=False,
        created_at=now,
    )
    database.dispose()
    tokens = codec(load_settings(test_config))  # signed with the same secret key as back then
    anna_link = f"/r/{tokens.dumps('rsvp', 'a' * 32, 'm' * 32)}"
    bo_link = f"/r/{tokens.dumps('rsvp', 'b' * 32, 'm' * 32)}"

    upgraded = runner_for(cli_env).invoke(["init"])  # what the README's upgrade steps run

    assert upgraded.exit_code == 0, upgraded.output
    assert f"at revision {head_revision()}" in upgraded.output
    app = create_app(test_config)
    try:
        client = app.test_client()
        page = client.get(anna_link)
        assert page.status_code == 200 and "Kommer gärna" in page.get_data(as_text=True)  # the old answer
        assert answer(client, bo_link, answer="yes", comment="Nu efter uppgraderingen").status_code == 303
        sent = runner_for(cli_env).invoke(["worker", "--until-idle"])
        assert sent.exit_code == 0, sent.output
        with app.extensions["mailer.db"].transaction() as session:
            answers = {r.contact_id: r.comment for r in session.scalars(select(Response))}
            queued = session.scalars(select(OutboxMessage).where(OutboxMessage.contact_id == bo)).all()
        assert answers == {anna: "Kommer gärna", bo: "Nu efter uppgraderingen"}
        assert {m.template: m.state for m in queued} == {
            "invitation": MessageState.SENT,
            "confirmation": MessageState.SENT,
        }
        mails = [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in (instance_path / "outbox").glob("*.eml")
        ]
        assert sorted(str(m["To"]) for m in mails) == ["Bo Ek <bo@dans.example.org>"] * 2
        invitation = next(
            m
            for m in mails
            if "Östersund" in str(m["Subject"]) and "/r/" in m.get_body(preferencelist=("plain",)).get_content()
        )
        assert bo_link in invitation.get_body(preferencelist=("plain",)).get_content()  # the same link as before
    finally:
        app.extensions["mailer.db"].dispose()
