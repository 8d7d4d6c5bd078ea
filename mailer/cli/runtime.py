"""What every command needs: the app (settings, database), created once, lazily.

`mailer init` must work before any config exists, so nothing is loaded until a
command asks for it; a bad setting then stops the command with the setting's name.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NoReturn

import click
from flask import Flask
from sqlalchemy.orm import Session

from mailer.config import ConfigError, Settings
from mailer.errors import ConfigProblem, render
from mailer.translations import DEFAULT_LANGUAGE, LANGUAGES, translate


def environment_language(environ: Mapping[str, str] = os.environ) -> str:
    """The CLI's language without --lang: an en*/sv* locale (LC_ALL, LC_MESSAGES, LANG), else
    the configured MAILER_LANGUAGE, else Swedish."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name) or ""
        if value[:2] in LANGUAGES:
            return value[:2]
    configured = environ.get("MAILER_LANGUAGE") or ""
    return configured if configured in LANGUAGES else DEFAULT_LANGUAGE


def cli_language() -> str:
    context = click.get_current_context(silent=True)
    runtime = context.find_object(Runtime) if context else None
    return runtime.language if runtime else environment_language()


def echo_translated(key: str, /, err: bool = False, **values: Any) -> None:
    """Print the catalog's text for `key` in the CLI's language."""
    click.echo(translate(key, cli_language(), **values), err=err)


def fail(message: str | BaseException, code: int = 1) -> NoReturn:
    """Stop the command with a message (a domain error is rendered in the CLI's language)."""
    text = render(message, cli_language()) if isinstance(message, BaseException) else message
    click.echo(f"mailer: {text}", err=True)
    sys.exit(code)


class Runtime:
    def __init__(self, language: str | None = None) -> None:
        self._app: Flask | None = None
        self.language = language or environment_language()

    @property
    def app(self) -> Flask:
        if self._app is None:
            from mailer.app import create_app
            from mailer.config import instance_path_from_env, load_settings
            from mailer.operations.faults import InstanceFault, check_instance

            try:
                folder = instance_path_from_env()
                if not folder.is_dir():  # said first: the missing settings would only be its consequence
                    raise InstanceFault("instance_missing", folder)
                settings = load_settings()
                check_instance(settings.instance_path, settings.database_url)
                self._app = create_app()
            except ConfigError as exc:
                fail(translate("cli.config_error", self.language, error=ConfigProblem(exc).render(self.language)), 2)
            except InstanceFault as exc:
                fail(exc, 2)
            db = self._app.extensions["mailer.db"]
            from mailer.db import head_revision

            if db.current_revision() != head_revision():
                fail(translate("cli.schema_old", self.language), 2)
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


def show_list(rows: list[Any], as_json: bool, count_key: str, lines: Callable[[Any], Iterable[str]]) -> None:
    """A listing: the rows as JSON (`--json`, for scripts), or each row's lines and a count for people."""
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        for line in lines(row):
            click.echo(line)
    echo_translated(count_key, n=len(rows))
