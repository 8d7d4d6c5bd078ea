"""A real IMAP server for tests: pymap (asyncio, in-memory "dict" backend) as its own process on a
free loopback port, started without root. Use the `imap_server` fixture.

Its demo data gives the one user a few ordinary messages in INBOX, as a real bounce mailbox
has some mail that is not a bounce; tests put reports in with a real APPEND.
"""

from __future__ import annotations

import imaplib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import wait_until
from smtp_server import free_port

USER, PASSWORD = "bounces", "imap-test-password"


@dataclass
class IMAPTestServer:
    port: int
    certificate: Path | None = None  # PEM key and chain: the server offers STARTTLS with it
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"imap://{USER}:{PASSWORD}@127.0.0.1:{self.port}/INBOX"

    def start(self) -> IMAPTestServer:
        tls = ["--cert", str(self.certificate), "--key", str(self.certificate)] if self.certificate else ["--no-tls"]
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("pymap")),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                *tls,
                "dict",
                "--demo-data",
                "--demo-user",
                USER,
                "--demo-password",
                PASSWORD,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

        def answers() -> bool:
            try:
                self.client().logout()
                return True
            except OSError:
                if self.process.poll() is not None:
                    with self.process.stderr:
                        raise RuntimeError(
                            "pymap did not start: " + self.process.stderr.read().decode(errors="replace")
                        ) from None
                return False

        wait_until(answers, timeout=30, what="pymap to answer")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def append(self, data: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            status, _ = client.append(folder, None, None, data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
            assert status == "OK"
        finally:
            client.logout()

    def count(self, folder: str) -> int:
        client = self.client()
        try:
            status, data = client.select(folder, readonly=True)
            return int(data[0]) if status == "OK" else 0
        finally:
            client.logout()


@pytest.fixture
def imap_server():
    """Plain IMAP (no STARTTLS offered), as a server on the same machine may be."""
    server = IMAPTestServer(free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def test_ca():
    import trustme

    return trustme.CA()


@pytest.fixture
def imap_tls_server(tmp_path, test_ca):
    """IMAP offering STARTTLS with a certificate for 127.0.0.1 from the test CA (`test_ca`)."""
    certificate = tmp_path / "imap-server.pem"
    test_ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(certificate))
    server = IMAPTestServer(free_port(), certificate).start()
    yield server
    server.stop()
