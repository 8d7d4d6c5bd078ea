"""A disk that fills up for real (issue 18.4 and its bad input): a small RAM disk under SQLite's
file, and under a PostgreSQL tablespace holding the whole database.

A recipient's answer gets a 503 page saying it was not saved (never a bare 500), the CLI stops
an import in one line naming the place and the fix (exit 2), nothing is half-written, and once
space is freed the same answer and the same import go through.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from helpers import fill_disk, tmpfs
from postgres_helpers import POSTGRES_URL, postgres_admin, postgres_url
from rsvp_fixtures import csrf_of, links_for
from sqlalchemy import func, make_url, select

from mailer.app import create_app
from mailer.contacts.models import Contact, Organisation
from mailer.rsvp.models import Response

LIST = "email,name\n" + "".join(f"ny{number}@example.org,Ny {number}\n" for number in range(300))


@contextmanager
def small_copy(backend: str, db, test_config: dict, folder: Path) -> Iterator[tuple[str, Path]]:
    """The test's database copied onto a small disk of its own: (its URL, the disk's folder)."""
    db.dispose()  # PostgreSQL copies only a database nobody is connected to
    if backend == "sqlite":
        with tmpfs(folder, size="4m") as disk:
            source, copy = sqlite3.connect(make_url(db.url).database), sqlite3.connect(disk / "mailer.sqlite")
            with closing(source), closing(copy):
                source.backup(copy)
            yield f"sqlite:///{disk}/mailer.sqlite", disk
        return
    with postgres_admin() as admin:
        data_directory = admin.execute("SHOW data_directory").fetchone()[0]
        server_user = os.stat(data_directory).st_uid  # the server runs on this machine (127.0.0.1)
        # The server's user must reach the disk: pytest's folders are private to root.
        parent = Path(tempfile.mkdtemp(prefix="mailer-pgdisk-"))
        parent.chmod(0o755)
        name = f"mailer_full_{uuid.uuid4().hex[:10]}"
        try:
            with tmpfs(parent / "disk", size="24m", owner=server_user) as disk:
                admin.execute(f"CREATE TABLESPACE \"{name}\" LOCATION '{disk}'")
                try:
                    source = make_url(db.url).database
                    admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}" TABLESPACE "{name}"')
                    try:
                        yield postgres_url(name), disk
                    finally:
                        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                finally:
                    admin.execute(f'DROP TABLESPACE IF EXISTS "{name}"')
        finally:
            parent.joinpath("disk").rmdir()
            parent.rmdir()


def test_a_full_disk_refuses_an_answer_and_an_import_by_name_and_loses_nothing_once_freed(
    database_url, db, app, test_config, person, make_meeting, runner_for, cli_env, tmp_path, api_token
):
    backend = make_url(database_url).get_backend_name()
    if backend == "postgresql":
        assert POSTGRES_URL and make_url(POSTGRES_URL).host in ("127.0.0.1", "localhost", None)
    anna = person("anna@example.org", "Anna")
    meeting = make_meeting(slug="falun", city="Falun").id
    path = links_for(app, anna, meeting)["rsvp_url"]
    token = {"Authorization": f"Bearer {api_token()}"}
    with db.transaction() as session:
        session.add(Organisation(slug="musik", name="Musikorganisationen"))  # with no members yet
    (tmp_path / "ny.csv").write_text(LIST, encoding="utf-8")
    with small_copy(backend, db, test_config, tmp_path / "disk") as (url, disk):
        instance = disk if backend == "sqlite" else test_config["instance_path"]  # PostgreSQL: the server's disk
        full_app = create_app({**test_config, "database_url": url, "instance_path": instance})
        full_db = full_app.extensions["mailer.db"]
        client = full_app.test_client()
        form = {"csrf_token": csrf_of(client.get(path).get_data(as_text=True)), "answer": "yes", "guests": "0"}
        env = {**cli_env, "MAILER_DATABASE_URL": url, "MAILER_INSTANCE_PATH": str(instance)}
        filler = fill_disk(disk)
        try:
            refused = client.post(path, data=form)
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "60"
            page = refused.get_data(as_text=True)
            assert "Det gick inte att spara" in page and "Försök igen om en stund" in page
            assert "Could not save" in page  # the person's language is in the database: both are shown
            assert "Traceback" not in page and str(disk) not in page  # recipients see no server paths
            # the first membership: a row in a table that has none yet, so its file must grow
            created = client.put(f"/api/v1/contacts/{anna}/memberships/musik", json={}, headers=token)
            assert created.status_code == 503 and created.json["error"]["code"] == "fault"
            if backend == "postgresql":  # the token was checked (its row had room): the fault's own words
                assert "databasserverns disk är full" in created.json["error"]["message"]
            else:  # the token's check itself met the full disk: an unknown caller learns no server path
                assert (
                    created.json["error"]["message"]
                    == "Tekniskt fel hos servern; inget sparades. Försök igen om en stund."
                )
            imported = runner_for(env).invoke(["contacts", "import", tmp_path / "ny.csv"])
            assert imported.exit_code == 2, imported.output
            expected = (  # SQLite: the instance's disk is checked before the command starts
                f"mailer: {disk}: the disk is full; free some space on that disk (old backups, logs) and try again\n"
                if backend == "sqlite"
                else f"mailer: {make_url(url).render_as_string(hide_password=True)}: the database server's disk "
                "is full; free space on the database server\n"
            )
            assert imported.stderr == expected
        finally:
            filler.unlink()
        with full_db.reading() as session:  # nothing half-written
            assert session.scalar(select(func.count()).select_from(Response)) == 0
            assert session.scalar(select(func.count()).select_from(Contact)) == 1
        assert client.post(path, data=form).status_code == 303  # the same answer, sent again
        assert runner_for(env).invoke(["contacts", "import", tmp_path / "ny.csv"]).exit_code == 0
        with full_db.reading() as session:
            assert session.scalar(select(func.count()).select_from(Response)) == 1
            assert session.scalar(select(func.count()).select_from(Contact)) == 301
        assert client.put(f"/api/v1/contacts/{anna}/memberships/musik", json={}, headers=token).status_code in (
            200,
            201,
        )
        full_db.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_fault_that_is_not_the_disk_stays_a_server_error(app):
    """Only faults the place and fix are known for become a 503: a bug is not dressed up as one."""
    from sqlalchemy.exc import ProgrammingError

    @app.get("/broken")
    def broken():
        raise ProgrammingError("SELECT nonsense", {}, Exception("syntax error"))

    app.config["PROPAGATE_EXCEPTIONS"] = False  # as under gunicorn: an unhandled error is a 500
    assert app.test_client().get("/broken").status_code == 500
