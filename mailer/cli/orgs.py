from __future__ import annotations

import dataclasses

import click

from mailer.cli.runtime import Runtime, echo_json, echo_translated, pass_runtime
from mailer.contacts.queries import list_organisations


@click.group()
def orgs() -> None:
    """Member organisations."""


@orgs.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_runtime
def list_(runtime: Runtime, as_json: bool) -> None:
    """List member organisations with their number of contacts."""
    with runtime.transaction() as session:
        rows = list_organisations(session)
    if as_json:
        echo_json([dataclasses.asdict(row) for row in rows])
        return
    for row in rows:
        click.echo(
            f"{row.slug:<42} {row.contacts:>5}  {row.name}"
            + (f" [{row.short_name}]" if row.short_name else "")
            + (f" ({row.region})" if row.region else "")
        )
    echo_translated("cli.orgs_count", n=len(rows), memberships=sum(row.contacts for row in rows))
