"""`mailer staff`: the accounts that may log in to the staff web app (the web's Konton page does the same)."""

from __future__ import annotations

from typing import Any, overload

import click

from mailer.audit.log import cli_actor, record
from mailer.cli.runtime import Runtime, cli_language, echo_json, echo_translated, fail, pass_runtime
from mailer.staff import accounts, tokens
from mailer.staff.roles import ROLES, RoleError, parse_role
from mailer.translations import translate


@click.group()
def staff() -> None:
    """Staff accounts for the web app."""


def _link(runtime: Runtime, user) -> str:
    token = accounts.set_password_token(runtime.settings.secret_key, user, runtime.settings.old_secret_keys)
    return f"{runtime.settings.base_url}/staff/set-password/{token}"


@overload
def _role(text: str) -> str: ...
@overload
def _role(text: None) -> None: ...
def _role(text: str | None) -> str | None:
    try:
        return parse_role(text) if text is not None else None
    except RoleError as exc:
        fail(exc)


def _new_password() -> str:
    """Asked twice, in the CLI's language: click's own confirmation and mismatch texts are English."""
    language = cli_language()
    while True:
        password = click.prompt(translate("cli.password_prompt", language), hide_input=True, err=True)
        again = click.prompt(translate("cli.password_repeat", language), hide_input=True, err=True)
        if password == again:
            return password
        click.echo(translate("cli.passwords_differ", language), err=True)


@staff.command()
@click.argument("email")
@click.option("--name", help="The person's name, shown in the web app.")
@click.option(
    "--role",
    metavar="|".join(ROLES),
    help="admin (everything), staff (no accounts, no erasure) or viewer (reads only). "
    "Default: admin for the first account, staff after that.",
)
@click.option(
    "--link",
    "link_only",
    is_flag=True,
    help="Print a one-time set-password link (valid 3 days) instead of asking for a password.",
)
@pass_runtime
def add(runtime: Runtime, email: str, name: str | None, role: str | None, link_only: bool) -> None:
    """Create a staff account; asks for its password, or prints a set-password link."""
    chosen = _role(role)
    password = None
    if not link_only:
        password = _new_password()
    with runtime.transaction() as session:
        try:
            user = accounts.add_staff(session, email, name, password, role=chosen)
        except accounts.StaffError as exc:
            fail(exc)
        record(session, cli_actor(), "staff.add", f"staff:{user.id}", role=user.role)
        link = _link(runtime, user) if link_only else None
    echo_translated("cli.staff_created", email=user.email, role=user.role)
    if link:
        echo_translated("cli.staff_link", link=link)


@staff.command("role")
@click.argument("email")
@click.argument("role", metavar="ROLE")
@pass_runtime
def role_(runtime: Runtime, email: str, role: str) -> None:
    """Give an account another role: admin, staff or viewer."""
    chosen = _role(role)
    with runtime.transaction() as session:
        user = accounts.find_staff(session, email)
        if user is None:
            fail(accounts.StaffError("unknown", email=email.strip()))
        try:
            changed = accounts.set_role(session, user, chosen)
        except accounts.StaffError as exc:
            fail(exc)
        if changed:
            record(session, cli_actor(), "staff.role", f"staff:{user.id}", role=chosen)
    echo_translated("cli.staff_role", email=user.email, role=chosen)


@staff.command()
@click.argument("email")
@click.option("--undo", is_flag=True, help="Reactivate the account instead.")
@pass_runtime
def deactivate(runtime: Runtime, email: str, undo: bool) -> None:
    """Switch an account off (it cannot log in; its sessions end) or back on with --undo."""
    with runtime.transaction() as session:
        user = accounts.find_staff(session, email)
        if user is None:
            fail(accounts.StaffError("unknown", email=email.strip()))
        try:
            if accounts.set_active(session, user, undo):
                record(session, cli_actor(), "staff.reactivate" if undo else "staff.deactivate", f"staff:{user.id}")
        except accounts.StaffError as exc:
            fail(exc)
    if undo:
        echo_translated("cli.staff_reactivated", email=user.email)
    else:
        echo_translated("cli.staff_deactivated", email=user.email)


