"""Uploaded contact lists kept between the preview and the confirmation.

The file is shown checked (a dry run) first and imported only when staff
confirm, so its bytes must survive one round trip. They stay on the server,
under a random name, rather than travelling back and forth through the browser.

Their age is told by the app's clock (`mailer.db.utcnow`), not the file system's: each file's
modification time is set from it when kept, and compared with it. Why: the two can differ
(a clock moved for testing, TEST_CLOCK_OFFSET_DAYS; a file copied with its old time kept).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from mailer.db import utcnow

MAX_AGE = 24 * 3600  # seconds; older uploads nobody confirmed are deleted
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,60}$")


class UploadGone(Exception):
    """The upload is unknown, already imported or too old: upload the file again."""


def _path(folder: Path, token: str) -> Path:
    if not _TOKEN.match(token or ""):
        raise UploadGone()
    return folder / f"{token}.csv"


def keep(folder: Path, data: bytes) -> str:
    """Store the bytes; returns the token that names them. Also clears out stale uploads."""
    folder.mkdir(parents=True, exist_ok=True)
    now = utcnow().timestamp()
    for old in folder.glob("*.csv"):
        try:
            if old.stat().st_mtime < now - MAX_AGE:
                old.unlink(missing_ok=True)
        except FileNotFoundError:  # cleared by another request meanwhile
            pass
    token = secrets.token_urlsafe(24)
    path = _path(folder, token)
    path.write_bytes(data)
    path.chmod(0o600)  # personal data
    os.utime(path, (now, now))
    return token


def load(folder: Path, token: str) -> bytes:
    path = _path(folder, token)
    try:
        if utcnow().timestamp() - path.stat().st_mtime > MAX_AGE:
            raise UploadGone()
        return path.read_bytes()
    except FileNotFoundError:
        raise UploadGone() from None


def discard(folder: Path, token: str) -> None:
    try:
        _path(folder, token).unlink(missing_ok=True)
    except UploadGone:
        pass
