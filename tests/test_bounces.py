"""Bounces that come back as mail: the tagged envelope sender, `mailer bounces scan|process`,
what each kind of report changes, and bad input. Reports of real MTAs are in tests/data/bounces/."""

from __future__ import annotations

import datetime as dt
import json
import mailbox
import re
from pathlib import Path

import pytest
from bounce_fixtures import BOUNCE_ADDRESS, deliver, make_maildir, report_bytes, with_bounce_address
from sqlalchemy import func, select

from mailer.bounces.models import BounceEvent
from mailer.bounces.service import apply
from mailer.bounces.sources import Incoming
from mailer.campaigns.models import Campaign
from mailer.contacts.models import Contact, Suppression
from mailer.db import utcnow
from mailer.mail import verp
from mailer.outbox.models import OutboxMessage


@pytest.fixture
def test_config(test_config):
    return with_bounce_address(test_config)


@pytest.fixture
def cli_env(cli_env):
    return with_bounce_address(cli_env)


# file -> (kind, failed recipients, status, the contact it is about)
EXPECTED = {
    "postfix_user_unknown.eml": ("hard", ["anna.lind@korforbundet.example.se"], "5.1.1"),
    "exim_no_such_user.eml": ("hard", ["bo.ek@musikforbundet.example.se"], "5.1.1"),
    "exchange_recipient_not_found.eml": ("hard", ["cilla.holm@teaterforbundet.example.se"], "5.1.10"),
    "exchange_onprem_generic_status.eml": ("hard", ["helena.sand@dansforbundet.example.se"], "5.1.1"),
    "gmail_over_quota.eml": ("soft", ["david.berg@gmail.example.com"], "5.2.2"),
    "qmail_no_mailbox.eml": ("hard", ["eva.nord@slojdforeningen.example.se"], "5.1.1"),
    "sendmail_expired.eml": ("soft", ["frida.ost@folkdans.example.se"], "4.4.7"),
    "sendmail_delayed.eml": ("soft", ["frida.ost@folkdans.example.se"], "4.4.1"),
    "postfix_policy_rejected.eml": ("soft", ["gustav.alm@konstnarer.example.se"], "5.7.1"),
    "outlook_out_of_office_sv.eml": ("autoreply", [], None),
    "gmail_vacation.eml": ("autoreply", [], None),
    "arf_complaint.eml": ("complaint", ["jonas.kvist@mailbox.example.com"], None),
    "human_reply.eml": ("not-bounce", [], None),
}
# Whose message each report is about (the tag in it is theirs).
ABOUT = {
    "postfix_user_unknown.eml": "anna.lind@korforbundet.example.se",
    "exim_no_such_user.eml": "bo.ek@musikforbundet.example.se",
    "exchange_recipient_not_found.eml": "cilla.holm@teaterforbundet.example.se",
    "exchange_onprem_generic_status.eml": "helena.sand@dansforbundet.example.se",
    "gmail_over_quota.eml": "david.berg@gmail.example.com",
    "qmail_no_mailbox.eml": "eva.nord@slojdforeningen.example.se",
    "sendmail_expired.eml": "frida.ost@folkdans.example.se",
    "sendmail_delayed.eml": "frida.ost@folkdans.example.se",
    "postfix_policy_rejected.eml": "gustav.alm@konstnarer.example.se",
    "outlook_out_of_office_sv.eml": "helena.sand@dansforbundet.example.se",
    "gmail_vacation.eml": "ivar.dahl@gmail.example.com",
    "arf_complaint.eml": "jonas.kvist@mailbox.example.com",
    "human_reply.eml": "karin.ljung@korforbundet.example.se",
}


def contact_ids(db) -> dict[str, int]:
    with db.transaction() as session:
        return {email: cid for email, cid in session.execute(select(Contact.email, Contact.id))}


def suppressions(db) -> dict[str, tuple[str, str]]:
    with db.transaction() as session:
        return {s.email: (s.reason.value, s.detail) for s in session.scalars(select(Suppression))}


def lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


