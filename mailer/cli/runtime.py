"""What every command needs: the app (settings, database), created once, lazily.

`mailer init` must work before any config exists, so nothing is loaded until a
command asks for it; a bad setting then stops the command with the setting's name.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Any, Iterator, NoReturn

import click
from flask import Flask
from sqlalchemy.orm import Session

from mailer.config import ConfigError, Settings


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"mailer: {message}", err=True)
    sys.exit(code)


class Runtime:
    def __init__(self) -> None:
        self._app: Flask | None = None

    @property
    def app(self) -> Flask:
        if self._app is None:
            from mailer.app import create_app

            from mailer.config import load_settings
            from mailer.operations.faults import InstanceFault, check_instance

            try:
                settings = load_settings()
                check_instance(settings.instance_path, settings.database_url)
                self._app = create_app()
            except ConfigError as exc:
                fail(f"configuration error: {exc}", 2)
            except InstanceFault as exc:
                fail(str(exc), 2)
            db = self._app.extensions["mailer.db"]
            from mailer.db import head_revision

            if db.current_revision() != head_revision():
                fail("the database schema is not up to date: run `mailer init`", 2)
        return self._app

    @property
    def settings(self) -> Settings:
        return self.app.extensions["mailer.settings"]

    @property
    def db(self):
        return self.app.extensions["mailer.db"]

    @property
    def templates(self):
        return self.app.extensions["mailer.templates"]

    def fault_place(self) -> str:
        """Where a file or database fault happened, for the one-line message: the database, else the instance."""
        from mailer.config import instance_path_from_env
        from mailer.operations.faults import sqlite_path

        if self._app is None:
            return str(instance_path_from_env())
        url = self.settings.database_url
        return str(sqlite_path(url) or self.db.engine.url.render_as_string(hide_password=True))

    def close(self) -> None:
        """Close the database's pooled connections when the command ends.

        An in-process caller (tests, a script) outlives the command; PostgreSQL
        connections left to the garbage collector would linger on the server.
        """
        if self._app is not None:
            self._app.extensions["mailer.db"].dispose()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.app.extensions["mailer.db"].transaction() as session:
            yield session


pass_runtime = click.make_pass_decorator(Runtime)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))
