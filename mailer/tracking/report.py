"""The board report: the year's figures for the annual project report and funders."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import distinct, func, or_, select
from sqlalchemy.orm import Session

from mailer.attendance.coverage import participants, represented_organisations
from mailer.attendance.models import Attendance
from mailer.campaigns.models import Campaign
from mailer.config import Settings
from mailer.contacts.models import Contact, Organisation
from mailer.db import utcnow
from mailer.evaluations.service import Summary, summarise
from mailer.i18n import format_day
from mailer.meetings.models import Meeting, Series
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.regions import canonical_region, region_names
from mailer.rsvp.models import Response
from mailer.tracking.series import series_status
from mailer.translations import translate


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
class SeriesLine:
    """A series with a session held in the period: each person once, however many sessions."""

    slug: str
    title: str
    sessions: int
    invited: int
    chose: int
    declined: int
    participants: int
    organisations_represented: int


@dataclass
class BoardReport:
    period: str
    language: str = "sv"
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
    series: list[SeriesLine] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = self.__dict__.copy()
        data["meetings"] = [meeting.__dict__ for meeting in self.meetings]
        data["series"] = [series_row.__dict__ for series_row in self.series]
        data["evaluations"] = [summary.to_json() for summary in self.evaluations]
        data["evaluations_by_region"] = [summary.to_json() for summary in self.evaluations_by_region]
        return data


def period_text(start: dt.date | None, end: dt.date | None, language: str) -> str:
    return translate(
        "report.period",
        language,
        start=start.isoformat() if start else translate("report.from_start", language),
        end=end.isoformat() if end else translate("report.today", language),
    )


def board_report(
    session: Session, settings: Settings, start: dt.date | None, end: dt.date | None, language: str | None = None
) -> BoardReport:
    """The figures for meetings held from `start` to `end` (inclusive), dates in `language`."""
    tz = settings.timezone
    language = language or settings.language
    query = (
        select(Meeting).where(Meeting.starts_at <= utcnow(), Meeting.cancelled_at.is_(None)).order_by(Meeting.starts_at)
    )  # held: not planned, not called off
    if start:
        query = query.where(Meeting.starts_at >= dt.datetime.combine(start, dt.time(), tz))
    if end:
        query = query.where(Meeting.starts_at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz))
    meetings = session.scalars(query).all()
    ids = [meeting.id for meeting in meetings]
    report = BoardReport(period=period_text(start, end, language), language=language)

    # A round to a series invites to each of its sessions: it counts for the series' held sessions.
    series_ids = sorted({meeting.series_id for meeting in meetings if meeting.series_id is not None})
    invitations = (
        select(OutboxMessage.contact_id)
        .join(Campaign, Campaign.id == OutboxMessage.campaign_id)
        .where(
            or_(Campaign.meeting_id.in_(ids), Campaign.series_id.in_(series_ids)),
            Campaign.template == "invitation",
            OutboxMessage.state == MessageState.SENT,
        )
    )
    report.invitations_sent = session.execute(select(func.count()).select_from(invitations.subquery())).scalar_one()
    report.people_invited = session.execute(
        select(func.count(distinct(invitations.subquery().c.contact_id)))
    ).scalar_one()
    report.answers = session.execute(
        select(func.count()).select_from(Response).where(Response.meeting_id.in_(ids))
    ).scalar_one()

    everyone: set[int] = set()
    represented: set[int] = set()
    for meeting in meetings:
        people = {contact_id for contact_id in session.scalars(participants(meeting.id)) if contact_id is not None}
        walk_ins = session.execute(
            select(func.count())
            .select_from(Attendance)
            .where(Attendance.meeting_id == meeting.id, Attendance.contact_id.is_(None))
        ).scalar_one()
        checked_in = (
            session.execute(
                select(func.count()).select_from(Attendance).where(Attendance.meeting_id == meeting.id)
            ).scalar_one()
            > 0
        )
        everyone |= people
        represented |= represented_organisations(session, meeting.id)
        to_this = Campaign.meeting_id == meeting.id
        if meeting.series_id is not None:
            to_this = or_(to_this, Campaign.series_id == meeting.series_id)
        invited = session.execute(
            select(
                func.count(
                    distinct(  # people, as `meetings status` counts them
                        invitations.where(to_this).subquery().c.contact_id
                    )
                )
            )
        ).scalar_one()
        answered = session.execute(
            select(func.count()).select_from(Response).where(Response.meeting_id == meeting.id)
        ).scalar_one()
        report.meetings.append(
            MeetingLine(
                meeting.slug,
                meeting.title,
                meeting.region,
                meeting.city,
                meeting.host,
                format_day(meeting.starts_at, tz, language),
                invited,
                answered,
                len(people) + walk_ins,
                checked_in,
            )
        )
        report.participants += len(people) + walk_ins
    report.unique_participants = len(everyone)
    report.meetings_per_region = dict(
        Counter(canonical_region(meeting.region) or meeting.region for meeting in meetings)
    )
    homes = (
        Counter(
            canonical_region(region) or "–"
            for region in session.scalars(select(Contact.region).where(Contact.id.in_(everyone)))
        )
        if everyone
        else Counter()
    )
    report.participants_per_region = {name: homes[name] for name in [*region_names(), "–"] if homes[name]}
    organisations = session.execute(select(Organisation.id, Organisation.name).order_by(Organisation.name)).all()
    report.organisations_total = len(organisations)
    report.represented_names = [name for oid, name in organisations if oid in represented]
    report.organisations_represented = len(report.represented_names)
    member_names = {name for _, name in organisations}
    report.other_organisations = sorted(
        {
            name
            for name in session.scalars(
                select(Attendance.organisation_name).where(
                    Attendance.meeting_id.in_(ids), Attendance.organisation_name.is_not(None)
                )
            )
            if name is not None
        }
        - member_names
    )
    report.evaluations, report.evaluations_by_region = summarise(session, meetings)
    for series in session.scalars(select(Series).where(Series.id.in_(series_ids)).order_by(Series.title)):
        figures = series_status(session, series)
        held = sum(1 for meeting in meetings if meeting.series_id == series.id)
        report.series.append(
            SeriesLine(
                series.slug,
                series.title,
                held,
                figures["invited"],
                figures["chose"],
                figures["declined"],
                figures["participants"],
                figures["organisations_represented"],
            )
        )
    return report


def bar(value: int, largest: int, width: int = 30) -> str:
    return "█" * (round(width * value / largest) if largest else 0)


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def to_markdown(report: BoardReport) -> str:
    """The report as Markdown, in the report's language (for the annual report's text)."""

    def phrase(key: str, **values: Any) -> str:
        return translate(f"report.{key}", report.language, **values)

    largest = max((meeting.participants for meeting in report.meetings), default=0)
    per_region = ", ".join(f"{region}: {count}" for region, count in report.meetings_per_region.items())
    lines = [
        f"# {phrase('title', period=report.period)}",
        "",
        "- "
        + phrase("meetings_held", n=len(report.meetings), regions=len(report.meetings_per_region))
        + (f" ({per_region})" if report.meetings else ""),
        "- " + phrase("invitations_sent", n=report.invitations_sent, people=report.people_invited),
        "- " + phrase("answers", n=report.answers),
        "- " + phrase("participants", n=report.participants, people=report.unique_participants),
        "- "
        + phrase(
            "participants_per_region",
            regions=", ".join(f"{region}: {count}" for region, count in report.participants_per_region.items())
            or phrase("none_recorded"),
        ),
        "- " + phrase("represented", n=report.organisations_represented, total=report.organisations_total),
        "- " + phrase("others", names=", ".join(report.other_organisations) or phrase("none_recorded")),
        "",
        f"## {phrase('meetings')}",
        "",
        f"| {phrase('col_meeting')} | {phrase('col_region')} | {phrase('col_date')} | {phrase('col_invited')} | {phrase('col_answered')} "
        f"| {phrase('col_participants')} |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {meeting.city} ({meeting.host or meeting.title}) | {meeting.region} | {meeting.day} | {meeting.invited} | {meeting.answered} | "
        f"{meeting.participants}{'' if meeting.checked_in else ' (' + phrase('said_yes') + ')'} |"
        for meeting in report.meetings
    ]
    if report.series:
        lines += [
            "",
            f"## {phrase('series')}",
            "",
            f"| {phrase('col_series')} | {phrase('col_sessions')} | {phrase('col_invited')} | {phrase('col_chose')} "
            f"| {phrase('col_declined')} | {phrase('col_participants')} | {phrase('col_organisations')} |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {series_row.title} | {series_row.sessions} | {series_row.invited} | {series_row.chose} | {series_row.declined} | {series_row.participants} "
            f"| {series_row.organisations_represented} |"
            for series_row in report.series
        ]
    lines += ["", f"## {phrase('per_meeting_chart')}", "", "```"]
    lines += [
        f"{meeting.city:<12} {bar(meeting.participants, largest)} {meeting.participants}" for meeting in report.meetings
    ]
    cities = {meeting.slug: meeting.city for meeting in report.meetings}
    lines += ["```", "", f"## {phrase('evaluations')}"]
    for title, rows in (
        (phrase("per_meeting"), report.evaluations),
        (phrase("per_region"), report.evaluations_by_region),
    ):
        lines += [
            "",
            f"### {title}",
            "",
            f"| | {phrase('col_answers')} | {phrase('col_valuable')} | {phrase('col_knows_more')} | {phrase('col_cooperation')} |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for summary in rows:
            lines.append(
                f"| {cities.get(summary.label, summary.label)} | {summary.count} | {_score(summary.value_avg)} | "
                f"{_score(summary.knowledge_avg)} | {phrase('of', n=summary.cooperation_yes, total=summary.count)} |"
            )
    comments = [
        (cities.get(summary.label, summary.label), comment)
        for summary in report.evaluations
        for comment in summary.comments
    ]
    if comments:
        lines += ["", f"### {phrase('comments')}", ""] + [f"- {label}: {comment}" for label, comment in comments]
    return "\n".join(lines) + "\n"


def to_html(report: BoardReport, standalone: bool = True) -> str:
    """The report as a printable HTML page (or, `standalone=False`, its body for the staff page)."""
    env = Environment(
        loader=FileSystemLoader(str(Path(__file__).parent / "templates")), autoescape=select_autoescape(["html"])
    )
    largest = max((meeting.participants for meeting in report.meetings), default=0)
    cities = {meeting.slug: meeting.city for meeting in report.meetings}

    def phrase(key: str, **values: Any) -> str:
        return translate(f"report.{key}", report.language, **values)

    return env.get_template("report.html").render(
        report=report, largest=largest or 1, cities=cities, t=phrase, standalone=standalone
    )


def board_csv(report: BoardReport) -> bytes:
    """One row per meeting, then the totals: for a spreadsheet (UTF-8 with BOM, ; for Swedish Excel)."""

    def phrase(key: str, **values: Any) -> str:
        return translate(f"report.{key}", report.language, **values)

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if report.language == "sv" else ",", lineterminator="\r\n")
    writer.writerow(
        [
            phrase("col_meeting"),
            phrase("col_region"),
            phrase("col_date"),
            phrase("col_invited"),
            phrase("col_answered"),
            phrase("col_participants"),
            phrase("col_checked_in"),
        ]
    )
    for line in report.meetings:
        writer.writerow(
            [
                f"{line.city} ({line.host or line.title})",
                line.region,
                line.day,
                line.invited,
                line.answered,
                line.participants,
                phrase("yes") if line.checked_in else phrase("no"),
            ]
        )
    writer.writerow(
        [
            phrase("total"),
            len(report.meetings_per_region),
            "",
            report.people_invited,
            report.answers,
            report.participants,
            "",
        ]
    )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