@pytest.fixture
def reports(tmp_path, sent) -> Path:
    """A Maildir holding every report of tests/data/bounces/, each tagged for the person it is about."""
    maildir = make_maildir(tmp_path / "bounces")
    for name, address in ABOUT.items():
        deliver(maildir, name, report_bytes(name, sent[address]))
    return maildir


def test_every_message_gets_its_own_signed_envelope_sender(sent, smtp_server, settings):
    senders = [r.envelope_from for r in smtp_server.received]
    assert len(senders) == len(set(senders)) == len(set(ABOUT.values())) == 11
    for sender in senders:
        local = sender.split("@")[0]
        assert re.fullmatch(r"bounces\+\d+-[0-9a-f]{16}", local) and len(local) <= 64
        assert verp.tagged_message_ids(sender, BOUNCE_ADDRESS, (settings.secret_key,))
    assert verp.envelope_sender(None, "info@ax.example.org", settings.secret_key, 7) == "info@ax.example.org"


def test_scan_reads_the_reports_of_every_mta_and_changes_nothing(runner, db, reports):
    result = runner.invoke(["bounces", "scan", reports, "--json"])
    assert result.exit_code == 0, result.output
    ids = contact_ids(db)
    found = {Path(line["file"]).name: line for line in lines(result.output)}
    assert set(found) == set(EXPECTED)
    for name, (kind, recipients, status) in EXPECTED.items():
        line = found[name]
        assert (line["kind"], line["recipients"], line["status"]) == (kind, recipients, status), name
        assert line["contact_id"] == (None if kind == "not-bounce" else ids[ABOUT[name]]), name
    assert suppressions(db) == {}
    assert len(list((reports / "new").iterdir())) == len(EXPECTED)  # nothing moved
    plain = runner.invoke(["--lang", "sv", "bounces", "scan", reports / "new" / "qmail_no_mailbox.eml"])
    assert plain.exit_code == 0 and "\thard\t5.1.1\teva.nord@slojdforeningen.example.se\tkontakt " in plain.output
    english = runner.invoke(["--lang", "en", "bounces", "scan", reports / "new" / "human_reply.eml"])
    assert english.output.rstrip().endswith("\tnot-bounce\t-\t-\tnot our mailing")


def test_process_suppresses_hard_counts_soft_unsubscribes_complaints_and_moves_to_done(runner, db, reports):
    result = runner.invoke(["bounces", "process", reports, "--json"])
    assert result.exit_code == 0, result.output
    found = {Path(line["file"]).name: line for line in lines(result.output)}
    held = suppressions(db)
    assert {email: reason for email, (reason, _) in held.items()} == {
        "anna.lind@korforbundet.example.se": "bounced",
        "bo.ek@musikforbundet.example.se": "bounced",
        "cilla.holm@teaterforbundet.example.se": "bounced",
        "eva.nord@slojdforeningen.example.se": "bounced",
        "helena.sand@dansforbundet.example.se": "bounced",
        "jonas.kvist@mailbox.example.com": "unsubscribed",
    }
    reason, detail = held["anna.lind@korforbundet.example.se"]
    assert detail.startswith("5.1.1 ") and "User unknown" in detail  # the code and the DSN's reply kept
    assert (found["gmail_over_quota.eml"]["action"], found["gmail_over_quota.eml"]["soft_count"]) == ("counted", 1)
    assert (found["sendmail_expired.eml"]["action"], found["sendmail_expired.eml"]["soft_count"]) == ("counted", 1)
    assert found["sendmail_delayed.eml"]["action"] == "recorded"  # a delay counts for nothing
    assert found["postfix_policy_rejected.eml"]["action"] == "recorded"  # nor does a policy refusal
    for name in ("outlook_out_of_office_sv.eml", "gmail_vacation.eml", "human_reply.eml"):
        assert found[name]["action"] == "nothing"
    assert list((reports / "new").iterdir()) == []
    assert len(list((reports / "done" / "cur").iterdir())) == len(EXPECTED)

    again = runner.invoke(["bounces", "process", reports, "--json"])
    assert again.exit_code == 0 and again.output == ""  # nothing left to read
    # The same reports read once more from another copy change nothing either.
    copy = runner.invoke(["bounces", "process", reports / "done" / "cur" / "gmail_over_quota.eml", "--json"])
    assert lines(copy.output)[0]["action"] == "already-processed"
    plain = runner.invoke(["--lang", "sv", "bounces", "process", reports / "done" / "cur" / "gmail_over_quota.eml"])
    assert plain.output.rstrip().endswith("\tsoft\t5.2.2\tdavid.berg@gmail.example.com\tkontakt 4\tredan behandlad")
    assert suppressions(db) == held
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(BounceEvent)) == 10


