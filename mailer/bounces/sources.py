"""Where reports are read from: one message file, a Maildir, or an mbox.

A Maildir's processed messages move to its `done/` folder (itself a Maildir), so nothing is read
twice; an mbox or a single file stays as it is, and the reports' fingerprints keep a second
run from changing anything. At most MAX_BYTES of any message are read.
"""

from __future__ import annotations

import functools
import mailbox
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mailer.bounces.reading import MAX_BYTES
from mailer.errors import DomainError

DONE = "done"


class SourceError(DomainError):
    """PATH cannot be read at all (missing, not allowed, a folder that is not a Maildir, a broken mbox)."""


@dataclass
class Incoming:
    label: str  # the message's file, or "<mbox>:<n>" (n from 1) for a message in an mbox
    data: bytes
    truncated: bool
    done: Callable[[], None] | None = None  # moves the message out of the way once applied


def open_source(path: Path) -> Iterator[Incoming]:
    """Checks PATH at once (SourceError), then yields its messages lazily."""
    try:
        if path.is_dir():
            if not any((path / sub).is_dir() for sub in ("cur", "new")):
                raise SourceError("bounce_source_not_maildir", path=str(path))
            names = _maildir_files(path)
            return _maildir(path, names)
        with open(path, "rb") as handle:
            head = handle.read(5)
    except OSError as exc:
        raise SourceError("bounce_source_unreadable", path=str(path), reason=exc.strerror or str(exc)) from None
    if head == b"From ":
        try:
            box = mailbox.mbox(path, create=False)
            keys = box.keys()
        except (OSError, mailbox.Error) as exc:
            raise SourceError("bounce_source_not_mbox", path=str(path), reason=str(exc)) from None
        return _mbox(path, box, keys)
    return iter([_file(path)])


def _read(path: Path) -> tuple[bytes, bool]:
    with open(path, "rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    return data[:MAX_BYTES], len(data) > MAX_BYTES


def _file(path: Path) -> Incoming:
    data, truncated = _read(path)
    return Incoming(str(path), data, truncated)


def _maildir_files(path: Path) -> list[Path]:
    files = []
    for sub in ("new", "cur"):
        folder = path / sub
        if folder.is_dir():
            files += sorted(path for path in folder.iterdir() if path.is_file() and not path.name.startswith("."))
    return files


def _maildir(path: Path, files: list[Path]) -> Iterator[Incoming]:
    done = path / DONE
    for file in files:
        try:
            data, truncated = _read(file)
        except OSError:  # taken by another reader meanwhile
            continue
        yield Incoming(str(file), data, truncated, functools.partial(_move_done, done, file))


def _move_done(done: Path, file: Path) -> None:
    for sub in ("cur", "new", "tmp"):
        (done / sub).mkdir(parents=True, exist_ok=True)
    os.replace(file, done / "cur" / file.name)


def _mbox(path: Path, box: mailbox.mbox, keys: list[str]) -> Iterator[Incoming]:
    for number, key in enumerate(keys, start=1):
        data = box.get_bytes(key)
        yield Incoming(f"{path}:{number}", data[:MAX_BYTES], len(data) > MAX_BYTES)
    box.close()
