"""Backups, restore, `db copy` and `doctor`, against real processes: `mailer worker` and `mailer serve`
subprocesses, the aiosmtpd relay, SQLite and PostgreSQL (pg_dump/pg_restore)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic import command
from process_helpers import HIGH_LIMIT, finished, mailer_server, wait_for, worker, worker_env
from rsvp_fixtures import answer
from smtp_server import free_port
from sqlalchemy import func, make_url, select, text

from mailer.app import create_app
from mailer.campaigns.models import Campaign
from mailer.contacts.models import Contact
from mailer.db import Database, alembic_config, head_revision, utcnow
from mailer.meetings.models import Meeting
from mailer.operations.backup import manifest_path, write_backup
from mailer.operations.heartbeat import STALL_AFTER
from mailer.operations.models import BackupRecord, WorkerHeartbeat
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.rsvp.models import Response
from mailer.rsvp.service import record_answer

RSVP_LINK = re.compile(r"https?://\S+?/r/[A-Za-z0-9_.\-]+")


def backups_of(instance_path: Path) -> list[Path]:
    return sorted(path for path in (instance_path / "backups").glob("mailer-*") if not path.name.endswith(".json"))


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def replaced_databases(database_url, drop_postgres_databases):
    """PostgreSQL: a restore keeps the replaced database under `<name>_replaced_…`; dropped after the test."""
    yield
    if database_url.startswith("postgresql"):
        drop_postgres_databases(make_url(database_url).database[:40] + "_replaced_")


@pytest.fixture
def other_backend(db, postgres_available) -> str:
    """Where `db copy` goes in a test: SQLite to PostgreSQL when a server is there, else to SQLite."""
    return "postgresql" if db.is_sqlite and postgres_available else "sqlite"


def heard(db) -> bool:
    with db.transaction() as session:
        return (
            session.scalar(
                select(func.count()).select_from(WorkerHeartbeat).where(WorkerHeartbeat.stopped_at.is_(None))
            )
            > 0
        )


# -- a backup while a campaign is sent and answers arrive ------------------------------------------


def test_a_backup_taken_while_a_campaign_sends_and_answers_arrive_restores_every_committed_answer(
    app, db, settings, runner, cli_env, smtp_server, people, campaign, instance_path, replaced_databases
):
    people(600)
    cid = campaign(start=True)
    with db.transaction() as session:
        meeting_id = session.get(Campaign, cid).meeting_id
        contacts = list(session.scalars(select(Contact.id).order_by(Contact.id)))
    committed: list[int] = []
    stop = threading.Event()

    def answering() -> None:
        for i, contact_id in enumerate(contacts):
            if stop.is_set():
                return
            with db.transaction() as session:
                record_answer(
                    session,
                    session.get(Contact, contact_id),
                    session.get(Meeting, meeting_id),
                    {"answer": "yes" if i % 3 else "no"},
                    settings.timezone,
                )
            committed.append(contact_id)  # after the commit: this answer must be in a later backup

    answers = threading.Thread(target=answering)
    env = worker_env(cli_env, smtp_server.url, MAILER_SEND_RATE_PER_MINUTE="2400")  # 40 a second: ~15 s
    with worker(env, instance_path / "worker.log"):
        wait_for(lambda: len(smtp_server.received) >= 40, 60, "the campaign to be under way")
        answers.start()
        try:
            wait_for(lambda: len(committed) >= 30, 60, "answers to come in")
            before = list(committed)
            result = runner.invoke(["backup"])
            wait_for(lambda: len(committed) >= len(before) + 10, 60, "answers to go on after the backup")
        finally:
            stop.set()
            answers.join()
        assert not finished(db, cid)  # the backup was taken in the middle of the campaign
    assert result.exit_code == 0, result.output
    [backup] = backups_of(instance_path)
    manifest = json.loads(manifest_path(backup).read_text())
    assert manifest["schema_revision"] == head_revision() and manifest["tables"]["contacts"] == 600
    assert f"backup written: {backup}" in result.output

    db.dispose()  # the test's own pooled connections, as a stopped web server's
    restored = runner.invoke(["restore", backup])
    assert restored.exit_code == 0, restored.output
    assert "kept as" in restored.output and re.search(r"responses\s+\d+", restored.output)
    if db.is_sqlite:
        database_file = Path(make_url(db.url).database)
        with sqlite3.connect(database_file) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert list(database_file.parent.glob(f"{database_file.name}.replaced-*"))
    with db.transaction() as session:
        answered = set(session.scalars(select(Response.contact_id).where(Response.meeting_id == meeting_id)))
        states = set(session.scalars(select(OutboxMessage.state).where(OutboxMessage.campaign_id == cid)))
        assert session.scalar(select(func.count()).select_from(Response)) == manifest["tables"]["responses"]
    assert set(before) <= answered  # every answer committed before the backup began is in it
    assert answered <= set(committed)  # and nothing that was never committed
    assert MessageState.SENT in states and states - {MessageState.SENT}  # a snapshot from mid-campaign


# -- restore: refusals and bad backups ----------------------------------------------------------


def test_restore_refuses_while_a_worker_or_a_web_server_runs_and_changes_nothing(
    app, db, runner, cli_env, smtp_server, instance_path
):
    assert runner.invoke(["backup"]).exit_code == 0
    [backup] = backups_of(instance_path)
    with worker(worker_env(cli_env, smtp_server.url), instance_path / "worker.log"):
        wait_for(lambda: heard(db), 60, "the worker's first heartbeat")
        refused = runner.invoke(["restore", backup])
    assert refused.exit_code == 1
    assert "a worker is running" in refused.stderr and "stop it first" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    with mailer_server(cli_env, workers=1, threads=2, MAILER_PUBLIC_RATE_LIMIT=HIGH_LIMIT):
        refused = runner.invoke(["restore", backup])
    assert refused.exit_code == 1 and "a web server is running (mailer serve, pid" in refused.stderr
    assert db.current_revision() == head_revision()
    if db.is_sqlite:
        assert not list(instance_path.glob("*.replaced-*"))


def test_bad_backups_are_refused_with_one_line_and_nothing_changes(app, db, runner, instance_path, tmp_path):
    assert runner.invoke(["backup"]).exit_code == 0
    [good] = backups_of(instance_path)
    live = Path(make_url(db.url).database) if db.is_sqlite else None
    before = file_digest(live) if live else None

    checked = runner.invoke(["restore", "--dry-run", good])
    assert checked.exit_code == 0 and "backup ok" in checked.output and "nothing was changed" in checked.output

    truncated = tmp_path / "truncated" / good.name
    truncated.parent.mkdir()
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    manifest_path(truncated).write_bytes(manifest_path(good).read_bytes())
    foreign = tmp_path / "holiday-photos.sqlite"
    foreign.write_bytes(b"SQLite format 3\x00" + bytes(4000))
    newer = tmp_path / "newer" / good.name
    newer.parent.mkdir()
    newer.write_bytes(good.read_bytes())
    data = json.loads(manifest_path(good).read_text())
    manifest_path(newer).write_text(json.dumps({**data, "schema_revision": "9999"}))
    damaged = tmp_path / "damaged" / good.name
    damaged.parent.mkdir()
    content = bytearray(good.read_bytes())
    content[len(content) // 2] ^= 0xFF
    damaged.write_bytes(bytes(content))
    manifest_path(damaged).write_bytes(manifest_path(good).read_bytes())

    for path, reason in (
        (truncated, "truncated"),
        (foreign, "no manifest"),
        (newer, "unknown to this version"),
        (damaged, "damaged"),
        (tmp_path / "missing.sqlite", "no such file"),
    ):
        for dry_run in (["--dry-run"], []):
            result = runner.invoke(["restore", *dry_run, path])
            assert result.exit_code == 1, result.output
            assert reason in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    if live:
        assert file_digest(live) == before and not list(live.parent.glob("*.replaced-*"))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_backup_of_an_older_schema_is_migrated_after_restore(app, db, runner, tmp_path, instance_path):
    old = Database(f"sqlite:///{tmp_path / 'old.sqlite'}")
    with old.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0007")
    with old.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO organisations (slug, name, created_at) VALUES ('dans', 'Dansförbundet', :now)"),
            {"now": utcnow().replace(tzinfo=None)},
        )
    backup = tmp_path / "old-backup.sqlite"
    write_backup(old, backup)
    old.dispose()
    db.dispose()

    result = runner.invoke(["restore", backup])

    assert result.exit_code == 0, result.output
    assert "migrated from schema revision 0007 to the latest" in result.output
    assert db.current_revision() == head_revision()
    assert re.search(r"organisations\s+1\b", result.output)
    assert runner.invoke(["orgs", "list"]).output.count("Dansförbundet") == 1


def test_backup_to_an_unwritable_place_fails_in_one_line_and_leaves_nothing(app, db, runner, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    result = runner.invoke(["backup", blocker / "backup.sqlite"])

    assert result.exit_code == 1
    assert result.stderr.startswith("mailer: backup failed:") and len(result.stderr.strip().splitlines()) == 1
    assert str(blocker) in result.stderr
    with db.transaction() as session:
        record = session.scalars(select(BackupRecord)).one()
        assert record.error and record.finished_at is None  # failed: not "the last backup"
    assert runner.invoke(["backup", tmp_path]).exit_code == 0
    taken = runner.invoke(["backup", tmp_path / "named.backup"])
    assert taken.exit_code == 0 and (tmp_path / "named.backup.json").exists()
    again = runner.invoke(["backup", tmp_path / "named.backup"])
    assert again.exit_code == 1 and "already exists" in again.stderr


def test_backup_keep_prunes_to_the_newest_of_each_day_and_week(app, db, settings, tmp_path):
    from mailer.config import BackupKeep
    from mailer.operations.backup import prune

    folder = tmp_path / "backups"
    folder.mkdir()
    now = utcnow().replace(hour=3, minute=0, second=0, microsecond=0)
    made = []
    for age in range(60):  # one a night for 60 nights, two on the newest day
        for extra in (0, 1) if age == 0 else (0,):
            at = now - dt.timedelta(days=age) + dt.timedelta(hours=extra)
            path = folder / f"mailer-{at:%Y%m%dT%H%M%SZ}.sqlite"
            path.write_text("x")
            manifest_path(path).write_text(json.dumps({"created_at": at.isoformat()}))
            made.append((at, path))

    removed = prune(folder, BackupKeep(daily=7, weekly=4))

    kept = sorted((at, path) for at, path in made if path.exists())
    assert len(removed) == len(made) - len(kept)
    days = {at.date() for at, _ in kept}
    assert {(now - dt.timedelta(days=age)).date() for age in range(7)} <= days  # 7 daily
    assert max(kept)[0] == now + dt.timedelta(hours=1)  # the newest of the day
    assert len({at.isocalendar()[:2] for at, _ in kept}) == 4 + 0  # within 4 ISO weeks
    assert all(manifest_path(path).exists() == path.exists() for _, path in made)


# -- db copy ---------------------------------------------------------------------------------------


def rsvp_link_in(eml: Path) -> str:
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",)).get_content()
    return RSVP_LINK.search(body).group(0)


def test_db_copy_moves_everything_and_the_app_carries_on_on_the_target(
    app,
    db,
    runner,
    runner_for,
    cli_env,
    test_config,
    people,
    campaign,
    instance_path,
    empty_database_url,
    other_backend,
):
    """SQLite -> PostgreSQL (and PostgreSQL -> SQLite): a link from a mail sent before the copy answers
    after it, the answers are there, and the outbox resumes where it was."""
    people(5)
    campaign(start=True)  # the invitations of the mail whose link is used after the copy
    assert runner.invoke(["worker", "--until-idle"]).exit_code == 0  # the invitations, to instance/outbox/
    mails = sorted((instance_path / "outbox").glob("*.eml"))
    assert len(mails) == 5
    link = rsvp_link_in(mails[0])
    client = app.test_client()
    assert answer(client, link.split("mailer.test", 1)[1], answer="yes", comment="Före flytten").status_code == 303
    people(3, org="liten")
    second = campaign(org="liten", start=True)  # queued, not sent before the copy
    target = empty_database_url(other_backend)

    copied = runner.invoke(["db", "copy", "--to", target])

    assert copied.exit_code == 0, copied.output
    assert "counts and checksums agree" in copied.output and "DIFFERENT" not in copied.output
    assert re.search(r"^contacts\s+8\s+8\s+\w+ same$", copied.output, re.MULTILINE)
    assert re.search(r"^messages\s+\d+\s+\d+\s+\w+ same$", copied.output, re.MULTILINE)

    moved = create_app({**test_config, "database_url": target})
    try:
        visitor = moved.test_client()
        path = link.split("mailer.test", 1)[1]
        page = visitor.get(path)
        assert page.status_code == 200 and "Före flytten" in page.get_data(as_text=True)
        assert answer(visitor, path, answer="no", comment="Efter flytten").status_code == 303
        target_runner = runner_for({**cli_env, "MAILER_DATABASE_URL": target})
        assert target_runner.invoke(["worker", "--until-idle"]).exit_code == 0
        moved_db = moved.extensions["mailer.db"]
        with moved_db.transaction() as session:
            states = session.execute(select(OutboxMessage.campaign_id, OutboxMessage.state)).all()
            answers = session.scalars(select(Response.comment)).all()
        assert {state for cid, state in states if cid == second} == {MessageState.SENT}  # resumed on the target
        assert {state for _cid, state in states} == {MessageState.SENT}  # and the confirmations too
        assert answers == ["Efter flytten"]
        assert len(list((instance_path / "outbox").glob("*.eml"))) == len(states)
    finally:
        moved.extensions["mailer.db"].dispose()

    again = runner.invoke(["db", "copy", "--to", target])
    assert again.exit_code == 1 and "not empty" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


def test_db_copy_refuses_a_target_at_another_schema_and_a_foreign_database(
    app, db, runner, empty_database_url, other_backend
):
    older = empty_database_url(other_backend)
    older_db = Database(older)
    with older_db.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0007")
    foreign = empty_database_url("sqlite")
    foreign_db = Database(foreign)
    with foreign_db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE photos (id integer primary key)"))
    older_db.dispose()
    foreign_db.dispose()

    other_schema = runner.invoke(["db", "copy", "--to", older])
    not_ours = runner.invoke(["db", "copy", "--to", foreign])
    itself = runner.invoke(["db", "copy", "--to", db.url])
    bad_url = runner.invoke(["db", "copy", "--to", "mysql://x/y"])

    assert other_schema.exit_code == 1 and "schema revision 0007" in other_schema.stderr
    assert not_ours.exit_code == 1 and "not made by mailer" in not_ours.stderr
    assert itself.exit_code == 1 and "the database in use" in itself.stderr
    assert bad_url.exit_code == 2 and "unsupported database" in bad_url.stderr
    older_db = Database(older)
    try:
        with older_db.engine.connect() as connection:  # nothing written into it
            assert connection.execute(text("SELECT count(*) FROM contacts")).scalar() == 0
    finally:
        older_db.dispose()


# -- doctor ----------------------------------------------------------------------------------------


def doctor_lines(result) -> dict[str, str]:
    return {
        match.group(2): match.group(1)
        for match in re.finditer(r"^(ok|warn|fail)\s+(\S+)\s", result.output, re.MULTILINE)
    }


def test_doctor_on_a_running_instance_says_ok(app, db, runner, cli_env, smtp_server, instance_path):
    assert runner.invoke(["backup"]).exit_code == 0
    env = worker_env(cli_env, smtp_server.url)
    with worker(env, instance_path / "worker.log"):
        wait_for(lambda: heard(db), 60, "the worker's first heartbeat")
        result = runner.invoke(["doctor"], env={"MAILER_SMTP_URL": smtp_server.url})
    assert result.exit_code == 0, result.output
    lines = doctor_lines(result)
    assert lines == {
        "config": "ok",
        "instance": "ok",
        "database": "ok",
        "smtp": "ok",
        "worker": "ok",
        "backup": "ok",
        "secret_key": "ok",
        "base_url": "ok",
    }, result.output
    assert "answered EHLO" in result.output and "8BITMIME yes" in result.output and "SMTPUTF8 yes" in result.output
    assert "at the latest revision" in result.output and "running, last heard from" in result.output


def test_doctor_names_a_stopped_worker_an_unreachable_relay_and_a_relay_refusing_ehlo(
    app, db, runner, make_meeting, smtp_server, settings
):
    with db.transaction() as session:  # a worker last heard 10 minutes ago, and a mail waiting since
        session.add(
            WorkerHeartbeat(
                owner="old-host:4242",
                started_at=utcnow() - dt.timedelta(hours=1),
                seen_at=utcnow() - dt.timedelta(minutes=10),
            )
        )
        session.add(
            OutboxMessage(
                template="digest",
                to_email="kansli@ax.example.org",
                extra={},
                next_attempt_at=utcnow() - dt.timedelta(minutes=5),
            )
        )
    port = free_port()
    unreachable = f"smtp://127.0.0.1:{port}"

    stopped = runner.invoke(["doctor"], env={"MAILER_SMTP_URL": unreachable})

    assert stopped.exit_code == 1
    lines = doctor_lines(stopped)
    assert lines["worker"] == "fail" and lines["smtp"] == "fail" and lines["database"] == "ok"
    assert (
        "mail is waiting and the worker is not running" in stopped.output
        and "start it: `mailer worker`" in stopped.output
    )
    assert f"cannot reach the relay 127.0.0.1:{port}" in stopped.output
    assert lines["backup"] == "warn" and "no backup has been taken" in stopped.output
    assert "2 check(s) failed: smtp, worker" in stopped.stderr

    smtp_server.script.refuse_ehlo = "554 5.7.1 not welcome here"
    refused = runner.invoke(["doctor"], env={"MAILER_SMTP_URL": smtp_server.url})
    assert doctor_lines(refused)["smtp"] == "fail" and "refused EHLO: 554" in refused.output

    with db.transaction() as session:
        session.get(WorkerHeartbeat, "old-host:4242").seen_at = utcnow() - STALL_AFTER / 4
    smtp_server.script.refuse_ehlo = ""
    recovered = runner.invoke(["doctor"], env={"MAILER_SMTP_URL": smtp_server.url})
    assert recovered.exit_code == 0, recovered.output


def test_doctor_fails_a_weak_secret_and_plain_http_in_production(app, runner):
    result = runner.invoke(
        ["doctor"],
        env={
            "MAILER_SECRET_KEY": "change-me-run-mailer-init-for-a-real-one",
            "MAILER_BASE_URL": "http://mailer.ax.example.org.se",
        },
    )
    lines = doctor_lines(result)
    assert result.exit_code == 1
    assert lines["secret_key"] == "fail" and lines["base_url"] == "fail"
    assert "set base_url to https://" in result.output


def test_doctor_with_a_broken_config_says_so_and_still_checks_the_folder(bare_runner):
    runner, instance = bare_runner
    result = runner.invoke(
        ["doctor"], env={"MAILER_BASE_URL": "ftp://x", "MAILER_SECRET_KEY": "x" * 40, "MAILER_FROM": "a@ax.example.org"}
    )
    lines = doctor_lines(result)
    assert result.exit_code == 1 and lines == {"config": "fail", "instance": "fail"}
    assert "MAILER_BASE_URL" in result.output and "run `mailer init`" in result.output
    assert not instance.exists()  # the doctor creates nothing


# -- scheduled backups, and what staff see of them -------------------------------------------------


def test_the_worker_takes_the_scheduled_backup_prunes_old_ones_and_staff_see_when(
    app, db, settings, runner, cli_env, instance_path, staff_client
):
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    from mailer.worker.scheduler import BACKUP_JOB, build_scheduler, ensure_backup_job

    folder = instance_path / "backups"
    folder.mkdir()
    old = []
    for age in (60, 61, 62):  # three nightly backups from two months ago
        at = utcnow() - dt.timedelta(days=age)
        path = folder / f"mailer-{at:%Y%m%dT%H%M%SZ}.sqlite"
        path.write_text("old")
        manifest_path(path).write_text(json.dumps({"created_at": at.isoformat()}))
        old.append(path)
    with db.transaction() as session:  # the last good backup was three days ago
        session.add(
            BackupRecord(
                started_at=utcnow() - dt.timedelta(days=3),
                finished_at=utcnow() - dt.timedelta(days=3),
                path=str(old[0]),
                trigger="scheduled",
            )
        )
    assert "Säkerhetskopian är äldre än två dygn" in staff_client.get("/staff/").get_data(as_text=True)
    preview = runner.invoke(["digest", "preview"])
    assert "Varning: säkerhetskopian är äldre än två dygn" in preview.output

    scheduler = build_scheduler(db, settings)  # stored as a worker stores it, due an hour ago
    scheduler.start(paused=True)
    ensure_backup_job(scheduler, settings)
    scheduler.shutdown(wait=True)
    store = SQLAlchemyJobStore(engine=db.engine, tablename="apscheduler_jobs")
    store.start(scheduler, "default")
    job = store.lookup_job(BACKUP_JOB)
    assert str(job.trigger) == "cron[month='*', day='*', day_of_week='*', hour='3', minute='0']"  # 03:00 nightly
    job.next_run_time = utcnow() - dt.timedelta(hours=1)
    store.update_job(job)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MAILER_")},
        **cli_env,
        "MAILER_BACKUP_KEEP": "2 daily",
    }
    result = subprocess.run(
        [sys.executable, "-m", "mailer", "worker", "--until-idle"], env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert "backup: written to" in result.stderr and "2 old backup(s) removed" in result.stderr
    [new] = [path for path in backups_of(instance_path) if path not in old]
    assert backups_of(instance_path) == sorted([old[0], new])  # the newest of each of the last 2 days with one
    with db.transaction() as session:
        assert session.scalars(select(BackupRecord).order_by(BackupRecord.id.desc())).first().trigger == "scheduled"
    page = staff_client.get("/staff/").get_data(as_text=True)
    assert "Senaste säkerhetskopian togs" in page and "äldre än två dygn" not in page
    preview = runner.invoke(["digest", "preview"])
    assert "Senaste säkerhetskopian togs" in preview.output and "Varning" not in preview.output


def test_forget_says_that_backups_age_out(runner, app, db, make_csv):
    from mailer.contacts.importer import import_lists

    with db.transaction() as session:
        import_lists(session, [make_csv("dans.csv", "email,name\nanna@dans.example.org,Anna\n")])
    result = runner.invoke(["contacts", "forget", "anna@dans.example.org", "--yes"])
    assert result.exit_code == 0
    assert "backups taken before now still hold this person" in result.output
    assert "backup_keep (7 daily, 4 weekly" in result.output


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_postgresql_backup_without_pg_dump_names_the_package_and_writes_nothing(app, runner, instance_path):
    result = runner.invoke(["backup"], env={"PATH": str(instance_path / "no-tools-here")})
    assert result.exit_code == 1
    assert result.stderr == (
        "mailer: backup failed: pg_dump is not installed: install the PostgreSQL client tools "
        "in the server's version (Debian/Ubuntu: apt install postgresql-client)\n"
    )
    assert not (instance_path / "backups").exists()


def test_the_operations_commands_speak_swedish_by_default(app, db, runner, tmp_path):
    """The CLI's language is Swedish unless the locale or --lang says English (issue 16)."""
    missing = runner.invoke(["--lang", "sv", "restore", "--dry-run", tmp_path / "saknas.sqlite"])
    assert missing.exit_code == 1
    assert missing.stderr == f"mailer: återläsningen nekades: {tmp_path / 'saknas.sqlite'}: filen finns inte\n"
    taken = runner.invoke(["--lang", "sv", "backup", tmp_path])
    assert taken.exit_code == 0 and "säkerhetskopia skriven:" in taken.output
    doctor = runner.invoke(["--lang", "sv", "doctor"])
    assert "ok    backup      senaste säkerhetskopian" in doctor.output
    assert "åtgärd: starta den: `mailer worker`" in doctor.output


def test_backup_files_and_their_folder_are_private(app, runner, instance_path):
    assert runner.invoke(["backup"]).exit_code == 0
    [backup] = backups_of(instance_path)
    assert (instance_path / "backups").stat().st_mode & 0o777 == 0o700
    assert backup.stat().st_mode & 0o777 == 0o600 and manifest_path(backup).stat().st_mode & 0o777 == 0o600
