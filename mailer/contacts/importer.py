"""Importing contact lists into the database: one contact per person, one membership per list.

Rules that protect people and data:
- re-importing a list never re-subscribes a suppressed address;
- an erased person (suppressed by hash, reason "erased") is never stored again;
- a file that cannot be read changes nothing, and --strict makes any bad row change nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from mailer.contacts.consent import ConsentRecord, LawfulBasis
from mailer.contacts.csvfile import (
    MAX_FILE_BYTES,
    Choices,
    ContactRow,
    CsvFileError,
    ParsedList,
    Problem,
    read_organisation_names,
    read_rows,
)
from mailer.contacts.models import (
    ERASED_DOMAIN,
    Contact,
    ImportRejection,
    Membership,
    Organisation,
    Suppression,
    SuppressionReason,
    address_hash,
)
from mailer.db import utcnow
from mailer.identifiers import SLUG_RE

REGISTRY_FILE = "organisations.csv"
CHUNK = 500  # addresses in one IN (...) lookup
BATCH = 2000  # rows read, looked up and written together


@dataclass
class Disagreement:
    """Lists spell one person differently: what is shown now, what the import shows, and the choices."""

    line: int
    email: str
    field: str  # "name" or "region"
    shown: str | None  # before this import
    result: str  # after it, unless staff choose another of the options
    options: dict[str, list[str]]  # spelling -> names of the organisations whose lists state it


@dataclass
class FileReport:
    path: Path
    organisation: str | None = None
    error: str | None = None
    error_code: str = ""  # with error_params, the error for pages in another language
    error_params: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    imported: int = 0  # new on this organisation's list
    updated: int = 0  # on it before, and something it says of them changed
    unchanged: int = 0
    removed: int = 0  # on it before, not any more
    suppressed: int = 0
    erased: int = 0
    rejected: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    blocking: list[Problem] = field(default_factory=list)  # the file is not imported while any is left
    disagreements: list[Disagreement] = field(default_factory=list)
    rows: int = 0  # rows read from the file
    seconds: float = 0.0  # how long reading and applying them took

    def summary(self) -> str:
        if self.error:
            return f"{self.path.name}: not imported: {self.error}"
        if self.note:
            return f"{self.path.name}: {self.note}"
        if self.blocking:
            return (
                f"{self.path.name}: not imported: {len(self.blocking)} problem(s) to fix in the file "
                "or to choose (--map-region, --column)"
            )
        text = (
            f"{self.path.name}: {self.imported} new, {self.updated} changed, "
            f"{self.unchanged} unchanged, {self.removed} removed, {len(self.rejected)} rejected"
        )
        extras = []
        if self.suppressed:
            extras.append(f"{self.suppressed} suppressed stay suppressed")
        if self.erased:
            extras.append(f"{self.erased} erased on request, skipped")
        return text + (f" ({'; '.join(extras)})" if extras else "")


@dataclass
class ImportReport:
    files: list[FileReport]
    written: bool

    @property
    def exit_code(self) -> int:
        """0: all good; 1: some rows rejected (good rows kept); 2: a file unreadable, or with
        problems staff must fix or choose (unknown region or column)."""
        if any(file_report.error or file_report.blocking for file_report in self.files):
            return 2
        if any(file_report.rejected for file_report in self.files):
            return 1
        return 0


Progress = Callable[[int], None]  # called with the rows read so far, after each batch


def file_report(path: Path, org: str | None) -> FileReport:
    """A file's report as it starts: the organisation it is for, or why it is no contact list."""
    report = FileReport(path=path)
    if path.name == REGISTRY_FILE and org is None:
        report.note = "organisation names, not a contact list: skipped"
        return report
    slug = org or path.stem.lower()
    if not SLUG_RE.match(slug):
        report.error = f"{slug!r} is not a valid organisation slug (a-z, 0-9 and hyphens); rename the file or use --org"
        report.error_code, report.error_params = "bad_slug", {"slug": slug}
        return report
    report.organisation = slug
    return report


