from __future__ import annotations

import dataclasses

import click

from mailer.cli.runtime import Runtime, echo_json, pass_runtime, say
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
        echo_json([dataclasses.asdict(r) for r in rows])
        return
    for r in rows:
        click.echo(f"{r.slug:<42} {r.contacts:>5}  {r.name}" + (f" [{r.short_name}]" if r.short_name else "") + (f" ({r.region})" if r.region else ""))
    say("cli.orgs_count", n=len(rows), memberships=sum(r.contacts for r in rows))
