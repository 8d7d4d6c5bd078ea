"""The worker's heartbeat (staff banner, /healthz) and faults of the instance's files named in one line:
a deleted, missing, read-only or full database or instance folder (issue 16.4 and 18.4)."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import fill_disk, tmpfs
from process_helpers import ROOT, wait_for, worker, worker_env
from sqlalchemy import make_url, select, text

from mailer.db import utcnow
from mailer.i18n import format_clock
from mailer.operations.heartbeat import STALL_AFTER
from mailer.operations.models import WorkerHeartbeat
from mailer.outbox.models import OutboxMessage

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def queue_mail(db, waiting_for: dt.timedelta = dt.timedelta(minutes=5)) -> None:
    with db.transaction() as session:
        session.add(
            OutboxMessage(
                template="digest", to_email="kansli@ax.example.org", extra={}, next_attempt_at=utcnow() - waiting_for
            )
        )


def heartbeat(db, seen_ago: dt.timedelta, stopped: bool = False) -> dt.datetime:
    seen = utcnow() - seen_ago
    with db.transaction() as session:
        session.merge(
            WorkerHeartbeat(
                owner="worker-host:1234",
                started_at=seen - dt.timedelta(hours=1),
                seen_at=seen,
                stopped_at=seen if stopped else None,
            )
        )
    return seen


# -- the banner and /healthz ------------------------------------------------------------------------


def test_every_staff_page_says_sending_stands_still_when_mail_waits_and_the_worker_is_silent(
    app, db, settings, staff_client
):
    client = staff_client
    queue_mail(db)
    seen = heartbeat(db, STALL_AFTER + dt.timedelta(minutes=1))
    when = format_clock(seen, settings.timezone, "sv")
    for path in ("/staff/", "/staff/meetings", "/staff/campaigns", "/staff/organisations"):
        page = client.get(path, follow_redirects=True).get_data(as_text=True)
        assert f"Utskicken står still: arbetsprocessen har inte hörts av sedan {when}" in page, path
    english = client.get("/staff/?lang=en").get_data(as_text=True)
    assert (
        f"Sending has stopped: the worker has not been heard from since {format_clock(seen, settings.timezone, 'en')}"
        in english
    )

    heartbeat(db, dt.timedelta(seconds=5))  # the worker is back
    assert "Utskicken står still" not in client.get("/staff/").get_data(as_text=True)
    heartbeat(db, STALL_AFTER * 3, stopped=True)  # stopped long ago, but nothing waits any more
    with db.transaction() as session:
        session.execute(text("DELETE FROM messages"))
    assert "Utskicken står still" not in client.get("/staff/").get_data(as_text=True)


def test_a_worker_that_never_ran_is_named_once_mail_has_waited_two_minutes(app, db, staff_client):
    queue_mail(db, waiting_for=dt.timedelta(seconds=10))
    assert "Utskicken står still" not in staff_client.get("/staff/").get_data(as_text=True)  # just queued
    queue_mail(db, waiting_for=STALL_AFTER + dt.timedelta(seconds=1))
    page = staff_client.get("/staff/").get_data(as_text=True)
    assert "Utskicken står still: arbetsprocessen har inte startats" in page


def test_healthz_reports_the_workers_age_and_fails_when_it_is_stale_and_work_waits(app, db):
    client = app.test_client()
    reply = client.get("/healthz")
    assert reply.status_code == 200
    assert reply.json == {
        "status": "ok",
        "database": "ok",
        "worker": {"last_seen": None, "age_seconds": None, "running": False, "work_waiting": False, "stalled": False},
    }
    heartbeat(db, dt.timedelta(seconds=20))
    queue_mail(db)
    reply = client.get("/healthz")
    assert reply.status_code == 200 and reply.json["worker"]["running"] is True
    assert 15 <= reply.json["worker"]["age_seconds"] <= 60

    heartbeat(db, dt.timedelta(minutes=7))
    reply = client.get("/healthz")
    assert reply.status_code == 503
    assert reply.json["status"] == "stalled" and reply.json["worker"]["stalled"] is True
    assert 7 * 60 - 5 <= reply.json["worker"]["age_seconds"] <= 7 * 60 + 60


def test_a_real_worker_beats_and_says_when_it_stops(app, db, cli_env, instance_path, smtp_server):
    client = app.test_client()
    with worker(worker_env(cli_env, smtp_server.url), instance_path / "worker.log"):
        wait_for(lambda: client.get("/healthz").json["worker"]["running"], 60, "the worker's heartbeat")
    with db.transaction() as session:
        row = session.scalars(select(WorkerHeartbeat)).one()
        assert row.stopped_at is not None  # a clean stop is recorded
    assert client.get("/healthz").json["worker"]["running"] is False


# -- faults: /healthz -----------------------------------------------------------------------------------


@SQLITE_ONLY
def test_healthz_is_503_with_the_reason_when_the_database_file_is_deleted(app, db):
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    path = Path(make_url(db.url).database)
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        file.unlink(missing_ok=True)
    reply = client.get("/healthz")
    assert reply.status_code == 503
    assert reply.json == {"status": "error", "database": f"the database file {path} was deleted"}


POSTGRES_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
READ_ONLY_FIX = (
    "the database accepts no writes (a standby, or default_transaction_read_only is on); point "
    "database_url at the primary, or turn read-only off (ALTER DATABASE NAME SET "
    "default_transaction_read_only = off)"
)


@POSTGRES_ONLY
def test_a_read_only_postgresql_database_stops_commands_and_healthz_with_the_url_and_the_fix(app, db, runner, make_csv):
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    url = make_url(db.url)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'ALTER DATABASE "{url.database}" SET default_transaction_read_only = on'))
    db.dispose()
    shown = url.render_as_string(hide_password=True)

    reply = client.get("/healthz")
    assert reply.status_code == 503
    assert reply.json == {"status": "error", "database": f"{shown}: {READ_ONLY_FIX}"}
    result = runner.invoke(["contacts", "import", str(make_csv("korpen.csv", "email\nbo@example.org\n"))])
    assert result.exit_code == 2, result.output
    assert result.stderr == f"mailer: {shown}: {READ_ONLY_FIX}\n"


def _unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@POSTGRES_ONLY
@pytest.mark.parametrize(
    ("change", "fix"),
    [
        (
            {"port": "unused", "password": "hemligt"},
            "no database server answers there; start PostgreSQL, or correct the host and port in database_url",
        ),
        (
            {"database": "mailer_no_such_database"},
            "the database does not exist on that server; create it (createdb NAME, then `mailer init`), or correct its "
            "name in database_url",
        ),
        (
            {"username": "mailer_no_such_user", "password": "hemligt"},
            "the database server refused the user or password; correct them in database_url, or give the user access on "
            "the server (pg_hba.conf, CREATE ROLE)",
        ),
    ],
)
def test_an_unusable_postgresql_url_stops_commands_and_healthz_with_the_url_and_the_fix(
    test_config, database_url, runner_for, cli_env, change, fix
):
    from mailer.app import create_app

    if change.get("port") == "unused":
        change = {**change, "port": _unused_port()}
    url = make_url(database_url).set(**change)
    bad, shown = url.render_as_string(hide_password=False), url.render_as_string(hide_password=True)
    assert "hemligt" not in shown

    for command in (["orgs", "list"], ["contacts", "list"], ["worker", "--until-idle"]):
        result = runner_for({**cli_env, "MAILER_DATABASE_URL": bad}).invoke(command)
        assert result.exit_code == 2, (command, result.output)
        assert result.stderr == f"mailer: {shown}: {fix}\n", command
    reply = create_app({**test_config, "database_url": bad}).test_client().get("/healthz")
    assert reply.status_code == 503
    assert reply.json == {"status": "error", "database": f"{shown}: {fix}"}


# -- faults: every command stops with one line -------------------------------------------------------


@SQLITE_ONLY
def test_a_missing_database_file_stops_commands_with_the_path_and_the_fix(app, db, runner):
    path = Path(make_url(db.url).database)
    db.dispose()
    path.unlink()
    for command in (["orgs", "list"], ["backup"], ["contacts", "list"]):
        result = runner.invoke(command)
        assert result.exit_code == 2, result.output
        assert result.stderr == (
            f"mailer: {path}: the database file is missing; restore the last backup with "
            "`mailer restore PATH` (see docs/operations.md), or run `mailer init` to start an "
            "empty database\n"
        )
    assert not path.exists()  # not silently created empty


@SQLITE_ONLY
def test_a_read_only_or_full_instance_folder_stops_commands_in_one_line(app, runner_for, cli_env, tmp_path):
    with tmpfs(tmp_path / "ro", read_only=True) as folder:
        result = runner_for(
            {**cli_env, "MAILER_INSTANCE_PATH": str(folder), "MAILER_DATABASE_URL": f"sqlite:///{folder}/mailer.sqlite"}
        ).invoke(["orgs", "list"])
        assert result.exit_code == 2
        assert (
            result.stderr == f"mailer: {folder}: the folder is read-only for this user; make it writable "
            f"(chmod u+w {folder}, or remount the disk read-write)\n"
        )
    database = Path(cli_env["MAILER_DATABASE_URL"].split("///", 1)[1])
    with tmpfs(tmp_path / "full", size="2m") as folder:
        with sqlite3.connect(database) as source, sqlite3.connect(folder / "mailer.sqlite") as copy:
            source.backup(copy)  # the whole database, its write-ahead log included
        env = {
            **cli_env,
            "MAILER_INSTANCE_PATH": str(folder),
            "MAILER_DATABASE_URL": f"sqlite:///{folder}/mailer.sqlite",
        }
        filler = fill_disk(folder)
        result = runner_for(env).invoke(["orgs", "list"])
        assert result.exit_code == 2
        assert (
            result.stderr == f"mailer: {folder}: the disk is full; free some space on that disk "
            "(old backups, logs) and try again\n"
        )
        filler.unlink()
        result = runner_for(env).invoke(["backup"])
        assert result.exit_code == 0, result.output


@SQLITE_ONLY
def test_init_refuses_a_new_database_beside_the_deleted_ones_files_still_in_use(app, db, runner):
    """A database deleted under a running process leaves its -wal and -shm in use; SQLite would
    take them for the new file's own (mailer.operations.faults.check_new_database)."""
    path = Path(make_url(db.url).database)
    with sqlite3.connect(path) as running:  # as `mailer serve` would hold it
        running.execute("SELECT count(*) FROM contacts").fetchone()
        path.unlink()
        result = runner.invoke(["init"])
        side = next(side for side in (Path(f"{path}-wal"), Path(f"{path}-shm")) if side.exists())
    running.close()
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"mailer: {side} is left over from the database file {path}, which was deleted while a program "
        f"still used it; stop `mailer serve` and `mailer worker`, delete {side} and run `mailer init` again "
        "(or restore a backup with `mailer restore PATH`)\n"
    )
    assert not path.exists()  # no broken empty file left for later commands to blame on the disk


