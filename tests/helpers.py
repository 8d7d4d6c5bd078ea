"""Plain helpers shared by the tests: dates relative to today, waiting on a condition, and a
browser (`Browser`) for tests and benchmarks against a real `mailer serve`.

Why: a test that names a fixed year starts failing the day that year has passed, and a test
that sleeps a fixed time fails on a busy machine. Tests take their dates from here, so the
whole suite keeps passing with the clock set years ahead (see the note in conftest.py), and
they wait with `wait_until`, which returns as soon as the condition holds.
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest

STOCKHOLM = ZoneInfo("Europe/Stockholm")

Value = TypeVar("Value")


def today() -> dt.date:
    """Today's date in Stockholm, the zone meetings are entered in."""
    return dt.datetime.now(STOCKHOLM).date()


def future_year(years: int = 2) -> int:
    """A year that is still ahead: every date in it (1 January included) lies in the future.

    Tests that need a date with a given month and day (a summer-time meeting, a night the
    clocks change) use this year, so their meaning stays while today moves on.
    """
    return today().year + years


def past_year(years: int = 1) -> int:
    """A year wholly behind us (for meetings that have taken place and reports over them)."""
    return today().year - years


def future(days: int = 30, hour: int = 18, minute: int = 0) -> dt.datetime:
    """That many days after today, at that local Stockholm time (aware)."""
    day = today() + dt.timedelta(days=days)
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=STOCKHOLM)


def past(days: int = 30, hour: int = 18, minute: int = 0) -> dt.datetime:
    """That many days before today, at that local Stockholm time (aware)."""
    return future(-days, hour, minute)


def next_weekday(weekday: int) -> dt.date:
    """The first date after today with that weekday (0 = Monday), at least a day ahead."""
    start = today() + dt.timedelta(days=1)
    return start + dt.timedelta(days=(weekday - start.weekday()) % 7)


def stamp(moment: dt.datetime) -> str:
    """'YYYY-MM-DD HH:MM', as the CLI's --starts/--send-at and make_meeting(starts=...) take it."""
    return moment.strftime("%Y-%m-%d %H:%M")


def iso_day(value: dt.date | dt.datetime) -> str:
    """'YYYY-MM-DD', as the CLI's --rsvp-by and the web's date fields take it."""
    return value.strftime("%Y-%m-%d")


def local(text: str) -> dt.datetime:
    """'YYYY-MM-DD HH:MM' read as Stockholm time (aware)."""
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=STOCKHOLM)


def when(starts: str, ends: str | None = None, language: str = "sv") -> str:
    """How the app writes a meeting's time, e.g. 'tisdag 16 september <year> kl. 18.00–20.00'.

    `starts` is 'YYYY-MM-DD HH:MM' in Stockholm, `ends` the same or just 'HH:MM' on that day;
    weekday and month names come from the app's own formatter, never typed into a test.
    """
    from mailer.i18n import format_when

    start = local(starts)
    end = None
    if ends is not None:
        end = local(ends if len(ends) > 5 else f"{starts[:10]} {ends}")
    return format_when(start, end, STOCKHOLM, language)


def day(date: str, language: str = "sv") -> str:
    """How the app names a day, e.g. 'tisdag 16 september <year>' for '<year>-09-16' (the app's own formatter)."""
    from mailer.i18n import format_day

    return format_day(dt.date.fromisoformat(date), STOCKHOLM, language)


def last_sunday(year: int, month: int) -> dt.date:
    """The last Sunday of that month: EU clocks go forward in March and back in October then."""
    day = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
    return day - dt.timedelta(days=(day.weekday() - 6) % 7)


def wait_until(
    predicate: Callable[[], Value],
    timeout: float = 30.0,
    what: str = "the condition",
    interval: float = 0.05,
    detail: Callable[[], str] | None = None,
) -> Value:
    """Poll `predicate` until it returns something true, and return that; fail the test after `timeout` s
    (with `detail()`, e.g. a server's log, in the message).

    Why: a fixed sleep is too short on a loaded machine and too long everywhere else.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}" + (f":\n{detail()}" if detail else ""))
        time.sleep(interval)


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextmanager
def tmpfs(folder: Path, size: str = "256k", read_only: bool = False, owner: int | None = None) -> Iterator[Path]:
    """A small RAM disk at `folder` (root only): the way to fill a disk or make it read-only for real.

    `owner`: the uid (and its group) that owns the disk's top folder, e.g. the PostgreSQL server's."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs to fill a disk needs root (CI runs as root)")
    options = f"size={size}" + (",ro" if read_only else "")
    if owner is not None:
        import pwd

        options += f",uid={owner},gid={pwd.getpwuid(owner).pw_gid},mode=0700"
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill_disk(folder: Path) -> Path:
    """Write zeros into `folder` until its disk is full to the last byte; the file to delete to free it."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, bytes(4096)):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


class Browser:
    """One browser against a real server: its own cookies, a new connection per request (so gunicorn
    spreads them over its processes), optionally from a chosen loopback source address; redirects are
    not followed. The one HTTP client of the process tests (process_helpers) and the contention load
    (contention_load, also run by bench/contention.py).
    """

    def __init__(self, base: str, source: str | None = None, timeout: float = 120):
        parts = urllib.parse.urlsplit(base)
        self.host, self.port, self.source, self.timeout = parts.hostname, parts.port, source, timeout
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> tuple[int, str]:
        headers = {"Connection": "close"}
        if content_type:
            headers["Content-Type"] = content_type
        if self.cookies:
            headers["Cookie"] = self.cookie_header()
        connection = http.client.HTTPConnection(
            self.host, self.port, timeout=self.timeout, source_address=(self.source, 0) if self.source else None
        )
        try:
            connection.request(method, path, body=body, headers=headers)
            reply = connection.getresponse()
            text = reply.read().decode("utf-8", "replace")
            for header in reply.headers.get_all("Set-Cookie") or []:
                name, _, value = header.split(";", 1)[0].partition("=")
                self.cookies[name.strip()] = value.strip()
            return reply.status, text
        finally:
            connection.close()

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def get(self, path: str) -> tuple[int, str]:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str]) -> tuple[int, str]:
        return self.request("POST", path, urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded")

    def open_form(self, path: str) -> str:
        """GET a page with a form and return its CSRF token (the test fails if there is none)."""
        status, page = self.get(path)
        match = CSRF.search(page)
        if status != 200 or match is None:
            raise AssertionError(f"GET {path}: {status} without a form: {page[:300]}")
        return match.group(1)

    def log_in(self, email: str, password: str) -> int:
        return self.post(
            "/staff/login", {"csrf_token": self.open_form("/staff/login"), "email": email, "password": password}
        )[0]

    def upload(self, data: bytes, org: str) -> tuple[int, str]:
        """A contact list for a new organisation through the staff upload form (multipart)."""
        boundary = uuid.uuid4().hex
        token = self.open_form("/staff/upload")
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in (("csrf_token", token), ("org", ""), ("new_org", org))
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{org}.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request("POST", "/staff/upload", body, f"multipart/form-data; boundary={boundary}")


def send_everything(db, settings, templates) -> None:
    """Run the sender until nothing is due: every queued message goes out (to the file outbox here)."""
    from mailer.worker.sender import Sender

    sender = Sender(db, settings, templates)
    try:
        while sender.run_once().claimed:
            pass
    finally:
        sender.close()
