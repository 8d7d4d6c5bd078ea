"""`mailer webhooks list|add|disable|enable|remove|deliveries|resend`: the staff page's webhooks, from a terminal."""

from __future__ import annotations

import click

from mailer.audit.log import cli_actor
from mailer.cli.runtime import Runtime, echo_translated, fail, pass_runtime
from mailer.staff import webhook_actions
from mailer.webhooks import EVENTS
from mailer.webhooks.addresses import WebhookError


@click.group()
def webhooks() -> None:
    """Webhook endpoints and their deliveries (docs/webhooks.md)."""


@webhooks.command("list")
@pass_runtime
def list_(runtime: Runtime) -> None:
    """Every endpoint: id, state, events, URL and secret (tab-separated)."""
    with runtime.db.reading() as session:
        for endpoint, counts in webhook_actions.overview(session).endpoints:
            state = "active" if endpoint.active else "disabled"
            tally = ",".join(f"{name}={count}" for name, count in sorted(counts.items())) or "-"
            click.echo(
                "\t".join([str(endpoint.id), state, ",".join(endpoint.events), endpoint.url, endpoint.secret, tally])
            )


@webhooks.command()
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(EVENTS),
    help="An event to send (repeatable); default: all four.",
)
@click.option("--description", default=None, help="Whose endpoint this is, for staff.")
@pass_runtime
def add(runtime: Runtime, url: str, events: tuple[str, ...], description: str | None) -> None:
    """Register URL; prints its id and the secret the receiver checks signatures with."""
    try:
        with runtime.db.transaction() as session:
            endpoint = webhook_actions.add_endpoint(
                session, cli_actor(), url, events or EVENTS, runtime.settings.webhook_allow_private, description
            )
            endpoint_id, secret = endpoint.id, endpoint.secret
    except WebhookError as exc:
        fail(exc, 2)
    echo_translated("cli.webhook_added", id=endpoint_id, secret=secret)


def _switch(runtime: Runtime, endpoint_id: int, active: bool) -> None:
    try:
        with runtime.db.transaction() as session:
            url = webhook_actions.set_active(session, cli_actor(), endpoint_id, active).url
    except WebhookError as exc:
        fail(exc, 2)
    if active:
        echo_translated("webhook_enabled", url=url)
    else:
        echo_translated("webhook_disabled", url=url)


@webhooks.command()
@click.argument("endpoint_id", type=int)
@pass_runtime
def disable(runtime: Runtime, endpoint_id: int) -> None:
    """Stop sending to an endpoint (waiting deliveries fail; they can be resent)."""
    _switch(runtime, endpoint_id, False)


@webhooks.command()
@click.argument("endpoint_id", type=int)
@pass_runtime
def enable(runtime: Runtime, endpoint_id: int) -> None:
    """Send to a disabled endpoint again."""
    _switch(runtime, endpoint_id, True)


@webhooks.command()
@click.argument("endpoint_id", type=int)
@pass_runtime
def remove(runtime: Runtime, endpoint_id: int) -> None:
    """Remove an endpoint and its deliveries."""
    try:
        with runtime.db.transaction() as session:
            url = webhook_actions.remove_endpoint(session, cli_actor(), endpoint_id)
    except WebhookError as exc:
        fail(exc, 2)
    echo_translated("webhook_removed", url=url)


@webhooks.command()
@click.option("--endpoint", "endpoint_id", type=int, default=None, help="Only this endpoint's deliveries.")
@pass_runtime
def deliveries(runtime: Runtime, endpoint_id: int | None) -> None:
    """The newest deliveries: id, event, state, attempts, last HTTP status, last error (tab-separated)."""
    with runtime.db.reading() as session:
        for delivery in webhook_actions.overview(session, endpoint_id).deliveries:
            click.echo(
                "\t".join(
                    [
                        str(delivery.id),
                        delivery.event,
                        delivery.state.value,
                        str(delivery.attempts),
                        str(delivery.last_status or "-"),
                        delivery.last_error or "-",
                    ]
                )
            )


@webhooks.command()
@click.argument("delivery_id", type=int)
@pass_runtime
def resend(runtime: Runtime, delivery_id: int) -> None:
    """Send a delivery again (the worker sends it within seconds)."""
    try:
        with runtime.db.transaction() as session:
            webhook_actions.resend(session, cli_actor(), delivery_id)
    except WebhookError as exc:
        fail(exc, 2)
    echo_translated("webhook_resent", id=delivery_id)
