"""Where the app keeps its settings, database and e-mail templates (Flask's `app.extensions`).

Why here and not in mailer.app: the handlers read them on every request, and mailer.app builds the
web app, so the handlers importing mailer.app would make a cycle. One owner of the keys.
"""

from __future__ import annotations

from flask import Flask

from mailer.config import Settings
from mailer.db import Database
from mailer.mail.templates import EmailTemplates


def install(app: Flask, settings: Settings, db: Database, templates: EmailTemplates) -> None:
    app.extensions["mailer.settings"] = settings
    app.extensions["mailer.db"] = db
    app.extensions["mailer.templates"] = templates


def settings_of(app: Flask) -> Settings:
    settings: Settings = app.extensions["mailer.settings"]
    return settings


def db_of(app: Flask) -> Database:
    db: Database = app.extensions["mailer.db"]
    return db


def templates_of(app: Flask) -> EmailTemplates:
    templates: EmailTemplates = app.extensions["mailer.templates"]
    return templates