def test_soft_bounces_suppress_after_the_limit_within_30_days(db, settings, sent):
    address = "david.berg@gmail.example.com"
    now = utcnow()

    def soft(day: int, number: int):
        data = report_bytes("gmail_over_quota.eml", sent[address]).replace(
            b"Message-ID: <6725", f"X-Seq: {number}\nMessage-ID: <6725".encode(), 1
        )
        with db.transaction() as session:
            return apply(session, settings, Incoming(f"soft-{number}", data, False), now=now + dt.timedelta(days=day))

    assert (soft(-40, 1).action, soft(-20, 2).soft_count) == ("counted", 2)
    assert soft(-5, 3).soft_count == 2  # the first is more than 30 days older
    assert address not in suppressions(db)
    last = soft(0, 4)
    assert (last.action, last.soft_count) == ("suppressed", 3)
    reason, detail = suppressions(db)[address]
    assert reason == "bounced" and detail.startswith("3 soft bounces in 30 days; last: 5.2.2")


def test_policy_and_delay_reports_never_count_toward_the_limit(db, settings, sent):
    for number in range(5):
        for name, address in (
            ("postfix_policy_rejected.eml", "gustav.alm@konstnarer.example.se"),
            ("sendmail_delayed.eml", "frida.ost@folkdans.example.se"),
        ):
            data = report_bytes(name, sent[address]).replace(
                b"MIME-Version", f"X-Seq: {number}\nMIME-Version".encode(), 1
            )
            with db.transaction() as session:
                report = apply(session, settings, Incoming(name, data, False))
            assert report.kind == "soft" and report.action == "recorded"
    assert suppressions(db) == {}


def test_bad_input_is_reported_never_acted_on_and_the_reader_carries_on(runner, db, settings, sent, tmp_path):
    maildir = make_maildir(tmp_path / "bad")
    anna = sent["anna.lind@korforbundet.example.se"]
    message_id = int(anna.split("-")[0])
    never_sent = verp.tag(settings.secret_key, 999_999)
    forged = f"{message_id}-{'0' * 16}"
    other_key = verp.tag("another-secret-key-0123456789", message_id)
    big = report_bytes("postfix_user_unknown.eml", anna).replace(
        b"--4XyZ1k2Lq9z9sT.1730535243/smtp.relay.example.net--",
        b"--4XyZ1k2Lq9z9sT.1730535243/smtp.relay.example.net\nContent-Type: application/octet-stream\n"
        b"Content-Transfer-Encoding: base64\n\n"
        + b"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n" * 760_000
        + b"--4XyZ1k2Lq9z9sT.1730535243/smtp.relay.example.net--\n",
    )
    assert len(big) > 50 * 1024 * 1024
    cases = {
        "01-not-a-bounce.eml": report_bytes("human_reply.eml", anna),
        "02-never-sent.eml": report_bytes("postfix_user_unknown.eml", never_sent),
        "03-forged-tag.eml": report_bytes("postfix_user_unknown.eml", forged),
        "04-other-key.eml": report_bytes("postfix_user_unknown.eml", other_key),
        "05-unsigned.eml": report_bytes("postfix_user_unknown.eml", str(message_id)),
        "06-untagged.eml": report_bytes("postfix_user_unknown.eml"),  # anna's address only in the text
        "07-malformed.eml": report_bytes("malformed_mime.eml", anna),
        "08-binary.eml": b"\x00\xff\xfe garbage \x80\x81" * 1000,
        "09-fifty-megabytes.eml": big,
        "10-good.eml": report_bytes("exim_no_such_user.eml", sent["bo.ek@musikforbundet.example.se"]),
    }
    for name, data in cases.items():
        deliver(maildir, name, data)
    result = runner.invoke(["bounces", "process", maildir, "--json"])
    assert result.exit_code == 0, result.output
    found = {Path(line["file"]).name: line for line in lines(result.output)}
    assert sorted(found) == sorted(cases)
    for name in sorted(cases)[:-1]:
        assert found[name]["contact_id"] is None and found[name]["action"] == "nothing", name
    assert found["01-not-a-bounce.eml"]["kind"] == "not-bounce"
    for name in (
        "02-never-sent.eml",
        "03-forged-tag.eml",
        "04-other-key.eml",
        "05-unsigned.eml",
        "06-untagged.eml",
        "09-fifty-megabytes.eml",
    ):
        assert found[name]["kind"] == "hard", name  # what it is, whoever it concerns
    assert "malformed MIME" in found["07-malformed.eml"]["problem"]
    assert "only the beginning was read" in found["09-fifty-megabytes.eml"]["problem"]
    assert found["10-good.eml"]["action"] == "suppressed"
    assert set(suppressions(db)) == {"bo.ek@musikforbundet.example.se"}


