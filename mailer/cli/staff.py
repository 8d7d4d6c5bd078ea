"""`mailer staff`: the accounts that may log in to the staff web app."""

from __future__ import annotations

import click

from mailer.audit.log import cli_actor, record
from mailer.cli.runtime import Runtime, echo_json, fail, pass_runtime
from mailer.staff import accounts


@click.group()
def staff() -> None:
    """Staff accounts for the web app."""


def _link(rt: Runtime, user) -> str:
    token = accounts.set_password_token(rt.settings.secret_key, user, rt.settings.old_secret_keys)
    return f"{rt.settings.base_url}/staff/set-password/{token}"


@staff.command()
@click.argument("email")
@click.option("--name", help="The person's name, shown in the web app.")
@click.option("--link", "link_only", is_flag=True,
              help="Print a one-time set-password link (valid 3 days) instead of asking for a password.")
@pass_runtime
def add(rt: Runtime, email: str, name: str | None, link_only: bool) -> None:
    """Create a staff account; asks for its password, or prints a set-password link."""
    password = None
    if not link_only:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    with rt.transaction() as session:
        try:
            user = accounts.add_staff(session, email, name, password)
        except accounts.StaffError as exc:
            fail(exc)
        record(session, cli_actor(), "staff.add", f"staff:{user.id}")
        link = _link(rt, user) if link_only else None
    click.echo(f"staff account {user.email} created")
    if link:
        click.echo(f"set-password link (one use, valid 3 days): {link}")


@staff.command()
@click.argument("email")
@pass_runtime
def link(rt: Runtime, email: str) -> None:
    """Print a new one-time set-password link (a forgotten password)."""
    with rt.transaction() as session:
        user = accounts.find_staff(session, email)
        if user is None:
            fail(f"no staff account for {email.strip()!r}")
        click.echo(_link(rt, user))


@staff.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_runtime
def list_(rt: Runtime, as_json: bool) -> None:
    """List staff accounts."""
    with rt.transaction() as session:
        rows = [{"email": u.email, "name": u.name, "password_set": u.password_hash is not None,
                 "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None}
                for u in accounts.list_staff(session)]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        state = (f"last login {r['last_login_at'][:16].replace('T', ' ')} UTC" if r["last_login_at"]
                 else "never logged in" if r["password_set"] else "waiting for a password (set-password link)")
        click.echo(f"{r['email']:<40} {r['name'] or '':<30} {state}")
    click.echo(f"{len(rows)} staff accounts")


@staff.command()
@click.argument("email")
@pass_runtime
def remove(rt: Runtime, email: str) -> None:
    """Remove a staff account; its sessions end at once."""
    with rt.transaction() as session:
        try:
            user = accounts.remove_staff(session, email)
        except accounts.StaffError as exc:
            fail(exc)
        record(session, cli_actor(), "staff.remove", f"staff:{user.id}")
    click.echo(f"staff account {user.email} removed")
