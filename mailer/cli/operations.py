"""Running an instance: `mailer backup`, `mailer restore`, `mailer db copy`, `mailer doctor`."""

from __future__ import annotations

from pathlib import Path

import click

from mailer.cli.runtime import Runtime, fail, pass_runtime

PROGRESS_EVERY = 10_000  # rows between progress lines of `db copy`


def _counts(counts: dict[str, int]) -> None:
    width = max((len(name) for name in counts), default=0)
    for name, rows in sorted(counts.items()):
        click.echo(f"  {name:<{width}}  {rows:>9}")


@click.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@pass_runtime
def backup(rt: Runtime, path: Path | None) -> None:
    """Back up the database while the web app and worker run (default: instance/backups/mailer-<UTC time>.sqlite|.dump).

    PATH may be a file name or an existing folder. A JSON manifest (schema revision, row counts,
    checksum) is written beside the backup, as <backup>.json.
    """
    from mailer.operations.backup import BackupError, manifest_path, take_backup

    try:
        taken = take_backup(rt.db, rt.settings, path)
    except BackupError as exc:
        fail(f"backup failed: {exc}", 1)
    manifest = taken.manifest
    click.echo(f"backup written: {taken.path} ({manifest.bytes / 1024 / 1024:.1f} MB, schema revision "
               f"{manifest.schema_revision}, {sum(manifest.tables.values())} rows)")
    click.echo(f"manifest: {manifest_path(taken.path)}")
    for old in taken.pruned:
        click.echo(f"removed old backup (backup_keep = {rt.settings.backup_keep}): {old}")


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
        fail(f"configuration error: {exc}", 2)
    except InstanceFault as exc:
        fail(str(exc), 2)
    try:
        if dry_run:
            manifest = check_backup(path)
            click.echo(f"backup ok: {path} ({manifest.backend}, schema revision {manifest.schema_revision}, "
                       f"taken {manifest.created_at}); nothing was changed")
            _counts(manifest.tables)
            return
        restored = restore_backup(settings, path)
    except BackupError as exc:
        fail(f"restore refused: {exc}", 1)
    click.echo(f"restored {path} (taken {restored.manifest.created_at})")
    if restored.replaced:
        click.echo(f"the database it replaced is kept as {restored.replaced}")
    if restored.migrated_from:
        click.echo(f"migrated from schema revision {restored.migrated_from} to the latest")
    click.echo("rows per table:")
    _counts(restored.counts)


@click.group()
def db() -> None:
    """The database itself: moving it to another server."""


@db.command("copy")
@click.option("--to", "target_url", required=True, metavar="URL",
              help="An EMPTY database: postgresql+psycopg://user@host/name or sqlite:////path/file.sqlite")
@pass_runtime
def copy(rt: Runtime, target_url: str) -> None:
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
    for line in running_against(rt.settings):
        click.echo(f"note: {line}; what it writes from now on is not copied", err=True)
    printed: dict[str, int] = {}

    def progress(table: str, done: int, total: int) -> None:
        if done == total:
            click.echo(f"  {table}: {done} rows")
        elif done - printed.get(table, 0) >= PROGRESS_EVERY:
            click.echo(f"  {table}: {done}/{total} rows")
            printed[table] = done

    click.echo("copying:")
    try:
        checks = copy_database(rt.db, target_url, progress)
    except CopyError as exc:
        fail(f"db copy refused: {exc}", 1)
    except (SQLAlchemyError, ArgumentError) as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        fail(f"db copy failed, the target is left without rows: {reason}", 1)
    width = max(len(check.table) for check in checks)
    click.echo(f"{'table':<{width}}  {'source':>9}  {'target':>9}  checksum of key columns")
    for check in checks:
        same = "same" if check.source_checksum == check.target_checksum else "DIFFERENT"
        click.echo(f"{check.table:<{width}}  {check.source_rows:>9}  {check.target_rows:>9}  "
                   f"{check.source_checksum[:16]} {same}")
    bad = [check.table for check in checks if not check.ok]
    if bad:
        fail(f"db copy: the target differs from the source in {', '.join(bad)}", 1)
    click.echo(f"copied {len(checks)} tables: counts and checksums agree. Now set database_url "
               f"(MAILER_DATABASE_URL) to the target and restart the web server and worker.")


@click.command()
def doctor() -> None:
    """Check the instance: config, database, folder and disk, mail relay, worker, backups, secret key, base_url."""
    from mailer.operations.doctor import FAIL, run_checks

    def report(check) -> None:
        click.echo(f"{check.status:<4}  {check.name:<10}  {check.detail}")
        if check.fix and check.status != "ok":
            click.echo(f"{'':<4}  {'':<10}  fix: {check.fix}")

    checks = run_checks(report=report)
    failed = [check.name for check in checks if check.status == FAIL]
    if failed:
        fail(f"{len(failed)} check(s) failed: {', '.join(failed)}", 1)