def test_a_missing_instance_folder_is_named_before_any_setting(runner_for, tmp_path):
    folder = tmp_path / "nowhere"
    result = runner_for({"MAILER_INSTANCE_PATH": str(folder), "LANG": "sv_SE.UTF-8"}).invoke(["contacts", "list"])
    assert result.exit_code == 2
    assert result.stderr == (
        f"mailer: {folder}: instansmappen finns inte; kör `mailer init`, eller sätt MAILER_INSTANCE_PATH till "
        "instansmappen\n"
    )


def test_a_missing_setting_is_named_in_swedish(runner_for, instance_path):
    instance_path.mkdir(parents=True, exist_ok=True)
    config = instance_path / "config.toml"
    config.unlink(missing_ok=True)
    result = runner_for({"MAILER_INSTANCE_PATH": str(instance_path), "LANG": "sv_SE.UTF-8"}).invoke(["orgs", "list"])
    assert result.exit_code == 2
    assert result.stderr == (
        f"mailer: fel i inställningarna: MAILER_SECRET_KEY är inte satt (i {config} eller i miljön); "
        "`mailer init` skriver en konfiguration\n"
    )


@SQLITE_ONLY
def test_doctor_and_init_name_a_full_disk_and_leave_no_probe_file(app, runner_for, cli_env, tmp_path):
    database = Path(cli_env["MAILER_DATABASE_URL"].split("///", 1)[1])
    with tmpfs(tmp_path / "full", size="2m") as folder:
        with sqlite3.connect(database) as source, sqlite3.connect(folder / "mailer.sqlite") as copy:
            source.backup(copy)
        env = {
            **cli_env,
            "MAILER_INSTANCE_PATH": str(folder),
            "MAILER_DATABASE_URL": f"sqlite:///{folder}/mailer.sqlite",
        }
        filler = fill_disk(folder)
        result = runner_for(env).invoke(["doctor"])
        leftovers = sorted(path.name for path in folder.iterdir() if path.name.startswith(".doctor"))
        (folder / "config.toml").write_text("")  # so that `init` goes on to the database
        init = runner_for(env).invoke(["init"])
        filler.unlink()
    assert init.exit_code == 2, init.output
    assert init.stderr.endswith(": the disk is full; free some space on that disk (old backups, logs) and try again\n")
    assert result.exit_code != 0
    assert (
        f"{folder}: the disk is full; free some space on that disk (old backups, logs) and try again" in result.output
    )
    assert "No space left on device" not in result.output
    assert leftovers == []


# -- faults: the worker stops instead of writing into a deleted file ----------------------------------


@SQLITE_ONLY
def test_the_worker_stops_when_its_database_file_is_deleted(app, db, cli_env, instance_path):
    path = Path(make_url(db.url).database)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
    env.update(cli_env)
    log_path = instance_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mailer", "worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            client = app.test_client()
            wait_for(lambda: client.get("/healthz").json.get("worker", {}).get("running"), 60, "the heartbeat")
            db.dispose()
            for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                file.unlink(missing_ok=True)
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    output = log_path.read_text()
    assert process.returncode == 2, output
    assert f"mailer: the database file {path} was deleted; the worker stopped" in output
    assert "Traceback" not in output
    assert not path.exists(), output
