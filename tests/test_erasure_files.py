"""Erasure's files: whose they are (the address decides, a shared name does not), archives searched
inside, backups left alone, large files read in windows. Real files, the real CLI, both backends."""

from __future__ import annotations

import email
import json
import tracemalloc
import zipfile
from email import policy
from pathlib import Path

import pytest
from helpers import send_everything
from sqlalchemy import select

from mailer.campaigns import service
from mailer.campaigns.audience import Audience
from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact
from mailer.contacts.queries import find_contact
from mailer.meetings.models import Meeting
from mailer.privacy.files import MAX_UNZIPPED_BYTES, WINDOW_BYTES, files_about
from mailer.privacy.person import Identity
from mailer.rsvp.service import record_answer

ANNA = "anna@kor.example.org"
NAMESAKE = "anna.andersson@teater.example.org"  # another Anna Andersson
HANNA = "hanna@kor.example.org"  # her address holds Anna's
OFFICE = "08-123 45 67"  # a phone two people share
LIST = (
    "email,name,phone\n"
    f"{ANNA},Anna Andersson,{OFFICE}\n"
    f"{NAMESAKE},Anna Andersson,\n"
    f"{HANNA},Hanna Holm,{OFFICE}\n"
    "bengt@kor.example.org,Bengt Berg,070-1112233\n"
)


@pytest.fixture
def sent(app, db, make_csv, make_meeting, instance_path):
    """Everyone on the list invited through the file outbox; Anna answered with a comment."""
    settings = app.extensions["mailer.settings"]
    templates = app.extensions["mailer.templates"]
    meeting = make_meeting(slug="falun")
    with db.transaction() as session:
        import_lists(session, [make_csv("kor.csv", LIST)])
        campaign = service.create_campaign(
            session, settings, templates, meeting_slug="falun", template="invitation", audience=Audience(all=True)
        )
        service.start(session, campaign)
    send_everything(db, settings, templates)
    with db.transaction() as session:
        anna = session.scalar(select(Contact).where(Contact.email == ANNA))
        record_answer(
            session,
            anna,
            session.get(Meeting, meeting.id),
            {"answer": "yes", "comment": "Glutenfri, tack"},
            settings.timezone,
        )
    return settings


