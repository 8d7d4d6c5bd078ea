"""Several `mailer worker` processes on one PostgreSQL database, for real: they share the
sending and the rate limit, exactly one runs the scheduler, and when it is killed another takes
over and the next scheduled job still runs once."""

from __future__ import annotations

import collections
import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from helpers import wait_until
from sqlalchemy import select, text

from mailer.campaigns import service
from mailer.campaigns.audience import Audience
from mailer.campaigns.models import Campaign, CampaignState
from mailer.contacts.importer import import_lists
from mailer.db import utcnow
from mailer.outbox.models import OutboxMessage

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
RATE = 3000  # a minute, for all workers together: 50 a second
MESSAGE_ID = re.compile(rb"^Message-ID: *(<[^>\r\n]+>)", re.MULTILINE | re.IGNORECASE)


class TimedList(list):
    """The test server's `received`, noting when each message was accepted."""

    def __init__(self):
        super().__init__()
        self.times: list[float] = []

    def append(self, item) -> None:
        self.times.append(time.monotonic())
        super().append(item)


@pytest.fixture
def people(db, make_csv) -> Callable[[int, str], None]:
    def make(count: int, org: str) -> None:
        rows = "".join(f"person{i}@{org}.example.org,Person {i}\n" for i in range(count))
        with db.transaction() as session:
            import_lists(session, [make_csv(f"{org}.csv", "email,name\n" + rows)])

    return make


@pytest.fixture
def scheduled(db, app, make_meeting) -> Callable[[str, dt.datetime], int]:
    """scheduled(org, send_at) -> id of an invitation campaign to that org, scheduled then."""
    settings, templates = app.extensions["mailer.settings"], app.extensions["mailer.templates"]
    meeting = make_meeting(slug="umea", title="Dialogträff i Umeå", city="Umeå", region="Västerbotten")

    def make(org: str, send_at: dt.datetime) -> int:
        with db.transaction() as session:
            campaign = service.create_campaign(
                session,
                settings,
                templates,
                meeting_slug=meeting.slug,
                template="invitation",
                audience=Audience(orgs=[org]),
            )
            campaign.state, campaign.send_at = CampaignState.SCHEDULED, send_at
            return campaign.id

    return make


@contextmanager
def workers(cli_env: dict[str, str], smtp_url: str, logs: list[Path]) -> Iterator[list[subprocess.Popen]]:
    """One `mailer worker -v` per log file; SIGTERM (a clean stop) for those still running at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
    env.update(cli_env, MAILER_SMTP_URL=smtp_url, MAILER_SEND_RATE_PER_MINUTE=str(RATE), MAILER_SEND_BATCH_SIZE="10")
    with ExitStack() as stack:
        processes = []
        for log in logs:
            handle = stack.enter_context(log.open("ab"))
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "mailer", "worker", "-v"],
                    cwd=ROOT,
                    env=env,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                )
            )
        try:
            yield processes
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(timeout=60)
    for process, log in zip(processes, logs, strict=True):
        assert process.returncode in (0, -signal.SIGKILL), log.read_text(errors="replace")[-3000:]
        assert "Traceback" not in log.read_text(errors="replace")


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    wait_until(condition, timeout=timeout, what=what)
    return time.monotonic() - start


def state(db, campaign_id: int) -> CampaignState:
    with db.transaction() as session:
        return session.get(Campaign, campaign_id).state


def scheduler_pid(db) -> int | None:
    """The operator's way to see who schedules: the backend holding the advisory lock."""
    with db.transaction() as session:
        name = session.scalar(
            text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
    return int(name.rsplit(":", 1)[1]) if name else None


@POSTGRES_ONLY
def test_three_workers_share_sending_and_the_rate_and_a_killed_scheduler_is_replaced(
    db, cli_env, smtp_server, people, scheduled, instance_path
):
    people(150, "stor")
    people(30, "liten")
    smtp_server.received = TimedList()
    first = scheduled("stor", utcnow() - dt.timedelta(minutes=1))  # due: whoever schedules starts it
    logs = [instance_path / f"worker{i}.log" for i in range(3)]
    with workers(cli_env, smtp_server.url, logs) as processes:
        wait_for(lambda: state(db, first) is CampaignState.FINISHED, 90, "the first campaign to finish")
        pids = {p.pid for p in processes}
        leader = scheduler_pid(db)
        assert leader in pids
        second = scheduled("liten", utcnow() + dt.timedelta(seconds=4))  # the next scheduled job

        os.kill(leader, signal.SIGKILL)
        took = wait_for(lambda: scheduler_pid(db) not in (None, leader), 60, "another worker to take over")
        successor = scheduler_pid(db)
        wait_for(lambda: state(db, second) is CampaignState.FINISHED, 90, "the second campaign to finish")

    # Every recipient of both campaigns got exactly one message.
    counts = collections.Counter(smtp_server.recipients())
    assert counts == {
        **{f"person{i}@stor.example.org": 1 for i in range(150)},
        **{f"person{i}@liten.example.org": 1 for i in range(30)},
    }
    ids = collections.Counter(MESSAGE_ID.search(r.data).group(1) for r in smtp_server.received)
    assert set(ids.values()) == {1}
    # The next scheduled job ran once, in the worker that took over.
    texts = {p.pid: log.read_text(errors="replace") for p, log in zip(processes, logs, strict=True)}
    assert sum(t.count(f"campaign {second}: started") for t in texts.values()) == 1
    assert f"campaign {second}: started" in texts[successor]
    assert sum(t.count("scheduler role taken") for t in texts.values()) == 2
    # The sending was shared: every worker sent batches of the first campaign.
    assert all("batch of" in t for t in texts.values()), {pid: t.count("batch of") for pid, t in texts.items()}
    # The rate held for all three together: 150 messages at 50 a second take ~3 s, not ~1 s.
    first_times = smtp_server.received.times[:150]
    assert first_times[-1] - first_times[0] >= 149 / (RATE / 60) * 0.9
    print(
        f"\nscheduler killed, another took over in {took:.1f} s; 150 messages at {RATE}/min from three workers "
        f"took {first_times[-1] - first_times[0]:.1f} s"
    )


@POSTGRES_ONLY
def test_a_worker_killed_while_sending_leaves_its_rows_to_the_others(
    db, cli_env, smtp_server, people, scheduled, instance_path
):
    people(300, "stor")
    campaign = scheduled("stor", utcnow() - dt.timedelta(minutes=1))
    logs = [instance_path / f"worker{i}.log" for i in range(3)]
    with workers(cli_env, smtp_server.url, logs) as processes:
        wait_for(lambda: len(smtp_server.received) >= 60, 60, "the campaign to be under way")
        victim = next(p for p in processes if p.pid != scheduler_pid(db))
        victim.kill()
        victim.wait()
        wait_for(lambda: state(db, campaign) is CampaignState.FINISHED, 90, "the others to finish the campaign")
    counts = collections.Counter(smtp_server.recipients())
    assert set(counts) == {f"person{i}@stor.example.org" for i in range(300)}
    with db.transaction() as session:
        uncertain = len(session.scalars(select(OutboxMessage.id).where(OutboxMessage.uncertain.is_(True))).all())
    duplicates = sum(n - 1 for n in counts.values())
    assert duplicates <= uncertain <= 1  # the one message in flight at the kill, at most, and flagged
