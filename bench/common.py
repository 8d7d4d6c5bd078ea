"""What every benchmark needs: a throw-away instance, the `mailer` command, Postfix's SMTP
sink and source, a load generator, and a clock.

Benchmarks are scripts, never timed tests: they print figures and ratios measured in one
run on one machine, each divided by a ceiling measured in the same run (see run.py).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-key-0123456789abcdef"
TOOLS = {"smtp-sink": "postfix", "smtp-source": "postfix", "wrk": "wrk"}


def which(tool: str) -> str | None:
    return shutil.which(tool) or next((str(p) for p in (Path("/usr/sbin") / tool,) if p.exists()), None)


def ensure_tools(tools: dict[str, str] = TOOLS) -> None:
    """Postfix's smtp-sink/smtp-source and wrk (or `tools`: command -> Debian package) come from
    Debian; install them when missing."""
    missing = sorted({package for tool, package in tools.items() if which(tool) is None})
    if not missing:
        return
    root = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"bench: installing {', '.join(missing)} (Debian packages)", file=sys.stderr)
    subprocess.run([*root, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*root, "apt-get", "install", "-y", "-qq", *missing], check=True, env=env, stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


class Instance:
    """A fresh instance folder (SQLite by default, or `database_url`) and the `mailer` command on it."""

    def __init__(self, folder: Path, database_url: str | None = None, **settings: str):
        self.folder = folder
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
        self.env.update(
            MAILER_INSTANCE_PATH=str(folder / "instance"),
            MAILER_SECRET_KEY=SECRET,
            MAILER_BASE_URL="https://mailer.example.org",
            MAILER_FROM="Ax <info@ax.example.org>",
            MAILER_TEMPLATES_PATH=str(ROOT / "templates" / "email"),
        )
        if database_url:
            self.env["MAILER_DATABASE_URL"] = database_url
        self.env.update({f"MAILER_{k.upper()}": str(v) for k, v in settings.items()})
        self.mailer("init")

    def mailer(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "mailer", *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            **kwargs,
        )
        if result.returncode not in (0, 1):
            raise RuntimeError(f"mailer {' '.join(args)}: {result.returncode}\n{result.stderr[-2000:]}")
        return result

    def app(self):
        """The app in this process, over the same instance (for setting data up quickly)."""
        from mailer.app import create_app

        old = dict(os.environ)
        os.environ.update(self.env)
        try:
            return create_app()
        finally:
            os.environ.clear()
            os.environ.update(old)


def meeting_day(days_ahead: int = 280) -> dt.date:
    """A day some months from today. Why: a fixed date passes, and a past meeting takes no answers."""
    return dt.date.today() + dt.timedelta(days=days_ahead)


def people_and_meeting(instance: Instance, folder: Path, people: int, *options: str) -> list[str]:
    """`people` people on one list, a meeting "bench" in Falun (`options`: more `meetings add`
    options), and each person's answer page path."""
    import urllib.parse

    from sqlalchemy import select

    from mailer.contacts.models import Contact
    from mailer.mail.context import links
    from mailer.meetings.models import Meeting

    lines = ["email,name"] + [f"svar{number}@example.org,Svar {number}" for number in range(people)]
    (folder / "svar.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    instance.mailer("contacts", "import", str(folder / "svar.csv"))
    starts = f"{meeting_day().isoformat()} 18:00"
    instance.mailer("meetings", "add", "--slug", "bench", "--title", "Dialogträff", "--region", "Dalarna",
                    "--city", "Falun", "--starts", starts, *options)  # fmt: skip
    app = instance.app()
    db, settings = app.extensions["mailer.db"], app.extensions["mailer.settings"]
    with db.transaction() as session:
        meeting = session.scalar(select(Meeting))
        paths = [
            urllib.parse.urlsplit(links(settings, contact, meeting)["rsvp_url"]).path
            for contact in session.scalars(select(Contact))
        ]
    db.dispose()
    return paths


@contextmanager
def serving(instance: Instance, port: int, command: list[str] | None = None, log: Path | None = None) -> Iterator[None]:
    """`mailer serve` (or `command`) on `port` over the instance, until the block ends."""
    server = subprocess.Popen(
        command or [sys.executable, "-m", "mailer", "serve", "--port", str(port)],
        env=instance.env,
        cwd=instance.folder,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab") if log else subprocess.DEVNULL,
    )
    try:
        try:
            wait_port(port)
        except RuntimeError:
            if log:
                print(log.read_text()[-3000:], file=sys.stderr)
            raise
        yield
    finally:
        server.terminate()
        server.wait()


@contextmanager
def workspace() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="mailer-bench-") as folder:
        yield Path(folder)


@contextmanager
def smtp_sink(port: int) -> Iterator[subprocess.Popen]:
    """Postfix's smtp-sink: accepts and discards everything, as fast as the machine allows."""
    command = [which("smtp-sink"), *(["-u", "nobody"] if os.geteuid() == 0 else []), f"127.0.0.1:{port}", "1000"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        yield process
    finally:
        process.terminate()
        process.wait()


def smtp_source_rate(port: int, messages: int, size: int = 15_000, sessions: int = 2) -> float:
    """Messages a second that Postfix's smtp-source puts into the sink over reused connections."""
    start = time.perf_counter()
    subprocess.run(
        [
            which("smtp-source"),
            "-d",
            "-s",
            str(sessions),
            "-m",
            str(messages),
            "-l",
            str(size),
            "-f",
            "bench@ax.example.org",
            "-t",
            "sink@example.org",
            f"127.0.0.1:{port}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return messages / (time.perf_counter() - start)


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )
