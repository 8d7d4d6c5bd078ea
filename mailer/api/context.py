"""What every API use case is given: the database, settings, templates and the caller."""

from __future__ import annotations

from dataclasses import dataclass

from mailer.config import Settings
from mailer.db import Database
from mailer.mail.templates import EmailTemplates
from mailer.staff.tokens import Caller


@dataclass(frozen=True)
class Context:
    db: Database
    settings: Settings
    templates: EmailTemplates
    caller: Caller
    language: str
