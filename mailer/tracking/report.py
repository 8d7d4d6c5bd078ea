"""The board report: the year's figures for the annual project report and funders."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from mailer.campaigns.models import Campaign
from mailer.config import Settings
from mailer.db import utcnow
from mailer.contacts.models import Contact, Organisation
from mailer.evaluations.service import Summary, summarise
from mailer.i18n import format_day
from mailer.meetings.models import Meeting
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.regions import canonical_region, region_names
from mailer.rsvp.models import Response
from mailer.tracking.coverage import participants, represented_organisations
from mailer.tracking.models import Attendance


@dataclass
class MeetingLine:
    slug: str
    title: str
    region: str
    city: str
    host: str | None
    day: str
    invited: int
    answered: int
    participants: int
    checked_in: bool


@dataclass
class BoardReport:
    period: str
    meetings: list[MeetingLine] = field(default_factory=list)
    meetings_per_region: dict[str, int] = field(default_factory=dict)
    participants_per_region: dict[str, int] = field(default_factory=dict)  # where the people on the lists came from
    invitations_sent: int = 0
    people_invited: int = 0
    answers: int = 0
    participants: int = 0
    unique_participants: int = 0
    organisations_represented: int = 0
    organisations_total: int = 0
    represented_names: list[str] = field(default_factory=list)
    other_organisations: list[str] = field(default_factory=list)
    evaluations: list[Summary] = field(default_factory=list)
    evaluations_by_region: list[Summary] = field(default_factory=list)

    def to_json(self) -> dict:
        data = self.__dict__.copy()
        data["meetings"] = [m.__dict__ for m in self.meetings]
        data["evaluations"] = [s.to_json() for s in self.evaluations]
        data["evaluations_by_region"] = [s.to_json() for s in self.evaluations_by_region]
        return data


def board_report(session: Session, settings: Settings, start: dt.date | None, end: dt.date | None) -> BoardReport:
    tz = settings.timezone
    query = select(Meeting).where(Meeting.starts_at <= utcnow(), Meeting.cancelled_at.is_(None)) \
        .order_by(Meeting.starts_at)  # held: not planned, not called off
    if start:
        query = query.where(Meeting.starts_at >= dt.datetime.combine(start, dt.time(), tz))
    if end:
        query = query.where(Meeting.starts_at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz))
    meetings = session.scalars(query).all()
    ids = [m.id for m in meetings]
    report = BoardReport(period=f"{start or 'from the start'} – {end or 'today'}")

    invitations = (select(OutboxMessage.contact_id).join(Campaign, Campaign.id == OutboxMessage.campaign_id)
                   .where(Campaign.meeting_id.in_(ids), Campaign.template == "invitation",
                          OutboxMessage.state == MessageState.SENT))
    report.invitations_sent = session.scalar(select(func.count()).select_from(invitations.subquery()))
    report.people_invited = session.scalar(select(func.count(distinct(invitations.subquery().c.contact_id))))
    report.answers = session.scalar(select(func.count()).select_from(Response).where(Response.meeting_id.in_(ids)))

    everyone: set[int] = set()
    represented: set[int] = set()
    for meeting in meetings:
        people = set(session.scalars(participants(meeting.id)))
        walk_ins = session.scalar(select(func.count()).select_from(Attendance).where(
            Attendance.meeting_id == meeting.id, Attendance.contact_id.is_(None)))
        checked_in = session.scalar(select(func.count()).select_from(Attendance)
                                    .where(Attendance.meeting_id == meeting.id)) > 0
        everyone |= people
        represented |= represented_organisations(session, meeting.id)
        invited = session.scalar(select(func.count(distinct(  # people, as `meetings status` counts them
            invitations.where(Campaign.meeting_id == meeting.id).subquery().c.contact_id))))
        answered = session.scalar(select(func.count()).select_from(Response).where(Response.meeting_id == meeting.id))
        report.meetings.append(MeetingLine(meeting.slug, meeting.title, meeting.region, meeting.city, meeting.host,
                                           format_day(meeting.starts_at, tz, settings.language), invited, answered,
                                           len(people) + walk_ins, checked_in))
        report.participants += len(people) + walk_ins
    report.unique_participants = len(everyone)
    report.meetings_per_region = dict(Counter(canonical_region(m.region) or m.region for m in meetings))
    homes = Counter(canonical_region(region) or "–" for region in session.scalars(
        select(Contact.region).where(Contact.id.in_(everyone)))) if everyone else Counter()
    report.participants_per_region = {name: homes[name] for name in [*region_names(), "–"] if homes[name]}
    organisations = session.execute(select(Organisation.id, Organisation.name).order_by(Organisation.name)).all()
    report.organisations_total = len(organisations)
    report.represented_names = [name for oid, name in organisations if oid in represented]
    report.organisations_represented = len(report.represented_names)
    member_names = {name for _, name in organisations}
    report.other_organisations = sorted(set(session.scalars(
        select(Attendance.organisation_name).where(Attendance.meeting_id.in_(ids),
                                                   Attendance.organisation_name.is_not(None)))) - member_names)
    report.evaluations, report.evaluations_by_region = summarise(session, meetings)
    return report


def bar(value: int, largest: int, width: int = 30) -> str:
    return "█" * (round(width * value / largest) if largest else 0)


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def to_markdown(report: BoardReport) -> str:
    largest = max((m.participants for m in report.meetings), default=0)
    lines = [
        f"# Board report {report.period}", "",
        f"- Meetings held: {len(report.meetings)} in {_count(len(report.meetings_per_region), 'region')}"
        + (f" ({', '.join(f'{r}: {n}' for r, n in report.meetings_per_region.items())})" if report.meetings else ""),
        f"- Invitations sent: {report.invitations_sent} to {report.people_invited} people",
        f"- Answers: {report.answers}",
        f"- Participants: {report.participants} ({_count(report.unique_participants, 'person', 'people')} "
        "on the lists)",
        f"- Participants per region: "
        + (", ".join(f"{r}: {n}" for r, n in report.participants_per_region.items()) or "none"),
        f"- Member organisations represented: {report.organisations_represented} of {report.organisations_total}",
        f"- Other organisations present: {', '.join(report.other_organisations) or 'none recorded'}",
        "", "## Meetings", "",
        "| meeting | region | date | invited | answered | participants |", "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    lines += [f"| {m.city} ({m.host or m.title}) | {m.region} | {m.day} | {m.invited} | {m.answered} | "
              f"{m.participants}{'' if m.checked_in else ' (said yes)'} |" for m in report.meetings]
    lines += ["", "## Participants per meeting", "", "```"]
    lines += [f"{m.city:<12} {bar(m.participants, largest)} {m.participants}" for m in report.meetings]
    cities = {m.slug: m.city for m in report.meetings}
    lines += ["```", "", "## Evaluations"]
    for title, rows in (("Per meeting", report.evaluations), ("Per region", report.evaluations_by_region)):
        lines += ["", f"### {title}", "",
                  "| | answers | valuable (1–5) | knows more about the region (1–5) | wants closer cooperation |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for s in rows:
            lines.append(f"| {cities.get(s.label, s.label)} | {s.count} | {_score(s.value_avg)} | "
                         f"{_score(s.knowledge_avg)} | {s.cooperation_yes} of {s.count} |")
    comments = [(cities.get(s.label, s.label), c) for s in report.evaluations for c in s.comments]
    if comments:
        lines += ["", "### Comments", ""] + [f"- {label}: {c}" for label, c in comments]
    return "\n".join(lines) + "\n"


def to_html(report: BoardReport) -> str:
    env = Environment(loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
                      autoescape=select_autoescape(["html"]))
    largest = max((m.participants for m in report.meetings), default=0)
    cities = {m.slug: m.city for m in report.meetings}
    return env.get_template("report.html").render(report=report, largest=largest or 1, cities=cities)