def import_lists(
    session: Session,
    paths: list[Path],
    org: str | None = None,
    dry_run: bool = False,
    strict: bool = False,
    check_dns: bool = False,
    data: dict[Path, bytes] | None = None,
    choices: Choices | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    progress: Progress | None = None,
) -> ImportReport:
    """Import contact lists within the caller's transaction.

    With dry_run the report is computed by the very same code, with the changes kept in
    memory and never sent to the database: a preview only reads, so it can run without the
    write lock (Database.reading). When strict finds a problem, every change is rolled back
    to a savepoint. A file with blocking problems (unknown region or column) is computed
    too, for the preview, and rolled back on its own. `data` supplies file contents already
    in memory (web uploads); `choices` answers blocking problems and disagreements.

    Files are read row by row and applied in batches of BATCH rows: what is kept across
    rows is the addresses on each list (for removals and duplicates) and each person's
    language and phone as set by this import, never the rows themselves, so a million rows
    fit in constant memory. `progress` hears how many rows were read so far.
    """
    choices = choices or Choices()
    reports: list[FileReport] = []
    claims = Claims()
    counter = _Counter(progress)
    savepoint = None if dry_run else session.begin_nested()
    # organisation id -> its last file, everyone on its files
    lists: dict[int, tuple[FileReport, AbstractSet[str]]] = {}
    for number, path in enumerate(paths, 1):
        claims.open = number < len(paths)
        report = file_report(path, org)
        reports.append(report)
        if report.organisation is None:  # the registry, or a name that is no organisation slug
            continue
        parsed = ParsedList(path=path)
        started, rows_before = time.monotonic(), counter.rows
        alone = None if dry_run else session.begin_nested()
        try:
            read_organisation_names(path.parent)  # a broken organisations.csv stops this file here
            rows = read_rows(parsed, (data or {}).get(path), check_dns=check_dns, max_bytes=max_bytes, choices=choices)
            if dry_run:
                with session.no_autoflush:
                    organisation_id, emails = _apply(session, report, rows, claims, choices, counter, write=False)
            else:
                organisation_id, emails = _apply(session, report, rows, claims, choices, counter)
        except CsvFileError as exc:
            if alone is not None:
                alone.rollback()
            report.rejected, report.warnings, report.blocking = [], [], []
            report.imported = report.updated = report.unchanged = report.suppressed = report.erased = 0
            report.disagreements = []
            report.error, report.error_code, report.error_params = str(exc), exc.code, exc.params
            continue
        report.rejected, report.warnings, report.blocking = (
            parsed.rejected,
            parsed.warnings + report.warnings,
            parsed.blocking,
        )
        report.rows, report.seconds = counter.rows - rows_before, time.monotonic() - started
        if alone is not None:  # not a dry run
            if report.blocking:
                alone.rollback()
                continue
            assert organisation_id is not None, "written: the organisation has its id"
            record_rejections(session, organisation_id, report)
            session.flush()
            alone.commit()
            earlier = lists.get(organisation_id)
            lists[organisation_id] = (report, earlier[1] | emails if earlier else emails)
        elif organisation_id is not None:
            report.removed = _remove_absent(session, organisation_id, emails, write=False)
    if savepoint is None:  # a dry run
        session.expunge_all()
        return ImportReport(files=reports, written=False)
    rollback = strict and any(
        file_report.error or file_report.rejected or file_report.blocking for file_report in reports
    )
    for organisation_id, (report, emails) in lists.items():
        report.removed = _remove_absent(session, organisation_id, emails)
    if rollback:
        savepoint.rollback()
    else:
        savepoint.commit()
    return ImportReport(files=reports, written=not rollback)


class _Counter:
    """Rows read so far in this import, told to the caller's progress callback."""

    def __init__(self, progress: Progress | None):
        self.progress, self.rows = progress, 0

    def add(self, rows: int) -> None:
        self.rows += rows
        if self.progress is not None:
            self.progress(self.rows)


def record_rejections(session: Session, organisation_id: int, report: FileReport) -> None:
    session.execute(
        delete(ImportRejection).where(
            ImportRejection.organisation_id == organisation_id, ImportRejection.file_name == report.path.name
        )
    )
    session.add_all(
        ImportRejection(
            organisation_id=organisation_id,
            file_name=report.path.name,
            line=problem.line,
            value=(problem.value or "")[:400] or None,
            reason=problem.message[:400],
        )
        for problem in report.rejected
    )


