"""The schema is only ever changed by migrations: they must build exactly what the models describe."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mailer import models  # noqa: F401  (every table on the metadata)
from mailer.db import Base, alembic_config, head_revision, include_object


def test_migrations_build_exactly_the_models(db):
    assert db.current_revision() == head_revision()
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                               "include_object": include_object})
        assert compare_metadata(context, Base.metadata) == []


def test_migrations_go_down_and_up_again(db):
    with db.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert db.current_revision() is None
    db.upgrade()
    assert db.current_revision() == head_revision()