def test_an_mbox_and_unreadable_paths(runner, db, sent, tmp_path):
    path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(path)
    box.add(report_bytes("qmail_no_mailbox.eml", sent["eva.nord@slojdforeningen.example.se"]))
    box.add(report_bytes("gmail_vacation.eml"))
    box.close()
    result = runner.invoke(["bounces", "scan", path, "--json"])
    assert result.exit_code == 0
    assert [(line["file"], line["kind"]) for line in lines(result.output)] == [
        (f"{path}:1", "hard"),
        (f"{path}:2", "autoreply"),
    ]
    processed = runner.invoke(["bounces", "process", path, "--json"])
    assert [line["action"] for line in lines(processed.output)] == ["suppressed", "nothing"]
    assert [line["action"] for line in lines(runner.invoke(["bounces", "process", path, "--json"]).output)] == [
        "already-processed",
        "nothing",
    ]

    for unreadable in (tmp_path / "missing", tmp_path):  # tmp_path: a folder, but not a Maildir
        failed = runner.invoke(["bounces", "scan", unreadable])
        assert failed.exit_code == 2 and str(unreadable) in failed.output


def test_bounces_reach_the_organisations_quality_list_and_the_digest_in_swedish(runner, db, settings, reports):
    assert runner.invoke(["bounces", "process", reports]).exit_code == 0
    data = json.loads(runner.invoke(["orgs", "report", "korforbundet", "--json"]).output)
    (anna,) = data["bounced"]
    assert anna["email"] == "anna.lind@korforbundet.example.se" and anna["status"] == "5.1.1"
    assert anna["explanation"] == "Adressen finns inte hos mottagarens e-postserver."
    quota = json.loads(runner.invoke(["orgs", "report", "musikforbundet", "--json"]).output)
    assert [(s["email"], s["status"], s["count"]) for s in quota["soft_bounced"]] == [
        ("david.berg@gmail.example.com", "5.2.2", 1)
    ]
    assert quota["soft_bounced"][0]["explanation"] == "Brevlådan är full."

    digest = runner.invoke(["digest", "preview"])
    assert digest.exit_code == 0, digest.output
    assert (
        "Musikforbundet:\n  - Bo Ek <bo.ek@musikforbundet.example.se>: "
        "Adressen finns inte hos mottagarens e-postserver. [5.1.1 550 5.1.1 No such user here]"
    ) in digest.output
    assert (
        "Teaterforbundet:\n  - Cilla Holm <cilla.holm@teaterforbundet.example.se>: "
        "Adressen finns inte, eller domänen tar inte emot e-post."
    ) in digest.output
    assert "- david.berg@gmail.example.com (Musikforbundet): Brevlådan är full. (1 gång(er))" in digest.output
    # A policy refusal is nobody's address's fault: counted apart, by code, without names;
    # a delay warning (sendmail_delayed.eml) is not a refusal at all.
    refused = digest.output.split("Stoppade av mottagarnas servrar")[1].split("==")[0]
    assert refused.strip().splitlines()[1:] == [
        "- 5.7.1: Mottagarens server stoppade meddelandet av policy- eller skräppostskäl; felet ligger inte hos "
        "adressen. (1 st.)"
    ]
    assert "gustav.alm" not in digest.output


