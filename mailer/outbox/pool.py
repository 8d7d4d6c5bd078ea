"""Building a batch's messages in helper processes while the sender sends.

Why: building a message (signing its links, filling in and encoding its bodies) costs about
as much as its SMTP transaction and its commit together, so one process doing both tops out
well below what a relay takes.
When the configured rate is more than one process can build, the sender hands the building
to helper processes (one per spare core) and keeps everything that touches the delivery
guarantee to itself: claiming, marking `sending`, the SMTP transaction, recording the outcome.
A helper only turns a recipient into bytes (a pure function); if it fails or dies, the sender
builds that message itself.

Helpers are spawned (not forked: the worker runs scheduler threads) once per Sender and reused.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Iterator

from mailer.config import Settings
from mailer.mail.templates import EmailTemplates, TemplateProblem
from mailer.meetings.models import Meeting

log = logging.getLogger(__name__)
SINGLE_PROCESS_RATE = 1000  # messages a second one process builds comfortably; above it, helpers help
MIN_BATCH = 100  # fewer messages than this are not worth the round trips
CHUNK = 25  # messages per round trip to a helper


@dataclass(frozen=True)
class Job:
    """One message to build, as plain data (picklable, no ORM objects)."""

    template: str
    meeting: tuple | None  # the meeting's column values, in Meeting.__table__ order
    contact: tuple  # id, email, name, language, link_key, organisation names
    first_message: bool
    message_id: str
    extra: dict[str, Any] | None


def wanted(settings: Settings, batch_size: int) -> int:
    """How many helper processes a batch of this size at this rate deserves (0: build here)."""
    cores = os.cpu_count() or 1
    if cores < 2 or batch_size < MIN_BATCH or settings.send_rate_per_minute / 60 <= SINGLE_PROCESS_RATE:
        return 0
    return cores - 1


class BuildPool:
    def __init__(self, settings: Settings, processes: int):
        self.executor: Executor = ProcessPoolExecutor(
            processes, mp_context=multiprocessing.get_context("spawn"), initializer=_start, initargs=(settings,))

    def build(self, jobs: list[Job]) -> Iterator[tuple[bytes | None, str | None]]:
        """(bytes, None), (None, failure) or (None, None) for "build it yourself", in the jobs' order."""
        chunks = [jobs[i:i + CHUNK] for i in range(0, len(jobs), CHUNK)]
        for results in self.executor.map(_build_chunk, chunks):
            yield from results

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


# -- in the helper process ------------------------------------------------------------------------
_helper: dict[str, Any] = {}


def _start(settings: Settings) -> None:
    templates = EmailTemplates(settings.templates_path, settings.max_message_bytes)
    _helper.update(settings=settings, templates=templates, composers={})


def _build_chunk(jobs: list[Job]) -> list[tuple[bytes | None, str | None]]:
    checked: set[tuple] = set()  # composers checked against the template files in this chunk
    return [_build(job, checked) for job in jobs]


def _build(job: Job, checked: set[tuple]) -> tuple[bytes | None, str | None]:
    from mailer.outbox.batch import Recipient, message_bytes
    from mailer.outbox.fast import FastComposer

    settings, templates, composers = _helper["settings"], _helper["templates"], _helper["composers"]
    key = (job.template, job.meeting)
    if key not in checked and (key not in composers or not composers[key].up_to_date()):
        meeting = None
        if job.meeting is not None:
            meeting = Meeting(**dict(zip([c.key for c in Meeting.__table__.columns], job.meeting)))
        composers[key] = FastComposer(settings, templates, job.template, meeting)
    checked.add(key)
    *fields, organisations = job.contact
    contact = Recipient(*fields, memberships=[SimpleNamespace(organisation=SimpleNamespace(name=n))
                                             for n in organisations])
    try:
        return message_bytes(composers[key], contact, job.first_message, job.message_id, job.extra), None
    except (TemplateProblem, ValueError) as exc:
        return None, f"could not build the message: {exc}"
