"""Every tracking figure on a small data set that can be counted by hand.

Organisations: kor (Anna, Bengt, Cecilia), teater (Cecilia, David, Eva), dans (Frida).
Invitation to all six; Frida's address bounces (550). Answers before the meeting:
Anna yes with one guest, Cecilia yes, David no, Eva yes then no, Bengt nothing.
On the day Anna and David come, plus a walk-in from Riksteatern.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from helpers import past_year
from openpyxl import load_workbook
from sqlalchemy import select

from mailer.attendance.checkin import add_walk_in, check_in
from mailer.campaigns import service
from mailer.campaigns.audience import Audience
from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact, Organisation
from mailer.evaluations.models import Evaluation, EvaluationReceipt
from mailer.evaluations.service import AlreadyAnswered, EvaluationError, NotEligible, record_evaluation, summarise
from mailer.meetings.models import Meeting
from mailer.outbox.models import OutboxMessage
from mailer.rsvp.service import record_answer
from mailer.tracking.export import attendee_rows, to_csv, to_xlsx
from mailer.tracking.report import board_csv, board_report, to_html, to_markdown
from mailer.tracking.status import full_status
from mailer.worker.sender import Sender

LAST_YEAR = past_year()  # a year wholly behind us: its meetings have taken place


BEFORE = dt.datetime(LAST_YEAR, 9, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def world(db, app, make_csv, make_meeting, smtp_server):
    paths = [
        make_csv(
            "kor.csv",
            "email,name,region\nanna@kor.example.org,Anna A,Gävleborg\n"
            "bengt@kor.example.org,Bengt B,Dalarna\ncecilia@both.example.org,Cecilia C,Gävleborg\n",
        ),
        make_csv(
            "teater.csv",
            "email,name,region\ncecilia@both.example.org,Cecilia C,Gävleborg\n"
            "david@teater.example.org,David D,Gävleborg\neva@teater.example.org,Eva E,\n",
        ),
        make_csv("dans.csv", "email,name,region\nfrida@dans.example.org,Frida F,Dalarna\n"),
    ]
    settings = app.extensions["mailer.settings"].with_overrides(smtp_url=smtp_server.url, send_rate_per_minute=60_000)
    templates = app.extensions["mailer.templates"]
    smtp_server.reply("frida@dans.example.org", "550 5.1.1 No such user")
    meeting = make_meeting(
        slug="gavle",
        title="Dialogträff med Region Gävleborg",
        region="Gävleborg",
        city="Gävle",
        host="Region Gävleborg",
        starts=f"{LAST_YEAR}-09-16 18:00",
        capacity=10,
        max_guests=2,
    )
    with db.transaction() as session:
        import_lists(session, paths)
        campaign = service.create_campaign(
            session,
            settings,
            templates,
            meeting_slug="gavle",
            template="invitation",
            audience=Audience(all=True),
            now=BEFORE,
        )
        service.start(session, campaign, now=BEFORE)
    sender = Sender(db, settings, templates)
    while sender.run_once().claimed:
        pass
    sender.close()

    def answer(email, when_days, **form):
        with db.transaction() as session:
            contact = session.scalar(select(Contact).where(Contact.email == email))
            record_answer(
                session,
                contact,
                session.get(Meeting, meeting.id),
                {k: str(v) for k, v in form.items()},
                settings.timezone,
                now=BEFORE + dt.timedelta(days=when_days),
            )

    answer("anna@kor.example.org", 0, answer="yes", guests=1, diet="vegetarisk", comment='=HYPERLINK("x")')
    answer("cecilia@both.example.org", 1, answer="yes", guests=0)
    answer("david@teater.example.org", 2, answer="no")
    answer("eva@teater.example.org", 3, answer="yes")
    answer("eva@teater.example.org", 4, answer="no")
    return meeting.id, settings, templates, sender


def status(db, meeting_id):
    with db.transaction() as session:
        return full_status(session, session.get(Meeting, meeting_id))


def test_status_figures_before_the_meeting(db, world):
    data = status(db, world[0])
    assert {k: data[k] for k in ("invited", "yes", "no", "waitlisted", "no_answer", "guests", "bounced")} == {
        "invited": 5,
        "yes": 2,
        "no": 2,
        "waitlisted": 0,
        "no_answer": 1,
        "guests": 1,
        "bounced": 1,
    }
    assert (data["organisations_represented"], data["organisations_total"]) == (2, 3)  # kor and teater via Cecilia
    by_org = data["by_organisation"]
    assert {k: by_org["kor"][k] for k in ("invited", "yes", "no", "no_answer")} == {
        "invited": 3,
        "yes": 2,
        "no": 0,
        "no_answer": 1,
    }
    assert {k: by_org["teater"][k] for k in ("invited", "yes", "no", "no_answer")} == {
        "invited": 3,
        "yes": 1,
        "no": 2,
        "no_answer": 0,
    }
    assert by_org["dans"]["invited"] == 0 and by_org["dans"]["bounced"] == 1 and not by_org["dans"]["represented"]
    assert data["by_region"]["Gävleborg"]["yes"] == 2 and data["by_region"]["Dalarna"]["no_answer"] == 1
    assert data["by_region"]["Dalarna"]["bounced"] == 1


def test_one_region_spelled_differently_in_members_lists_is_one_row(db, app, make_csv, make_meeting):
    settings, templates = app.extensions["mailer.settings"], app.extensions["mailer.templates"]
    make_meeting(slug="falun", city="Falun", region="Dalarna")
    with db.transaction() as session:
        import_lists(
            session,
            [
                make_csv(
                    "spel.csv",
                    "email,region\na@spel.example.org,Dalarna\n"
                    "b@spel.example.org,Dalarna\nc@spel.example.org,dalarna\n"
                    "d@spel.example.org,DALARNA\ne@spel.example.org,Gävleborg\n",
                )
            ],
        )
        campaign = service.create_campaign(
            session, settings, templates, meeting_slug="falun", template="invitation", audience=Audience(all=True)
        )
        service.start(session, campaign)
    sender = Sender(db, settings, templates)  # to the file outbox
    while sender.run_once().claimed:
        pass
    sender.close()
    with db.transaction() as session:
        data = full_status(session, session.scalar(select(Meeting).where(Meeting.slug == "falun")))
    assert {region: row["invited"] for region, row in data["by_region"].items()} == {"Dalarna": 4, "Gävleborg": 1}


def test_attendance_changes_participants_and_coverage(db, world):
    meeting_id = world[0]
    with db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        result = check_in(
            session, meeting, ["anna@kor.example.org", "David@Teater.example.org", "nobody@x.example.org"]
        )
        add_walk_in(session, meeting, "Karin Kvist", "Riksteatern")
        again = check_in(session, meeting, ["anna@kor.example.org"])
    assert result.checked_in == ["anna@kor.example.org", "david@teater.example.org"]
    assert result.unknown == ["nobody@x.example.org"] and again.already == ["anna@kor.example.org"]
    data = status(db, meeting_id)
    assert data["checked_in"] == 3 and data["walk_ins"] == 1 and data["yes"] == 2
    assert data["participants"] == 3  # Anna, David, and the walk-in; Cecilia said yes but did not come
    assert data["organisations_represented"] == 2  # kor (Anna), teater (David)
    assert data["by_organisation"]["teater"]["checked_in"] == 1


def test_a_walk_in_from_a_member_organisation_represents_it(db, world):
    meeting_id, settings, _, _ = world
    with db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        check_in(session, meeting, ["anna@kor.example.org"])
        walk_in = add_walk_in(session, meeting, "Frans F", "  DANS ")  # Frida's organisation, typed by hand
        add_walk_in(session, meeting, "Karin Kvist", "Riksteatern")
        dans = session.scalar(select(Organisation).where(Organisation.slug == "dans"))
        assert walk_in.organisation_name == dans.name
        report = board_report(session, settings, dt.date(LAST_YEAR, 1, 1), dt.date(LAST_YEAR, 12, 31))
    data = status(db, meeting_id)
    assert data["organisations_represented"] == 2 and data["by_organisation"]["dans"]["represented"]
    assert not data["by_organisation"]["teater"]["represented"]
    assert report.organisations_represented == 2 and report.other_organisations == ["Riksteatern"]


def test_board_report_counts(db, world):
    meeting_id, settings, _, _ = world
    with db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        check_in(session, meeting, ["anna@kor.example.org", "david@teater.example.org"])
        add_walk_in(session, meeting, "Karin Kvist", "Riksteatern")
        report = board_report(session, settings, dt.date(LAST_YEAR, 1, 1), dt.date(LAST_YEAR, 12, 31), "en")
        swedish = board_report(session, settings, dt.date(LAST_YEAR, 1, 1), dt.date(LAST_YEAR, 12, 31))
        empty = board_report(session, settings, dt.date(LAST_YEAR + 1, 1, 1), None)
    assert len(report.meetings) == 1 and report.meetings_per_region == {"Gävleborg": 1}
    assert (report.invitations_sent, report.people_invited, report.answers) == (5, 5, 4)
    assert (report.participants, report.unique_participants) == (3, 2)
    assert (report.organisations_represented, report.organisations_total) == (2, 3)
    assert report.other_organisations == ["Riksteatern"]
    assert empty.meetings == [] and empty.participants == 0
    markdown = to_markdown(report)
    assert "Member organisations represented: 2 of 3" in markdown and "Riksteatern" in markdown
    html = to_html(report)
    assert "<table>" in html and "2 of 3" in html
    assert "Medlemsorganisationer representerade: 2 av 3" in to_markdown(swedish)
    assert '<html lang="sv">' in to_html(
        swedish
    ) and f"Styrelserapport {LAST_YEAR}-01-01 – {LAST_YEAR}-12-31" in to_html(swedish)
    assert empty.period.endswith(" – i dag")
    rows = board_csv(swedish).decode("utf-8-sig").splitlines()
    assert rows[0].startswith("Träff;Region;Datum;Inbjudna") and rows[-1].startswith("Totalt;1;;5;4;3")


def test_evaluations_only_from_participants_changeable_and_summarised(db, world):
    meeting_id = world[0]
    with db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        check_in(session, meeting, ["anna@kor.example.org", "david@teater.example.org"])
    form_a = {"value": "5", "knowledge": "4", "cooperation": "yes", "comment": "Bra!"}
    with db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        anna, cecilia, david = (
            session.scalar(select(Contact).where(Contact.email == e))
            for e in ("anna@kor.example.org", "cecilia@both.example.org", "david@teater.example.org")
        )
        record_evaluation(session, anna, meeting, {**form_a, "value": "2"})
        record_evaluation(session, anna, meeting, form_a)  # changed, still one
        record_evaluation(session, david, meeting, {"value": "3", "knowledge": "2", "cooperation": "no"})
        with pytest.raises(NotEligible):
            record_evaluation(session, cecilia, meeting, form_a)
        with pytest.raises(EvaluationError) as bad:
            record_evaluation(session, anna, meeting, {**form_a, "value": "7"})
        assert bad.value.field == "value"
        per_meeting, per_region = summarise(session, [meeting])
    (summary,) = per_meeting
    assert (summary.count, summary.value_avg, summary.knowledge_avg, summary.cooperation_yes) == (2, 4.0, 3.0, 1)
    assert summary.comments == ["Bra!"]
    assert per_region[0].label == "Gävleborg" and per_region[0].count == 2


def test_anonymous_evaluation_is_stored_without_the_person_and_only_once(db, world):
    meeting_id = world[0]
    with db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        meeting.evaluation_anonymous = True
        check_in(session, meeting, ["anna@kor.example.org"])
        anna = session.scalar(select(Contact).where(Contact.email == "anna@kor.example.org"))
        record_evaluation(session, anna, meeting, {"value": "4", "knowledge": "4", "cooperation": "yes"})
        with pytest.raises(AlreadyAnswered):
            record_evaluation(session, anna, meeting, {"value": "1", "knowledge": "1", "cooperation": "no"})
        stored = session.scalars(select(Evaluation)).all()
        receipt = session.scalar(select(EvaluationReceipt))
    assert [(e.contact_id, e.value) for e in stored] == [(None, 4)]
    assert receipt.contact_id == anna.id and stored[0].created_at != receipt.at  # the time does not link them
    assert stored[0].created_at.time() == dt.time(0, 0)


def test_thanks_campaign_goes_only_to_participants(db, world):
    meeting_id, settings, templates, _ = world
    with db.transaction() as session:
        before = service.create_campaign(
            session, settings, templates, meeting_slug="gavle", template="thanks", audience=Audience()
        )
        service.start(session, before)
    with db.transaction() as session:
        said_yes = sorted(session.scalars(select(OutboxMessage.to_email).where(OutboxMessage.campaign_id == before.id)))
        check_in(session, session.get(Meeting, meeting_id), ["david@teater.example.org"])
        after = service.create_campaign(
            session, settings, templates, meeting_slug="gavle", template="thanks", audience=Audience(all=True)
        )
        service.start(session, after)
        came = sorted(session.scalars(select(OutboxMessage.to_email).where(OutboxMessage.campaign_id == after.id)))
    assert said_yes == ["anna@kor.example.org", "cecilia@both.example.org"]  # no check-in yet: those who said yes
    assert came == ["david@teater.example.org"]


def test_export_csv_opens_in_swedish_excel_and_never_runs_formulas(db, world):
    meeting_id, settings, _, _ = world
    with db.transaction() as session:
        rows = attendee_rows(session, session.get(Meeting, meeting_id), settings.timezone)
    data = to_csv(rows)
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert table[0][:4] == ["Namn", "Organisationer", "E-post", "Svar"]
    assert [r[0] for r in table[1:]] == ["Anna A", "Cecilia C", "David D", "Eva E"]  # yes first
    anna = table[1]
    assert anna[3] == "ja" and anna[4] == "1" and anna[5] == "vegetarisk"
    assert anna[7] == '\'=HYPERLINK("x")'
    assert table[2][1] == "Kor, Teater"  # Cecilia is on two organisations' lists
    comma = to_csv(rows, delimiter=",").decode("utf-8-sig").splitlines()[0]
    assert comma.startswith("Namn,Organisationer")


def test_export_xlsx_keeps_formula_text_as_text(db, world, tmp_path):
    meeting_id, settings, _, _ = world
    with db.transaction() as session:
        rows = attendee_rows(session, session.get(Meeting, meeting_id), settings.timezone)
    path = tmp_path / "svar.xlsx"
    path.write_bytes(to_xlsx(rows, "gavle"))
    sheet = load_workbook(path).active
    comment = sheet.cell(row=2, column=8)
    assert comment.value == '=HYPERLINK("x")' and comment.data_type == "s"


def test_cli_status_export_checkin_and_report(runner, world, tmp_path):
    data = json.loads(runner.invoke(["meetings", "status", "gavle", "--json"]).output)
    for key in (
        "invited",
        "yes",
        "no",
        "waitlisted",
        "no_answer",
        "guests",
        "bounced",
        "organisations_represented",
        "organisations_total",
        "by_organisation",
    ):
        assert key in data
    text = runner.invoke(["meetings", "status", "gavle"]).output
    assert "member organisations represented: 2 of 3" in text
    checkin = runner.invoke(
        [
            "meetings",
            "checkin",
            "gavle",
            "anna@kor.example.org",
            "ghost@x.example.org",
            "--walk-in",
            "Karin Kvist",
            "--org",
            "Riksteatern",
        ]
    )
    assert checkin.exit_code == 1 and "ghost@x.example.org: not on any list" in checkin.output
    out = tmp_path / "svar.csv"
    export = runner.invoke(["responses", "export", "gavle", "-o", out])
    assert export.exit_code == 0 and out.read_bytes().startswith(b"\xef\xbb\xbf")
    report = runner.invoke(["report", "--from", f"{LAST_YEAR}-01-01", "--to", f"{LAST_YEAR}-12-31"])
    assert report.exit_code == 0 and "Other organisations present: Riksteatern" in report.output
    bad = runner.invoke(["report", "--from", "last year"])
    assert bad.exit_code == 2 and "last year" in bad.output


def test_org_report_lists_bounces_unsubscribes_and_rejections(runner, world, make_csv, db):
    with db.transaction() as session:
        import_lists(session, [make_csv("dans.csv", "email,name\nfrida@dans.example.org,Frida F\nbroken@,X\n")])
    data = json.loads(runner.invoke(["orgs", "report", "dans", "--json"]).output)
    assert [b["email"] for b in data["bounced"]] == ["frida@dans.example.org"]
    assert "550" in data["bounced"][0]["detail"]
    assert [(r["file"], r["line"]) for r in data["rejected"]] == [("dans.csv", 3)]
    nowhere = runner.invoke(["orgs", "report", "dans", "--send"])
    assert nowhere.exit_code == 1 and "organisations.csv" in nowhere.output
