from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from mailer.cli.runtime import Runtime, pass_runtime
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
@click.option("--contacts", "folder", type=click.Path(path_type=Path, file_okay=False, exists=True),
              default="contacts", show_default=True)
@click.option("--links", "links_only", is_flag=True,
              help="Only print a demo recipient's answer page and the staff set-password link.")
@pass_runtime
def demo(rt: Runtime, folder: Path, links_only: bool) -> None:
    """Load the demo: contact lists, the six meetings, and the first meeting's invitation round."""
    tz = rt.settings.timezone
    if links_only:
        _print_links(rt)
        return
    with rt.transaction() as session:
        report = import_demo_contacts(session, folder)
        added = add_demo_meetings(session, tz, dt.datetime.now(tz).date())
        campaign_id = create_demo_invitation(session, rt.settings, rt.templates)
    rejected = sum(len(f.rejected) for f in report.files)
    for file in report.files:
        for problem in file.rejected:
            click.echo(f"{file.path}:{problem.line}: {problem.message}", err=True)
    lists = sum(1 for f in report.files if f.organisation)
    click.echo(f"imported {lists} contact lists ({rejected} rows rejected, see above)")
    click.echo(f"added {len(added)} meetings" if added else "demo meetings already present")
    with rt.transaction() as session:
        organisations = list_organisations(session)
        meetings = list_meetings(session)
        from sqlalchemy import func, select

        from mailer.contacts.models import Contact

        people = session.scalar(select(func.count()).select_from(Contact))
        click.echo(f"\n{len(organisations)} member organisations, {people} contacts")
        click.echo("\nMeetings:")
        for m in meetings:
            click.echo(f"  {m.slug:<12} {format_when(m.starts_at, m.ends_at, tz):<46} {m.city} – {m.host}")
        if campaign_id:
            click.echo(f"\nInvitation campaign {campaign_id} for {meetings[0].slug} is due now: `mailer worker` sends it "
                       f"to {rt.settings.smtp_url and 'the SMTP server' or rt.settings.outbox_path}.")
    click.echo("\n`mailer demo --links` prints a demo recipient's answer page and the staff set-password link.")


def _print_links(rt: Runtime) -> None:
    with rt.transaction() as session:
        url = demo_rsvp_url(session, rt.settings)
        staff = demo_staff_link(session, rt.settings)
    click.echo(f"\nAnswer as a demo recipient would:\n  {url or 'no demo data: run `mailer demo`'}")
    click.echo(f"Staff web app: choose a password for {DEMO_STAFF}, then log in:\n  {staff}")
