"""Demo data: the six regional dialogue meetings of Ax's project report, dated ahead."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.contacts.importer import ImportReport, import_lists
from mailer.meetings.models import Meeting
from mailer.meetings.service import add_meeting

DEMO_MEETINGS = [
    # slug, city, host, region, venue
    ("eskilstuna", "Eskilstuna", "Landstinget Sörmland", "Sörmland", "Munktellarenan, Verkstadsgatan 9, Eskilstuna"),
    (
        "goteborg",
        "Göteborg",
        "Västra Götalandsregionen",
        "Västra Götaland",
        "Regionens hus, Vänersborgsvägen 1, Göteborg",
    ),
    ("gavle", "Gävle", "Region Gävleborg", "Gävleborg", "Kulturkvarteret, Slottstorget 2, Gävle"),
    ("falun", "Falun", "Landstinget Dalarna", "Dalarna", "Dalarnas museum, Stigaregatan 2, Falun"),
    ("lulea", "Luleå", "Region Norrbotten", "Norrbotten", "Kulturens hus, Skeppsbrogatan 17, Luleå"),
    ("ostersund", "Östersund", "Region Jämtland Härjedalen", "Jämtland Härjedalen", "Jamtli, Museiplan 1, Östersund"),
]
DESCRIPTION = (
    "En regional dialogträff mellan Ax medlemsorganisationer och regionen: regionen berättar hur den "
    "arbetar med kulturpolitiken och kultursamverkansmodellen, och föreningarna presenterar sin "
    "verksamhet. Två timmar en vardagskväll, med 2–5 regionala företrädare."
)


def demo_dates(today: dt.date, count: int = len(DEMO_MEETINGS)) -> list[dt.date]:
    """Weekday evenings three weeks apart, starting about three weeks from today (Tue/Wed/Thu)."""
    dates, day = [], today + dt.timedelta(days=21)
    for index in range(count):
        wanted = 1 + index % 3  # Tuesday, Wednesday, Thursday in turn
        day += dt.timedelta(days=(wanted - day.weekday()) % 7)
        dates.append(day)
        day += dt.timedelta(days=19)
    return dates


def add_demo_meetings(session: Session, tz: ZoneInfo, today: dt.date) -> list[str]:
    """Add the demo meetings that are not there yet; returns the slugs added."""
    existing = set(session.scalars(select(Meeting.slug)))
    added = []
    for (slug, city, host, region, venue), day in zip(DEMO_MEETINGS, demo_dates(today), strict=True):
        if slug in existing:
            continue
        add_meeting(
            session,
            tz,
            slug=slug,
            title=f"Dialogträff med {host}",
            region=region,
            city=city,
            host=host,
            venue=venue,
            starts=f"{day.isoformat()} 18:00",
            capacity=40,
            max_guests=1,
            rsvp_by=(day - dt.timedelta(days=7)).isoformat(),
            description=DESCRIPTION,
        )
        added.append(slug)
    return added


def import_demo_contacts(session: Session, folder: Path) -> ImportReport:
    return import_lists(session, sorted(folder.glob("*.csv")))


def create_demo_invitation(session: Session, settings, templates) -> int | None:
    """The first meeting's invitation to every member organisation, due now (once)."""
    from mailer.campaigns.audience import Audience
    from mailer.campaigns.models import Campaign
    from mailer.campaigns.service import create_campaign

    first = DEMO_MEETINGS[0][0]
    if session.scalar(select(Campaign.id).join(Campaign.meeting).where(Meeting.slug == first)) is not None:
        return None
    now = dt.datetime.now(settings.timezone).strftime("%Y-%m-%d %H:%M")
    campaign = create_campaign(
        session,
        settings,
        templates,
        meeting_slug=first,
        template="invitation",
        audience=Audience(all=True),
        send_at=now,
        created_by="demo",
    )
    return campaign.id


def demo_rsvp_url(session: Session, settings) -> str | None:
    """One demo recipient's answer page, to try the recipient's side."""
    from mailer.contacts.models import Contact
    from mailer.mail.context import links

    meeting = session.scalar(select(Meeting).where(Meeting.slug == DEMO_MEETINGS[0][0]))
    contact = session.scalar(select(Contact).order_by(Contact.id).limit(1))
    if meeting is None or contact is None:
        return None
    return links(settings, contact, meeting)["rsvp_url"]


DEMO_STAFF = "kansli@ax.example.org"


def demo_staff_link(session: Session, settings) -> str:
    """A staff account for the demo, and a one-time link to choose its password."""
    from mailer.staff import accounts

    user = accounts.find_staff(session, DEMO_STAFF) or accounts.add_staff(session, DEMO_STAFF, "Kansliet")
    session.flush()
    token = accounts.set_password_token(settings.secret_key, user, settings.old_secret_keys)
    return f"{settings.base_url}/staff/set-password/{token}"
