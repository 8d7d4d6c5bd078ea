from __future__ import annotations

import click

from mailer.cli.runtime import Runtime, cli_language, echo_json, fail, pass_runtime, say
from mailer.i18n import format_when
from mailer.audit.log import cli_actor
from mailer.meetings.service import MeetingError, list_meetings
from mailer.staff import meeting_actions


@click.group()
def meetings() -> None:
    """Meetings ("träffar")."""


@meetings.command("add")
@click.option("--slug", required=True)
@click.option("--title", required=True)
@click.option("--region", required=True)
@click.option("--city", required=True)
@click.option("--host")
@click.option("--venue")
@click.option("--starts", required=True, metavar='"YYYY-MM-DD HH:MM"', help="Local time in the configured zone.")
@click.option("--ends", metavar='"YYYY-MM-DD HH:MM"', help="Default: two hours after the start.")
@click.option("--capacity", type=int)
@click.option("--max-guests", type=int, default=1, show_default=True, help="Guests one person may bring.")
@click.option("--rsvp-by", metavar='"YYYY-MM-DD"')
@click.option("--description")
@pass_runtime
def add(rt: Runtime, **fields) -> None:
    """Add a meeting."""
    with rt.transaction() as session:
        try:
            meeting = meeting_actions.create(session, rt.settings.timezone, cli_actor(), **fields)
        except MeetingError as exc:
            fail(f"--{exc.field.replace('_', '-')}: {exc.render(cli_language())}")
        say("cli.meeting_added", slug=meeting.slug,
            when=format_when(meeting.starts_at, meeting.ends_at, rt.settings.timezone))


def meeting_dict(meeting, tz) -> dict:
    return {
        "slug": meeting.slug, "title": meeting.title, "region": meeting.region, "host": meeting.host,
        "city": meeting.city, "venue": meeting.venue,
        "starts": meeting.starts_at.astimezone(tz).isoformat(), "ends": meeting.ends_at.astimezone(tz).isoformat(),
        "when": format_when(meeting.starts_at, meeting.ends_at, tz),
        "capacity": meeting.capacity, "max_guests": meeting.max_guests,
        "rsvp_by": meeting.rsvp_by.isoformat() if meeting.rsvp_by else None,
    }


@meetings.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_runtime
def list_(rt: Runtime, as_json: bool) -> None:
    """List meetings in date order."""
    tz = rt.settings.timezone
    with rt.transaction() as session:
        rows = [meeting_dict(m, tz) for m in list_meetings(session)]
    if as_json:
        echo_json(rows)
        return
    for m in rows:
        click.echo(f"{m['slug']:<22} {m['when']:<45} {m['city']}, {m['host'] or m['region']}")
    say("cli.meetings_count", n=len(rows))
