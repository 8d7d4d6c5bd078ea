"""Faults, each against real processes: `mailer worker` and `mailer serve` subprocesses, a real
SMTP server (aiosmtpd) counting what it receives, the test database (SQLite; PostgreSQL too
where the fault is not SQLite's own).

The promise under test: no answer is lost, nobody gets the same mail twice, except the one
message per killed worker that SMTP cannot rule out (the in-flight window), which the kill
test measures and prints.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from helpers import wait_until
from process_helpers import (
    HIGH_LIMIT,
    ROOT,
    assert_clean_log,
    at_once,
    campaign_status,
    finished,
    mailer_server,
    wait_for,
    worker,
    worker_env,
)
from rsvp_fixtures import links_for
from smtp_server import Handler, SMTPTestServer, free_port
from sqlalchemy import func, select

from mailer.campaigns.models import Campaign
from mailer.contacts.models import Contact
from mailer.db import utcnow
from mailer.digest.models import DigestRun
from mailer.meetings.models import Meeting
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.rsvp.models import Answer, Response, ResponseChange
from mailer.rsvp.service import record_answer
from mailer.worker.scheduler import DIGEST_JOB, build_scheduler, ensure_digest_job
from mailer.worker.sender import Sender

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
STAFF = "kansli@ax.example.org"
MESSAGE_ID = re.compile(rb"^Message-ID: *(<[^>\r\n]+>)", re.MULTILINE | re.IGNORECASE)


# -- helpers -----------------------------------------------------------------------------------


def rows_of(db, campaign_id: int) -> list[OutboxMessage]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.campaign_id == campaign_id).order_by(OutboxMessage.id)
            )
        )


def message_ids(server: SMTPTestServer) -> collections.Counter:
    with server.lock:
        received = list(server.received)
    return collections.Counter(MESSAGE_ID.search(r.data).group(1).decode() for r in received)


def clean_log(path: Path) -> str:
    log = path.read_text(errors="replace")
    for bad in ("Traceback", "database is locked", "ERROR"):
        assert bad not in log, log[-3000:]
    return log


# -- the mail server is down when a campaign starts ----------------------------------------------


def test_mail_server_down_when_a_campaign_starts_then_back(db, cli_env, people, campaign, instance_path):
    """The worker starts the campaign on time, finds no server, uses up nothing, and sends
    everything once the server is back."""
    people(40)
    cid = campaign(send_at=utcnow() - dt.timedelta(seconds=5))  # due: the worker's scheduler starts it
    server = SMTPTestServer(free_port())  # its port, with nobody listening yet
    log_path = instance_path / "worker.log"
    try:
        with worker(worker_env(cli_env, server.url), log_path):
            wait_for(lambda: campaign_status(db, cid).state == "running", 30, "the worker to start the campaign")
            wait_for(
                lambda: log_path.read_text(errors="replace").count(f":{server.port}") >= 3,
                60,
                "the worker to try the unreachable server again, with growing back-off",
            )  # the log names host:port
            rows = rows_of(db, cid)
            assert len(rows) == 40
            assert {(r.state, r.attempts) for r in rows} == {(MessageState.QUEUED, 0)}  # nothing used up
            server.start()
            wait_for(lambda: finished(db, cid), 60, "the campaign to finish once the server is back")
    finally:
        server.stop()
    counts = collections.Counter(server.recipients())
    assert counts == {f"person{i}@stor.example.org": 1 for i in range(40)}
    assert {(r.state, r.attempts, r.uncertain) for r in rows_of(db, cid)} == {(MessageState.SENT, 1, False)}
    assert "Traceback" not in log_path.read_text(errors="replace")


# -- the mail server drops the connection every N messages ---------------------------------------


@SQLITE_ONLY  # a transport fault: the database plays no part
@pytest.mark.slow
def test_dropped_connections_every_20_messages_lose_nothing_and_duplicate_nothing(
    db, cli_env, smtp_server, people, campaign, instance_path
):
    """60 recipients, the server hangs up after every 20th message. The message after each hang-up
    finds the connection dead and goes at once on a new one; none is lost or sent twice."""
    people(60)
    cid = campaign(start=True)
    smtp_server.script.drop_every = 20
    log_path = instance_path / "worker.log"
    with worker(worker_env(cli_env, smtp_server.url), log_path):
        wait_for(lambda: finished(db, cid), 180, "the campaign to finish", interval=0.5)
    ids = message_ids(smtp_server)
    rows = rows_of(db, cid)
    assert sorted(ids.values()) == [1] * 60  # one message per row, never a second
    assert collections.Counter(smtp_server.recipients()) == {f"person{i}@stor.example.org": 1 for i in range(60)}
    assert {r.state for r in rows} == {MessageState.SENT}
    # A message that finds the connection closed goes on a new one at once, at no attempt's cost.
    retried = [r for r in rows if r.attempts > 1]
    assert retried == []
    clean_log(log_path)


def test_a_server_closing_after_every_message_costs_no_attempt(db, app, settings, smtp_server, people, campaign):
    people(6)
    cid = campaign(start=True)
    smtp_server.script.drop_every = 1
    sender = Sender(
        db,
        settings.with_overrides(smtp_url=smtp_server.url, send_rate_per_minute=60_000),
        app.extensions["mailer.templates"],
        delays=(0,),
    )
    try:
        while sender.run_once(cid).claimed:
            pass
    finally:
        sender.close()
    assert len(smtp_server.received) == 6
    assert {(r.state, r.attempts) for r in rows_of(db, cid)} == {(MessageState.SENT, 1)}


# -- the worker is killed again and again during a large campaign --------------------------------


class HoldingHandler(Handler):
    async def handle_DATA(self, smtp, session, envelope):
        reply = await super().handle_DATA(smtp, session, envelope)
        with self.server.lock:
            count = len(self.server.received)
        if count in self.server.hold:  # accepted (counted), but the client hears "250" only later
            await asyncio.sleep(self.server.hold[count])
        return reply


class HoldingServer(SMTPTestServer):
    """The test server, able to hold back its reply to the n-th message: a slow relay, which
    lets a kill land inside the in-flight window on purpose."""

    def __init__(self):
        super().__init__()
        self.hold: dict[int, float] = {}

    def start(self) -> HoldingServer:
        self.loop = asyncio.new_event_loop()
        self.controller = Controller(
            HoldingHandler(self),
            hostname="127.0.0.1",
            port=self.port,
            loop=self.loop,
            enable_SMTPUTF8=True,
            ready_timeout=10,
        )
        self.controller.start()
        return self


@pytest.mark.slow
def test_worker_killed_repeatedly_during_a_2000_recipient_campaign(db, cli_env, people, campaign, instance_path):
    """SIGKILL the worker ten times while it sends 2,000 invitations, restarting it each time.

    Four kills land on purpose inside the in-flight window (the server has accepted a message,
    the worker has not yet recorded it as sent: the server holds back its "250" for a second);
    the others land just after a random message or at a random time (start-up and recovery
    included). After each kill the test notes what the dead worker left in flight. At the end:
    every recipient has exactly one message, except those caught accepted-but-unrecorded, which
    have exactly one more, all flagged uncertain. The window per kill is printed.
    """
    recipients, kills_wanted = 2000, 10
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    people(recipients)
    cid = campaign(start=True)
    server = HoldingServer().start()
    env = worker_env(cli_env, server.url)
    log_path = instance_path / "worker.log"
    kills: list[dict] = []

    def settled_count() -> int:  # the server may still be reading the last bytes the dead worker sent
        seen = [-1]

        def unchanged() -> bool:  # no new message since the previous look, 0.3 s ago
            count = len(server.received)
            steady, seen[0] = count == seen[0], count
            return steady

        wait_until(unchanged, timeout=60, what="the server to stop receiving", interval=0.3)
        return seen[0]

    try:
        while len(kills) < kills_wanted and not finished(db, cid):
            mode = ("in window", "at a message", "at a time")[len(kills) % 3]
            with worker(env, log_path) as process:
                if mode == "at a time":  # perhaps while it starts up or recovers
                    time.sleep(rng.uniform(0.2, 1.5))  # the random moment of the kill, not a wait for anything
                else:
                    target = min(recipients, len(server.received) + rng.randint(60, 180))
                    if mode == "in window":
                        server.hold[target] = 1.0
                    wait_for(
                        lambda target=target: len(server.received) >= target or process.poll() is not None,
                        120,
                        f"{target} messages at the server",
                        interval=0.02,
                    )
                process.kill()
                process.wait()
            settled_count()
            ids = message_ids(server)
            in_flight = [r for r in rows_of(db, cid) if r.state is MessageState.SENDING]

            # Copies delivered by earlier attempts of the same row that were caught in flight too.
            before = {r.id: sum(r.id in k["accepted"] for k in kills) for r in in_flight}
            copies = {r.id: ids[r.message_id] for r in in_flight}
            kills.append(
                {
                    "mode": mode,
                    "in_flight": [r.id for r in in_flight],
                    "accepted": [r.id for r in in_flight if copies[r.id] > before[r.id]],
                }
            )
            # The window is one message per worker: the one between "sending" and "sent",
            # and that one attempt delivered at most one copy.
            assert len(in_flight) <= 1, kills[-1]
            assert all(copies[i] <= before[i] + 1 for i in copies), (kills[-1], copies, before)
            if mode == "in window":
                assert len(kills[-1]["accepted"]) == 1, kills[-1]

        result = subprocess.run(
            [sys.executable, "-m", "mailer", "worker", "--until-idle"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    finally:
        server.stop()

    status = campaign_status(db, cid)
    rows = rows_of(db, cid)
    ids = message_ids(server)
    assert len(kills) == kills_wanted, "the campaign finished before every kill: send more or kill sooner"
    assert status.state == "finished" and status.counts["sent"] == recipients
    assert set(server.recipients()) == {f"person{i}@stor.example.org" for i in range(recipients)}
    accepted_in_flight = collections.Counter(row_id for k in kills for row_id in k["accepted"])
    for row in rows:  # one message each, plus one for each time it was caught accepted-but-unrecorded
        assert ids[row.message_id] == 1 + accepted_in_flight[row.id], row.id  # a resend reuses the stored id
    duplicates = sum(n - 1 for n in ids.values())
    flagged = {row_id for k in kills for row_id in k["in_flight"]}
    assert duplicates == sum(accepted_in_flight.values()) >= 4
    assert status.uncertain == len(flagged) and {r.id for r in rows if r.uncertain} == flagged

    def tally(mode: str) -> str:
        chosen = [k for k in kills if k["mode"] == mode]
        return (
            f"{len(chosen)} {mode}: {sum(map(len, (k['in_flight'] for k in chosen)))} in flight, "
            f"{sum(map(len, (k['accepted'] for k in chosen)))} of them already accepted"
        )

    print(
        f"\nin-flight window (seed {seed}): {len(kills)} SIGKILLs during {recipients} recipients "
        f"({'; '.join(tally(mode) for mode in ('in window', 'at a message', 'at a time'))}). "
        f"{duplicates} recipient(s) got a second copy, each one of the {len(flagged)} row(s) flagged uncertain; "
        f"the other {recipients - duplicates} got exactly one. At most one message in flight per kill."
    )


# -- the web app and the worker write the SQLite database at the same time -----------------------


@SQLITE_ONLY
@pytest.mark.slow
def test_web_answers_and_worker_sending_share_sqlite_without_locked_errors_or_lost_writes(
    app, db, cli_env, smtp_server, people, campaign, instance_path
):
    """600 invitations go out (the worker commits twice per message) while 300 of those invited
    answer through `mailer serve` with 2 processes x 8 threads, and the worker sends their
    confirmations as they come in. No request fails, nothing is locked, nothing is lost."""
    people(600)
    cid = campaign(start=True)
    with db.transaction() as session:
        meeting = session.get(Campaign, cid).meeting_id
        session.get(Meeting, meeting).capacity = 150
        contacts = list(session.scalars(select(Contact.id).order_by(Contact.id)))[:300]
    wanted = {c: {"answer": "yes" if i % 4 else "no", "comment": f"svar {i}"} for i, c in enumerate(contacts)}
    paths = {c: links_for(app, c, meeting)["rsvp_url"] for c in contacts}
    log_path = instance_path / "worker.log"
    env = worker_env(cli_env, smtp_server.url, MAILER_SEND_RATE_PER_MINUTE="6000")  # 100 a second: ~6 s of writes
    with worker(env, log_path):
        with mailer_server(cli_env, workers=2, threads=8, MAILER_PUBLIC_RATE_LIMIT=HIGH_LIMIT) as server:
            wait_for(lambda: len(smtp_server.received) >= 30, 60, "the campaign to be under way")

            def prepare(i: int):
                cid_, visitor = contacts[i], server.visitor()
                token = visitor.open_form(paths[cid_])
                return lambda: (visitor.post(paths[cid_], {"csrf_token": token, **wanted[cid_]})[0], time.time())

            results = at_once(len(contacts), prepare, concurrency=32)
            assert_clean_log(server)
        yes = sum(f["answer"] == "yes" for f in wanted.values())
        wait_for(
            lambda: finished(db, cid) and len(smtp_server.received) >= 600 + yes,
            120,
            "the campaign and every confirmation to be sent",
        )
    clean_log(log_path)
    assert [status for status, _ in results] == [303] * len(contacts)

    with db.transaction() as session:
        stored = {r.contact_id: r for r in session.scalars(select(Response))}
        assert {c: (r.answer.value, r.comment) for c, r in stored.items()} == {
            c: (f["answer"], f["comment"]) for c, f in wanted.items()
        }
        assert session.scalar(select(func.count()).select_from(ResponseChange)) == len(contacts)
        places = session.scalar(
            select(func.count())
            .select_from(Response)
            .where(Response.answer == Answer.YES, Response.waitlisted.is_(False))
        )
        confirmations = session.scalars(select(OutboxMessage).where(OutboxMessage.campaign_id.is_(None))).all()
        invitations_sent = sorted(
            r.sent_at for r in session.scalars(select(OutboxMessage).where(OutboxMessage.campaign_id == cid))
        )
    assert places == 150
    assert len(confirmations) == yes and {m.state for m in confirmations} == {MessageState.SENT}
    assert sorted(message_ids(smtp_server).values()) == [1] * (600 + yes)  # each mail once
    answered_while_sending = sum(
        invitations_sent[0].timestamp() <= at <= invitations_sent[-1].timestamp() for _, at in results
    )
    print(
        f"\nSQLite shared: {answered_while_sending} of {len(contacts)} answers were recorded while the worker "
        f"was sending the campaign ({(invitations_sent[-1] - invitations_sent[0]).total_seconds():.1f} s)"
    )
    assert answered_while_sending >= len(contacts) // 2


# -- the worker is down over a scheduled send and over the weekly digest -------------------------


def test_worker_down_over_a_scheduled_send_and_a_digest_does_both_once_on_return(
    app, db, cli_env, smtp_server, people, campaign
):
    people(5)
    settings = app.extensions["mailer.settings"].with_overrides(staff_emails=(STAFF,))
    cid = campaign(send_at=utcnow() - dt.timedelta(hours=3))
    with db.transaction() as session:  # something for the digest to tell
        anna = session.scalar(select(Contact).where(Contact.email == "person0@stor.example.org"))
        record_answer(
            session,
            anna,
            session.get(Meeting, session.get(Campaign, cid).meeting_id),
            {"answer": "no"},
            settings.timezone,
            now=utcnow() - dt.timedelta(days=1),
        )
    # The worker ran last week and stored the weekly job; it was down when the job fell due.
    scheduler = build_scheduler(db, settings)
    scheduler.start(paused=True)
    ensure_digest_job(scheduler, settings)
    scheduler.shutdown(wait=True)
    store = SQLAlchemyJobStore(engine=db.engine, tablename="apscheduler_jobs")
    store.start(scheduler, "default")
    job = store.lookup_job(DIGEST_JOB)
    job.next_run_time = utcnow() - dt.timedelta(hours=2)
    store.update_job(job)
    store.shutdown()

    env = worker_env(cli_env, smtp_server.url, MAILER_STAFF_EMAILS=STAFF)
    for _ in range(2):  # back, then once more: nothing goes out twice
        result = subprocess.run(
            [sys.executable, "-m", "mailer", "worker", "--until-idle"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert collections.Counter(smtp_server.recipients()) == {  # person0 answered: not invited again
            **{f"person{i}@stor.example.org": 1 for i in range(1, 5)},
            STAFF: 1,
        }
    assert campaign_status(db, cid).state == "finished"
    (digest,) = smtp_server.to(STAFF)
    assert "Person 0" in digest.message.get_body(("plain",)).get_content()
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(DigestRun)) == 1
