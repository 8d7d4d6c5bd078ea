"""Running an instance: `mailer backup`, `mailer restore`, `mailer db copy`, `mailer doctor`."""

from __future__ import annotations

from pathlib import Path

import click

from mailer.cli.runtime import Runtime, cli_language, echo_translated, fail, pass_runtime
from mailer.errors import ConfigProblem, render
from mailer.translations import translate

PROGRESS_EVERY = 10_000  # rows between progress lines of `db copy`


def _failure(key: str, exc: BaseException, code: int = 1):
    fail(translate(key, cli_language(), reason=render(exc, cli_language())), code)


def _counts(counts: dict[str, int]) -> None:
    width = max((len(name) for name in counts), default=0)
    for name, rows in sorted(counts.items()):
        click.echo(f"  {name:<{width}}  {rows:>9}")


@click.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@pass_runtime
def backup(runtime: Runtime, path: Path | None) -> None:
    """Back up the database while the web app and worker run (default: instance/backups/mailer-<UTC time>.sqlite|.dump).

    PATH may be a file name or an existing folder. A JSON manifest (schema revision, row counts,
    checksum) is written beside the backup, as <backup>.json.
    """
    from mailer.operations.backup import BackupError, manifest_path, take_backup

    try:
        taken = take_backup(runtime.db, runtime.settings, path)
    except BackupError as exc:
        _failure("ops.backup_failed", exc)
    manifest = taken.manifest
    echo_translated(
        "ops.backup_written",
        path=taken.path,
        size=f"{manifest.bytes / 1024 / 1024:.1f}",
        revision=manifest.schema_revision,
        rows=sum(manifest.tables.values()),
    )
    echo_translated("ops.manifest_at", path=manifest_path(taken.path))
    for old in taken.pruned:
        echo_translated("ops.backup_pruned", keep=runtime.settings.backup_keep, path=old)


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Only check the backup (manifest, checksum, schema, integrity).")
def restore(path: Path, dry_run: bool) -> None:
    """Restore a backup made by `mailer backup` into place (the web server and workers must be stopped).

    The database it replaces is kept beside it (…replaced-<UTC time>); a backup of an older
    schema is migrated to the latest after it is restored.
    """
    from mailer.config import ConfigError, load_settings
    from mailer.operations.backup import BackupError
    from mailer.operations.faults import InstanceFault, check_instance
    from mailer.operations.restore import check_backup, restore_backup

    try:
        settings = load_settings()
        check_instance(settings.instance_path, settings.database_url, need_database=False)
    except ConfigError as exc:
        fail(translate("cli.config_error", cli_language(), error=ConfigProblem(exc).render(cli_language())), 2)
    except InstanceFault as exc:
        fail(exc, 2)
    try:
        if dry_run:
            manifest = check_backup(path)
            echo_translated(
                "ops.backup_ok",
                path=path,
                backend=manifest.backend,
                revision=manifest.schema_revision,
                taken=manifest.created_at,
            )
            _counts(manifest.tables)
            return
        restored = restore_backup(settings, path)
    except BackupError as exc:
        _failure("ops.restore_refused", exc)
    echo_translated("ops.restored", path=path, taken=restored.manifest.created_at)
    if restored.replaced:
        echo_translated("ops.replaced_kept", where=restored.replaced)
    if restored.migrated_from:
        echo_translated("ops.migrated", revision=restored.migrated_from)
    echo_translated("ops.rows_per_table")
    _counts(restored.counts)


@click.group()
def db() -> None:
    """The database itself: moving it to another server."""


@db.command("copy")
@click.option(
    "--to",
    "target_url",
    required=True,
    metavar="URL",
    help="An EMPTY database: postgresql+psycopg://user@host/name or sqlite:////path/file.sqlite",
)
@pass_runtime
def copy(runtime: Runtime, target_url: str) -> None:
    """Copy every table to an empty database at the same schema, then compare counts and checksums.

    Afterwards point MAILER_DATABASE_URL (database_url) at the target: answers, links in mails
    already sent and the outbox carry on there. Stop the web server and worker for the switch-over:
    what they write after the copy starts is not copied.
    """
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from mailer.config import PARSERS, ConfigError
    from mailer.operations.copy import CopyError, copy_database
    from mailer.operations.running import running_against

    try:
        PARSERS["database_url"]("to", target_url)
    except ConfigError as exc:
        fail(f"--to: {str(exc).split(': ', 1)[-1]}", 2)
    language = cli_language()
    for process in running_against(runtime.settings):
        echo_translated("ops.copy_running_note", err=True, process=process.render(language))
    printed: dict[str, int] = {}

    def progress(table: str, done: int, total: int) -> None:
        if done == total:
            echo_translated("ops.copy_table_done", table=table, done=done)
        elif done - printed.get(table, 0) >= PROGRESS_EVERY:
            echo_translated("ops.copy_progress", table=table, done=done, total=total)
            printed[table] = done

    echo_translated("ops.copying")
    try:
        checks = copy_database(runtime.db, target_url, progress)
    except CopyError as exc:
        _failure("ops.copy_refused", exc)
    except (SQLAlchemyError, ArgumentError) as exc:
        fail(translate("ops.copy_failed", language, reason=str(getattr(exc, "orig", exc)).strip().splitlines()[0]), 1)
    width = max(len(check.table) for check in checks)
    table, source, target, checksum = translate("ops.copy_header", language).split("|")
    click.echo(f"{table:<{width}}  {source:>9}  {target:>9}  {checksum}")
    for check in checks:
        same = (
            translate("ops.copy_same", language)
            if check.source_checksum == check.target_checksum
            else translate("ops.copy_different", language)
        )
        click.echo(
            f"{check.table:<{width}}  {check.source_rows:>9}  {check.target_rows:>9}  "
            f"{check.source_checksum[:16]} {same}"
        )
    bad = [check.table for check in checks if not check.ok]
    if bad:
        fail(translate("ops.copy_differs", language, tables=", ".join(bad)), 1)
    echo_translated("ops.copy_done", n=len(checks))


@click.command()
def doctor() -> None:
    """Check the instance: config, database, folder and disk, mail relay, worker, backups, secret key, base_url."""
    from mailer.operations.doctor import FAIL, run_checks

    language = cli_language()

    def report(check) -> None:
        click.echo(f"{check.status:<4}  {check.name:<10}  {check.detail.render(language)}")
        if check.fix and check.status != "ok":
            click.echo(f"{'':<4}  {'':<10}  {translate('ops.fix', language, fix=check.fix.render(language))}")

    checks = run_checks(report=report)
    failed = [check.name for check in checks if check.status == FAIL]
    if failed:
        fail(translate("ops.doctor_failed", language, n=len(failed), names=", ".join(failed)), 1)
