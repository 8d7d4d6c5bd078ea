"""The IMAP bounce mailbox against a real IMAP server (pymap) on loopback: read, applied, moved
to `done`, read once; a server that is away is logged and tried again, never fatal."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys

import pytest
from bounce_fixtures import report_bytes, with_bounce_address
from helpers import wait_until
from smtp_server import free_port
from sqlalchemy import select

from mailer.bounces.imap import fetch_and_process
from mailer.contacts.models import Suppression


@pytest.fixture
def test_config(test_config):
    return with_bounce_address(test_config)


@pytest.fixture
def cli_env(cli_env):
    return with_bounce_address(cli_env)


def suppressed(db) -> dict[str, str]:
    with db.transaction() as session:
        return {s.email: s.reason.value for s in session.scalars(select(Suppression))}


def test_a_round_processes_every_message_and_moves_it_to_done(db, settings, sent, imap_server):
    demo = imap_server.count("INBOX")  # ordinary mail that is not a bounce
    imap_server.append(report_bytes("postfix_user_unknown.eml", sent["anna.lind@korforbundet.example.se"]))
    imap_server.append(report_bytes("arf_complaint.eml", sent["jonas.kvist@mailbox.example.com"]))
    imap_server.append(report_bytes("outlook_out_of_office_sv.eml", sent["helena.sand@dansforbundet.example.se"]))
    imap_server.append(report_bytes("postfix_user_unknown.eml"))  # untagged: anna's address in the text only
    imap_settings = settings.with_overrides(bounce_imap_url=imap_server.url)

    first = fetch_and_process(db, imap_settings)
    assert first.error is None
    assert [r.kind for r in first.reports[-4:]] == ["hard", "complaint", "autoreply", "hard"]
    assert all(r.kind == "not-bounce" for r in first.reports[:-4]) and len(first.reports) == demo + 4
    assert [r.contact_id is not None for r in first.reports[-4:]] == [True, True, True, False]
    assert suppressed(db) == {
        "anna.lind@korforbundet.example.se": "bounced",
        "jonas.kvist@mailbox.example.com": "unsubscribed",
    }
    assert imap_server.count("INBOX") == 0 and imap_server.count("done") == demo + 4

    second = fetch_and_process(db, imap_settings)
    assert second.error is None and second.reports == []


def test_an_imap_failure_is_logged_and_never_fatal(db, settings, imap_server, caplog):
    caplog.set_level(logging.WARNING, logger="mailer.bounces.imap")
    away = settings.with_overrides(bounce_imap_url=f"imap://bounces:x@127.0.0.1:{free_port()}/INBOX")
    assert "ConnectionRefusedError" in fetch_and_process(db, away).error
    wrong = settings.with_overrides(bounce_imap_url=imap_server.url.replace("imap-test-password", "wrong"))
    assert fetch_and_process(db, wrong).error
    assert "bounce mailbox imap://bounces@127.0.0.1" in caplog.text and "imap-test-password" not in caplog.text


def test_the_worker_reads_the_mailbox_on_its_schedule(db, cli_env, sent, imap_server, tmp_path):
    imap_server.append(report_bytes("exim_no_such_user.eml", sent["bo.ek@musikforbundet.example.se"]))
    env = {**os.environ, **cli_env, "MAILER_BOUNCE_IMAP_URL": imap_server.url}
    log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen([sys.executable, "-m", "mailer", "worker"], env=env, stdout=log, stderr=log)
    try:

        def suppressed_while_running() -> bool:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            return "bo.ek@musikforbundet.example.se" in suppressed(db)

        wait_until(
            suppressed_while_running,
            timeout=60,
            what="the worker to suppress the bounced address",
            interval=0.1,
            detail=lambda: (tmp_path / "worker.log").read_text(),
        )
        assert suppressed(db)["bo.ek@musikforbundet.example.se"] == "bounced"
        wait_until(
            lambda: not imap_server.count("INBOX"),
            timeout=60,  # the move to done follows the commit
            what="the report to leave INBOX",
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        log.close()
    assert worker.returncode == 0


def test_imap_uses_starttls_when_offered_and_checks_the_certificate(
    db, settings, sent, imap_tls_server, test_ca, tmp_path, monkeypatch
):
    imap_tls_server.append(report_bytes("qmail_no_mailbox.eml", sent["eva.nord@slojdforeningen.example.se"]))
    tls_settings = settings.with_overrides(bounce_imap_url=imap_tls_server.url)
    untrusted = fetch_and_process(db, tls_settings)  # the test CA is nobody's: refused, not sent in the clear
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.error and untrusted.reports == []
    assert "eva.nord@slojdforeningen.example.se" not in suppressed(db)

    trusted = tmp_path / "ca.pem"
    test_ca.cert_pem.write_to_path(str(trusted))
    monkeypatch.setenv("SSL_CERT_FILE", str(trusted))
    result = fetch_and_process(db, tls_settings)
    assert result.error is None and result.reports[-1].kind == "hard"
    assert suppressed(db)["eva.nord@slojdforeningen.example.se"] == "bounced"
