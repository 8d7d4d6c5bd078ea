"""Files under the instance folder that hold a person's data: file-outbox messages, staged uploads, exports.

Why scan the whole folder rather than known sub-folders: whatever the app writes there
later (a new export, a report) is covered the day it appears. Messages (.eml) are
decoded before searching, so a name in a quoted-printable or base64 body is found too, and
zip archives (.xlsx, .docx, .zip) are searched in their members' decompressed text.
A file is the person's when it holds their address, or their name or phone where no other
contact shares it (person.Identity.file_pattern).

Left out: the database files (erased through their own rows, and a restore's kept-aside
copy), the configuration (it names no contact), and backups (the backups folder, and any
file with a backup manifest beside it): backups are never edited, they expire by
`backup_keep` (docs/operations.md).

Every file is read in windows of a megabyte, so a large one costs little memory. What cannot
be searched whole within the bounds (an archive past `MAX_UNZIPPED_BYTES` of decompressed
text, an encrypted or bzip2/LZMA member, a message past `MAX_MESSAGE_BYTES`) counts as the
person's: erasure must not leave their data behind on a guess, such a file is a copy of what
the database holds, and export-person lists it first, so staff see it before erasing.
"""

from __future__ import annotations

import email
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from mailer.config import CONFIG_FILE, Settings
from mailer.db import utcnow
from mailer.operations.backup import MANIFEST_FORMAT, manifest_path
from mailer.privacy.person import Identity

log = logging.getLogger(__name__)

SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")
WINDOW_BYTES = 1024 * 1024
EDGE_CHARS = 4  # a match this close to a window's cut is left to the neighbouring window, which holds it whole
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024  # decompressed bytes read from one archive, its nested archives included
MAX_NESTING = 3  # an archive in an archive in an archive
MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a message is parsed whole to decode it
SEARCHABLE_MEMBERS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # their reads are bounded (deflate's max_length)
ARCHIVE_MAGIC = b"PK\x03\x04"


def files_about(settings: Settings, identity: Identity) -> list[Path]:
    """Every file under the instance folder that holds the person's data, sorted."""
    search = _Search(identity)
    return sorted(path for path in _data_files(settings) if search.file(path, settings.instance_path))


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
    instance = settings.instance_path
    if not instance.is_dir():
        return
    skipped = {(instance / CONFIG_FILE).resolve()}
    database = _sqlite_database(settings)
    if database is not None:
        skipped.update(database.with_name(database.name + suffix) for suffix in SQLITE_SIDE_FILES)
    backups = settings.backups_path.resolve()
    for folder, subfolders, names in os.walk(instance):  # symlinked folders are not followed
        here = Path(folder)
        subfolders[:] = sorted(name for name in subfolders if (here / name).resolve() != backups)
        for name in sorted(names):
            path = here / name
            if not path.is_file() or path.is_symlink():
                continue
            resolved = path.resolve()
            if resolved in skipped or _kept_by_restore(resolved, database) or _is_backup(path):
                continue
            yield path


def _sqlite_database(settings: Settings) -> Path | None:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        return Path(url.database).resolve()
    return None


def _kept_by_restore(path: Path, database: Path | None) -> bool:
    """The database a restore replaced (`mailer.sqlite.replaced-<time>`) stays until staff delete it."""
    if database is None or path.parent != database.parent:
        return False
    return path.name.startswith((f"{database.name}.replaced-", f".{database.name}.restoring-"))


def _is_backup(path: Path) -> bool:
    """A backup written anywhere (`mailer backup <folder>`), or its manifest: told by the manifest."""
    for backup in (path, path.with_suffix("")) if path.suffix == ".json" else (path,):
        manifest = manifest_path(backup)
        try:
            if backup.is_file() and manifest.is_file() and manifest.stat().st_size < 64 * 1024:
                content = json.loads(manifest.read_text(encoding="utf-8"))
                if isinstance(content, dict) and content.get("format") == MANIFEST_FORMAT:
                    return True
        except (OSError, ValueError):
            pass
    return False


