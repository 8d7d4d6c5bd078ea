"""A real SMTP server for tests (aiosmtpd on a free port) whose replies a test can script.

Registered as a pytest plugin from conftest.py: use the `smtp_server` fixture.
It can accept, temporarily refuse (451), permanently refuse (550), drop the
connection every N messages, leave out 8BITMIME or SMTPUTF8 from its EHLO reply (as
older relays do), and be stopped and started again on the same port. Like a real
relay, it can refuse everything after N messages (a quota, on RCPT or on DATA), refuse our
sender at MAIL FROM, and stall (stop answering) at RCPT or DATA; `silent_server` is a relay
that accepts connections and never greets.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPProtocol


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    envelope_from: str
    envelope_to: list[str]
    data: bytes
    mail_options: list[str] = field(default_factory=list)  # MAIL FROM parameters: SMTPUTF8, BODY=8BITMIME

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)


@dataclass
class Script:
    """Per-recipient replies: address -> list of codes used in turn (the last one repeats)."""

    rcpt_replies: dict[str, list[str]] = field(default_factory=dict)
    drop_every: int = 0  # close the connection after every N accepted messages
    pipelining: bool = True  # advertise PIPELINING, as Postfix and most relays do
    refuse_ehlo: str = ""  # e.g. "554 5.7.1 not welcome": the reply to EHLO instead of the greeting
    after: int = 0  # messages accepted before `later_reply` answers every one
    later_reply: str | None = None  # e.g. "550 5.4.5 Daily SMTP relay limit exceeded"
    later_stage: str = "rcpt"  # where `later_reply` comes: "rcpt" or "data"
    mail_reply: str | None = None  # the answer to every MAIL FROM, e.g. "553 5.7.1 Sender address rejected"
    stall: str | None = None  # "rcpt" or "data": answer nothing there until `unstall` is set
    eightbitmime: bool = True  # advertise 8BITMIME (RFC 6152)
    smtputf8: bool = True  # advertise SMTPUTF8 (RFC 6531)


class Handler:
    def __init__(self, server: SMTPTestServer):
        self.server = server

    async def handle_EHLO(self, smtp, session, envelope, hostname, responses):
        session.host_name = hostname
        script = self.server.script
        if script.refuse_ehlo:
            return [script.refuse_ehlo]
        if script.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        left_out = {"8BITMIME"} if not script.eightbitmime else set()
        left_out |= {"SMTPUTF8"} if not script.smtputf8 else set()
        return [r for r in responses if r[4:].upper() not in left_out]

    async def handle_MAIL(self, smtp, session, envelope, address, mail_options):
        if self.server.script.mail_reply:
            return self.server.script.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    def _later(self, stage: str) -> str | None:
        script = self.server.script
        if script.later_reply and script.later_stage == stage and len(self.server.received) >= script.after:
            return script.later_reply
        return None

    async def _stall(self, stage: str) -> None:
        while self.server.script.stall == stage and not self.server.unstall.is_set():
            await asyncio.sleep(0.02)

    async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
        await self._stall("rcpt")
        if later := self._later("rcpt"):
            return later
        replies = self.server.script.rcpt_replies.get(address.lower())
        if replies:
            reply = replies.pop(0) if len(replies) > 1 else replies[0]
            if not reply.startswith("250"):
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp, session, envelope):
        await self._stall("data")
        if later := self._later("data"):
            return later
        with self.server.lock:
            self.server.received.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content or envelope.content,
                    list(envelope.mail_options),
                )
            )
            count = len(self.server.received)
        drop = self.server.script.drop_every
        if drop and count % drop == 0:
            # Accept, then hang up before the client's next command.
            smtp.transport.write(b"250 OK\r\n")
            smtp.transport.close()
            return None
        return "250 OK"


class SMTPTestServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.script = Script()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.unstall = threading.Event()
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SMTPTestServer:
        self.loop = asyncio.new_event_loop()  # ours, so that stop() can close it
        self.controller = Controller(
            Handler(self), hostname="127.0.0.1", port=self.port, loop=self.loop, enable_SMTPUTF8=True, ready_timeout=10
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        self.unstall.set()  # a stalled handler must not keep the loop from stopping
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
            self.loop.close()

    def reply(self, address: str, *codes: str) -> None:
        """E.g. reply("x@example.org", "451 4.7.1 try later", "250") or reply(addr, "550 5.1.1 no such user")."""
        self.script.rcpt_replies[address.lower()] = list(codes)

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address.lower() in (a.lower() for a in r.envelope_to)]

    def recipients(self) -> list[str]:
        return [a.lower() for r in self.received for a in r.envelope_to]


@contextlib.contextmanager
def silent_server():
    """A relay that takes the connection and never says a word (a dead or overloaded relay):
    the kernel completes the handshake from the listen backlog; nothing ever accepts it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"smtp://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def smtp_server():
    server = SMTPTestServer().start()
    yield server
    server.stop()


__all__ = ["SMTPProtocol", "SMTPTestServer", "free_port", "silent_server", "smtp_server"]
