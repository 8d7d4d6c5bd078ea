"""The schema is only ever changed by migrations: they must build exactly what the models describe."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from helpers import past_year

from mailer import models  # noqa: F401  (every table on the metadata)
from mailer.db import Base, alembic_config, head_revision, include_object


def test_migrations_build_exactly_the_models(db):
    assert db.current_revision() == head_revision()
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": include_object})
        assert compare_metadata(context, Base.metadata) == []


def test_migrations_go_down_and_up_again(db):
    with db.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert db.current_revision() is None
    db.upgrade()
    assert db.current_revision() == head_revision()


def test_migration_0013_makes_regions_canonical_and_reports_what_it_cannot_map(db, capfd):
    """Data written before regions were a fixed list: each spelling becomes the canonical region,
    each membership gets the person's name and region, and what is not a region is listed."""
    from sqlalchemy import text

    with db.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0007")
    now = f"{past_year()}-01-01 00:00:00"
    with db.engine.begin() as connection:
        for n, region in enumerate(["Region Sörmland", "Södermanlands län", "VGR", "Narnia", None], 1):
            connection.execute(
                text(
                    "INSERT INTO contacts (id, email, name, region, link_key, created_at, updated_at) "
                    "VALUES (:id, :email, :name, :region, :key, :now, :now)"
                ),
                {
                    "id": n,
                    "email": f"p{n}@ex.org",
                    "name": f"Person {n}",
                    "region": region,
                    "key": f"key{n}",
                    "now": now,
                },
            )
        connection.execute(
            text(
                "INSERT INTO organisations (id, slug, name, region, created_at) "
                "VALUES (1, 'kor', 'Kor', 'Landstinget Dalarna', :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO memberships (contact_id, organisation_id, role, created_at) "
                "VALUES (1, 1, 'ledamot', :now), (4, 1, NULL, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO meetings (id, slug, link_key, title, region, city, starts_at, ends_at, max_guests, "
                "evaluation_anonymous, created_at) VALUES (1, 'ost', 'mkey', 'T', 'Region JH', 'Östersund', :now, :now, "
                "1, :false, :now)"
            ),
            {"now": now, "false": False},
        )
    capfd.readouterr()
    db.upgrade()
    assert "contacts: not a region, left as written (correct by hand): 'Narnia'" in capfd.readouterr().err
    with db.engine.connect() as connection:
        regions = dict(connection.execute(text("SELECT email, region FROM contacts")).all())
        assert regions == {
            "p1@ex.org": "Sörmland",
            "p2@ex.org": "Sörmland",
            "p3@ex.org": "Västra Götaland",
            "p4@ex.org": "Narnia",
            "p5@ex.org": None,
        }
        assert connection.execute(text("SELECT region FROM organisations")).scalar_one() == "Dalarna"
        assert connection.execute(text("SELECT region FROM meetings")).scalar_one() == "Jämtland Härjedalen"
        assert sorted(connection.execute(text("SELECT contact_id, name, region, role FROM memberships")).all()) == [
            (1, "Person 1", "Sörmland", "ledamot"),
            (4, "Person 4", "Narnia", None),
        ]


def test_migration_0016_adds_an_empty_short_name_and_takes_it_away_again(db):
    """Organisations made before short names keep everything and have none; going down drops only it."""
    from sqlalchemy import inspect, text

    with db.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0014")
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO organisations (id, slug, name, region, created_at) "
                "VALUES (1, 'kor', 'Sveriges Körförbund', 'Dalarna', :now)"
            ),
            {"now": "2026-01-01 00:00:00"},
        )
    db.upgrade()
    with db.engine.begin() as connection:
        assert connection.execute(text("SELECT slug, name, region, short_name FROM organisations")).one() == (
            "kor",
            "Sveriges Körförbund",
            "Dalarna",
            None,
        )
        connection.execute(text("UPDATE organisations SET short_name = 'SKF'"))
    with db.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0014")
    with db.engine.connect() as connection:
        assert "short_name" not in {c["name"] for c in inspect(connection).get_columns("organisations")}
        assert connection.execute(text("SELECT slug, name FROM organisations")).one() == ("kor", "Sveriges Körförbund")
