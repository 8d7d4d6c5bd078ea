"""A confirmed import written in short transactions: the whole file checked first, then BATCH rows at a time.

Why: one transaction for a 100,000-row list held SQLite's one write lock (and PostgreSQL's
row locks) for the whole import, so a recipient answering meanwhile waited for all of it.
Now every file is read and checked once, without the database, and nothing is written when
any file or row stops the import (an unreadable file, a problem staff must choose, a rejected
row under --strict), wherever in the file it is. The rows the check found good are kept in an
anonymous temporary file (`Spool`), and only then written one batch per transaction; between
two batches others write. An import interrupted half way leaves whole batches behind, and running it again
finds those people and memberships already there: nothing is added twice.

The small, all-in-one `import_lists` (one caller's transaction) stays for the dry run and for
small programmatic imports.
"""

from __future__ import annotations

import pickle
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mailer.contacts.csvfile import (
    MAX_FILE_BYTES,
    Choices,
    ContactRow,
    CsvFileError,
    ParsedList,
    read_organisation_names,
    read_rows,
)
from mailer.contacts.importer import (
    BATCH,
    CHUNK,
    Claims,
    FileReport,
    ImportReport,
    Progress,
    apply_batch,
    file_report,
    import_lists,
    organisation_for_list,
    record_rejections,
)
from mailer.contacts.models import ERASED_DOMAIN, Contact, Membership, Organisation
from mailer.db import Database

Finish = Callable[[Session, ImportReport], None]  # the caller's last words in the last transaction (its audit record)


class Spool:
    """The rows a file's check found good, BATCH to a record, in a temporary file without a name.

    Why: reading and checking the file again for writing cost as much as the check itself (and
    repeated its DNS lookups); kept in memory instead, a million rows would not fit the import's
    constant memory. A file without a name leaves nothing behind, even when the import is
    killed half way. Only this process writes and reads it, so unpickling it is safe.
    """

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()
        self.batch: list[ContactRow] = []

    def add(self, row: ContactRow) -> None:
        self.batch.append(row)
        if len(self.batch) >= BATCH:
            self._keep()

    def _keep(self) -> None:
        try:
            pickle.dump(self.batch, self.file, protocol=pickle.HIGHEST_PROTOCOL)
        except OSError as exc:  # a file without a name: name its folder, or a full disk would blame the database's
            raise OSError(exc.errno, exc.strerror, tempfile.gettempdir()) from exc
        self.batch = []

    def batches(self) -> Iterator[list[ContactRow]]:
        """Every batch kept, the last one possibly empty (a file without rows still gets its organisation)."""
        self._keep()
        self.file.seek(0)
        while True:
            try:
                yield pickle.load(self.file)
            except EOFError:
                return

    def close(self) -> None:
        self.file.close()


class Spools(dict[int, Spool]):
    """Each file's spool, by the file's place in the import's list (a file named twice is read,
    and written, twice, as one named once); all closed, and so gone, when the import ends."""

    def __enter__(self) -> Spools:
        return self

    def __exit__(self, *_exc: object) -> None:
        for spool in self.values():
            spool.close()


def import_in_batches(
    db: Database,
    paths: list[Path],
    org: str | None = None,
    strict: bool = False,
    check_dns: bool = False,
    data: dict[Path, bytes] | None = None,
    choices: Choices | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    progress: Progress | None = None,
    finish: Finish | None = None,
) -> ImportReport:
    """Check every file whole, then write the ones that may be written, BATCH rows per transaction.

    `progress` hears the rows checked so far, ending with all of them, then 0 and the rows
    written so far. `finish` runs in the last transaction, with the rejections and the removals from
    the lists, when anything was written. Files that are not written (unreadable, or with
    something to choose) are reported as the dry run reports them.
    """
    choices = choices or Choices()

    def dry_run(files: list[Path]) -> list[FileReport]:
        """The files as the dry run reports them (those not written: stopped, or something to choose)."""
        with db.reading() as session:
            return import_lists(
                session, files, org, dry_run=True, check_dns=check_dns, data=data, choices=choices, max_bytes=max_bytes
            ).files

    with Spools() as spools:  # closed, and so gone, however the import ends
        checked = _check(paths, org, check_dns, data, choices, max_bytes, progress, spools)
        stopped = any(r.error or r.blocking or r.rejected for r in checked) if strict else False
        writable = [
            (spools[number], r) for number, r in enumerate(checked) if r.organisation and not (r.error or r.blocking)
        ]
        if stopped or not writable:
            preview = dry_run(paths)
            return ImportReport(files=preview, written=not stopped)
        written = _write(db, writable, org, choices, progress)
        held = [r.path for r in checked if r.organisation and (r.error or r.blocking)]
        previews = {r.path: r for r in dry_run(held)} if held else {}
        files = [written.get(r.path) or previews.get(r.path) or r for r in checked]
        report = ImportReport(files=files, written=True)
        with db.transaction() as session:
            for file in written.values():
                assert file.organisation is not None, "a written file names its organisation"
                organisation_id = session.scalar(select(Organisation.id).where(Organisation.slug == file.organisation))
                assert organisation_id is not None, "created by the file's first transaction"
                record_rejections(session, organisation_id, file)
            if finish is not None:
                finish(session, report)
        return report


