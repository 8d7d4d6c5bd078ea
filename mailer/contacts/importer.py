"""Importing contact lists into the database: one contact per person, one membership per list.

Rules that protect people and data:
- re-importing a list never re-subscribes a suppressed address;
- an erased person (suppressed by hash, reason "erased") is never stored again;
- a file that cannot be read changes nothing, and --strict makes any bad row change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from mailer.contacts.csvfile import MAX_FILE_BYTES, SLUG_RE, ContactRow, CsvFileError, Problem, parse, read_organisation_names
from mailer.contacts.models import (
    Contact,
    ImportRejection,
    Membership,
    Organisation,
    Suppression,
    SuppressionReason,
    address_hash,
)
from mailer.db import utcnow

REGISTRY_FILE = "organisations.csv"
CHUNK = 500


@dataclass
class FileReport:
    path: Path
    organisation: str | None = None
    error: str | None = None
    error_code: str = ""  # with error_params, the error for pages in another language
    error_params: dict = field(default_factory=dict)
    note: str | None = None
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    suppressed: int = 0
    erased: int = 0
    rejected: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        if self.error:
            return f"{self.path.name}: not imported: {self.error}"
        if self.note:
            return f"{self.path.name}: {self.note}"
        text = (f"{self.path.name}: {self.imported} imported, {self.updated} updated, "
                f"{self.unchanged} unchanged, {len(self.rejected)} rejected")
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
        """0: all good; 1: some rows rejected (good rows kept); 2: a file unreadable."""
        if any(f.error for f in self.files):
            return 2
        if any(f.rejected for f in self.files):
            return 1
        return 0


def import_lists(
    session: Session,
    paths: list[Path],
    org: str | None = None,
    dry_run: bool = False,
    strict: bool = False,
    check_dns: bool = False,
    data: dict[Path, bytes] | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> ImportReport:
    """Import contact lists within the caller's transaction.

    With dry_run, or when strict finds a problem, every change is rolled back to
    a savepoint, so the report is computed by the very same code that writes.
    `data` supplies file contents already in memory (web uploads).
    """
    reports: list[tuple[FileReport, list[ContactRow]]] = []
    for path in paths:
        report = FileReport(path=path)
        reports.append((report, []))
        if path.name == REGISTRY_FILE and org is None:
            report.note = "organisation names, not a contact list: skipped"
            continue
        slug = org or path.stem.lower()
        if not SLUG_RE.match(slug):
            report.error = f"{slug!r} is not a valid organisation slug (a-z, 0-9 and hyphens); rename the file or use --org"
            report.error_code, report.error_params = "bad_slug", {"slug": slug}
            continue
        report.organisation = slug
        try:
            read_organisation_names(path.parent)  # a broken organisations.csv stops this file here
            parsed = parse(path, data=(data or {}).get(path), check_dns=check_dns, max_bytes=max_bytes)
        except CsvFileError as exc:
            report.error, report.error_code, report.error_params = str(exc), exc.code, exc.params
            continue
        report.rejected, report.warnings = parsed.rejected, parsed.warnings
        reports[-1] = (report, parsed.rows)

    claims: Claims = {}
    if dry_run:
        # Computed by the same code, with the changes kept in memory and never sent to the
        # database: a preview only reads, so it can run without the write lock (Database.reading).
        with session.no_autoflush:
            for report, rows in reports:
                if report.organisation and not report.error and not report.note:
                    _apply(session, report, rows, claims, write=False)
        session.expunge_all()
        return ImportReport(files=[r for r, _ in reports], written=False)
    rollback = strict and any(r.error or r.rejected for r, _ in reports)
    savepoint = session.begin_nested()
    for report, rows in reports:
        if report.organisation and not report.error and not report.note:
            _apply(session, report, rows, claims)
            session.flush()
    if rollback:
        savepoint.rollback()
    else:
        savepoint.commit()
    return ImportReport(files=[r for r, _ in reports], written=not rollback)


def _organisation(session: Session, slug: str, folder: Path, write: bool = True) -> Organisation:
    info = read_organisation_names(folder).get(slug)
    organisation = session.scalar(select(Organisation).where(Organisation.slug == slug))
    if organisation is None:
        organisation = Organisation(slug=slug, name=info.name if info else slug.replace("-", " ").title())
        if not write:
            return organisation  # a new organisation in a dry run: no id, no members yet
        session.add(organisation)
    if info is not None:
        organisation.name, organisation.region = info.name, info.region
        organisation.contact_email = info.email or organisation.contact_email
    if write:
        session.flush()
    return organisation


def _merge_duplicates(rows: list[ContactRow], report: FileReport) -> tuple[list[ContactRow], int]:
    """The same address twice in one file is one person; later non-empty cells win."""
    by_email: dict[str, ContactRow] = {}
    duplicates = 0
    for row in rows:
        first = by_email.get(row.email)
        if first is None:
            by_email[row.email] = row
            continue
        duplicates += 1
        report.warnings.append(Problem(row.line, f"same address as line {first.line}: merged", row.email,
                                       "duplicate", {"first_line": first.line}))
        for attr in ("name", "role", "region", "language", "phone"):
            if getattr(row, attr):
                setattr(first, attr, getattr(row, attr))
    return list(by_email.values()), duplicates


def _insert_new(session: Session, organisation: Organisation, contacts: dict[str, ContactRow],
                new_memberships: list[tuple[str, str | None]], known: dict[str, int]) -> None:
    """New people and memberships, each as one bulk INSERT of all their rows (SQLAlchemy's
    executemany, with the models' column defaults): no ORM object, no round trip per row.
    `known` maps existing people's addresses to their ids. One time stamp for the whole import,
    so that a person and their first membership show the same time."""
    now = utcnow()
    if contacts:
        new_ids = session.execute(insert(Contact).returning(Contact.id, Contact.email), [
            {"email": r.email, "name": r.name, "language": r.language, "region": r.region, "phone": r.phone,
             "created_at": now, "updated_at": now} for r in contacts.values()])
        known = {**known, **{email: contact_id for contact_id, email in new_ids}}
    if new_memberships:
        session.execute(insert(Membership), [
            {"contact_id": known[email], "organisation_id": organisation.id, "role": role, "created_at": now}
            for email, role in new_memberships])


PERSON_FIELDS = ("name", "language", "region", "phone")
# Within one import, which file set each person's field first: {(email, field): (value, file name)}.
Claims = dict[tuple[str, str], tuple[str, str]]


def _person_changes(row: ContactRow, contact: Contact | None, claims: Claims, report: FileReport) -> dict[str, str]:
    """The person's fields this row changes. One person on two lists that spell them differently
    ("Leyla SEHLSTEDT", "Leyla Sehlstedt") keeps the first list's value in an import of both,
    with a warning, so that importing the same files again changes nothing; a later import of
    one list alone still updates the person."""
    changes = {}
    for attr in PERSON_FIELDS:
        value = getattr(row, attr)
        if not value:
            continue
        claimed = claims.setdefault((row.email, attr), (value, report.path.name))
        if claimed[0] != value:
            report.warnings.append(Problem(
                row.line, f"{attr} {value!r} differs from {claimed[0]!r} in {claimed[1]}: kept {claimed[0]!r}", value,
                "differs", {"field": attr, "other": claimed[0], "file": claimed[1]}))
        elif contact is not None and getattr(contact, attr) != value:
            changes[attr] = value
    return changes


def _apply(session: Session, report: FileReport, rows: list[ContactRow], claims: Claims, write: bool = True) -> None:
    """Count (and with `write`, make) the file's changes; without it nothing reaches the database."""
    organisation = _organisation(session, report.organisation, report.path.parent, write)
    rows, report.unchanged = _merge_duplicates(rows, report)
    emails = [row.email for row in rows]

    contacts: dict[str, Contact] = {}
    suppressions: dict[str, SuppressionReason] = {}
    for start in range(0, len(emails), CHUNK):
        chunk = emails[start:start + CHUNK]
        contacts.update((c.email, c) for c in session.scalars(select(Contact).where(Contact.email.in_(chunk))))
        hashes = {address_hash(e): e for e in chunk}
        for h, reason in session.execute(
            select(Suppression.address_hash, Suppression.reason).where(Suppression.address_hash.in_(hashes))
        ):
            suppressions[hashes[h]] = reason
    memberships = {
        m.contact_id: m
        for m in session.scalars(select(Membership).where(Membership.organisation_id == organisation.id))
    }

    new_contacts: dict[str, ContactRow] = {}
    new_memberships: list[tuple[str, str | None]] = []  # (email, role)
    for row in rows:
        reason = suppressions.get(row.email)
        if reason is SuppressionReason.ERASED:
            report.erased += 1
            continue
        if reason is not None:
            report.suppressed += 1
        contact = contacts.get(row.email)
        changes = _person_changes(row, contact, claims, report)
        if contact is None:
            new_contacts[row.email] = row
            new_memberships.append((row.email, row.role))
            report.imported += 1
            continue
        for attr, value in changes.items():
            setattr(contact, attr, value)
        changed = bool(changes)
        membership = memberships.get(contact.id)
        if membership is None:
            new_memberships.append((row.email, row.role))
            report.imported += 1
            continue
        if row.role and membership.role != row.role:
            membership.role = row.role
            changed = True
        if changed:
            report.updated += 1
        else:
            report.unchanged += 1
    if not write:
        return
    _insert_new(session, organisation, new_contacts, new_memberships,
                {email: contact.id for email, contact in contacts.items()})

    session.execute(
        delete(ImportRejection).where(
            ImportRejection.organisation_id == organisation.id, ImportRejection.file_name == report.path.name
        )
    )
    session.add_all(
        ImportRejection(organisation_id=organisation.id, file_name=report.path.name, line=p.line,
                        value=(p.value or "")[:400] or None, reason=p.message[:400])
        for p in report.rejected
    )
