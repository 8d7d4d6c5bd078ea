"""RSVP commands: revoking a person's links."""

from __future__ import annotations

import click

from mailer.cli.runtime import Runtime, echo_translated, fail, pass_runtime
from mailer.rsvp.service import revoke_links as revoke


@click.command("revoke-links")
@click.argument("email")
@pass_runtime
def revoke_links(runtime: Runtime, email: str) -> None:
    """Make every link sent to EMAIL stop working (RSVP, calendar, unsubscribe).

    Mails sent from now on carry new links.
    """
    with runtime.transaction() as session:
        try:
            contact = revoke(session, email)
        except LookupError as exc:
            fail(exc)
        echo_translated("cli.links_revoked", email=contact.email)
