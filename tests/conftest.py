"""Shared fixtures, flaskr style: an app over a temporary database, a CLI runner
over the same instance, and factories (fixtures returning callables).

The database is chosen in one place, `database_url`. A later issue runs every
database test against PostgreSQL as well (URL in MAILER_TEST_POSTGRES_URL): it
only has to parametrize that fixture; `app`, `db` and `runner` follow it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from click.testing import CliRunner, Result

from mailer.app import create_app
from mailer.cli import main
from mailer.db import Database

SECRET_KEY = "test-secret-key-0123456789abcdef"
BASE_URL = "http://mailer.test"
MAIL_FROM = "Ax <info@ax.example.org>"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MAILER_* variable from the developer's shell may leak into a test."""
    for name in list(os.environ):
        if name.startswith("MAILER_"):
            monkeypatch.delenv(name)


@pytest.fixture
def instance_path(tmp_path: Path) -> Path:
    return tmp_path / "instance"


@pytest.fixture
def database_url(instance_path: Path) -> Iterator[str]:
    """The one place that decides which database the tests use (a fresh SQLite file for now).

    To add PostgreSQL: parametrize this fixture over ["sqlite", "postgresql"], and for
    "postgresql" create a throw-away database (or schema) on MAILER_TEST_POSTGRES_URL,
    yield its URL, and drop it after the test.
    """
    yield f"sqlite:///{instance_path / 'test.sqlite'}"


@pytest.fixture
def test_config(instance_path: Path, database_url: str) -> dict[str, Any]:
    return {
        "instance_path": instance_path,
        "database_url": database_url,
        "secret_key": SECRET_KEY,
        "base_url": BASE_URL,
        "from": MAIL_FROM,
    }


@pytest.fixture
def app(test_config: dict[str, Any]):
    app = create_app(test_config)
    database: Database = app.extensions["mailer.db"]
    database.upgrade()
    yield app
    database.dispose()


@pytest.fixture
def db(app) -> Database:
    return app.extensions["mailer.db"]


@pytest.fixture
def settings(app):
    return app.extensions["mailer.settings"]


class MailerRunner(CliRunner):
    """A CliRunner bound to `mailer.cli.main`: runner.invoke(["contacts", "list"]).

    Exceptions other than SystemExit propagate, so a traceback fails the test
    instead of hiding in result.exception.
    """

    def invoke(self, args: Any = None, **kwargs: Any) -> Result:  # type: ignore[override]
        kwargs.setdefault("catch_exceptions", False)
        return super().invoke(main, [str(a) for a in args or []], **kwargs)


@pytest.fixture
def cli_env(instance_path: Path, database_url: str) -> dict[str, str]:
    """The environment under which `mailer` finds the same instance and database as `app`."""
    return {
        "MAILER_INSTANCE_PATH": str(instance_path),
        "MAILER_DATABASE_URL": database_url,
        "MAILER_SECRET_KEY": SECRET_KEY,
        "MAILER_BASE_URL": BASE_URL,
        "MAILER_FROM": MAIL_FROM,
    }


@pytest.fixture
def runner(app, cli_env: dict[str, str]) -> MailerRunner:
    """The CLI over the instance of `app` (schema already upgraded)."""
    return MailerRunner(env=cli_env)


@pytest.fixture
def bare_runner(tmp_path: Path) -> tuple[MailerRunner, Path]:
    """The CLI over an instance folder that does not exist yet (for `mailer init`)."""
    instance = tmp_path / "fresh-instance"
    return MailerRunner(env={"MAILER_INSTANCE_PATH": str(instance)}), instance


@pytest.fixture
def make_csv(tmp_path: Path) -> Callable[..., Path]:
    """make_csv("org.csv", "email,name\\n…", encoding="cp1252") -> path in a temporary folder.

    `content` may be str (encoded with `encoding`; "utf-8-sig" writes a BOM) or bytes
    (written as is). Newlines are written exactly as given.
    """
    folder = tmp_path / "lists"

    def make(name: str, content: str | bytes, encoding: str = "utf-8", folder: Path = folder) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return path

    return make


@pytest.fixture
def make_meeting(db: Database, settings) -> Callable[..., Any]:
    """make_meeting(slug="x", starts="2031-05-06 18:00", ...) -> the stored Meeting."""
    from mailer.meetings.service import add_meeting

    counter = iter(range(1, 10_000))

    def make(**fields: Any):
        n = next(counter)
        values = {
            "slug": f"meeting-{n}",
            "title": f"Dialogträff {n}",
            "region": "Sörmland",
            "city": "Eskilstuna",
            "starts": f"2031-05-{n:02d} 18:00",
        }
        values.update(fields)
        with db.transaction() as session:
            return add_meeting(session, settings.timezone, **values)

    return make
