"""Uploaded contact lists kept between the preview and the confirmation.

The file is shown checked (a dry run) first and imported only when staff
confirm, so its bytes must survive one round trip. They stay on the server,
under a random name, rather than travelling back and forth through the browser.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

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
    cutoff = time.time() - MAX_AGE
    for old in folder.glob("*.csv"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(24)
    path = _path(folder, token)
    path.write_bytes(data)
    path.chmod(0o600)  # personal data
    return token


def load(folder: Path, token: str) -> bytes:
    path = _path(folder, token)
    try:
        if time.time() - path.stat().st_mtime > MAX_AGE:
            raise UploadGone()
        return path.read_bytes()
    except FileNotFoundError:
        raise UploadGone() from None


def discard(folder: Path, token: str) -> None:
    try:
        _path(folder, token).unlink(missing_ok=True)
    except UploadGone:
        pass
