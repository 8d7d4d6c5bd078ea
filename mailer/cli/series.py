"""`mailer series`: meetings offered together; one invitation, the invitee chooses a session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from mailer.audit.log import cli_actor
from mailer.cli.runtime import Runtime, echo_json, echo_translated, fail, pass_runtime, show_list
from mailer.errors import DomainError
from mailer.i18n import format_when
from mailer.meetings.series import get_series, list_series
from mailer.staff import series_actions
from mailer.tracking.series import series_status


@click.group("series")
def series() -> None:
    """Series: sessions to choose from with one invitation."""


@series.command("create")
@click.argument("slug")
@click.option("--title", required=True)
@click.option(
    "--choice",
    type=click.Choice(["one", "several"]),
    default="one",
    show_default=True,
    help="How many sessions one invitee may choose.",
)
@click.option("--description")
@pass_runtime
def create(runtime: Runtime, slug: str, title: str, choice: str, description: str | None) -> None:
    """Create a series; add its sessions with `mailer series add`."""
    with runtime.transaction() as session:
        try:
            created = series_actions.create(
                session, cli_actor(), slug=slug, title=title, choice=choice, description=description
            )
        except DomainError as exc:
            fail(exc)
        echo_translated("cli.series_created", slug=created.slug, choice=created.choice.value)


def _change_session(runtime: Runtime, change: Callable[..., Any], said: str, slug: str, meeting_slug: str) -> None:
    """Attach or detach a session (series_actions.add / remove) and say so."""
    with runtime.transaction() as session:
        try:
            change(session, cli_actor(), slug, meeting_slug)
        except DomainError as exc:
            fail(exc)
    echo_translated(said, slug=slug, meeting=meeting_slug)


@series.command("add")
@click.argument("slug")
@click.argument("meeting_slug")
@pass_runtime
def add(runtime: Runtime, slug: str, meeting_slug: str) -> None:
    """Attach the meeting MEETING_SLUG to the series as a session."""
    _change_session(runtime, series_actions.add, "cli.series_session_added", slug, meeting_slug)


@series.command("remove")
@click.argument("slug")
@click.argument("meeting_slug")
@pass_runtime
def remove(runtime: Runtime, slug: str, meeting_slug: str) -> None:
    """Detach a session from the series (the meeting and its answers stay)."""
    _change_session(runtime, series_actions.remove, "cli.series_session_removed", slug, meeting_slug)


@series.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_runtime
def list_(runtime: Runtime, as_json: bool) -> None:
    """List series with their sessions."""
    tz = runtime.settings.timezone
    with runtime.transaction() as session:
        rows: list[dict[str, Any]] = [
            {
                "slug": series.slug,
                "title": series.title,
                "choice": series.choice.value,
                "sessions": [
                    {
                        "slug": meeting.slug,
                        "when": format_when(meeting.starts_at, meeting.ends_at, tz),
                        "city": meeting.city,
                    }
                    for meeting in series.sessions
                ],
            }
            for series in list_series(session)
        ]
    show_list(
        rows,
        as_json,
        "cli.series_count",
        lambda row: [
            f"{row['slug']:<22} {row['title']} ({row['choice']})",
            *(f"  {meeting['slug']:<20} {meeting['when']:<45} {meeting['city']}" for meeting in row["sessions"]),
        ],
    )


@series.command("status")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True)
@pass_runtime
def status(runtime: Runtime, slug: str, as_json: bool) -> None:
    """Each session's figures, and the series': invited, chose, declined, not answered."""
    with runtime.transaction() as session:
        try:
            data = series_status(session, get_series(session, slug))
        except DomainError as exc:
            fail(exc)
    if as_json:
        echo_json(data)
        return
    echo_translated("cli.series_status", **{key: value for key, value in data.items() if key != "sessions"})
    for line in data["sessions"]:
        left = "-" if line["places_left"] is None else line["places_left"]
        echo_translated(
            "cli.series_status_session",
            left=left,
            **{key: value for key, value in line.items() if key != "places_left"},
        )
