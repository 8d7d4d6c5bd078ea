"""Alembic environment: migrations run on the connection `Database.upgrade` hands over."""

from alembic import context

from mailer import models  # noqa: F401  (registers every table on Base.metadata)
from mailer.db import Base

target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to):
    """APScheduler's job table is created by migration 0002 but not described by our models."""
    table = obj.table.name if type_ == "index" else name
    return table != "apscheduler_jobs"


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        from sqlalchemy import create_engine

        connection = create_engine(context.config.get_main_option("sqlalchemy.url")).connect()
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
