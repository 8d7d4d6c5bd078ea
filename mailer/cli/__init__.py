"""The `mailer` command line: thin commands, each calling one domain function."""

from __future__ import annotations

import secrets

import click

from mailer.cli.runtime import Runtime, cli_language, echo_translated, fail
from mailer.config import CONFIG_FILE, ConfigError, instance_path_from_env, load_settings
from mailer.config_file import fill_in_staff_emails
from mailer.db import Database
from mailer.errors import ConfigProblem
from mailer.staff.accounts import first_staff_email
from mailer.translations import LANGUAGES, translate


class FaultGroup(click.Group):
    """A full disk, a read-only folder or a vanished database met in the middle of a command
    ends it with one line naming the place and the fix (exit 2), not a driver traceback."""

    def invoke(self, ctx: click.Context):
        from sqlalchemy.exc import SQLAlchemyError

        from mailer.operations.faults import fault_from_error

        try:
            return super().invoke(ctx)
        except (SQLAlchemyError, OSError) as exc:
            runtime = ctx.obj if isinstance(ctx.obj, Runtime) else None
            fault = fault_from_error(exc, runtime.fault_place() if runtime else str(instance_path_from_env()))
            if fault is None:
                raise
            fail(fault, 2)


@click.group(cls=FaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mailer")
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default=None,
    help="Language of messages (default: an en/sv LANG, else MAILER_LANGUAGE, else sv).",
)
@click.pass_context
def main(ctx: click.Context, lang: str | None) -> None:
    """Invitation campaigns and RSVP tracking for member organisations."""
    ctx.obj = Runtime(lang)
    ctx.call_on_close(ctx.obj.close)


CONFIG_TEMPLATE = """\
# mailer configuration. Every key can be overridden by an environment variable
# named MAILER_ + the key in upper case (e.g. MAILER_SMTP_URL). See README.md.
secret_key = "{secret}"
base_url = "http://127.0.0.1:5000"
from = "Ax – Kulturorganisationer i samverkan <info@ax.example.org>"
# smtp_url = "smtp://user:password@smtp.example.org:587"   # unset: mail goes to instance/outbox/
# staff_emails = ["kansli@ax.example.org"]
timezone = "Europe/Stockholm"
language = "sv"
"""


@main.command()
def init() -> None:
    """Create the instance folder and config, and migrate the database to the newest schema.

    Run again after the first staff account exists, it also sets `staff_emails` (the
    weekly digest's recipients) to that account's address when the config has none.
    """
    instance = instance_path_from_env()
    instance.mkdir(parents=True, exist_ok=True)
    config = instance / CONFIG_FILE
    if config.exists():
        echo_translated("cli.config_kept", path=config)
    else:
        config.write_text(CONFIG_TEMPLATE.format(secret=secrets.token_urlsafe(32)), encoding="utf-8")
        config.chmod(0o600)
        echo_translated("cli.config_written", path=config)
    try:
        settings = load_settings()
    except ConfigError as exc:
        fail(translate("cli.config_error", cli_language(), error=ConfigProblem(exc).render(cli_language())), 2)
    from mailer.operations.faults import InstanceFault, check_new_database

    try:
        check_new_database(settings.database_url)
    except InstanceFault as exc:
        fail(exc, 2)
    database = Database(settings.database_url)
    database.upgrade()
    echo_translated(
        "cli.database_at",
        url=database.engine.url.render_as_string(hide_password=True),
        revision=database.current_revision(),
    )
    if not settings.staff_emails:
        with database.transaction() as session:
            first = first_staff_email(session)
        if first and fill_in_staff_emails(config, first):
            echo_translated("cli.staff_emails_written", email=first, path=config)
    database.dispose()


def _register() -> None:
    from mailer.cli import (
        bounces,
        campaigns,
        contacts,
        demo,
        digest,
        meetings,
        operations,
        orgs,
        privacy,
        questions,
        rsvp,
        series,
        serve,
        staff,
        tracking,
        webhooks,
        worker,
    )

    for command in (
        contacts.contacts,
        orgs.orgs,
        meetings.meetings,
        campaigns.campaigns,
        tracking.responses,
        tracking.report,
        digest.digest,
        privacy.audit,
        worker.worker,
        serve.serve,
        demo.demo,
        staff.staff,
        operations.backup,
        operations.restore,
        operations.db,
        operations.doctor,
        bounces.bounces,
        webhooks.webhooks,
        series.series,
        questions.questions,
    ):
        main.add_command(command)
    contacts.contacts.add_command(rsvp.revoke_links)


_register()
__all__ = ["main"]
