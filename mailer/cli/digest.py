from __future__ import annotations

import click

from mailer.audit.log import cli_actor
from mailer.cli.runtime import Runtime, cli_language, echo_translated, fail, pass_runtime
from mailer.digest.build import current_period, digest_context, send_digest
from mailer.mail.templates import TemplateProblem
from mailer.translations import translate


@click.group()
def digest() -> None:
    """The weekly response digest to staff (MAILER_STAFF_EMAILS)."""


@digest.command()
@click.option("--html", is_flag=True, help="Print the HTML part instead of the text.")
@pass_runtime
def preview(runtime: Runtime, html: bool) -> None:
    """Print the digest as it would be sent now (nothing is recorded)."""
    with runtime.transaction() as session:
        start, end = current_period(session)
        context = digest_context(session, runtime.settings, start, end)
    try:
        rendered = runtime.templates.render("digest", context["lang"], context)
    except TemplateProblem as exc:
        fail(exc)
    click.echo(f"Subject: {rendered.subject}\n")
    click.echo(rendered.html if html else rendered.text)


@digest.command()
@pass_runtime
def send(runtime: Runtime) -> None:
    """Queue the digest now for every staff address; the period then starts afresh."""
    if not runtime.settings.staff_emails:
        fail(translate("cli.no_staff_emails", cli_language()), 1)
    with runtime.transaction() as session:
        run = send_digest(session, runtime.settings, actor=cli_actor())
    assert run is not None, "there are staff addresses (checked above)"
    from mailer.worker.sender import Sender

    sender = Sender(runtime.db, runtime.settings, runtime.templates)
    try:
        while sender.run_once(template="digest").claimed:
            pass
    finally:
        sender.close()
    tz = runtime.settings.timezone
    echo_translated(
        "cli.digest_sent",
        start=f"{run.period_start.astimezone(tz):%Y-%m-%d %H:%M}",
        end=f"{run.period_end.astimezone(tz):%Y-%m-%d %H:%M}",
        emails=", ".join(runtime.settings.staff_emails),
    )