class _Search:
    """One person's pattern over files, each read in overlapping windows of `WINDOW_BYTES`."""

    def __init__(self, identity: Identity):
        self.pattern = identity.file_pattern
        self.needles = [needle for needle in identity.file_needles if needle == needle.lower()]
        # Enough for the longest form in any encoding (4 bytes a character) and the edges; even, for UTF-16.
        self.overlap = 4 * (max(map(len, self.needles)) + 2 * EDGE_CHARS) + 64

    def file(self, path: Path, instance: Path) -> bool:
        try:
            with path.open("rb") as handle:
                if self.stream(handle.read):
                    return True
                size = os.fstat(handle.fileno()).st_size
                unsearched: list[str] = []
                if path.suffix.lower() == ".eml":
                    if size > MAX_MESSAGE_BYTES:
                        unsearched.append(f"a message over {MAX_MESSAGE_BYTES} bytes is not decoded")
                    else:
                        handle.seek(0)
                        if self.message(handle.read()):
                            return True
                handle.seek(0)
                if zipfile.is_zipfile(handle) and self.archive(handle, _Budget(), 1, unsearched):
                    return True
        except (FileNotFoundError, PermissionError):
            return False
        if unsearched:
            log.warning(
                "%s could not be searched whole (%s): counted as the person's",
                path.relative_to(instance),
                "; ".join(dict.fromkeys(unsearched)),
            )
        return bool(unsearched)

    def stream(self, read: Callable[[int], bytes]) -> bool:
        """Whether the bytes `read` gives, as UTF-8, cp1252 or (with a byte-order mark) UTF-16, hold the pattern."""
        window, offset, utf16 = read(WINDOW_BYTES), 0, None
        if window[:2] in (b"\xff\xfe", b"\xfe\xff"):
            utf16 = "utf-16-le" if window[:2] == b"\xff\xfe" else "utf-16-be"
        while window:
            more = read(WINDOW_BYTES)
            texts = [window.decode("utf-8", "replace"), window.decode("cp1252", "replace")]
            if utf16:
                texts.append(window[offset % 2 :].decode(utf16, "replace"))
            if any(self.found(text, offset == 0, not more) for text in texts):
                return True
            if not more:
                return False
            kept = window[-self.overlap :]
            offset += len(window) - len(kept)
            window = kept + more
        return False

    def found(self, text: str, at_start: bool, at_end: bool) -> bool:
        """A match cut by a window's edge (its boundaries unseen) counts only in the window that holds it whole."""
        text = text.lower()
        if not any(needle in text for needle in self.needles):  # plain search first: the pattern is slower
            return False
        for match in self.pattern.finditer(text):
            if (at_start or match.start() >= EDGE_CHARS) and (at_end or match.end() <= len(text) - EDGE_CHARS):
                return True
        return False

    def message(self, data: bytes) -> bool:
        """The message decoded: its headers and its text parts."""
        message = email.message_from_bytes(data, policy=policy.default)
        texts = [str(value) for value in message.values()]
        if isinstance(message, EmailMessage):
            for part in message.walk():
                if part.get_content_maintype() == "text":
                    try:
                        texts.append(part.get_content())
                    except (LookupError, ValueError):
                        pass
        return self.found("\n".join(texts), True, True)

    def archive(self, handle: IO[bytes], budget: _Budget, depth: int, unsearched: list[str]) -> bool:
        """Whether a member's name or decompressed text holds the pattern; what could not be read goes to `unsearched`."""
        try:
            archive = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            return False  # not an archive after all: its bytes were searched as they are
        with archive:
            for member in archive.infolist():
                if self.found(member.filename.lower(), True, True):
                    return True
                if member.is_dir() or member.file_size == 0:
                    continue
                if member.flag_bits & 0x1 or member.compress_type not in SEARCHABLE_MEMBERS:
                    unsearched.append("a member encrypted or compressed other than by deflate")
                    continue
                if budget.left <= 0:
                    unsearched.append(f"more than {MAX_UNZIPPED_BYTES} bytes decompressed")
                    return False
                try:
                    if self.member(archive, member, budget, depth, unsearched):
                        return True
                except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
                    unsearched.append(f"a member that cannot be read: {type(exc).__name__}")
        return False

    def member(
        self, archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: _Budget, depth: int, unsearched: list[str]
    ) -> bool:
        """One member streamed within the budget; a nested archive is also kept in a temporary file and searched."""
        with archive.open(member) as stream, tempfile.SpooledTemporaryFile(WINDOW_BYTES * 8) as copy:
            nested: list[bool] = []

            def read(size: int) -> bytes:
                data = stream.read(min(size, budget.left))
                budget.left -= len(data)
                if not nested:
                    nested.append(data[:4] == ARCHIVE_MAGIC)
                if nested[0]:
                    copy.write(data)
                return data

            if self.stream(read):
                return True
            if budget.left <= 0 and stream.read(1):
                unsearched.append(f"more than {MAX_UNZIPPED_BYTES} bytes decompressed")
                return False
            if nested and nested[0]:
                if depth >= MAX_NESTING:
                    unsearched.append(f"archives nested deeper than {MAX_NESTING}")
                    return False
                copy.seek(0)
                return self.archive(copy, budget, depth + 1, unsearched)
        return False


class _Budget:
    """Decompressed bytes still to be read from one file's archives."""

    def __init__(self) -> None:
        self.left = MAX_UNZIPPED_BYTES
