"""The weekly digest: its period logic across a missed week, driven by the worker's scheduler."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from helpers import future_year
from sqlalchemy import func, select

from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact
from mailer.db import utcnow
from mailer.digest.build import current_period, digest_context, send_digest
from mailer.digest.models import DigestRun
from mailer.meetings.models import Meeting
from mailer.rsvp.service import record_answer
from mailer.worker.scheduler import DIGEST_JOB, build_scheduler, ensure_digest_job

YEAR = future_year()  # a year still ahead: the tests keep their month and day, never go stale


STAFF = "kansli@ax.example.org"


@pytest.fixture
def scene(db, app, make_csv, make_meeting):
    settings = app.extensions["mailer.settings"].with_overrides(staff_emails=(STAFF,))
    with db.transaction() as session:
        import_lists(
            session, [make_csv("kor.csv", "email,name\nanna@kor.example.org,Anna A\nbengt@kor.example.org,Bengt B\n")]
        )
    meeting = make_meeting(slug="falun", title="Dialogträff med Landstinget Dalarna", starts=f"{YEAR}-03-04 18:00")

    def answer(email: str, at: dt.datetime, value: str = "yes") -> None:
        with db.transaction() as session:
            contact = session.scalar(select(Contact).where(Contact.email == email))
            record_answer(
                session, contact, session.get(Meeting, meeting.id), {"answer": value}, settings.timezone, now=at
            )

    return settings, answer


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def digest_due_while_down(db, settings, late_by: dt.timedelta) -> str:
    """Store the weekly job as a worker would, its last due run `late_by` ago (nothing started).

    The schedule is chosen so that this run is a real fire time of the weekly
    trigger and the one before it a week earlier: with the default Monday 08:00
    the outcome would depend on the day the suite runs. Returns the schedule
    for the worker's MAILER_DIGEST_CRON, so it keeps the stored job.
    """
    due = (utcnow() - late_by).astimezone(settings.timezone).replace(second=0, microsecond=0)
    cron = f"{WEEKDAYS[due.weekday()]} {due:%H:%M}"
    settings = settings.with_overrides(digest_cron=cron)
    scheduler = build_scheduler(db, settings)
    scheduler.start(paused=True)
    ensure_digest_job(scheduler, settings)
    scheduler.shutdown(wait=True)
    store = SQLAlchemyJobStore(engine=db.engine, tablename="apscheduler_jobs")
    store.start(scheduler, "default")
    job = store.lookup_job(DIGEST_JOB)
    job.next_run_time = due
    store.update_job(job)
    return cron


def names_in(context) -> list[str]:
    return [r["name"] for m in context["digest"]["meetings"] for r in m["new_responses"]]


def test_a_missed_week_is_covered_next_time_and_nothing_counted_twice(db, scene):
    settings, answer = scene
    t0 = utcnow() - dt.timedelta(days=21)
    with db.transaction() as session:
        first = send_digest(session, settings, now=t0)
    answer("anna@kor.example.org", t0 + dt.timedelta(days=3))  # week 1 (its digest was missed)
    answer("bengt@kor.example.org", t0 + dt.timedelta(days=10))  # week 2
    with db.transaction() as session:
        start, end = current_period(session, now=t0 + dt.timedelta(days=14))
        assert start == first.period_end
        context = digest_context(session, settings, start, end)
        assert sorted(names_in(context)) == ["Anna A", "Bengt B"]
        send_digest(session, settings, now=end)
        later_start, later_end = current_period(session, now=t0 + dt.timedelta(days=21))
        assert later_start == end
        assert names_in(digest_context(session, settings, later_start, later_end)) == []


def test_digest_content_and_cli(runner, db, scene, smtp_server, cli_env):
    settings, answer = scene
    answer("anna@kor.example.org", utcnow() - dt.timedelta(hours=1))
    env = {**cli_env, "MAILER_STAFF_EMAILS": STAFF, "MAILER_SMTP_URL": smtp_server.url}
    preview = runner.invoke(["digest", "preview"], env=env)
    assert preview.exit_code == 0, preview.output
    assert "Dialogträff med Landstinget Dalarna" in preview.output and "Anna A" in preview.output
    assert "Ja: 1" in preview.output
    sent = runner.invoke(["digest", "send"], env=env)
    assert sent.exit_code == 0, sent.output
    (received,) = smtp_server.received
    assert received.envelope_to == [STAFF]
    assert "Anna A" in received.message.get_body(("plain",)).get_content()
    again = runner.invoke(["digest", "preview"], env=env)
    assert "Anna A" not in again.output  # already in the digest that was sent
    nobody = runner.invoke(["digest", "send"])
    assert nobody.exit_code == 1 and "MAILER_STAFF_EMAILS" in nobody.output


def test_worker_sends_a_digest_that_fell_due_while_it_was_down_once(db, app, scene, smtp_server, cli_env):
    settings, answer = scene
    answer("anna@kor.example.org", utcnow() - dt.timedelta(days=2))
    # The worker ran last week and stored the weekly job; then it was down over the due time.
    cron = digest_due_while_down(db, settings, dt.timedelta(hours=3))

    env = {
        **os.environ,
        **cli_env,
        "MAILER_STAFF_EMAILS": STAFF,
        "MAILER_SMTP_URL": smtp_server.url,
        "MAILER_DIGEST_CRON": cron,
    }
    for _ in range(2):  # the second run finds nothing due: the digest goes out once
        result = subprocess.run(
            [sys.executable, "-m", "mailer", "worker", "--until-idle"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
    (digest,) = smtp_server.to(STAFF)  # (Anna's own confirmation went to her)
    assert "Anna A" in digest.message.get_body(("plain",)).get_content()
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(DigestRun)) == 1


def test_worker_skips_a_digest_missed_beyond_the_grace_period(db, app, scene, smtp_server, cli_env):
    settings, _ = scene
    cron = digest_due_while_down(db, settings, dt.timedelta(hours=30))
    env = {
        **os.environ,
        **cli_env,
        "MAILER_STAFF_EMAILS": STAFF,
        "MAILER_SMTP_URL": smtp_server.url,
        "MAILER_DIGEST_CRON": cron,
    }
    result = subprocess.run(
        [sys.executable, "-m", "mailer", "worker", "--until-idle"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert smtp_server.received == []
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(DigestRun)) == 0