def mail_to(instance_path: Path, address: str) -> list[Path]:
    found = []
    for path in sorted((instance_path / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if address in [to.addr_spec for to in message["To"].addresses]:
            found.append(path)
    return found


def exported_files(runner, address: str) -> list[str]:
    result = runner.invoke(["contacts", "export-person", address])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["files"]


def forget(runner, address: str) -> None:
    result = runner.invoke(["contacts", "forget", address, "--yes"])
    assert result.exit_code == 0, result.output


# (c) A file is the person's by their address; a name or phone someone else shares is not enough.


def test_a_namesakes_mail_is_neither_listed_nor_deleted(runner, sent, instance_path):
    annas = mail_to(instance_path, ANNA)
    [namesakes] = mail_to(instance_path, NAMESAKE)
    [hannas] = mail_to(instance_path, HANNA)
    assert "Anna Andersson" in email.message_from_bytes(namesakes.read_bytes(), policy=policy.default)["To"]
    before = {path: path.read_bytes() for path in (namesakes, hannas)}

    listed = exported_files(runner, ANNA)
    assert annas and all(f"outbox/{path.name}" in listed for path in annas)
    assert f"outbox/{namesakes.name}" not in listed and f"outbox/{hannas.name}" not in listed

    forget(runner, ANNA)

    assert not any(path.exists() for path in annas)
    assert {path: path.read_bytes() for path in (namesakes, hannas)} == before  # the other Anna's, and Hanna's


def test_a_shared_name_or_phone_alone_marks_no_file_but_a_name_nobody_shares_does(runner, sent, instance_path):
    exports = instance_path / "exports"
    exports.mkdir()
    (exports / "names.csv").write_text("namn\nAnna Andersson\n", encoding="utf-8")
    (exports / "phones.csv").write_text(f"telefon\n{OFFICE}\n", encoding="utf-8")
    (exports / "bengts-phone.csv").write_text("telefon\n070-1112233\n", encoding="utf-8")
    (exports / "bengts-name.csv").write_text("Bengt Bergs anmälan\n", encoding="utf-8")  # a genitive s
    (exports / "bengtsson.csv").write_text("Bengt Bergström\n", encoding="utf-8")  # another name

    assert not any(path.startswith("exports/") for path in exported_files(runner, ANNA))
    forget(runner, ANNA)
    assert (exports / "names.csv").exists() and (exports / "phones.csv").exists()

    # Bengt's name and phone are his alone: either makes a file his.
    assert [path for path in exported_files(runner, "bengt@kor.example.org") if path.startswith("exports/")] == [
        "exports/bengts-name.csv",
        "exports/bengts-phone.csv",
    ]


def test_a_name_is_told_apart_from_every_other_contacts_name_address_phone_and_list_spelling(db, sent):
    with db.reading() as session:
        anna = Identity.of(find_contact(session, ANNA))
        bengt = Identity.of(find_contact(session, "bengt@kor.example.org"))
        hanna = Identity.of(find_contact(session, HANNA))
    assert (anna.name_distinct, anna.phone_distinct) == (False, False)
    assert (bengt.name_distinct, bengt.phone_distinct) == (True, True)
    assert (hanna.name_distinct, hanna.phone_distinct) == (True, False)
    assert anna.needles[:1] == [ANNA] and "anna andersson" in anna.needles  # the database still looks for all


# (b) Backups are never edited: they expire by backup_keep.


def test_forget_leaves_every_backup_byte_for_byte(runner, sent, instance_path):
    assert runner.invoke(["backup"]).exit_code == 0
    elsewhere = instance_path / "kept"
    elsewhere.mkdir()
    assert runner.invoke(["backup", elsewhere]).exit_code == 0  # a backup written anywhere under the instance
    backups = sorted(path for folder in ("backups", "kept") for path in (instance_path / folder).iterdir())
    assert len(backups) == 4 and sum(path.name.endswith(".json") for path in backups) == 2
    before = {path: path.read_bytes() for path in backups}

    assert not any(path.startswith(("backups/", "kept/")) for path in exported_files(runner, ANNA))
    result = runner.invoke(["contacts", "forget", ANNA, "--yes"])

    assert result.exit_code == 0 and "backups taken before now still hold this person" in result.output
    assert {path: path.read_bytes() for path in backups} == before
    assert runner.invoke(["restore", "--dry-run", backups[0]]).exit_code == 0  # still a whole backup


# (a) Archives are searched inside.


def test_an_xlsx_export_naming_the_person_is_listed_and_removed(runner, sent, instance_path):
    exports = instance_path / "exports"
    exports.mkdir()
    result = runner.invoke(["responses", "export", "falun", "--format", "xlsx", "-o", exports / "falun.xlsx"])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(exports / "falun.xlsx") as workbook:
        assert ANNA in "".join(workbook.read(name).decode() for name in workbook.namelist())
    assert ANNA.encode() not in (exports / "falun.xlsx").read_bytes()  # only once decompressed
    # The same workbook inside a zip, and a workbook of the other Anna Andersson's.
    with zipfile.ZipFile(exports / "bundle.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(exports / "falun.xlsx", "svar/falun.xlsx")
    with zipfile.ZipFile(exports / "namesake.xlsx", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", f"<sst><si><t>{NAMESAKE}</t></si><si><t>Anna Andersson</t></si></sst>")
    namesakes = (exports / "namesake.xlsx").read_bytes()

    listed = exported_files(runner, ANNA)
    assert "exports/falun.xlsx" in listed and "exports/bundle.zip" in listed
    assert "exports/namesake.xlsx" not in listed

    forget(runner, ANNA)
    assert sorted(path.name for path in exports.iterdir()) == ["namesake.xlsx"]
    assert (exports / "namesake.xlsx").read_bytes() == namesakes


def test_an_archive_too_large_to_search_whole_counts_as_the_persons(db, sent, instance_path):
    """A zip bomb: more decompressed bytes than the bound, read in windows, and counted as hers."""
    exports = instance_path / "exports"
    exports.mkdir()
    with zipfile.ZipFile(exports / "bomb.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("zeros.txt", "w", force_zip64=True) as member:
            block = b"\0" * WINDOW_BYTES
            for _ in range(MAX_UNZIPPED_BYTES // WINDOW_BYTES + 2):
                member.write(block)
    with zipfile.ZipFile(exports / "small.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("note.txt", "Hanna Holm kommer")
    assert (exports / "bomb.zip").stat().st_size < 2 * 1024 * 1024
    with db.reading() as session:
        identity = Identity.of(find_contact(session, ANNA))
    tracemalloc.start()
    try:
        found = files_about(sent, identity)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert exports / "bomb.zip" in found and exports / "small.zip" not in found
    assert peak < 64 * 1024 * 1024


# Large files are read in windows: little memory, and a value across a window's edge is still found.


def test_a_large_file_is_read_in_windows_and_a_value_across_their_edges_is_found(db, sent, instance_path):
    exports = instance_path / "exports"
    exports.mkdir()
    filler = b"x" * (WINDOW_BYTES - 7)
    (exports / "across.csv").write_bytes(filler + b"\n" + ANNA.encode() + b"\n" + b"y" * (3 * WINDOW_BYTES))
    (exports / "hanna.csv").write_bytes(filler + b";" + HANNA.encode() + b";" + b"y" * WINDOW_BYTES)
    utf16 = "\ufeff" + "z" * (WINDOW_BYTES // 2 - 5) + " Bengt Berg " + "z" * WINDOW_BYTES
    (exports / "utf16.txt").write_bytes(utf16.encode("utf-16-le"))
    (exports / "big.csv").write_bytes(b"q" * (40 * WINDOW_BYTES) + b"," + ANNA.encode())
    with db.reading() as session:
        anna = Identity.of(find_contact(session, ANNA))
        bengt = Identity.of(find_contact(session, "bengt@kor.example.org"))
    tracemalloc.start()
    try:
        annas = [path.name for path in files_about(sent, anna) if path.parent == exports]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert annas == ["across.csv", "big.csv"]  # not hanna@…, though it holds anna@…
    assert peak < 24 * 1024 * 1024  # a 40 MB file, read a megabyte at a time
    assert [path.name for path in files_about(sent, bengt) if path.parent == exports] == ["utf16.txt"]