@staff.command()
@click.argument("email")
@pass_runtime
def link(runtime: Runtime, email: str) -> None:
    """Print a new one-time set-password link (a forgotten password)."""
    with runtime.transaction() as session:
        user = accounts.find_staff(session, email)
        if user is None:
            fail(accounts.StaffError("unknown", email=email.strip()))
        click.echo(_link(runtime, user))


@staff.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_runtime
def list_(runtime: Runtime, as_json: bool) -> None:
    """List staff accounts."""
    with runtime.transaction() as session:
        rows: list[dict[str, Any]] = [
            {
                "email": account.email,
                "name": account.name,
                "role": account.role,
                "active": account.active,
                "password_set": account.password_hash is not None,
                "last_login_at": account.last_login_at.isoformat() if account.last_login_at else None,
            }
            for account in accounts.list_staff(session)
        ]
    if as_json:
        echo_json(rows)
        return
    language = cli_language()
    for row in rows:
        state = (
            translate("cli.staff_deactivated_state", language)
            if not row["active"]
            else translate("cli.staff_last_login", language, when=row["last_login_at"][:16].replace("T", " "))
            if row["last_login_at"]
            else translate("cli.staff_never", language)
            if row["password_set"]
            else translate("cli.staff_waiting", language)
        )
        click.echo(f"{row['email']:<40} {row['name'] or '':<30} {row['role']:<7} {state}")
    echo_translated("cli.staff_count", n=len(rows))


@staff.command()
@click.argument("email")
@pass_runtime
def remove(runtime: Runtime, email: str) -> None:
    """Remove a staff account; its sessions end at once (deactivate keeps it in the audit log's names)."""
    with runtime.transaction() as session:
        try:
            user = accounts.remove_staff(session, email)
        except accounts.StaffError as exc:
            fail(exc)
        record(session, cli_actor(), "staff.remove", f"staff:{user.id}")
    echo_translated("cli.staff_removed", email=user.email)


@staff.command()
@click.argument("email")
@click.option(
    "--scope", type=click.Choice(tokens.SCOPES), help="read (GET only) or write (everything the account's role may do)."
)
@click.option("--label", help="What the token is for, shown on the staff web's token page.")
@click.option("--revoke", "revoke_id", type=int, metavar="ID", help="Revoke the account's token with this id instead.")
@click.option("--list", "list_only", is_flag=True, help="List the account's tokens (id, scope, state) instead.")
@pass_runtime
def token(
    runtime: Runtime, email: str, scope: str | None, label: str | None, revoke_id: int | None, list_only: bool
) -> None:
    """Make an API token for the account and print it (shown this once), or --revoke ID, or --list."""
    if sum((scope is not None, revoke_id is not None, list_only)) != 1:
        fail(translate("cli.token_usage", cli_language()))
    with runtime.transaction() as session:
        user = accounts.find_staff(session, email)
        if user is None:
            fail(accounts.StaffError("unknown", email=email.strip()))
        if list_only:
            rows = tokens.list_tokens(session, user.id)
        elif revoke_id is not None:
            try:
                tokens.revoke_token(session, user.id, revoke_id, cli_actor())
            except tokens.TokenError as exc:
                fail(exc)
        else:
            try:
                row, secret = tokens.create_token(session, user, scope or "", label, cli_actor())
            except tokens.TokenError as exc:
                fail(exc)
    if list_only:
        language = cli_language()
        for row in rows:
            state = (
                translate("cli.token_revoked_state", language)
                if row.revoked_at
                else translate("cli.token_active_state", language)
            )
            click.echo(f"{row.id:>5}  {row.prefix}…  {row.scope:<5}  {state:<10}  {row.label or ''}")
        return
    if revoke_id is not None:
        echo_translated("cli.token_revoked", err=True, id=revoke_id, email=user.email)
        return
    click.echo(secret)
    echo_translated("cli.token_created", err=True, id=row.id, email=user.email, scope=row.scope)
