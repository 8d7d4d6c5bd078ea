from __future__ import annotations

from pathlib import Path

import click

from mailer.audit.log import cli_actor, record
from mailer.cli.runtime import Runtime, cli_language, echo_json, fail, pass_runtime, say
from mailer.contacts.importer import import_lists
from mailer.contacts.queries import list_contacts
from mailer.translations import has, translate


@click.group()
def contacts() -> None:
    """Contact lists of the member organisations."""


@contacts.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--org", help="Organisation slug (default: each file name's stem).")
@click.option("--dry-run", is_flag=True, help="Report what would happen; write nothing.")
@click.option("--strict", is_flag=True, help="Any rejected row aborts the whole import.")
@click.option("--check-dns", is_flag=True, help="Also check that each domain can receive mail (network).")
@pass_runtime
def import_(rt: Runtime, files: tuple[Path, ...], org: str | None, dry_run: bool, strict: bool, check_dns: bool) -> None:
    """Import CSV contact lists (one per member organisation).

    Exit status: 0 all rows imported, 1 some rows rejected (the rest kept),
    2 a file could not be read (nothing from it imported).
    """
    with rt.transaction() as session:
        report = import_lists(session, list(files), org=org, dry_run=dry_run, strict=strict, check_dns=check_dns)
        if report.written:
            record(session, cli_actor(), "contacts.import", target=",".join(f.path.name for f in report.files)[:200],
                   imported=sum(f.imported for f in report.files), updated=sum(f.updated for f in report.files),
                   rejected=sum(len(f.rejected) for f in report.files))
    for file in report.files:
        for problem in file.warnings:
            say("cli.import_warning", place=f"{file.path}:{problem.line}", message=_problem(problem), err=True)
        for problem in file.rejected:
            click.echo(f"{file.path}:{problem.line}: {_problem(problem)}", err=True)
        if file.error:
            click.echo(f"{file.path}: {file.error}", err=True)
    for file in report.files:
        click.echo(file.summary())
    if not report.written:
        if dry_run:
            say("cli.dry_run")
        else:
            say("cli.strict_rejected")
    raise SystemExit(report.exit_code)


@contacts.command("list")
@click.option("--org", help="Only this organisation's contacts.")
@click.option("--json", "as_json", is_flag=True)
@pass_runtime
def list_(rt: Runtime, org: str | None, as_json: bool) -> None:
    """List contacts with their organisations and roles."""
    with rt.transaction() as session:
        try:
            rows = list_contacts(session, org)
        except LookupError as exc:
            fail(exc)
        data = [
            {
                "email": c.email, "name": c.name, "language": c.language, "region": c.region, "phone": c.phone,
                "organisations": [{"slug": m.organisation.slug, "role": m.role} for m in c.memberships],
            }
            for c in rows
        ]
    if as_json:
        echo_json(data)
        return
    for c in data:
        orgs = ", ".join(m["slug"] + (f" ({m['role']})" if m["role"] else "") for m in c["organisations"])
        click.echo(f"{c['email']:<45} {c['name'] or '':<30} {orgs}")
    say("cli.contacts_count", n=len(data))


def _problem(problem) -> str:
    """A row's problem in Swedish from the importer's code; in English the importer's own, more detailed text."""
    if cli_language() != "en" and problem.code and has(f"import_problem.{problem.code}", cli_language()):
        return translate(f"import_problem.{problem.code}", cli_language(), **problem.params)
    return problem.message