def _remove_absent(session: Session, organisation_id: int, emails: Collection[str], write: bool = True) -> int:
    """Memberships of people no longer on the organisation's list (the person stays a contact);
    without `write`, only how many.

    An erased person's membership stays: it is what keeps "organisations represented" right."""
    absent = [
        contact_id
        for contact_id, email in session.execute(
            select(Contact.id, Contact.email)
            .join(Membership, Membership.contact_id == Contact.id)
            .where(Membership.organisation_id == organisation_id)
        )
        if email not in emails and not email.endswith("@" + ERASED_DOMAIN)
    ]
    if not write:
        return len(absent)
    for start in range(0, len(absent), CHUNK):
        session.execute(
            delete(Membership).where(
                Membership.organisation_id == organisation_id, Membership.contact_id.in_(absent[start : start + CHUNK])
            )
        )
    session.expire_all()
    return len(absent)


def organisation_for_list(session: Session, slug: str, folder: Path, write: bool = True) -> Organisation:
    info = read_organisation_names(folder).get(slug)
    organisation = session.scalar(select(Organisation).where(Organisation.slug == slug))
    if organisation is None:
        organisation = Organisation(slug=slug, name=info.name if info else slug.replace("-", " ").title())
        if not write:
            return organisation  # a new organisation in a dry run: no id, no members yet
        session.add(organisation)
    if info is not None:
        if not organisation.named_by_staff:  # a name corrected on the organisation page stays
            organisation.name = info.name
        organisation.region = info.region or organisation.region
        organisation.contact_email = info.email or organisation.contact_email
    if write:
        session.flush()
    return organisation


def _merge_duplicates(
    rows: list[ContactRow], seen: dict[str, int], report: FileReport
) -> tuple[list[ContactRow], list[ContactRow]]:
    """The same address twice in one file is one person; later non-empty cells win.

    Returns the batch's people seen for the first time, and the rows of people an earlier
    batch already had (applied again, without being counted twice). `seen` maps each address
    of the file to its first line."""
    by_email: dict[str, ContactRow] = {}
    again: dict[str, ContactRow] = {}
    for row in rows:
        first_line = seen.setdefault(row.email, row.line)
        if first_line == row.line:
            by_email[row.email] = row
            continue
        report.warnings.append(
            Problem(
                row.line,
                f"same address as line {first_line}: merged",
                row.email,
                "duplicate",
                {"first_line": first_line},
            )
        )
        first = by_email.get(row.email) or again.get(row.email)
        if first is None:
            again[row.email] = row
            continue
        for attr in ("name", "title", "role", "region", "language", "phone"):
            if getattr(row, attr):
                setattr(first, attr, getattr(row, attr))
    return list(by_email.values()), list(again.values())


LIST_FIELDS = ("name", "title", "region", "role")  # what each list says of a person, kept per membership


def _insert_new(
    session: Session,
    organisation: Organisation,
    contacts: dict[str, ContactRow],
    new_memberships: list[ContactRow],
    known: dict[str, int],
) -> None:
    """New people and memberships, each as one bulk INSERT of all their rows (SQLAlchemy's
    executemany, with the models' column defaults): no ORM object, no round trip per row.
    `known` maps existing people's addresses to their ids. One time stamp for the whole import,
    so that a person and their first membership show the same time."""
    now = utcnow()
    if contacts:
        new_ids = session.execute(
            insert(Contact).returning(Contact.id, Contact.email),
            [
                {
                    "email": row.email,
                    "name": row.name,
                    "language": row.language,
                    "region": row.region,
                    "phone": row.phone,
                    "created_at": now,
                    "updated_at": now,
                }
                for row in contacts.values()
            ],
        )
        known = {**known, **{email: contact_id for contact_id, email in new_ids}}
    if new_memberships:
        session.execute(
            insert(Membership),
            [
                {
                    "contact_id": known[row.email],
                    "organisation_id": organisation.id,
                    "created_at": now,
                    **{attr: getattr(row, attr) for attr in LIST_FIELDS},
                }
                for row in new_memberships
            ],
        )
        # Each new membership is the person's lawful basis for mail from Ax: "member list of <org>".
        session.execute(
            insert(ConsentRecord),
            [
                {
                    "contact_id": known[row.email],
                    "basis": LawfulBasis.MEMBER_LIST,
                    "organisation_id": organisation.id,
                    "purpose": f"member_list:{organisation.slug}",
                    "given_at": now,
                }
                for row in new_memberships
            ],
        )


PERSON_FIELDS = ("language", "phone")


