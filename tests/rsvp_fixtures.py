"""Fixtures and helpers for the RSVP and unsubscribe tests: people, links, forms, a real server.

Registered as a pytest plugin from conftest.py: the fixtures (person, invite, live_server)
need no import; import the plain helpers (links_for, answer, ...) by name.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import wait_until
from smtp_server import free_port
from sqlalchemy import select

from mailer.campaigns.models import Campaign, CampaignState
from mailer.contacts.models import Contact
from mailer.mail.context import links
from mailer.meetings.models import Meeting
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.rsvp.models import Response
from mailer.worker.sender import Sender

ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def path_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def links_for(app, contact_id: int, meeting_id: int | None = None) -> dict[str, str]:
    """The links exactly as a mail to this person would carry them (paths only)."""
    settings = app.extensions["mailer.settings"]
    with app.extensions["mailer.db"].transaction() as session:
        contact = session.get(Contact, contact_id)
        meeting = session.get(Meeting, meeting_id) if meeting_id else None
        return {key: path_of(url) for key, url in links(settings, contact, meeting).items()}


def answer(client, path: str, **form: Any):
    """Open the page like a browser, then send the form with the page's CSRF token."""
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return client.post(path, data={"csrf_token": csrf_of(page.get_data(as_text=True)), **form})


def response_of(db, contact_id: int, meeting_id: int) -> Response | None:
    with db.transaction() as session:
        response = session.scalar(
            select(Response).where(Response.contact_id == contact_id, Response.meeting_id == meeting_id)
        )
        if response is not None:
            _ = response.history  # load it while the session is open
            _ = [given.question for given in response.answers]
        return response


def confirmations(db) -> list[dict]:
    with db.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.campaign_id.is_(None)).order_by(OutboxMessage.id)
        )
        return [{"contact_id": r.contact_id, "template": r.template, **r.extra["response"]} for r in rows]


def send_outbox(app, smtp_url: str) -> None:
    """Run the real Sender against a real SMTP server until nothing is due."""
    settings = app.extensions["mailer.settings"].with_overrides(smtp_url=smtp_url, send_rate_per_minute=60_000)
    sender = Sender(app.extensions["mailer.db"], settings, app.extensions["mailer.templates"])
    try:
        while sender.run_once().claimed:
            pass
    finally:
        sender.close()


@pytest.fixture
def person(db) -> Callable[..., int]:
    """person("anna@example.org", name="Anna", language="en") -> contact id."""

    def make(email: str, name: str | None = None, language: str | None = None) -> int:
        with db.transaction() as session:
            contact = Contact(email=email, name=name, language=language)
            session.add(contact)
            session.flush()
            return contact.id

    return make


@pytest.fixture
def invite(db) -> Callable[[int, list[int]], None]:
    """invite(meeting_id, [contact ids]): an invitation campaign whose mails were all sent."""

    def make(meeting_id: int, contact_ids: list[int]) -> None:
        with db.transaction() as session:
            campaign = Campaign(
                meeting_id=meeting_id, template="invitation", audience={"all": True}, state=CampaignState.FINISHED
            )
            session.add(campaign)
            session.flush()
            session.add_all(
                OutboxMessage(
                    campaign_id=campaign.id,
                    contact_id=cid,
                    meeting_id=meeting_id,
                    template="invitation",
                    state=MessageState.SENT,
                )
                for cid in contact_ids
            )

    return make


class Browser:
    """A visitor of the real server: its own cookies, no redirects followed unless asked."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self, base: str, follow: bool = True):
        self.base = base
        handlers: list = [urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())]
        if not follow:
            handlers.append(self._NoRedirect())
        self.opener = urllib.request.build_opener(*handlers)

    def request(self, path: str, data: dict | bytes | None = None, headers: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if isinstance(data, dict) else data
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=60) as reply:
                return reply.status, dict(reply.headers), reply.read()
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, dict(exc.headers), exc.read()
            finally:
                exc.close()

    def get(self, path: str):
        return self.request(path)

    def post(self, path: str, data: dict | bytes, headers: dict | None = None):
        return self.request(path, data, headers)


@dataclass
class LiveServer:
    base: str
    process: subprocess.Popen

    def browser(self, follow: bool = True) -> Browser:
        return Browser(self.base, follow)


@pytest.fixture
def live_server(app, cli_env: dict[str, str]):
    """`mailer serve` in a subprocess on a free port, over the same database as `app`."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
    env.update(cli_env, MAILER_BASE_URL=base)
    log_path = Path(cli_env["MAILER_INSTANCE_PATH"]) / "serve.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "mailer", "serve", "--port", str(port), "--threads", "8"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def healthy() -> bool:
            if process.poll() is not None:
                pytest.fail(f"mailer serve stopped: {log_path.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as reply:
                    return reply.status == 200
            except (urllib.error.URLError, ConnectionError):
                return False

        wait_until(
            healthy,
            timeout=30,
            what="mailer serve to answer /healthz",
            interval=0.1,
            detail=lambda: log_path.read_text(errors="replace"),
        )
        yield LiveServer(base, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


__all__ = [
    "Browser",
    "LiveServer",
    "answer",
    "confirmations",
    "csrf_of",
    "invite",
    "links_for",
    "live_server",
    "path_of",
    "person",
    "response_of",
    "send_outbox",
]
