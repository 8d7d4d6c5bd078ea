"""A real HTTP server on 127.0.0.1 that receives webhook deliveries, for the webhook tests.

It answers with the statuses it is told (one per request, then the last one again), can
hold a request until released (a delivery under way when a worker is killed), and keeps
every request it got: method, path, headers and raw body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    def verifies(self, secret: str) -> bool:
        """The receiver's check, as docs/webhooks.md shows it."""
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("X-Mailer-Signature", ""))


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=lambda: [200])
    received: list[Received] = field(default_factory=list)
    hold: threading.Event | None = None  # set: requests wait until it is released
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self, name: str | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.received if name is None or r.headers.get("X-Mailer-Event") == name]

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


@contextmanager
def receiver(statuses: list[int] | None = None, hold: threading.Event | None = None) -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            target = state["receiver"]
            with target.lock:
                target.received.append(Received(self.path, dict(self.headers.items()), body))
            if target.hold is not None:
                target.hold.wait(60)
            status = target.next_status()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"receiver trouble")

        def log_message(self, *args) -> None:  # quiet in test output
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["receiver"] = Receiver(
        f"http://127.0.0.1:{server.server_port}/hooks/mailer", list(statuses or [200]), hold=hold
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["receiver"]
    finally:
        if hold is not None:
            hold.set()
        server.shutdown()
        server.server_close()
