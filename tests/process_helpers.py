"""Helpers for the tests that run `mailer worker` and `mailer serve` as real processes
(test_faults, test_load, test_operations, test_worker_health): starting and stopping them,
waiting on what they do, and a few scenes (people, a campaign) as fixtures.

Registered as a pytest plugin from conftest.py, so its fixtures (`people`, `campaign`) need
no import; the plain functions are imported by name.
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import Browser, wait_until
from smtp_server import free_port

from mailer.campaigns import service
from mailer.campaigns.audience import Audience
from mailer.campaigns.models import Campaign, CampaignState
from mailer.contacts.importer import import_lists

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("MAILER_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
HIGH_LIMIT = "100000 per minute;100000 per hour"


@pytest.fixture
def people(db, make_csv) -> Callable[..., None]:
    def make(count: int, org: str = "stor") -> None:
        rows = "".join(f"person{i}@{org}.example.org,Person {i}\n" for i in range(count))
        with db.transaction() as session:
            import_lists(session, [make_csv(f"{org}.csv", "email,name\n" + rows)])

    return make


@pytest.fixture
def campaign(db, app, make_meeting) -> Callable[..., int]:
    """campaign(org, start=True|False, send_at=...) -> id of an invitation campaign to that org."""
    settings, templates = app.extensions["mailer.settings"], app.extensions["mailer.templates"]
    meeting = make_meeting(slug="lulea", title="Dialogträff i Luleå", city="Luleå", region="Norrbotten")

    def make(org: str = "stor", start: bool = False, send_at: dt.datetime | None = None) -> int:
        with db.transaction() as session:
            c = service.create_campaign(
                session,
                settings,
                templates,
                meeting_slug=meeting.slug,
                template="invitation",
                audience=Audience(orgs=[org]),
            )
            if start:
                service.start(session, c)
            elif send_at is not None:
                c.state, c.send_at = CampaignState.SCHEDULED, send_at
            return c.id

    return make


def worker_env(cli_env: dict[str, str], smtp_url: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
    env.update(cli_env, MAILER_SMTP_URL=smtp_url, MAILER_SEND_RATE_PER_MINUTE="60000", MAILER_SEND_BATCH_SIZE="50")
    env.update(settings)
    return env


@contextmanager
def worker(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """`mailer worker` (the long-running service) until the block ends: then SIGTERM, a clean stop."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mailer", "worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert process.returncode in (0, -signal.SIGKILL), log_path.read_text(errors="replace")[-3000:]


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.05) -> None:
    """wait_until with the wording these tests have always used."""
    wait_until(condition, timeout=timeout, what=what, interval=interval)


def campaign_status(db, campaign_id: int):
    with db.transaction() as session:
        return service.status(session, session.get(Campaign, campaign_id))


def finished(db, campaign_id: int) -> bool:
    return campaign_status(db, campaign_id).state == "finished"


def loopback_address() -> str:
    """A random address in 127.0.0.0/8: Linux routes the whole block to the loopback device."""
    rng = random.SystemRandom()
    return f"127.{rng.randint(1, 254)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


@dataclass
class Server:
    base: str
    process: subprocess.Popen
    log_path: Path
    source: str = field(default_factory=loopback_address)

    def visitor(self) -> Browser:
        return Browser(self.base, self.source)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def mailer_server(cli_env: dict[str, str], workers: int = 3, threads: int = 8, **settings: str) -> Iterator[Server]:
    """`mailer serve --workers N` over the test database; `settings` are extra MAILER_* variables."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
    env.update(cli_env, MAILER_BASE_URL=base, MAILER_RATELIMIT_STORAGE_URL=REDIS_URL, **settings)
    log_path = Path(cli_env["MAILER_INSTANCE_PATH"]) / f"serve-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mailer",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--threads",
                str(threads),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:

            def healthy() -> bool:
                if process.poll() is not None:
                    pytest.fail(f"mailer serve stopped:\n{log_path.read_text(errors='replace')}")
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    try:
                        connection.request("GET", "/healthz")
                        return connection.getresponse().status == 200
                    finally:
                        connection.close()
                except OSError:
                    return False

            wait_until(
                healthy,
                timeout=60,
                what="mailer serve to answer /healthz",
                interval=0.1,
                detail=lambda: log_path.read_text(errors="replace"),
            )
            yield Server(base, process, log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def at_once(count: int, prepare: Callable[[int], Callable[[], object]], concurrency: int | None = None) -> list:
    """Run `prepare(i)` for each i, then every returned action released by one barrier at once."""
    concurrency = concurrency or count
    gate = threading.Barrier(min(count, concurrency))

    def run(i: int):
        try:
            action = prepare(i)
        except BaseException:
            gate.abort()  # the others stop waiting at once
            raise
        if i < concurrency:
            gate.wait(timeout=300)
        return action()

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(run, range(count)))


def shared_count(key: str) -> int:
    """A counter as the server processes left it in Redis (limits' key layout)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.get(f"LIMITS:{key}") or 0)
    finally:
        client.close()


def assert_clean_log(server: Server) -> None:
    log = server.log()
    for bad in ("Traceback", "database is locked", "Error handling request", "WORKER TIMEOUT"):
        assert bad not in log, log[-3000:]
