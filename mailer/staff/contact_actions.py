"""What staff do to contact lists and people from the web app, each with its audit-log entry.

The changes themselves belong to `mailer.contacts` (importer, editing,
subscriptions); these functions add the audit record in the same transaction,
so neither the change nor its record can exist without the other.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.config import Settings
from mailer.contacts.batched import import_in_batches
from mailer.contacts.csvfile import MAX_FILE_BYTES, Choices
from mailer.contacts.editing import (
    add_contact,
    add_organisation,
    get_contact,
    set_membership,
    update_contact,
    update_organisation,
)
from mailer.contacts.importer import ImportReport, import_lists
from mailer.contacts.models import Contact, Organisation, SuppressionReason
from mailer.contacts.subscriptions import lift_suppression, suppress
from mailer.db import Database
from mailer.privacy.erasure import erase_person
from mailer.staff import uploads

SAFE_NAME = re.compile(r"[^\w .()-]+")  # \w is Unicode: Å, Ä and Ö stay as the person typed them


def upload_name(filename: str | None) -> str:
    """The uploaded file's own name, reduced to safe characters (it is shown and stored in rejections).

    Letters of any language stay (Körförbundet.csv, not K_rf_rbundet.csv), composed the
    way macOS browsers do not send them (NFC); path parts, control and markup characters go.
    """
    raw = unicodedata.normalize("NFC", (filename or "").replace("\\", "/"))
    name = " ".join(SAFE_NAME.sub("_", Path(raw).name).split()).strip("._ ") or "lista"
    return name if name.lower().endswith(".csv") else f"{name}.csv"


def check_upload(
    session: Session,
    folder: Path,
    token: str,
    filename: str,
    org: str,
    choices: Choices | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> ImportReport:
    """The import exactly as it would go, computed by the importer itself without writing."""
    path = folder / upload_name(filename)
    return import_lists(
        session,
        [path],
        org=org,
        dry_run=True,
        data={path: uploads.load(folder, token)},
        choices=choices,
        max_bytes=max_bytes,
    )


def confirm_upload(
    db: Database,
    actor: str,
    folder: Path,
    token: str,
    filename: str,
    org: str,
    choices: Choices | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    via: str = "web",
) -> ImportReport:
    """Import for real (rows with problems are left out, as on the command line), then drop the upload.

    The whole file is checked first and then written in short transactions (contacts.batched),
    so recipients answering meanwhile are not held up; the audit record goes with the last one.
    A file with an unknown region or column left unchosen imports nothing: the report says so
    and the upload stays for the next try."""
    path = folder / upload_name(filename)

    def audit(session: Session, report: ImportReport) -> None:
        file = report.files[0]
        record(
            session,
            actor,
            "contacts.import",
            f"org:{file.organisation}",
            file=path.name,
            imported=file.imported,
            updated=file.updated,
            unchanged=file.unchanged,
            removed=file.removed,
            rejected=len(file.rejected),
            via=via,
        )

    report = import_in_batches(
        db,
        [path],
        org=org,
        data={path: uploads.load(folder, token)},
        choices=choices,
        max_bytes=max_bytes,
        finish=audit,
    )
    file = report.files[0]
    if report.written and not file.error and not file.blocking:
        uploads.discard(folder, token)
    return report


def edit_organisation(session: Session, actor: str, slug: str, **fields) -> list[str]:
    """Correct an organisation's name (e.g. uploaded without accents), short name, region or address."""
    changed = update_organisation(session, slug, **fields)
    if changed:
        record(session, actor, "organisations.update", f"org:{slug}", fields=changed)
    return changed


def create_organisation(session: Session, actor: str, slug: str, **fields) -> Organisation:
    organisation = add_organisation(session, slug, **fields)
    record(session, actor, "organisations.add", f"org:{organisation.slug}")
    return organisation


def create_contact(
    session: Session, actor: str, email: str, memberships: dict[str, str | None] | None = None, **fields
) -> Contact:
    """A person added by hand, with the lists (organisation slug -> role) they are on."""
    contact = add_contact(session, email, **fields)
    for slug, role in (memberships or {}).items():
        set_membership(session, contact, slug, role)
    record(session, actor, "contacts.add", f"contact:{contact.id}", organisations=sorted(memberships or {}))
    return contact


def put_membership(session: Session, actor: str, contact_id: int, organisation: str, role: str | None) -> bool:
    """Put a person on an organisation's list or change their role there; True when newly added."""
    contact = get_contact(session, contact_id)
    _, added = set_membership(session, contact, organisation, role)
    record(
        session,
        actor,
        "memberships.add" if added else "memberships.update",
        f"contact:{contact.id}",
        organisation=organisation,
    )
    return added


def edit_contact(session: Session, actor: str, contact_id: int, **fields) -> list[str]:
    contact = get_contact(session, contact_id)
    changed = update_contact(session, contact, **fields)
    if changed:
        record(session, actor, "contacts.update", f"contact:{contact.id}", fields=changed)
    return changed


def unsubscribe_contact(session: Session, actor: str, contact_id: int) -> Contact:
    contact = get_contact(session, contact_id)
    suppress(session, contact.email, SuppressionReason.UNSUBSCRIBED, detail=f"by staff ({actor})")
    record(session, actor, "contacts.unsubscribe", f"contact:{contact.id}")
    return contact


def resubscribe_contact(session: Session, actor: str, contact_id: int) -> bool:
    contact = get_contact(session, contact_id)
    lifted = lift_suppression(session, contact.email)
    if lifted:
        record(session, actor, "contacts.resubscribe", f"contact:{contact.id}")
    return lifted


def erase_contact(db: Database, settings: Settings, actor: str, contact_id: int, via: str = "web") -> int:
    """Erase the person on request (GDPR Art. 17) through `mailer.privacy.erasure`, which owns it (files included)."""
    with db.reading() as session:
        email = get_contact(session, contact_id).email
    return erase_person(db, settings, email, actor, via=via).contact_id
