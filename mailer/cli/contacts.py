from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from mailer.audit.log import cli_actor, record
from mailer.cli.progress import ProgressLine
from mailer.cli.runtime import Runtime, cli_language, echo_json, echo_translated, fail, pass_runtime
from mailer.contacts.batched import import_in_batches
from mailer.contacts.csvfile import FIELDS, IGNORE, Choices
from mailer.contacts.importer import ImportReport, import_lists
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
@click.option(
    "--map-region",
    "map_regions",
    multiple=True,
    metavar="WRITTEN=REGION",
    help="Read a region the lists write that is not one as this region ('' for none); repeatable.",
)
@click.option(
    "--column",
    "columns",
    multiple=True,
    metavar="HEADER=FIELD",
    help=f"Read a column as one of: {', '.join(FIELDS)}, or {IGNORE}; repeatable.",
)
@pass_runtime
def import_(
    runtime: Runtime,
    files: tuple[Path, ...],
    org: str | None,
    dry_run: bool,
    strict: bool,
    check_dns: bool,
    map_regions: tuple[str, ...],
    columns: tuple[str, ...],
) -> None:
    """Import CSV contact lists (one per member organisation).

    Exit status: 0 all rows imported, 1 some rows rejected (the rest kept),
    2 a file could not be read, or has an unknown region or column to fix or
    choose (nothing from it imported).
    """
    choices = Choices()
    for option, values, target in (
        ("--map-region", map_regions, choices.regions),
        ("--column", columns, choices.columns),
    ):
        for value in values:
            written, sep, meaning = value.partition("=")
            if not sep or not written.strip():
                fail(translate("cli.option_not_pair", cli_language(), option=option, value=repr(value)))
            target[written.strip()] = meaning.strip()
    for region in choices.regions.values():
        if region and canonical_region(region) is None:
            fail(translate("cli.option_not_region", cli_language(), region=repr(region)))
    for meaning in choices.columns.values():
        if meaning not in FIELDS and meaning != IGNORE:
            fail(
                translate(
                    "cli.option_not_field", cli_language(), meaning=repr(meaning), fields=", ".join((*FIELDS, IGNORE))
                )
            )
    if dry_run:
        with ProgressLine() as progress, runtime.db.reading() as session:
            report = import_lists(
                session,
                list(files),
                org=org,
                dry_run=True,
                strict=strict,
                check_dns=check_dns,
                choices=choices,
                progress=progress,
            )
    else:
        with ProgressLine(("progress.rows_checked", "progress.rows_written")) as progress:
            report = import_in_batches(
                runtime.db,
                list(files),
                org=org,
                strict=strict,
                check_dns=check_dns,
                choices=choices,
                progress=progress,
                finish=_audit,
            )
    for file in report.files:
        for problem in file.warnings:
            echo_translated(
                "cli.import_warning", place=f"{file.path}:{problem.line}", message=problem_text(problem), err=True
            )
        for problem in file.rejected + file.blocking:
            click.echo(f"{file.path}:{problem.line}: {problem_text(problem)}", err=True)
        for differs in file.disagreements:
            options = "; ".join(f"{value!r} ({', '.join(orgs)})" for value, orgs in differs.options.items())
            echo_translated(
                "cli.import_disagreement",
                place=f"{file.path}:{differs.line}",
                email=differs.email,
                field=differs.field,
                options=options,
                shown=repr(differs.result),
                err=True,
            )
        if file.error:
            click.echo(f"{file.path}: {_file_error(file)}", err=True)
    for file in report.files:
        click.echo(_summary(file))
    if not report.written:
        if dry_run:
            echo_translated("cli.dry_run")
        else:
            echo_translated("cli.strict_rejected")
    elif any(file_report.blocking for file_report in report.files):
        echo_translated("cli.import_blocked_some")
    raise SystemExit(report.exit_code)


@contacts.command("list")
@click.option("--org", help="Only this organisation's contacts.")
@click.option("--json", "as_json", is_flag=True)
@pass_runtime
def list_(runtime: Runtime, org: str | None, as_json: bool) -> None:
    """List contacts with their organisations and roles."""
    with runtime.transaction() as session:
        try:
            rows = list_contacts(session, org)
        except LookupError as exc:
            fail(exc)
        data: list[dict[str, Any]] = [
            {
                "email": contact.email,
                "name": contact.name,
                "language": contact.language,
                "region": contact.region,
                "phone": contact.phone,
                "organisations": [
                    {
                        "slug": membership.organisation.slug,
                        "role": membership.role,
                        "name": membership.name,
                        "title": membership.title,
                        "region": membership.region,
                    }
                    for membership in contact.memberships
                ],
            }
            for contact in rows
        ]
    if as_json:
        echo_json(data)
        return
    for contact in data:
        orgs = ", ".join(
            membership["slug"] + (f" ({membership['role']})" if membership["role"] else "")
            for membership in contact["organisations"]
        )
        click.echo(f"{contact['email']:<45} {contact['name'] or '':<30} {orgs}")
    echo_translated("cli.contacts_count", n=len(data))


def _audit(session: Session, report: ImportReport) -> None:
    files = report.files
    record(
        session,
        cli_actor(),
        "contacts.import",
        target=",".join(file.path.name for file in files)[:200],
        imported=sum(file.imported for file in files),
        updated=sum(file.updated for file in files),
        removed=sum(file.removed for file in files),
        rejected=sum(len(file.rejected) for file in files),
    )


def problem_text(problem) -> str:
    """A row's problem in Swedish from the importer's code; in English the importer's own, more detailed text."""
    if cli_language() != "en" and problem.code and has(f"import_problem.{problem.code}", cli_language()):
        return translate(f"import_problem.{problem.code}", cli_language(), **problem.params)
    return problem.message


def _summary(file) -> str:
    """One file's outcome in the CLI's language (FileReport.summary() is the same in English, for logs)."""
    language, name = cli_language(), file.path.name
    if file.error:
        return translate("cli.import_file_not_imported", language, file=name, reason=_file_error(file))
    if file.note:  # the only note: organisations.csv, which names organisations and holds no contacts
        return translate("cli.import_file_organisations", language, file=name)
    if file.blocking:
        return translate("cli.import_file_blocked", language, file=name, n=len(file.blocking))
    text = translate(
        "cli.import_file_counts",
        language,
        file=name,
        imported=file.imported,
        updated=file.updated,
        unchanged=file.unchanged,
        removed=file.removed,
        rejected=len(file.rejected),
    )
    extras = [
        translate(key, language, n=count)
        for key, count in (("cli.import_file_suppressed", file.suppressed), ("cli.import_file_erased", file.erased))
        if count
    ]
    return text + (f" ({'; '.join(extras)})" if extras else "")


def _file_error(file) -> str:
    """Why a file was not read, as problem_text says a row's problem."""
    language = cli_language()
    if language != "en" and file.error_code and has(f"import_problem.{file.error_code}", language):
        return translate(f"import_problem.{file.error_code}", language, **file.error_params)
    return file.error
