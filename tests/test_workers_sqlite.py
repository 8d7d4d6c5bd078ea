"""SQLite allows one worker per database: a second one refuses to start, clearly, and the
first one's lock goes with its process however it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import wait_until

ROOT = Path(__file__).resolve().parent.parent
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def environment(cli_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
    env.update(cli_env)
    return env


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "mailer", "worker"], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
        )

    def started() -> bool:
        assert process.poll() is None, log.read_text(errors="replace")
        return "worker started" in log.read_text(errors="replace")

    wait_until(started, timeout=30, what="the worker to start", detail=lambda: log.read_text(errors="replace"))
    return process


def second_worker(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mailer", "worker", "--until-idle"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@SQLITE_ONLY
def test_a_second_worker_on_one_sqlite_database_refuses_to_start(app, cli_env, instance_path, database_url):
    env = environment(cli_env)
    first = start_worker(env, instance_path / "first.log")
    try:
        refused = second_worker(env)
        assert refused.returncode == 2
        assert "mailer: another worker" in refused.stderr and f"pid {first.pid}" in refused.stderr
        assert "SQLite allows one worker per database" in refused.stderr and "PostgreSQL" in refused.stderr
        assert "Traceback" not in refused.stderr
    finally:
        first.send_signal(signal.SIGKILL)  # however it ends, its lock ends with it
        first.wait()
    assert second_worker(env).returncode == 0

    first = start_worker(env, instance_path / "again.log")
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 0
    assert second_worker(env).returncode == 0
