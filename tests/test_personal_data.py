"""Personal data is declared once, on the model columns; erasure follows it into every row and file.

The erasure test looks for the person where an auditor would: a dump of every table on
both backends, and every file under the instance folder byte for byte (on SQLite the
database file and its write-ahead log included), decoded messages too.
"""

from __future__ import annotations

import datetime as dt
import email
import os
import time
from email import policy

import pytest
import time_machine
from helpers import send_everything
from sqlalchemy import Column, Integer, MetaData, String, Table, select

from mailer.campaigns import service
from mailer.campaigns.audience import Audience
from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact, Organisation
from mailer.db import not_personal, personal, utcnow
from mailer.digest.build import send_digest
from mailer.evaluations.service import record_evaluation
from mailer.mail.transport import FileTransport
from mailer.meetings.models import Meeting
from mailer.privacy.catalogue import undeclared_columns
from mailer.privacy.erasure import erase_person
from mailer.privacy.export import export_person
from mailer.privacy.files import remove_expired_outbox_files
from mailer.rsvp.service import record_answer
from mailer.staff import uploads

ADDRESS = "asa.odmark@kor.example.org"
NAME = "Åsa Ödmark"
PHONE = "070-7654321"
SECRETS = (ADDRESS, NAME, PHONE, "glutenfri", "Åsa Ödmark kommer")
LIST = f"email,name,role,phone\n{ADDRESS},{NAME},kassör,{PHONE}\nbengt@kor.example.org,Bengt Berg,,\n"


def test_every_column_says_whether_it_is_personal():
    assert undeclared_columns() == []


def test_an_organisations_short_name_is_declared_not_personal():
    """An abbreviation like "SKF" names a member organisation, never a person: export and erasure pass it by."""
    assert Organisation.__table__.c.short_name.info == not_personal()


def test_a_column_without_the_declaration_is_caught():
    metadata = MetaData()
    Table(
        "notes",
        metadata,
        Column("id", Integer, primary_key=True, info=not_personal()),
        Column("text", String(100), info=personal()),
        Column("author", String(100)),
    )
    assert undeclared_columns(metadata) == ["notes.author"]


def _held_somewhere(instance, dump: str) -> list[str]:
    """Each (secret, place) found: in the dump, in any file's bytes, or in a decoded message."""
    found = [f"{secret} in the database" for secret in SECRETS if secret.lower() in dump.lower()]
    for path in instance.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        texts = [data.decode("utf-8", "replace"), data.decode("cp1252", "replace")]
        if path.suffix == ".eml":
            message = email.message_from_bytes(data, policy=policy.default)
            texts += [str(v) for v in message.values()]
            texts += [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]
        text = "\n".join(texts).lower()
        found += [f"{secret} in {path.relative_to(instance)}" for secret in SECRETS if secret.lower() in text]
    return found


def test_erasure_leaves_nothing_in_the_database_or_the_instance_folder(
    db, app, make_csv, make_meeting, database_dump, instance_path
):
    settings = app.extensions["mailer.settings"].with_overrides(staff_emails=("kansli@ax.example.org",))
    templates = app.extensions["mailer.templates"]
    starts = (utcnow() + dt.timedelta(days=30)).astimezone(settings.timezone).strftime("%Y-%m-%d 18:00")
    meeting = make_meeting(slug="falun", starts=starts)
    path = make_csv("kor.csv", LIST)
    with db.transaction() as session:
        import_lists(session, [path])
        campaign = service.create_campaign(
            session, settings, templates, meeting_slug="falun", template="invitation", audience=Audience(all=True)
        )
        service.start(session, campaign)
    with db.transaction() as session:
        person = session.scalar(select(Contact).where(Contact.email == ADDRESS))
        bengt = session.scalar(select(Contact).where(Contact.email == "bengt@kor.example.org"))
        held = session.get(Meeting, meeting.id)
        record_answer(
            session, person, held, {"answer": "yes", "diet": "glutenfri", "comment": "Hälsningar"}, settings.timezone
        )
        record_answer(session, bengt, held, {"answer": "yes", "comment": "Åsa Ödmark kommer också"}, settings.timezone)
        record_evaluation(
            session,
            person,
            held,
            {"value": "5", "knowledge": "4", "cooperation": "yes", "comment": f"Ring mig på {PHONE}"},
        )
        send_digest(session, settings)
    send_everything(db, settings, templates)
    token = uploads.keep(instance_path / "uploads", LIST.encode("cp1252"))
    (instance_path / "exports").mkdir()
    (instance_path / "exports" / "deltagare.csv").write_text(f"namn\n{NAME}\n", encoding="utf-8")
    bengts_invitation = [
        p.name
        for p in (instance_path / "outbox").glob("*.eml")
        if "bengt@kor.example.org" in p.read_text(errors="replace")
    ]
    assert _held_somewhere(instance_path, database_dump())  # the test can see her before

    with db.reading() as session:
        exported = export_person(session, ADDRESS, settings)
    assert f"uploads/{token}.csv" in exported["files"] and "exports/deltagare.csv" in exported["files"]
    assert len([f for f in exported["files"] if f.startswith("outbox/")]) >= 3  # invitation, confirmation, digest
    assert {"table": "response_history", "column": "comment", "value": "Åsa Ödmark kommer också"} in exported[
        "mentions"
    ]

    erased = erase_person(db, settings, ADDRESS, "test")

    assert _held_somewhere(instance_path, database_dump()) == []
    assert sorted(str(f) for f in erased.files) == exported["files"]
    assert all((instance_path / "outbox" / name).exists() for name in bengts_invitation)  # others' mail stays
    with db.reading() as session:  # the counts stay
        assert session.scalar(select(Contact).where(Contact.id == erased.contact_id)).is_erased
    assert erased.responses == 1 and erased.mentions_rewritten >= 2


def test_retention_deletes_file_outbox_messages_older_than_the_period(settings):
    folder = settings.outbox_path
    folder.mkdir(parents=True)
    old, recent = folder / "old.eml", folder / "recent.eml"
    old.write_text("To: a@example.org\n\nhej\n")
    recent.write_text("To: b@example.org\n\nhej\n")
    now = time.time()
    os.utime(old, (now - 400 * 86400, now - 400 * 86400))
    os.utime(recent, (now - 300 * 86400, now - 300 * 86400))
    assert remove_expired_outbox_files(settings, 12, now=now) == 1
    assert not old.exists() and recent.exists()


def test_a_staged_upload_and_an_outbox_message_age_by_the_app_clock(instance_path, settings):
    """Their files are stamped from the app's clock, so a moved clock (TEST_CLOCK_OFFSET_DAYS, a
    test's travel) ages them as it ages everything else: a day for an upload, the retention
    period for a message."""
    folder = instance_path / "uploads"
    token = uploads.keep(folder, LIST.encode("cp1252"))
    FileTransport(settings.outbox_path).send("a@example.org", "b@example.org", b"To: b@example.org\n\nhej\n", "<m1@x>")
    assert uploads.load(folder, token) == LIST.encode("cp1252")
    assert remove_expired_outbox_files(settings, 12) == 0
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)):
        with pytest.raises(uploads.UploadGone):
            uploads.load(folder, token)
        assert remove_expired_outbox_files(settings, 12) == 0
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=370)):
        assert remove_expired_outbox_files(settings, 12) == 1
