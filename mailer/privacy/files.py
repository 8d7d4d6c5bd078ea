"""Files under the instance folder that hold a person's data: file-outbox messages, staged uploads, exports.

Why scan the whole folder rather than known sub-folders: whatever the app writes there
later (a new export, a report) is covered the day it appears. Messages (.eml) are
decoded before searching, so a name in a quoted-printable or base64 body is found too.
The database files and the configuration are left out: the database is erased through
its own rows, and the configuration names no contact.
"""

from __future__ import annotations

import email
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy.engine import make_url

from mailer.config import CONFIG_FILE, Settings
from mailer.db import utcnow
from mailer.privacy.person import Identity

SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")


def files_about(settings: Settings, identity: Identity) -> list[Path]:
    """Every file under the instance folder whose text names the person, sorted."""
    needles = identity.needles
    return sorted(path for path in _data_files(settings) if _mentions(path, needles))


def remove_files(settings: Settings, identity: Identity) -> list[Path]:
    """Delete the files that hold the person's data; returns them (relative to the instance folder).

    Deleted rather than rewritten: each is a copy of something the database holds (a sent
    message, a list waiting for confirmation), and a rewritten copy would claim to be
    what was sent or uploaded when it is not. A staged upload is simply uploaded again.
    """
    removed = []
    for path in files_about(settings, identity):
        path.unlink(missing_ok=True)
        removed.append(path.relative_to(settings.instance_path))
    return removed


def remove_expired_outbox_files(settings: Settings, months: int, now: float | None = None) -> int:
    """File-outbox messages older than the retention period are deleted (the worker runs this daily).

    Ages are told by the app's clock (`utcnow`), which also stamps each message's file when it is
    written (mail.transport.FileTransport), so a clock moved for testing sees the same ages."""
    folder = settings.outbox_path
    if not folder.is_dir():
        return 0
    cutoff = (now if now is not None else utcnow().timestamp()) - months * 365.25 / 12 * 86400
    removed = 0
    for path in folder.glob("*.eml"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed


def _data_files(settings: Settings) -> Iterator[Path]:
    skipped = {settings.instance_path / CONFIG_FILE}
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        database = Path(url.database).resolve()
        skipped.update(database.with_name(database.name + suffix) for suffix in SQLITE_SIDE_FILES)
    if not settings.instance_path.is_dir():
        return
    for path in settings.instance_path.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.resolve() not in skipped:
            yield path


def _mentions(path: Path, needles: list[str]) -> bool:
    try:
        data = path.read_bytes()
    except (FileNotFoundError, PermissionError):
        return False
    text = _readable(data, path.suffix == ".eml").lower()
    return any(needle in text for needle in needles)


def _readable(data: bytes, is_message: bool) -> str:
    """The bytes as text in every way they might be read: raw, as UTF-8/UTF-16/cp1252, and decoded MIME."""
    texts = [data.decode("utf-8", "replace"), data.decode("cp1252", "replace")]
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        texts.append(data.decode("utf-16", "replace"))
    if is_message:
        message = email.message_from_bytes(data, policy=policy.default)
        texts.extend(str(value) for value in message.values())
        if isinstance(message, EmailMessage):
            for part in message.walk():
                if part.get_content_maintype() == "text":
                    try:
                        texts.append(part.get_content())
                    except (LookupError, ValueError):
                        pass
    return "\n".join(texts)