def _check(
    paths: list[Path],
    org: str | None,
    check_dns: bool,
    data: dict[Path, bytes] | None,
    choices: Choices,
    max_bytes: int,
    progress: Progress | None,
    spools: Spools,
) -> list[FileReport]:
    """Each file read whole, without the database: its unreadable parts, rejected rows and blocking
    problems; its good rows go to its spool (`spools[its place in paths]`)."""
    reports, rows = [], 0
    for number, path in enumerate(paths):
        report = file_report(path, org)
        reports.append(report)
        if report.organisation is None:  # the registry, or a name that is no organisation slug
            continue
        parsed, spool = ParsedList(path=path), spools.setdefault(number, Spool())
        try:
            read_organisation_names(path.parent)
            for row in _read(parsed, data, check_dns, max_bytes, choices):
                spool.add(row)
                rows += 1
                if progress is not None and rows % BATCH == 0:
                    progress(rows)
        except CsvFileError as exc:
            report.error, report.error_code, report.error_params = str(exc), exc.code, exc.params
            continue
        report.rejected, report.warnings, report.blocking = parsed.rejected, parsed.warnings, parsed.blocking
    if progress is not None:
        progress(rows)  # the pass's last count, not only its last whole batch
    return reports


def _read(
    parsed: ParsedList, data: dict[Path, bytes] | None, check_dns: bool, max_bytes: int, choices: Choices
) -> Iterator[ContactRow]:
    return read_rows(parsed, (data or {}).get(parsed.path), check_dns=check_dns, max_bytes=max_bytes, choices=choices)


def _write(
    db: Database,
    checked: list[tuple[Spool, FileReport]],
    org: str | None,
    choices: Choices,
    progress: Progress | None,
) -> dict[Path, FileReport]:
    """Each file's good rows (from its spool) written one batch per transaction; then the people
    no longer on each organisation's list (all its files of this import) leave it, in batches too."""
    claims, reports, rows = Claims(), {}, 0
    if progress is not None:
        progress(0)  # a new pass: the count starts again (see mailer.cli.progress)
    on_lists: dict[int, tuple[FileReport, set[str]]] = {}  # organisation id -> its last file, everyone on its files
    for number, (spool, check) in enumerate(checked, 1):
        path = check.path
        claims.open = number < len(checked)
        slug = org or path.stem.lower()
        report = reports[path] = FileReport(path=path, organisation=slug)
        started, rows_before, seen = time.monotonic(), rows, dict[str, int]()
        with db.transaction() as session:
            organisation = organisation_for_list(session, slug, path.parent)
        for batch in spool.batches():
            with db.transaction() as session:  # rows checked before it opens: it holds only the SQL
                apply_batch(session, report, organisation, batch, seen, claims, choices, write=True)
            rows += len(batch)
            if progress is not None:
                progress(rows)
        report.rejected, report.warnings = check.rejected, check.warnings + report.warnings
        report.rows, report.seconds = rows - rows_before, time.monotonic() - started
        everyone = on_lists[organisation.id][1] if organisation.id in on_lists else set()
        on_lists[organisation.id] = (report, everyone | seen.keys())
    for organisation_id, (report, emails) in on_lists.items():
        report.removed = _remove_absent(db, organisation_id, emails)
    return reports


def _remove_absent(db: Database, organisation_id: int, emails: set[str]) -> int:
    """Memberships of people no longer on the organisation's list leave it, BATCH per transaction
    (the person stays a contact; an erased person's membership stays, as in the importer)."""
    with db.reading() as session:
        absent = [
            contact_id
            for contact_id, email in session.execute(
                select(Contact.id, Contact.email)
                .join(Membership, Membership.contact_id == Contact.id)
                .where(Membership.organisation_id == organisation_id)
            )
            if email not in emails and not email.endswith("@" + ERASED_DOMAIN)
        ]
    for start in range(0, len(absent), BATCH):
        with db.transaction() as session:
            for chunk_start in range(start, min(start + BATCH, len(absent)), CHUNK):
                session.execute(
                    delete(Membership).where(
                        Membership.organisation_id == organisation_id,
                        Membership.contact_id.in_(absent[chunk_start : min(chunk_start + CHUNK, start + BATCH)]),
                    )
                )
    return len(absent)