class Claims:
    """Within one import, which file set each person's language and phone first.

    Kept as one small tuple per address (value and file for each field, file names shared),
    since it lives across all the files of an import of up to a million rows."""

    def __init__(self) -> None:
        self.by_email: dict[str, tuple[str | None, ...]] = {}
        self.shared: dict[
            tuple[str | None, ...], tuple[str | None, ...]
        ] = {}  # each distinct claim tuple once: most people share one
        self.open = True  # False while reading the import's last file: nothing after it asks

    def claim(self, email: str, attr: str, value: str, file_name: str) -> tuple[str, str]:
        """The (value, file name) that stands for this person's field: the first one claimed."""
        index = PERSON_FIELDS.index(attr) * 2
        held = self.by_email.get(email) or (None,) * (2 * len(PERSON_FIELDS))
        held_value, held_file = held[index], held[index + 1]
        if held_value is not None and held_file is not None:  # claimed together
            return held_value, held_file
        if self.open:
            claimed = (*held[:index], value, file_name, *held[index + 2 :])
            self.by_email[email] = self.shared.setdefault(claimed, claimed)
        return value, file_name


def _person_changes(row: ContactRow, contact: Contact | None, claims: Claims, report: FileReport) -> dict[str, str]:
    """Language and phone belong to the person, not to a list: two lists that differ in one import
    keep the first list's value, with a warning, so that importing the same files again changes nothing."""
    changes = {}
    for attr in PERSON_FIELDS:
        value = getattr(row, attr)
        if not value:
            continue
        claimed = claims.claim(row.email, attr, value, report.path.name)
        if claimed[0] != value:
            report.warnings.append(
                Problem(
                    row.line,
                    f"{attr} {value!r} differs from {claimed[0]!r} in {claimed[1]}: kept {claimed[0]!r}",
                    value,
                    "differs",
                    {"field": attr, "other": claimed[0], "file": claimed[1]},
                )
            )
        elif contact is not None and getattr(contact, attr) != value:
            changes[attr] = value
    return changes


def _shown(
    session: Session,
    row: ContactRow,
    contact: Contact,
    organisation: Organisation,
    stated_now: set[str],
    choices: Choices,
    report: FileReport,
) -> bool:
    """Set the person's shown name and region from this list; True when one changed.

    The shown value is the most recently confirmed one: a list stating a spelling it did not
    state before (new on the list, or changed) confirms it. When the person's lists then
    disagree, the report lists it and staff may choose another spelling (`choices`).
    A list merely stating again what it said before changes nothing.
    """
    changed = False
    for attr, chosen in (("name", choices.names), ("region", choices.regions_shown)):
        value, shown = getattr(row, attr), getattr(contact, attr)
        if not value or value == shown and row.email not in chosen:
            continue
        if shown is None:
            setattr(contact, attr, value)
            changed = True
            continue
        if attr not in stated_now and row.email not in chosen:
            continue
        # What the other lists say (in the database), and what this list says now (maybe only in
        # memory: a dry run writes nothing).
        options: dict[str, list[str]] = {}
        for stated, other in session.execute(
            select(getattr(Membership, attr), Organisation.name)
            .join(Organisation)
            .where(Membership.contact_id == contact.id, Organisation.slug != organisation.slug)
            .order_by(Organisation.name)
        ):
            if stated:
                options.setdefault(stated, []).append(other)
        options.setdefault(value, []).append(organisation.name)
        result = value if attr in stated_now and not _worse_cased(value, shown) else shown
        if chosen.get(row.email) in options or chosen.get(row.email) == shown:
            result = chosen[row.email]
        if len(options) > 1:
            report.disagreements.append(Disagreement(row.line, row.email, attr, shown, result, options))
        if result != shown:
            setattr(contact, attr, result)
            changed = True
    return changed


def _casing(name: str) -> int:
    """How many words are written as names are ("Åberg", not "åberg" or "ÅBERG")."""
    return sum(1 for word in name.split() if word[:1].isupper() and not (len(word) > 1 and word.isupper()))


def _worse_cased(new: str, shown: str) -> bool:
    """ "göran åberg" or "GÖRAN ÅBERG" from one list does not replace "Göran Åberg" from another:
    the same name in worse case is no new spelling to confirm."""
    return new.casefold() == shown.casefold() and _casing(new) < _casing(shown)


