"""`mailer bounces scan|process PATH`: delivery reports from a message file, a Maildir or an mbox."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mailer.bounces.service import Report, process_path, scan_path
from mailer.bounces.sources import SourceError
from mailer.cli.runtime import Runtime, fail, pass_runtime


@click.group()
def bounces() -> None:
    """Bounces that come back as mail (to MAILER_BOUNCE_ADDRESS); see docs/bounces.md."""


def _line(report: Report, as_json: bool) -> str:
    if as_json:
        return json.dumps(report.to_json(), ensure_ascii=False)
    fields = [report.file, report.kind, report.status or "-", ",".join(report.recipients) or "-",
              f"contact {report.contact_id}" if report.contact_id is not None else "not ours"]
    if report.action is not None:
        fields.append(report.action)
    if report.problem:
        fields.append(f"({report.problem})")
    return "\t".join(fields)


@bounces.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per message.")
@pass_runtime
def scan(rt: Runtime, path: Path, as_json: bool) -> None:
    """Say what each message in PATH is and whose it is; changes nothing."""
    try:
        reports = scan_path(rt.db, rt.settings, path)
    except SourceError as exc:
        fail(str(exc), 2)
    for report in reports:
        click.echo(_line(report, as_json))


@bounces.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per message.")
@pass_runtime
def process(rt: Runtime, path: Path, as_json: bool) -> None:
    """Apply each report in PATH (suppress, count, unsubscribe); a Maildir's move to its done/ folder."""
    try:
        reports = process_path(rt.db, rt.settings, path)
    except SourceError as exc:
        fail(str(exc), 2)
    for report in reports:
        click.echo(_line(report, as_json))
