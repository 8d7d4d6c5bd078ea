from __future__ import annotations

from pathlib import Path

import click

from mailer.audit.log import cli_actor, record
from mailer.cli.progress import ProgressLine
from mailer.cli.runtime import Runtime, cli_language, echo_json, fail, pass_runtime, say
from mailer.contacts.csvfile import FIELDS, IGNORE, Choices
from mailer.contacts.importer import import_lists
from mailer.contacts.queries import list_contacts
from mailer.regions import canonical_region
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
@click.option("--map-region", "map_regions", multiple=True, metavar="WRITTEN=REGION",
              help="Read a region the lists write that is not one as this region ('' for none); repeatable.")
@click.option("--column", "columns", multiple=True, metavar="HEADER=FIELD",
              help=f"Read a column as one of: {', '.join(FIELDS)}, or {IGNORE}; repeatable.")
@pass_runtime
def import_(rt: Runtime, files: tuple[Path, ...], org: str | None, dry_run: bool, strict: bool, check_dns: bool,
            map_regions: tuple[str, ...], columns: tuple[str, ...]) -> None:
    """Import CSV contact lists (one per member organisation).

    Exit status: 0 all rows imported, 1 some rows rejected (the rest kept),
    2 a file could not be read, or has an unknown region or column to fix or
    choose (nothing from it imported).
    """
    choices = Choices()
    for option, values, target in (("--map-region", map_regions, choices.regions), ("--column", columns, choices.columns)):
        for value in values:
            written, sep, meaning = value.partition("=")
            if not sep or not written.strip():
                fail(f"{option}: {value!r} is not WRITTEN=REGION or HEADER=FIELD")
            target[written.strip()] = meaning.strip()
    for region in choices.regions.values():
        if region and canonical_region(region) is None:
            fail(f"--map-region: {region!r} is not a region")
    for meaning in choices.columns.values():
        if meaning not in FIELDS and meaning != IGNORE:
            fail(f"--column: {meaning!r} is not one of {', '.join(FIELDS)}, {IGNORE}")
    with ProgressLine() as progress, rt.transaction() as session:
        report = import_lists(session, list(files), org=org, dry_run=dry_run, strict=strict, check_dns=check_dns,
                              choices=choices, progress=progress)
        if report.written:
            record(session, cli_actor(), "contacts.import", target=",".join(f.path.name for f in report.files)[:200],
                   imported=sum(f.imported for f in report.files), updated=sum(f.updated for f in report.files),
                   removed=sum(f.removed for f in report.files), rejected=sum(len(f.rejected) for f in report.files))
    for file in report.files:
        for problem in file.warnings:
            say("cli.import_warning", place=f"{file.path}:{problem.line}", message=_problem(problem), err=True)
        for problem in file.rejected + file.blocking:
            click.echo(f"{file.path}:{problem.line}: {_problem(problem)}", err=True)
        for differs in file.disagreements:
            options = "; ".join(f"{value!r} ({', '.join(orgs)})" for value, orgs in differs.options.items())
            click.echo(f"{file.path}:{differs.line}: note: the lists write {differs.email}'s {differs.field} "
                       f"differently: {options}; shown: {differs.result!r}", err=True)
        if file.error:
            click.echo(f"{file.path}: {file.error}", err=True)
    for file in report.files:
        click.echo(file.summary())
    if not report.written:
        if dry_run:
            say("cli.dry_run")
        else:
            say("cli.strict_rejected")
    elif any(f.blocking for f in report.files):
        click.echo("a file with problems to fix or choose was not imported (the others were)")
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
                "organisations": [{"slug": m.organisation.slug, "role": m.role, "name": m.name, "title": m.title,
                                   "region": m.region} for m in c.memberships],
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
