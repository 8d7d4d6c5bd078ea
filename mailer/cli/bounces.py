"""`mailer bounces scan|process PATH`: delivery reports from a message file, a Maildir or an mbox."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mailer.bounces.service import Report, process_path, scan_path
from mailer.bounces.sources import SourceError
from mailer.cli.runtime import Runtime, cli_language, echo_translated, fail, pass_runtime
from mailer.translations import N_, translate

ACTIONS = (
    N_("bounces.action.suppressed"),
    N_("bounces.action.counted"),
    N_("bounces.action.unsubscribed"),
    N_("bounces.action.recorded"),
    N_("bounces.action.nothing"),
    N_("bounces.action.already-processed"),
    N_("bounces.action.test-mail"),
)


@click.group()
def bounces() -> None:
    """Bounces that come back as mail (to MAILER_BOUNCE_ADDRESS); see docs/bounces.md."""


def _warn_untagged(runtime: Runtime) -> None:
    if not runtime.settings.bounce_address:
        echo_translated("bounces.no_bounce_address", err=True)


def _line(report: Report, as_json: bool, limit: int) -> str:
    """JSON: the documented fields as they are; else one tab-separated line in the CLI's language."""
    if as_json:
        return json.dumps(report.to_json(), ensure_ascii=False)
    language = cli_language()
    fields = [
        report.file,
        report.kind,
        report.status or "-",
        ",".join(report.recipients) or "-",
        translate("bounces.ours", language, contact_id=report.contact_id)
        if report.contact_id is not None
        else translate("bounces.not_ours", language),
    ]
    if report.action is not None:
        fields.append(translate(f"bounces.action.{report.action}", language, count=report.soft_count, limit=limit))
    if report.problem:
        fields.append(f"({report.problem})")
    return "\t".join(fields)


@bounces.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per message.")
@pass_runtime
def scan(runtime: Runtime, path: Path, as_json: bool) -> None:
    """Say what each message in PATH is and whose it is; changes nothing."""
    _warn_untagged(runtime)
    try:
        reports = scan_path(runtime.db, runtime.settings, path)
    except SourceError as exc:
        fail(exc, 2)
    for report in reports:
        click.echo(_line(report, as_json, runtime.settings.soft_bounce_limit))


@bounces.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per message.")
@pass_runtime
def process(runtime: Runtime, path: Path, as_json: bool) -> None:
    """Apply each report in PATH (suppress, count, unsubscribe); a Maildir's move to its done/ folder."""
    _warn_untagged(runtime)
    try:
        reports = process_path(runtime.db, runtime.settings, path)
    except SourceError as exc:
        fail(exc, 2)
    for report in reports:
        click.echo(_line(report, as_json, runtime.settings.soft_bounce_limit))
