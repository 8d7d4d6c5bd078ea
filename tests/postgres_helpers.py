"""The PostgreSQL server the tests may use (MAILER_TEST_POSTGRES_URL), for conftest's fixtures and
for tests that make databases of their own (tests/test_disk_full.py).

Why a module: the variable is read when this is first imported, which conftest does before its
autouse fixture clears every MAILER_* variable from the environment.
"""

from __future__ import annotations

import os

from sqlalchemy import make_url

POSTGRES_URL = os.environ.get("MAILER_TEST_POSTGRES_URL")


def postgres_admin():
    """An autocommit connection to the server's maintenance database (CREATE/DROP DATABASE)."""
    import psycopg

    url = make_url(POSTGRES_URL).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def postgres_url(name: str) -> str:
    """The URL of database `name` on the same server, as the app takes it."""
    return (
        make_url(POSTGRES_URL).set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    )