def test_erasure_clears_the_servers_words_kept_with_a_persons_bounces(runner, db, reports):
    assert runner.invoke(["bounces", "process", reports]).exit_code == 0
    exported = json.loads(runner.invoke(["contacts", "export-person", "anna.lind@korforbundet.example.se"]).output)
    (event,) = exported["bounce_events"]  # declared on the model, so the export finds it
    assert (event["kind"], event["status"]) == ("hard", "5.1.1") and "User unknown" in event["reply"]
    assert runner.invoke(["contacts", "forget", "anna.lind@korforbundet.example.se", "--yes"]).exit_code == 0
    with db.transaction() as session:
        replies = session.scalars(select(BounceEvent.reply).where(BounceEvent.reply.is_not(None))).all()
    assert replies and not any("anna.lind" in reply for reply in replies)


def test_two_readers_applying_the_same_report_at_once_apply_it_once(db, settings, sent):
    """The worker's IMAP round and a `process` run by hand may meet on one report."""
    import threading

    from mailer.bounces.service import process_one

    incoming = Incoming(
        "same", report_bytes("postfix_user_unknown.eml", sent["anna.lind@korforbundet.example.se"]), False
    )
    start, results = threading.Barrier(2), []

    def read():
        start.wait()
        results.append(process_one(db, settings, incoming).action)

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["already-processed", "suppressed"]
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(BounceEvent)) == 1


def stored_message_id(db, address: str) -> str:
    with db.transaction() as session:
        return session.scalar(
            select(OutboxMessage.message_id)
            .join(Contact, Contact.id == OutboxMessage.contact_id)
            .where(Contact.email == address)
        )


def test_without_a_bounce_address_only_our_stored_message_id_makes_a_report_ours(runner, cli_env, db, sent, tmp_path):
    bo = "bo.ek@musikforbundet.example.se"
    untagged = tmp_path / "untagged.eml"  # names anna, quotes a Message-ID we never used
    untagged.write_bytes(report_bytes("postfix_user_unknown.eml"))
    quoted = tmp_path / "quoted.eml"  # Exim quotes the original as text: its Message-ID is ours (bo's)
    quoted.write_bytes(
        report_bytes("exim_no_such_user.eml").replace(
            b"<invitation.42@ax.example.org>", stored_message_id(db, bo).encode()
        )
    )
    env = {**cli_env, "MAILER_BOUNCE_ADDRESS": ""}
    result = runner.invoke(["--lang", "en", "bounces", "process", untagged, "--json"], env=env)
    assert result.exit_code == 0 and "MAILER_BOUNCE_ADDRESS is not set" in result.stderr
    (line,) = lines(result.stdout)
    assert (line["kind"], line["contact_id"], line["action"]) == ("hard", None, "nothing")
    (line,) = lines(runner.invoke(["bounces", "process", quoted, "--json"], env=env).stdout)
    assert (line["kind"], line["contact_id"], line["action"]) == ("hard", contact_ids(db)[bo], "suppressed")
    assert set(suppressions(db)) == {bo}


def test_a_failure_without_any_code_is_counted_not_suppressed(db, settings, sent):
    data = report_bytes("qmail_no_mailbox.eml", sent["eva.nord@slojdforeningen.example.se"]).replace(b" (#5.1.1)", b"")
    with db.transaction() as session:
        report = apply(session, settings, Incoming("qmail-no-code", data, False))
    assert (report.kind, report.status, report.action, report.soft_count) == ("soft", None, "counted", 1)
    assert suppressions(db) == {}


