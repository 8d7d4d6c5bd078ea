"""A confirmed import is checked whole, then written in short transactions (issue 18).

Why it matters: a recipient answering while staff import a 100,000-row list must not wait for
the whole import; an import stopped half way and run again must add nobody twice; and a bad
row at the very end must still stop the whole file before anything is written.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailer.audit.models import AuditEntry
from mailer.contacts.batched import import_in_batches
from mailer.contacts.consent import ConsentRecord
from mailer.contacts.importer import BATCH
from mailer.contacts.models import Contact, Membership, Organisation

ROWS = 2 * BATCH + 500  # three batches: two full, one part


def rows_csv(count: int, last: str | None = None) -> str:
    lines = ["e-post;namn;region"] + [f"person{i}@example.org;Person {i};Dalarna" for i in range(count)]
    return "\n".join(lines + ([last] if last is not None else [])) + "\n"


def count(db, what) -> int:
    with db.reading() as session:
        return session.scalar(select(func.count()).select_from(what)) or 0


class Interrupted(Exception):
    """Stands for the process being stopped (Ctrl-C, a restart) between two batches."""


def test_every_batch_is_committed_and_others_write_between_them(db, make_csv):
    path = make_csv("korpen.csv", rows_csv(ROWS))
    seen: list[tuple[int, int]] = []  # (rows reported, memberships another connection sees)

    def between_batches(done: int) -> None:
        # Another thread writes: on SQLite it needs the write lock the import must not hold here.
        def write() -> None:
            with db.transaction() as session:
                session.add(Organisation(slug=f"mellan-{len(seen)}", name="Mellan"))

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writer.join(timeout=20)
        assert not writer.is_alive(), "a write from another thread waited for the import between two batches"
        seen.append((done, count(db, Membership)))

    report = import_in_batches(db, [path], progress=between_batches)

    assert report.written and report.exit_code == 0
    assert report.files[0].imported == ROWS
    checked, start, written = seen[:3], seen[3], seen[4:]
    assert checked == [(BATCH, 0), (2 * BATCH, 0), (ROWS, 0)], "the check pass reads the whole file and writes nothing"
    assert start == (0, 0), "the write pass starts its count (and the CLI's clock) again"
    assert written == [(BATCH, BATCH), (2 * BATCH, 2 * BATCH), (ROWS, ROWS)], "each batch committed on its own"


def test_a_file_named_twice_is_written_as_twice_the_same_file(db, make_csv):
    """Each file's checked rows are kept by its place in the list: the same file twice is two
    reads of it, each written once (the second finds everyone there), not one doubled."""
    path = make_csv("korpen.csv", rows_csv(BATCH + 10))

    report = import_in_batches(db, [path, path])

    assert [file.rows for file in report.files] == [BATCH + 10, BATCH + 10]
    assert count(db, Contact) == BATCH + 10 and count(db, Membership) == BATCH + 10


def test_an_interrupted_import_run_again_adds_nobody_twice(db, make_csv):
    path = make_csv("korpen.csv", rows_csv(ROWS))

    def stop_after_first_batch(done: int) -> None:
        if count(db, Membership):
            raise Interrupted

    with pytest.raises(Interrupted):
        import_in_batches(db, [path], progress=stop_after_first_batch)
    assert count(db, Membership) == count(db, Contact) == BATCH, "the first batch stayed, whole"

    again = import_in_batches(db, [path])

    file = again.files[0]
    assert (file.imported, file.unchanged, file.updated) == (ROWS - BATCH, BATCH, 0)
    assert count(db, Contact) == count(db, Membership) == count(db, ConsentRecord) == ROWS
    with db.reading() as session:
        assert session.scalar(select(func.count(func.distinct(Contact.email)))) == ROWS
    assert import_in_batches(db, [path]).files[0].unchanged == ROWS, "a third run changes nothing"


@pytest.mark.parametrize(
    ("last", "strict", "why"),
    [
        ("someone@example.org;Någon;Sörmlnd", False, "unknown region: staff must choose"),
        ('"broken@example.org;Trasig;Dalarna', False, "an unclosed quote: the file is unreadable"),
        ("not-an-address;Fel;Dalarna", True, "a rejected row under --strict"),
    ],
)
def test_a_bad_row_after_the_first_batches_writes_nothing(db, make_csv, last, strict, why):
    path = make_csv("korpen.csv", rows_csv(ROWS, last=last))

    report = import_in_batches(db, [path], strict=strict)

    assert report.exit_code == 2 or not report.written, why
    assert count(db, Contact) == count(db, Membership) == 0, why
    assert count(db, Organisation) == 0, why


def test_a_bad_row_without_strict_is_left_out_and_the_rest_written(db, make_csv):
    path = make_csv("korpen.csv", rows_csv(ROWS, last="not-an-address;Fel;Dalarna"))

    report = import_in_batches(db, [path])

    assert report.written and report.exit_code == 1
    assert [p.line for p in report.files[0].rejected] == [ROWS + 2]
    assert count(db, Membership) == ROWS


def test_the_command_writes_in_batches_with_one_audit_record(runner, db, make_csv):
    path = make_csv("korpen.csv", rows_csv(ROWS))

    result = runner.invoke(["contacts", "import", str(path)])

    assert result.exit_code == 0, result.output
    assert f"korpen.csv: {ROWS} new" in result.stdout
    assert count(db, Membership) == ROWS
    with db.reading() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "contacts.import")).all()
    assert len(entries) == 1


def test_the_command_stopped_by_a_bad_last_row_writes_nothing(runner, db, make_csv):
    path: Path = make_csv("korpen.csv", rows_csv(ROWS, last="someone@example.org;Någon;Sörmlnd"))

    result = runner.invoke(["contacts", "import", str(path)])

    assert result.exit_code == 2
    assert f"{path}:{ROWS + 2}:" in result.stderr
    assert count(db, Contact) == 0
