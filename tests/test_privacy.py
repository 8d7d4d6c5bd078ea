"""GDPR: export everything about a person, erase it everywhere, keep the counts; retention; logs; audit."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sqlite3
import subprocess
import sys

import pytest
from helpers import future_year, send_everything
from sqlalchemy import select

from mailer.attendance.checkin import check_in
from mailer.audit.models import AuditEntry
from mailer.campaigns import service
from mailer.campaigns.audience import Audience
from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact
from mailer.digest.build import send_digest
from mailer.evaluations.service import record_evaluation
from mailer.logs import RedactingFilter, redact
from mailer.meetings.models import Meeting
from mailer.meetings.series import add_session, create_series
from mailer.privacy.erasure import forget
from mailer.privacy.export import export_person
from mailer.privacy.retention import anonymise_expired
from mailer.rsvp.models import QuestionAnswer, Response, ResponseChange
from mailer.rsvp.service import record_answer
from mailer.tracking.status import full_status

YEAR = future_year()  # a year still ahead: the tests keep their month and day, never go stale


ANNA = "anna@kor.example.org"
LIST = "email,name,role,phone\nanna@kor.example.org,Anna Andersson,ordförande,070-1234567\nbengt@kor.example.org,Bengt Berg,,\n"


@pytest.fixture
def scene(db, app, make_csv, make_meeting):
    settings = app.extensions["mailer.settings"].with_overrides(staff_emails=("kansli@ax.example.org",))
    templates = app.extensions["mailer.templates"]
    path = make_csv("kor.csv", LIST)
    meeting = make_meeting(slug="falun", starts=f"{YEAR}-03-04 18:00")
    with db.transaction() as session:
        import_lists(session, [path])
        campaign = service.create_campaign(
            session, settings, templates, meeting_slug="falun", template="invitation", audience=Audience(all=True)
        )
        service.start(session, campaign)
    send_everything(db, settings, templates)
    with db.transaction() as session:
        anna = session.scalar(select(Contact).where(Contact.email == ANNA))
        m = session.get(Meeting, meeting.id)
        record_answer(
            session,
            anna,
            m,
            {"answer": "yes", "diet": "vegan", "comment": "Ser fram emot det, /Anna Andersson"},
            settings.timezone,
        )
        check_in(session, m, [ANNA])
        record_evaluation(
            session,
            anna,
            m,
            {"value": "5", "knowledge": "4", "cooperation": "yes", "comment": "Anna Andersson tyckte det var bra"},
        )
        send_digest(session, settings)
    return settings, meeting.id, path


def test_export_person_holds_everything(db, scene):
    with db.transaction() as session:
        data = export_person(session, " Anna@Kor.example.org ")
    assert data["contact"]["name"] == "Anna Andersson" and data["contact"]["phone"] == "070-1234567"
    assert data["memberships"][0]["organisation"] == "kor" and data["memberships"][0]["role"] == "ordförande"
    assert [m["template"] for m in data["messages"]] == ["invitation", "confirmation"]
    assert data["responses"][0]["meeting"] == "falun"
    assert [answer["value"] for answer in data["question_answers"]] == ["vegan"]
    assert [h["answers"] for h in data["response_history"]] == [{"diet": "vegan"}]
    assert data["attendance"][0]["meeting"] == "falun"
    assert data["evaluations"][0]["value"] == 5
    assert data["suppression"] is None
    json.dumps(data)  # plain JSON


def test_forget_erases_everywhere_but_keeps_the_counts(db, app, scene, make_csv, database_url):
    settings, meeting_id, path = scene
    with db.transaction() as session:
        before = full_status(session, session.get(Meeting, meeting_id))
        forget(session, ANNA)
    with db.transaction() as session:
        after = full_status(session, session.get(Meeting, meeting_id))
    for key in ("invited", "yes", "no", "no_answer", "organisations_represented", "checked_in"):
        assert after[key] == before[key], key

    if database_url.startswith("sqlite"):  # nothing personal left anywhere in the file
        dump = "\n".join(sqlite3.connect(database_url.split("///", 1)[1]).iterdump())
        for secret in ("anna@kor", "Anna Andersson", "070-1234567", "vegan", "Ser fram emot"):
            assert secret not in dump, secret

    with db.transaction() as session:  # a later import does not bring her back
        report = import_lists(session, [path])
    assert report.files[0].erased == 1
    with db.transaction() as session:
        assert session.scalar(select(Contact).where(Contact.email == ANNA)) is None
        with pytest.raises(LookupError):
            export_person(session, ANNA)
        # and no campaign ever reaches the placeholder
        campaign = service.create_campaign(
            session,
            settings,
            app.extensions["mailer.templates"],
            meeting_slug="falun",
            template="reminder",
            audience=Audience(all=True),
        )
        service.start(session, campaign)
        status = service.status(session, campaign)
    assert status.recipients == 1  # Bengt only


def test_retention_anonymises_old_answers_but_keeps_figures(db, scene):
    _, meeting_id, _ = scene
    with db.transaction() as session:
        nothing = anonymise_expired(session, 24, now=dt.datetime(YEAR, 3, 5, tzinfo=dt.UTC))
        done = anonymise_expired(session, 24, now=dt.datetime(YEAR + 2, 4, 1, tzinfo=dt.UTC))
        response = session.scalar(select(Response))
        assert response.contact_id is None and response.answer.value == "yes"
        assert [given.value for given in response.answers] in ([], [None])  # the diet answer is gone
    assert nothing.meetings == 0 and (done.meetings, done.responses, done.evaluations) == (1, 1, 1)


def test_retention_clears_answers_to_a_series_questions_once(db, app, make_meeting):
    """A session's diet answer belongs to its series' question, which leads to no meeting: the
    answer is found through its response. A second run finds nothing left to do (SQL NULL, not
    JSON null)."""
    tz = app.extensions["mailer.settings"].timezone
    make_meeting(slug="kurs-falun", starts=f"{YEAR}-03-04 18:00")
    with db.transaction() as session:
        series = create_series(session, slug="kurs", title="Utbildning")
        meeting = add_session(session, series, "kurs-falun")
        anna = Contact(email=ANNA, name="Anna Andersson")
        session.add(anna)
        session.flush()
        record_answer(session, anna, meeting, {"answer": "yes", "diet": "glutenfri"}, tz)
    later = dt.datetime(YEAR + 2, 4, 1, tzinfo=dt.UTC)
    with db.transaction() as session:
        first = anonymise_expired(session, 24, now=later)
        second = anonymise_expired(session, 24, now=later)
        values = session.scalars(select(QuestionAnswer.value)).all()
        history = session.scalars(select(ResponseChange.answers)).all()
    assert first.rows["question_answers"] == 1 and values == [None]
    assert history and set(history) == {None}
    assert second.rows["question_answers"] == 0 and second.rows["response_history"] == 0


def test_the_workers_nightly_job_anonymises_by_retention_months_and_logs_no_address(
    db, app, make_csv, make_meeting, cli_env
):
    """The scheduled job in a real worker, its period from MAILER_RETENTION_MONTHS, its log read."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    from mailer.db import utcnow
    from mailer.worker.scheduler import RETENTION_JOB, build_scheduler, ensure_retention_job

    settings = app.extensions["mailer.settings"]
    with db.transaction() as session:
        import_lists(session, [make_csv("kor.csv", f"email,name\n{ANNA},Anna A\n")])
    held = make_meeting(
        slug="forr", starts=(utcnow() - dt.timedelta(days=70)).astimezone(settings.timezone).strftime("%Y-%m-%d 18:00")
    )
    with db.transaction() as session:
        anna = session.scalar(select(Contact).where(Contact.email == ANNA))
        record_answer(
            session,
            anna,
            session.get(Meeting, held.id),
            {"answer": "yes", "diet": "vegan"},
            settings.timezone,
            now=held.starts_at - dt.timedelta(days=7),
        )
    scheduler = build_scheduler(db, settings)  # stored as a worker stores it, due an hour ago
    scheduler.start(paused=True)
    ensure_retention_job(scheduler, settings)
    scheduler.shutdown(wait=True)
    store = SQLAlchemyJobStore(engine=db.engine, tablename="apscheduler_jobs")
    store.start(scheduler, "default")

    def worker(months: int) -> str:
        job = store.lookup_job(RETENTION_JOB)
        job.next_run_time = utcnow() - dt.timedelta(hours=1)
        store.update_job(job)
        env = {**os.environ, **cli_env, "MAILER_RETENTION_MONTHS": str(months)}
        result = subprocess.run(
            [sys.executable, "-m", "mailer", "worker", "--until-idle"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout + result.stderr

    assert "0 answers and 0 evaluations of 0 old meetings anonymised" in worker(24)  # the default keeps it
    with db.transaction() as session:
        assert session.scalar(select(Response)).contact_id is not None
    log = worker(1)  # 70 days ago is older than one month
    assert "1 answers and 0 evaluations of 1 old meetings anonymised" in log
    assert ANNA not in log and "/r/" not in log
    with db.transaction() as session:
        response = session.scalar(select(Response))
        assert response.contact_id is None and response.answer.value == "yes"
        assert [given.value for given in response.answers] in ([], [None])


def test_cli_forget_export_and_audit(runner, scene):
    exported = runner.invoke(["contacts", "export-person", ANNA])
    assert exported.exit_code == 0 and json.loads(exported.output)["contact"]["email"] == ANNA
    refused = runner.invoke(["contacts", "forget", ANNA], input="n\n")
    assert refused.exit_code == 1 and "mailer: nothing was erased" in refused.output
    done = runner.invoke(["contacts", "forget", ANNA, "--yes"])
    assert done.exit_code == 0 and "erased contact" in done.output
    missing = runner.invoke(["contacts", "forget", ANNA, "--yes"])
    assert missing.exit_code == 1 and "no contact" in missing.output
    audit = json.loads(runner.invoke(["audit", "--json"]).output)
    assert [a["action"] for a in audit][:2] == ["contacts.forget", "contacts.export_person"]
    assert all(ANNA not in json.dumps(a) for a in audit)


def test_export_erasure_and_revoking_links_find_a_contact_by_the_same_rules(runner, scene):
    """One lookup (contacts.queries.find_contact): an address as a person types it finds the contact."""
    typed = " Anna@KOR.example.org "
    exported = runner.invoke(["contacts", "export-person", typed])
    assert exported.exit_code == 0 and json.loads(exported.output)["contact"]["email"] == ANNA
    revoked = runner.invoke(["contacts", "revoke-links", typed])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    for command in (["contacts", "export-person"], ["contacts", "revoke-links"], ["contacts", "forget", "--yes"]):
        missing = runner.invoke([*command, " Nobody@Example.org "])
        assert missing.exit_code == 1 and "no contact with address 'Nobody@Example.org'" in missing.output, command


def test_audit_records_imports_and_campaign_actions(runner, db, make_csv, make_meeting):
    make_meeting(slug="gavle")
    runner.invoke(["contacts", "import", make_csv("teater.csv", "email\nx@teater.example.org\n")])
    runner.invoke(["contacts", "import", "--dry-run", make_csv("teater.csv", "email\ny@teater.example.org\n")])
    created = runner.invoke(["campaigns", "create", "--meeting", "gavle", "--template", "invitation", "--all"])
    runner.invoke(["campaigns", "cancel", created.stdout.strip()])
    with db.transaction() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["contacts.import", "campaigns.create", "campaigns.cancel"]  # a dry run changes nothing


def test_logs_never_carry_tokens_or_addresses(caplog):
    line = redact("Exception on /r/WyJhYmMiLCJkZWYiXQ.sig-abc_123 [POST] for anna.andersson@kor.example.org")
    assert "WyJh" not in line and "anna.andersson@" not in line
    assert line == "Exception on /r/… [POST] for a…@kor.example.org"
    logger = logging.getLogger("mailer.test")
    handler = logging.Handler()
    records = []
    handler.emit = records.append
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        logger.error("answer from %s on /u/%s", "bengt@kor.example.org", "WyJhYmMiXQ.signature")
    finally:
        logger.removeHandler(handler)
    assert records[0].getMessage() == "answer from b…@kor.example.org on /u/…"