def test_the_staff_dashboard_explains_each_bounce(app, db, runner, reports, staff_client):
    assert runner.invoke(["bounces", "process", reports]).exit_code == 0
    page = staff_client.get("/staff/").get_data(as_text=True)
    row = page[page.index("bo.ek@musikforbundet.example.se") :].split("</tr>")[0]
    assert "Adressen finns inte hos mottagarens e-postserver." in row and "550 5.1.1 No such user here" in row


def test_a_staff_test_mail_leaves_with_a_signed_test_tag_and_its_bounce_is_held_against_nobody(
    runner, cli_env, db, settings, sent, smtp_server, tmp_path
):
    """Like the real round (VERP), so a relay refusing the tagged sender shows in the test; its report
    is known for a test mail's, even when the test went to a contact's own address."""
    anna = "anna.lind@korforbundet.example.se"
    with db.transaction() as session:
        campaign_id = session.scalar(select(Campaign.id))
    test = runner.invoke(
        ["campaigns", "test", str(campaign_id), "--to", anna], env={**cli_env, "MAILER_SMTP_URL": smtp_server.url}
    )
    assert test.exit_code == 0, test.output
    (received,) = [r for r in smtp_server.to(anna) if r.message["Subject"].startswith("[TEST] ")]
    local, _, domain = received.envelope_from.partition("@")
    assert domain == "ax.example.org" and re.fullmatch(r"bounces\+test\d+-[0-9a-f]{16}", local)
    keys = (settings.secret_key,)
    assert verp.tagged_message_ids(received.envelope_from, BOUNCE_ADDRESS, keys, verp.TEST_PREFIX) == [campaign_id]
    assert verp.tagged_message_ids(received.envelope_from, BOUNCE_ADDRESS, keys) == []  # never taken for a row's
    report = tmp_path / "test_mail_bounce.eml"
    report.write_bytes(report_bytes("postfix_user_unknown.eml", local.removeprefix("bounces+")))
    (line,) = lines(runner.invoke(["bounces", "process", report, "--json"]).stdout)
    assert (line["kind"], line["contact_id"], line["action"]) == ("hard", None, "test-mail")
    assert suppressions(db) == {}
    forged = tmp_path / "forged.eml"  # a test tag signed with another key is nobody's
    forged.write_bytes(report_bytes("postfix_user_unknown.eml", verp.tag("another key", campaign_id, verp.TEST_PREFIX)))
    (line,) = lines(runner.invoke(["bounces", "process", forged, "--json"]).stdout)
    assert (line["contact_id"], line["action"]) == (None, "nothing")


def test_retention_deletes_bounce_reports_older_than_the_period_as_the_model_declares(db, settings, sent):
    """A report stays tied to its person (it cannot be anonymised): bounce_events is declared
    deleted_after_retention, and the retention job deletes the old ones, keeping the recent."""
    from mailer.privacy.catalogue import table
    from mailer.privacy.retention import anonymise_expired, cutoff

    assert table("bounce_events").info == {"retention": "delete", "retention_from": "created_at"}
    now = utcnow()
    old, recent = cutoff(24, now) - dt.timedelta(days=1), cutoff(24, now) + dt.timedelta(days=1)
    with db.transaction() as session:
        for name, address, at in (
            ("gmail_over_quota.eml", "david.berg@gmail.example.com", old),
            ("sendmail_expired.eml", "frida.ost@folkdans.example.se", recent),
        ):
            report = apply(session, settings, Incoming(name, report_bytes(name, sent[address]), False), now=at)
            assert report.action == "counted"
    with db.transaction() as session:
        done = anonymise_expired(session, 24, now=now)
        again = anonymise_expired(session, 24, now=now)
        kept = session.scalars(select(BounceEvent.created_at)).all()
    assert done.deleted == {"bounce_events": 1} and again.deleted == {"bounce_events": 0}
    assert [at.date() for at in kept] == [recent.date()]