def _apply(
    session: Session,
    report: FileReport,
    rows: Iterable[ContactRow],
    claims: Claims,
    choices: Choices,
    counter: _Counter,
    write: bool = True,
) -> tuple[int | None, AbstractSet[str]]:
    """Count (and with `write`, make) one file's changes, BATCH rows at a time; returns its
    organisation's id and the addresses on the list. Without `write` nothing reaches the database."""
    assert report.organisation is not None, "named before its rows are read"
    organisation = organisation_for_list(session, report.organisation, report.path.parent, write)
    seen: dict[str, int] = {}
    batch: list[ContactRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            apply_batch(session, report, organisation, batch, seen, claims, choices, write)
            counter.add(len(batch))
            batch = []
    apply_batch(session, report, organisation, batch, seen, claims, choices, write)
    counter.add(len(batch))
    return organisation.id, seen.keys()


def apply_batch(
    session: Session,
    report: FileReport,
    organisation: Organisation,
    rows: list[ContactRow],
    seen: dict[str, int],
    claims: Claims,
    choices: Choices,
    write: bool,
) -> None:
    """One batch: its people and their memberships looked up together, counted, and with
    `write` inserted or updated; then its objects leave the session, so memory stays flat."""
    rows, again = _merge_duplicates(rows, seen, report)
    for counted, part in ((True, rows), (False, again)):
        if part:
            _apply_rows(session, report, organisation, part, claims, choices, write, counted)


def _apply_rows(
    session: Session,
    report: FileReport,
    organisation: Organisation,
    rows: list[ContactRow],
    claims: Claims,
    choices: Choices,
    write: bool,
    counted: bool,
) -> None:
    emails = [row.email for row in rows]
    contacts: dict[str, Contact] = {}
    suppressions: dict[str, SuppressionReason] = {}
    for start in range(0, len(emails), CHUNK):
        chunk = emails[start : start + CHUNK]
        contacts.update(
            (contact.email, contact) for contact in session.scalars(select(Contact).where(Contact.email.in_(chunk)))
        )
        hashes = {address_hash(email): email for email in chunk}
        for hashed, suppressed_for in session.execute(
            select(Suppression.address_hash, Suppression.reason).where(Suppression.address_hash.in_(hashes))
        ):
            suppressions[hashes[hashed]] = suppressed_for
    memberships: dict[int, Membership] = {}
    if organisation.id is not None:
        ids = [contact.id for contact in contacts.values()]
        for start in range(0, len(ids), CHUNK):
            memberships.update(
                (membership.contact_id, membership)
                for membership in session.scalars(
                    select(Membership).where(
                        Membership.organisation_id == organisation.id,
                        Membership.contact_id.in_(ids[start : start + CHUNK]),
                    )
                )
            )
    counts = FileReport(path=report.path)  # this batch's counts, added to the file's when counted

    new_contacts: dict[str, ContactRow] = {}
    new_memberships: list[ContactRow] = []
    joining: list[tuple[ContactRow, Contact]] = []  # people already known, new on this list
    for row in rows:
        reason = suppressions.get(row.email)
        if reason is SuppressionReason.ERASED:
            counts.erased += 1
            continue
        if reason is not None:
            counts.suppressed += 1
        contact = contacts.get(row.email)
        changes = _person_changes(row, contact, claims, report)
        if contact is None:
            new_contacts[row.email] = row
            new_memberships.append(row)
            counts.imported += 1
            continue
        for attr, value in changes.items():
            setattr(contact, attr, value)
        changed = bool(changes)
        membership = memberships.get(contact.id)
        if membership is None:
            new_memberships.append(row)
            joining.append((row, contact))
            counts.imported += 1
            continue
        stated_now = set()
        for attr in LIST_FIELDS:
            value = getattr(row, attr)
            if value and getattr(membership, attr) != value:
                setattr(membership, attr, value)
                stated_now.add(attr)
        changed = (
            _shown(session, row, contact, organisation, stated_now, choices, report) or changed or bool(stated_now)
        )
        if changed:
            counts.updated += 1
        else:
            counts.unchanged += 1
    for row, contact in joining:  # new on this list: it states its spelling for the first time
        _shown(session, row, contact, organisation, {"name", "region"}, choices, report)
    if counted:
        for attr in ("imported", "updated", "unchanged", "suppressed", "erased"):
            setattr(report, attr, getattr(report, attr) + getattr(counts, attr))
    if not write:
        return
    _insert_new(
        session, organisation, new_contacts, new_memberships, {email: contact.id for email, contact in contacts.items()}
    )
    session.flush()
    for contact in contacts.values():
        session.expunge(contact)
    for membership in memberships.values():
        session.expunge(membership)
