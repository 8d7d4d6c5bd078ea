"""Shared fixtures, flaskr style: an app over a temporary database, a CLI runner
over the same instance, and factories (fixtures returning callables).

The database is chosen in one place, `database_url`: every test that touches the
database runs against SQLite, and against PostgreSQL too when MAILER_TEST_POSTGRES_URL
names a server (`.ci/run` always sets it); `app`, `db` and `runner` follow it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from helpers import future_year
from hypothesis import settings as hypothesis_settings
from postgres_helpers import POSTGRES_URL, postgres_admin, postgres_url

from mailer.app import create_app
from mailer.cli import main
from mailer.db import Database

# Running the suite in the future: TEST_CLOCK_OFFSET_DAYS=1826 .venv/bin/pytest ... moves the wall
# clock five years ahead (time-machine, ticking) in this process and, through
# tests/shifted_clock/sitecustomize.py on PYTHONPATH, in every `mailer` subprocess a test starts;
# tests date everything from today (tests/helpers.py), so they must pass just the same. The
# monotonic clock stays real. (libfaketime was tried: its faked timeouts hang the worker.)
# File times (st_mtime) are not moved by time-machine: code that tells a file's age (staged uploads,
# file-outbox retention) stamps the file from the app's clock when writing it, and compares with it.
CLOCK_OFFSET_DAYS = os.environ.get("TEST_CLOCK_OFFSET_DAYS")
if CLOCK_OFFSET_DAYS:
    import datetime as _dt

    import time_machine

    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(__file__).parent / "shifted_clock"), os.environ.get("PYTHONPATH")])
    )
    time_machine.travel(_dt.datetime.now(_dt.UTC) + _dt.timedelta(days=int(CLOCK_OFFSET_DAYS)), tick=True).start()

# Hypothesis' per-example deadline is a wall-clock bound: on a busy machine a 5 ms example can take
# 500 ms, and speed goals live in bench/, not in tests.
hypothesis_settings.register_profile("mailer", deadline=None)
hypothesis_settings.load_profile("mailer")

# Fixtures shared beyond this file live in these helper modules (not test modules); registering
# them here makes their fixtures available to every test without an import. Plain helper
# functions and constants are imported from them by name.
pytest_plugins = [
    "smtp_server",  # smtp_server: a real aiosmtpd server
    "imap_server",  # imap_server, imap_tls_server, test_ca
    "rsvp_fixtures",  # person, invite, live_server
    "relay_fixtures",  # start_campaign, relay_settings, sender
    "bounce_fixtures",  # sent
    "staff_helpers",  # staff, staff_client
    "process_helpers",  # people, campaign (tests that run `mailer worker` / `mailer serve`)
    "api_helpers",  # api (a client validating every reply against the OpenAPI document), api_token
    "signup_fixtures",  # signup_app, sdb, org, smeeting, person_in (public sign-up)
]

# The browser tests need Debian's chromium and chromedriver. `make test` installs nothing into
# the system: without them tests/browser is not collected, and one line at the end says so.
BROWSER_PARTS = (Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver"))
BROWSER_TESTS = Path(__file__).resolve().parent / "browser"


def missing_browser_parts() -> list[str]:
    return [str(part) for part in BROWSER_PARTS if not os.access(part, os.X_OK)]


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    if collection_path == BROWSER_TESTS and missing_browser_parts():
        return True
    return None


def pytest_terminal_summary(terminalreporter) -> None:
    missing = missing_browser_parts()
    if missing:
        terminalreporter.write_line(
            f"browser tests (tests/browser) not run: {' and '.join(missing)} missing; "
            "install them with `sudo make browser`"
        )


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


BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[str]:
    """A database built once per run by the Alembic migrations; each test gets a copy.

    CREATE DATABASE … TEMPLATE copies it in ~20 ms, much faster than migrating per test,
    and every test still starts from exactly the schema `mailer init` creates.
    """
    name = f"mailer_template_{uuid.uuid4().hex[:12]}"
    with postgres_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database = Database(postgres_url(name))
    try:
        database.upgrade()
    finally:
        database.dispose()
    yield name
    with postgres_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, instance_path: Path) -> Iterator[str]:
    """The one place that decides which database a test uses: a fresh one per test.

    SQLite: a new file in the test's instance folder. PostgreSQL: a throw-away database
    copied from the migrated template, dropped after the test (WITH FORCE, so that a
    killed worker's or server's leftover connection cannot keep it alive).
    """
    if request.param == "sqlite":
        yield f"sqlite:///{instance_path / 'test.sqlite'}"
        return
    if not POSTGRES_URL:  # only a test that asks for PostgreSQL alone gets here
        pytest.skip("needs a PostgreSQL server: set MAILER_TEST_POSTGRES_URL (.ci/run always does)")
    instance_path.mkdir(parents=True, exist_ok=True)  # as with SQLite, whose file lives there
    template = request.getfixturevalue("_postgres_template")
    name = f"mailer_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield postgres_url(name)
    with postgres_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """empty_database_url("sqlite" | "postgresql") -> the URL of a new database with no tables at all
    (for `mailer db copy --to`); PostgreSQL ones are dropped after the test, with any database a
    restore kept aside under their name."""
    created: list[str] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / f'empty-{uuid.uuid4().hex[:8]}.sqlite'}"
        if not POSTGRES_URL:
            pytest.skip("needs a PostgreSQL server: set MAILER_TEST_POSTGRES_URL (.ci/run always does)")
        name = f"mailer_empty_{uuid.uuid4().hex[:12]}"
        with postgres_admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return postgres_url(name)

    yield make
    if created:
        with postgres_admin() as admin:
            for name in created:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _drop_postgres_databases(prefix: str) -> list[str]:
    if not POSTGRES_URL:
        return []
    with postgres_admin() as admin:
        names = [
            row[0] for row in admin.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,))
        ]
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return names


@pytest.fixture
def drop_postgres_databases() -> Callable[[str], list[str]]:
    """drop_postgres_databases(prefix): drop every database whose name starts with it (what a restore kept aside)."""
    return _drop_postgres_databases


@pytest.fixture
def postgres_available() -> bool:
    """Whether this run has a PostgreSQL server (MAILER_TEST_POSTGRES_URL)."""
    return bool(POSTGRES_URL)


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
        "LANG": "en_GB.UTF-8",  # the CLI speaks English here; tests of its Swedish pass --lang sv
        **shifted_clock_env(),
    }


def shifted_clock_env() -> dict[str, str]:
    """What a `mailer` subprocess started with an environment of its own needs to share the
    shifted clock (TEST_CLOCK_OFFSET_DAYS); nothing when the clock is not shifted."""
    if not CLOCK_OFFSET_DAYS:
        return {}
    return {"TEST_CLOCK_OFFSET_DAYS": CLOCK_OFFSET_DAYS, "PYTHONPATH": os.environ["PYTHONPATH"]}


@pytest.fixture
def runner(app, cli_env: dict[str, str]) -> MailerRunner:
    """The CLI over the instance of `app` (schema already upgraded)."""
    return MailerRunner(env=cli_env)


@pytest.fixture
def runner_for() -> Callable[[dict[str, str]], MailerRunner]:
    """runner_for(env) -> the CLI under exactly that environment (another instance or database)."""
    return lambda env: MailerRunner(env=env)


@pytest.fixture
def bare_runner(tmp_path: Path) -> tuple[MailerRunner, Path]:
    """The CLI over an instance folder that does not exist yet (for `mailer init`)."""
    instance = tmp_path / "fresh-instance"
    return MailerRunner(env={"MAILER_INSTANCE_PATH": str(instance), "LANG": "en_GB.UTF-8"}), instance


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
    """make_meeting(slug="x", starts=f"{future_year()}-05-06 18:00", ...) -> the stored Meeting.

    A start in the past is made as if entered the day before it (add_meeting's `now`): the
    app refuses past starts, but tests of what happens after a meeting need such meetings.
    """
    import datetime as dt

    from mailer.meetings.service import add_meeting, parse_local

    counter = iter(range(1, 10_000))

    def make(**fields: Any):
        n = next(counter)
        values = {
            "slug": f"meeting-{n}",
            "title": f"Dialogträff {n}",
            "region": "Sörmland",
            "city": "Eskilstuna",
            "starts": f"{future_year()}-05-{n:02d} 18:00",  # in May of a year still ahead
        }
        values.update(fields)
        starts = parse_local("starts", values["starts"], settings.timezone)
        values.setdefault("now", starts - dt.timedelta(days=1))
        with db.transaction() as session:
            return add_meeting(session, settings.timezone, **values)

    return make


@pytest.fixture
def database_dump(db: Database) -> Callable[[], str]:
    """database_dump() -> every row of every table (reflected, so tables no model describes too), as text.

    The same on both backends, for tests that look for what must not be left anywhere.
    """
    from sqlalchemy import MetaData, select

    def dump() -> str:
        metadata = MetaData()
        metadata.reflect(db.engine)
        lines = []
        with db.engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(select(table)):
                    lines.append(f"{table.name}: {tuple(row)!r} {tuple(str(v) for v in row)!r}")
        return "\n".join(lines)

    return dump


@pytest.fixture
def editable(app, tmp_path: Path) -> Path:
    """A writable copy of the templates, as a deployment with MAILER_TEMPLATES_PATH has."""
    import shutil

    from mailer.mail.templates import EmailTemplates, packaged_templates_path

    folder = tmp_path / "email"
    shutil.copytree(packaged_templates_path(), folder)
    settings = app.extensions["mailer.settings"].with_overrides(templates_path=folder)
    app.extensions["mailer.settings"] = settings
    app.extensions["mailer.templates"] = EmailTemplates(folder, settings.max_message_bytes)
    return folder
