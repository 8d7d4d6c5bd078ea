from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from sqlalchemy import func, select

from mailer.cli.contacts import problem_text
from mailer.cli.runtime import Runtime, cli_language, echo_translated, pass_runtime
from mailer.contacts.models import Contact
from mailer.contacts.queries import list_organisations
from mailer.demo import (
    DEMO_STAFF,
    add_demo_meetings,
    create_demo_invitation,
    demo_rsvp_url,
    demo_staff_link,
    import_demo_contacts,
)
from mailer.i18n import format_when
from mailer.meetings.service import list_meetings


@click.command()
@click.option(
    "--contacts",
    "folder",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default="contacts",
    show_default=True,
)
@click.option(
    "--links",
    "links_only",
    is_flag=True,
    help="Only print a demo recipient's answer page and the staff set-password link.",
)
@pass_runtime
def demo(runtime: Runtime, folder: Path, links_only: bool) -> None:
    """Load the demo: contact lists, the six meetings, and the first meeting's invitation round.

    Run again, it says what this run changed (usually nothing) rather than repeating the first run's figures.
    """
    tz = runtime.settings.timezone
    language = cli_language()
    if links_only:
        _print_links(runtime)
        return
    with runtime.transaction() as session:
        report = import_demo_contacts(session, folder)
        added = add_demo_meetings(session, tz, dt.datetime.now(tz).date())
        campaign_id = create_demo_invitation(session, runtime.settings, runtime.templates)
    rejected = sum(len(file_report.rejected) for file_report in report.files)
    for file in report.files:
        for problem in file.rejected:
            click.echo(f"{file.path}:{problem.line}: {problem_text(problem)}", err=True)
    lists = sum(1 for file_report in report.files if file_report.organisation)
    new, updated = (
        sum(file_report.imported for file_report in report.files),
        sum(file_report.updated for file_report in report.files),
    )
    echo_translated("cli.demo_imported", lists=lists, rejected=rejected)
    if new or updated:
        echo_translated("cli.demo_contacts_changed", new=new, updated=updated)
    else:
        echo_translated("cli.demo_contacts_unchanged")
    if added:
        echo_translated("cli.demo_meetings_added", n=len(added))
    else:
        echo_translated("cli.demo_meetings_present")
    with runtime.transaction() as session:
        organisations = list_organisations(session)
        meetings = list_meetings(session)
        people = session.scalar(select(func.count()).select_from(Contact))
        click.echo()
        echo_translated("cli.demo_totals", organisations=len(organisations), people=people)
        echo_translated("cli.demo_meetings")
        for meeting in meetings:
            click.echo(
                f"  {meeting.slug:<12} {format_when(meeting.starts_at, meeting.ends_at, tz, language):<46} {meeting.city} – {meeting.host}"
            )
        click.echo()
        if campaign_id:
            echo_translated(
                "cli.demo_campaign_due",
                id=campaign_id,
                slug=meetings[0].slug,
                to=runtime.settings.smtp_url and "SMTP" or runtime.settings.outbox_path,
            )
        else:
            echo_translated("cli.demo_campaign_done", slug=meetings[0].slug)
    click.echo()
    echo_translated("cli.demo_links_hint")


def _print_links(runtime: Runtime) -> None:
    with runtime.transaction() as session:
        url = demo_rsvp_url(session, runtime.settings)
        staff = demo_staff_link(session, runtime.settings)
    click.echo()
    echo_translated("cli.demo_answer_as", url=url or "-")
    echo_translated("cli.demo_staff_link", email=DEMO_STAFF, link=staff)
