"""Streaming import (issue 18, point 6): a large list is read row by row in constant memory,
and long commands show progress on a terminal and stay quiet in a pipe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailer.contacts.models import Contact, Organisation

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import resource, subprocess, sys; "
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)"
)


def write_list(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.write("e-post;namn;roll;språk\n")
        for i in range(rows):
            out.write(f"medlem{i}@{path.stem}.example.org;Anna Andersson {i};ledamot;{'en' if i % 10 == 0 else 'sv'}\n")
    return path


def peak_rss_mb(env: dict[str, str], *args: str) -> float:
    """Peak resident memory of one `mailer` command, measured by the kernel in its own parent."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, sys.executable, "-m", "mailer", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert out[1] == "0", out
    return int(out[0]) / 1024  # Linux: KiB


@pytest.mark.slow
def test_memory_does_not_grow_with_the_rows(app, cli_env, tmp_path):
    small = write_list(tmp_path / "liten.csv", 10_000)
    large = write_list(tmp_path / "stor.csv", 50_000)
    small_mb = peak_rss_mb(cli_env, "contacts", "import", str(small))
    large_mb = peak_rss_mb(cli_env, "contacts", "import", str(large))
    # Before streaming, every row cost about 1.6 KB (40,000 more rows: ~65 MB more). Now what
    # grows is the set of addresses seen (~0.3 KB a row); generous, so as not to be flaky.
    assert large_mb - small_mb < 30, (small_mb, large_mb)


def run_with_stderr_on_a_terminal(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run `mailer` with stderr on a pseudo-terminal (as in an interactive shell), stdout on a pipe."""
    master, slave = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "mailer", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=slave,
        text=True,
    )
    os.close(slave)
    terminal = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # Linux: EIO once the child closed its end
            break
        if not chunk:
            break
        terminal += chunk
    with process.stdout:
        stdout = process.stdout.read()
    os.close(master)
    return process.wait(timeout=120), stdout, terminal.decode()


def test_import_shows_progress_on_a_terminal_only(app, cli_env, tmp_path):
    path = write_list(tmp_path / "korforbundet.csv", 4_500)
    code, stdout, terminal = run_with_stderr_on_a_terminal(cli_env, "contacts", "import", str(path))
    assert code == 0, terminal
    assert "korforbundet.csv: 4500 new" in stdout and "rows/s" not in stdout  # the report stays clean
    shown = terminal.replace(" 500", ",500")
    assert "\rchecked 4,500 rows, " in shown and "\rwritten 4,500 rows, " in shown and " rows/s, " in shown
    assert shown.index("\rchecked 4,500 rows, ") < shown.index("\rwritten ")  # each pass under its own name

    piped = subprocess.run(
        [sys.executable, "-m", "mailer", "contacts", "import", str(path)],
        cwd=ROOT,
        env={**os.environ, **cli_env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert piped.returncode == 0 and "4500 unchanged" in piped.stdout
    assert piped.stderr == "" and "\r" not in piped.stdout  # quiet in a pipe


def test_a_broken_row_late_in_a_large_file_imports_nothing_from_it(runner, db, tmp_path):
    """Rows are written batch by batch, yet a file that turns out unreadable at its end leaves nothing."""
    path = write_list(tmp_path / "sent.csv", 5_000)
    with path.open("a", encoding="utf-8") as out:
        out.write('trasig@example.org;"Ett citat som aldrig slutar\n')
    result = runner.invoke(["contacts", "import", path])
    assert result.exit_code == 2
    assert "sent.csv: not imported: line 5002: broken CSV quoting" in result.stdout
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 0
        assert session.scalar(select(func.count()).select_from(Organisation)) == 0
