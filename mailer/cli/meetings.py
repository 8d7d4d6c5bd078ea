from __future__ import annotations

import click

from mailer.audit.log import cli_actor
from mailer.cli.runtime import Runtime, cli_language, echo_translated, fail, pass_runtime, show_list
from mailer.i18n import format_when
from mailer.meetings.service import MeetingError, get_meeting, list_meetings
from mailer.staff import meeting_actions
from mailer.staff.meeting_changes import cancel_meeting, edit_meeting
from mailer.translations import translate


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
def add(runtime: Runtime, **fields) -> None:
    """Add a meeting."""
    with runtime.transaction() as session:
        try:
            meeting = meeting_actions.create(session, runtime.settings.timezone, cli_actor(), **fields)
        except MeetingError as exc:
            _refused(exc, slug_is_argument=False)
        echo_translated(
            "cli.meeting_added",
            slug=meeting.slug,
            when=format_when(meeting.starts_at, meeting.ends_at, runtime.settings.timezone),
        )


def _refused(exc: MeetingError, slug_is_argument: bool = True):
    option = "SLUG" if exc.field == "slug" and slug_is_argument else f"--{exc.field.replace('_', '-')}"
    fail(f"{option}: {exc.render(cli_language())}")


def _meeting(session, slug: str):
    try:
        return get_meeting(session, slug)
    except LookupError as exc:
        fail(exc)


@meetings.command("edit")
@click.argument("slug")
@click.option("--title")
@click.option("--region")
@click.option("--city")
@click.option("--host")
@click.option("--venue")
@click.option("--starts", metavar='"YYYY-MM-DD HH:MM"')
@click.option("--ends", metavar='"YYYY-MM-DD HH:MM"')
@click.option("--capacity", type=int)
@click.option("--max-guests", type=int)
@click.option("--rsvp-by", metavar="YYYY-MM-DD")
@click.option("--description")
@click.option(
    "--anonymous-evaluation/--named-evaluation",
    default=None,
    help="Store this meeting's evaluations without the person.",
)
@click.option(
    "--notify/--no-notify",
    default=True,
    show_default=True,
    help="Mail everyone with a yes or a waitlist place when the time, town or venue changes.",
)
@pass_runtime
def edit(runtime: Runtime, slug: str, anonymous_evaluation: bool | None, notify: bool, **changes):
    """Change a meeting; a new time or place is mailed (with an updated calendar entry) to those coming."""
    with runtime.transaction() as session:
        meeting = _meeting(session, slug)
        try:
            given = {name: value for name, value in changes.items() if value is not None}
            change = edit_meeting(
                session,
                runtime.settings.timezone,
                runtime.settings.language,
                cli_actor(),
                meeting,
                notify=notify,
                evaluation_anonymous=anonymous_evaluation,
                **given,
            )
        except MeetingError as exc:
            _refused(exc)
    if change.notified:
        echo_translated("cli.meeting_updated_told", slug=slug, n=change.notified)
    else:
        echo_translated("cli.meeting_updated", slug=slug)


@meetings.command("cancel")
@click.argument("slug")
@click.option(
    "--notify/--no-notify",
    default=True,
    show_default=True,
    help="Mail everyone with a yes or a waitlist place a cancellation that removes it from calendars.",
)
@pass_runtime
def cancel(runtime: Runtime, slug: str, notify: bool):
    """Call a meeting off: cancellations to those coming, its unsent rounds stopped, answers closed."""
    with runtime.transaction() as session:
        meeting = _meeting(session, slug)
        try:
            change = cancel_meeting(session, cli_actor(), meeting, notify=notify)
        except MeetingError as exc:
            _refused(exc)
    language = cli_language()
    stopped = (
        translate("cli.meeting_rounds_stopped", language, rounds=", ".join(map(str, change.campaigns_cancelled)))
        if change.campaigns_cancelled
        else ""
    )
    click.echo(translate("cli.meeting_cancelled", language, slug=slug, n=change.notified) + stopped)


def meeting_dict(meeting, tz) -> dict:
    return {
        "slug": meeting.slug,
        "title": meeting.title,
        "region": meeting.region,
        "host": meeting.host,
        "city": meeting.city,
        "venue": meeting.venue,
        "starts": meeting.starts_at.astimezone(tz).isoformat(),
        "ends": meeting.ends_at.astimezone(tz).isoformat(),
        "when": format_when(meeting.starts_at, meeting.ends_at, tz),
        "capacity": meeting.capacity,
        "max_guests": meeting.max_guests,
        "rsvp_by": meeting.rsvp_by.isoformat() if meeting.rsvp_by else None,
        "cancelled": meeting.cancelled_at is not None,
    }


@meetings.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_runtime
def list_(runtime: Runtime, as_json: bool) -> None:
    """List meetings in date order."""
    tz = runtime.settings.timezone
    with runtime.transaction() as session:
        rows = [meeting_dict(meeting, tz) for meeting in list_meetings(session)]
    cancelled = "  " + translate("cli.meeting_cancelled_tag", cli_language())
    show_list(
        rows,
        as_json,
        "cli.meetings_count",
        lambda meeting: [
            f"{meeting['slug']:<22} {meeting['when']:<45} {meeting['city']}, {meeting['host'] or meeting['region']}"
            f"{cancelled if meeting['cancelled'] else ''}"
        ],
    )
