"""GDPR commands: what is held about a person, erasure, and the audit log."""

from __future__ import annotations

import click

from mailer.audit.log import cli_actor, recent, record
from mailer.cli.contacts import contacts
from mailer.cli.runtime import Runtime, cli_language, echo_json, echo_translated, fail, pass_runtime
from mailer.privacy.erasure import erase_person
from mailer.privacy.export import export_person
from mailer.translations import translate


@contacts.command("export-person")
@click.argument("email")
@pass_runtime
def export_person_command(runtime: Runtime, email: str) -> None:
    """Print, as JSON, everything held about one person (with the files that hold their data)."""
    with runtime.db.reading() as session:
        try:
            data = export_person(session, email, runtime.settings)
        except LookupError as exc:
            fail(exc)
    with runtime.transaction() as session:
        record(session, cli_actor(), "contacts.export_person", target="contact")
    echo_json(data)


@contacts.command("forget")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_runtime
def forget_command(runtime: Runtime, email: str, yes: bool) -> None:
    """Erase a person's personal data everywhere, files included; counts stay, the address stays blocked (hashed)."""
    if not yes:
        if not click.confirm(translate("cli.erase_confirm", cli_language(), email=email)):
            fail(translate("cli.erase_declined", cli_language()))
    try:
        erased = erase_person(runtime.db, runtime.settings, email, cli_actor())
    except LookupError as exc:
        fail(exc)
    echo_translated(
        "cli.erased",
        id=erased.contact_id,
        messages=erased.messages,
        answers=erased.responses,
        mentions=erased.mentions_rewritten,
        files=len(erased.files),
    )
    keep = runtime.settings.backup_keep
    echo_translated("ops.forget_backups", keep=keep, days=max(keep.daily, 7 * keep.weekly))


@click.command("audit")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_runtime
def audit(runtime: Runtime, limit: int, as_json: bool) -> None:
    """Recent staff actions: imports, sends, erasures, template edits."""
    tz = runtime.settings.timezone
    with runtime.db.reading() as session:
        rows = [
            {
                "at": entry.at.astimezone(tz).isoformat(timespec="seconds"),
                "actor": entry.actor,
                "action": entry.action,
                "target": entry.target,
                "detail": entry.detail,
            }
            for entry in recent(session, limit)
        ]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['at']}  {row['actor']:<24} {row['action']:<24} {row['target'] or ''} {row['detail'] or ''}")
