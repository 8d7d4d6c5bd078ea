"""A meeting's own questions (issue 20.2): defaults, staff adding and removing them, the answer
pages asking them, answers changed, in the list and the CSV, erased with the person, and the
migration that turned the old diet/accessibility columns into answers."""

from __future__ import annotations

import csv
import io
import json

import pytest
from alembic.script import ScriptDirectory
from helpers import future_year, past_year
from rsvp_fixtures import answer, csrf_of, links_for, response_of
from sqlalchemy import select
from sqlalchemy import text as sql
from staff_helpers import post, text

from mailer.contacts.models import Contact
from mailer.db import alembic_config, head_revision
from mailer.meetings.models import Meeting, Question
from mailer.meetings.questions import add_question, list_questions
from mailer.meetings.series import SeriesError, get_series
from mailer.privacy.erasure import forget
from mailer.privacy.export import export_person
from mailer.rsvp.models import QuestionAnswer
from mailer.rsvp.service import record_answer
from mailer.staff import series_actions
from mailer.tracking.export import attendee_rows, to_csv

YEAR = future_year()


@pytest.fixture
def meeting(make_meeting):
    return make_meeting(slug="falun", title="Dialogträff i Falun", city="Falun", region="Dalarna", max_guests=1).id


@pytest.fixture
def anna(person):
    return person("anna@example.org", "Anna Andersson")


def add_questions(staff_client, owner: str = "meetings", slug: str = "falun") -> None:
    """Through the staff page, as staff would: a required one-choice question and a yes/no one."""
    base = f"/staff/{owner}/{slug}/questions"
    reply = post(
        staff_client,
        base,
        {
            "label_sv": "Vilken workshop?",
            "label_en": "Which workshop?",
            "kind": "choice",
            "options_sv": "Dans\nTeater",
            "options_en": "Dance\nTheatre",
            "required": "1",
        },
    )
    assert reply.status_code == 303, text(reply)
    reply = post(
        staff_client, base, {"label_sv": "Vill du ha lunch?", "label_en": "Do you want lunch?", "kind": "yesno"}
    )
    assert reply.status_code == 303


def fields_of(db, meeting_id: int) -> list[str]:
    with db.transaction() as session:
        return [q.field for q in list_questions(session, session.get(Meeting, meeting_id))]


def test_a_new_meeting_and_a_new_series_ask_diet_and_accessibility(db, meeting, runner):
    with db.transaction() as session:
        asked = list_questions(session, session.get(Meeting, meeting))
        assert [(q.key, q.label_sv, q.label_en, q.kind.value, q.required, q.is_default) for q in asked] == [
            ("diet", "Kost/allergier", "Diet/allergies", "text", False, True),
            ("accessibility", "Tillgänglighet", "Accessibility", "text", False, True),
        ]
    assert runner.invoke(["series", "create", "kurs", "--title", "Kurs"]).exit_code == 0
    with db.transaction() as session:
        assert [q.field for q in list_questions(session, get_series(session, "kurs"))] == ["diet", "accessibility"]


def test_staff_add_move_and_remove_questions_and_viewers_only_read(app, db, staff_client, meeting):
    add_questions(staff_client)
    page = text(staff_client.get("/staff/meetings/falun/questions"))
    assert "Vilken workshop?" in page and "Dans / Dance" in page and "Ja/nej" in page
    fields = fields_of(db, meeting)
    assert fields[:2] == ["diet", "accessibility"] and len(fields) == 4
    choice, yesno = fields[2], fields[3]
    assert post(staff_client, f"/staff/meetings/falun/questions/{yesno}/move", {"step": "up"}).status_code == 303
    assert fields_of(db, meeting) == ["diet", "accessibility", yesno, choice]
    assert post(staff_client, "/staff/meetings/falun/questions/accessibility/remove").status_code == 303
    assert fields_of(db, meeting) == ["diet", yesno, choice]

    refused = post(
        staff_client, "/staff/meetings/falun/questions", {"label_sv": "Färg?", "kind": "choice", "options_sv": "Röd"}
    )
    assert refused.status_code == 422 and "skriv minst två alternativ" in text(refused)
    assert len(fields_of(db, meeting)) == 3  # nothing added


def test_the_answer_page_asks_the_questions_checks_required_ones_and_keeps_answers_changeable(
    app, db, staff_client, meeting, anna
):
    add_questions(staff_client)
    choice, yesno = fields_of(db, meeting)[2:]
    client, path = app.test_client(), links_for(app, anna, meeting)["rsvp_url"]
    page = client.get(path).get_data(as_text=True)
    assert "Kost/allergier" in page and "Vilken workshop?" in page and 'value="Teater"' in page
    assert f'type="radio" id="{yesno}-1" name="{yesno}" value="yes"' in page

    missing = answer(client, path, answer="yes", diet="Vegan")
    assert missing.status_code == 422
    assert f'id="{choice}-error">Svara på frågan.' in missing.get_data(as_text=True)
    assert response_of(db, anna, meeting) is None  # nothing saved
    assert answer(client, path, answer="no").status_code == 303  # a no needs no workshop

    assert answer(client, path, answer="yes", diet="Vegan", **{choice: "Teater", yesno: "yes"}).status_code == 303
    page = client.get(path).get_data(as_text=True)
    assert 'value="Vegan"' in page and 'value="Teater" checked' in page
    with db.transaction() as session:
        given = {row.question.field: row.value for row in session.scalars(select(QuestionAnswer))}
    assert given == {"diet": "Vegan", choice: "Teater", yesno: "yes"}

    changed = answer(client, path, answer="yes", diet="", **{choice: ["", "Dans"], yesno: ["", "no"]})
    assert changed.status_code == 303
    response = response_of(db, anna, meeting)
    assert {a.question.field: a.value for a in response.answers} == {choice: "Dans", yesno: "no"}  # diet cleared
    assert response.history[-1].answers == {choice: "Dans", yesno: "no"}
    assert answer(client, path, answer="yes", **{choice: "Opera"}).status_code == 422  # not an option


def test_english_readers_get_the_english_texts(app, db, staff_client, meeting, person):
    add_questions(staff_client)
    bo = person("bo@example.org", "Bo", language="en")
    page = app.test_client().get(links_for(app, bo, meeting)["rsvp_url"]).get_data(as_text=True)
    assert "Which workshop?" in page and "Theatre" in page and "Diet/allergies" in page
    assert "Vilken workshop?" not in page


def test_answers_show_on_the_meeting_page_and_in_the_csv_a_column_each(app, db, staff_client, meeting, anna, settings):
    add_questions(staff_client)
    choice, yesno = fields_of(db, meeting)[2:]
    client, path = app.test_client(), links_for(app, anna, meeting)["rsvp_url"]
    assert answer(client, path, answer="yes", diet="Glutenfri", **{choice: "Dans", yesno: "yes"}).status_code == 303
    page = text(staff_client.get("/staff/meetings/falun/responses"))
    assert "Vilken workshop?" in page and "Glutenfri" in page and "Dans" in page
    with db.transaction() as session:
        rows = attendee_rows(session, session.get(Meeting, meeting), settings.timezone)
    table = list(csv.reader(io.StringIO(to_csv(rows).decode("utf-8-sig")), delimiter=";"))
    assert table[0] == [
        "Namn",
        "Organisationer",
        "E-post",
        "Svar",
        "Gäster",
        "Kost/allergier",
        "Tillgänglighet",
        "Vilken workshop?",
        "Vill du ha lunch?",
        "Kommentar",
        "Svarade",
    ]
    assert table[1][5:9] == ["Glutenfri", "", "Dans", "Ja"]
    csv_download = staff_client.get("/staff/meetings/falun/export.csv").data.decode("utf-8-sig")
    assert "Vilken workshop?" in csv_download.splitlines()[0]


def test_a_series_asks_its_own_questions_and_saves_them_with_each_chosen_session(
    app, db, staff_client, runner, make_meeting, anna
):
    from rsvp_fixtures import path_of

    from mailer.contacts.models import Contact
    from mailer.mail.context import links

    for slug in ("umea", "malmo"):
        make_meeting(slug=slug)
    assert runner.invoke(["series", "create", "kurs", "--title", "Kurs", "--choice", "several"]).exit_code == 0
    for slug in ("umea", "malmo"):
        assert runner.invoke(["series", "add", "kurs", slug]).exit_code == 0
    add_questions(staff_client, "series", "kurs")
    with db.transaction() as session:
        series = get_series(session, "kurs")
        choice = list_questions(session, series)[2].field
        path = path_of(links(app.extensions["mailer.settings"], session.get(Contact, anna), None, series)["series_url"])
    client = app.test_client()
    page = client.get(path).get_data(as_text=True)
    assert "Vilken workshop?" in page
    refused = client.post(path, data={"csrf_token": csrf_of(page), "answer": "yes", "session": ["umea", "malmo"]})
    assert refused.status_code == 422 and "Svara på frågan." in refused.get_data(as_text=True)
    saved = client.post(
        path,
        data={
            "csrf_token": csrf_of(page),
            "answer": "yes",
            "session": ["umea", "malmo"],
            "diet": "Vegan",
            choice: "Dans",
        },
    )
    assert saved.status_code == 303
    with db.transaction() as session:
        given = [
            (row.response.meeting.slug, row.question.field, row.value)
            for row in session.scalars(select(QuestionAnswer).order_by(QuestionAnswer.id))
        ]
    assert sorted(given) == sorted(
        [("malmo", choice, "Dans"), ("malmo", "diet", "Vegan"), ("umea", choice, "Dans"), ("umea", "diet", "Vegan")]
    )
    assert 'value="Vegan"' in client.get(path).get_data(as_text=True)  # shown again, changeable
    meeting_page = text(staff_client.get("/staff/meetings/umea/questions"))
    assert "seriens frågor" in meeting_page


def test_answers_are_exported_and_erased_with_the_person(app, db, meeting, anna):
    client, path = app.test_client(), links_for(app, anna, meeting)["rsvp_url"]
    assert answer(client, path, answer="yes", diet="Laktosfri", accessibility="Hörslinga").status_code == 303
    with db.transaction() as session:
        data = export_person(session, "anna@example.org")
    assert sorted(row["value"] for row in data["question_answers"]) == ["Hörslinga", "Laktosfri"]
    with db.transaction() as session:
        forget(session, "anna@example.org")
    with db.transaction() as session:
        assert [row.value for row in session.scalars(select(QuestionAnswer))] in ([], [None, None])
        assert "Laktosfri" not in str(session.execute(sql("SELECT answers FROM response_history")).all())


def test_the_cli_lists_adds_and_removes_questions(runner, db, meeting):
    added = runner.invoke(
        [
            "questions",
            "add",
            "falun",
            "--label-sv",
            "Storlek på t-shirt?",
            "--kind",
            "choice",
            "--option",
            "S|Small",
            "--option",
            "M|Medium",
            "--required",
        ]
    )
    assert added.exit_code == 0, added.output
    field = fields_of(db, meeting)[-1]
    assert f"Question {field} added to falun." in added.output  # the CLI speaks the locale's language
    listed = runner.invoke(["questions", "list", "falun"])
    assert "diet" in listed.output and "Storlek på t-shirt? (required)" in listed.output
    assert runner.invoke(["questions", "remove", "falun", "diet"]).exit_code == 0
    assert fields_of(db, meeting) == ["accessibility", field]
    unknown = runner.invoke(["questions", "remove", "falun", "nope"])
    assert unknown.exit_code == 1 and "There is no question 'nope' here." in unknown.output


def test_migration_0021_moves_diet_and_accessibility_into_answers_and_back(db):
    """Answers given before questions existed become answers to the default questions (a session's
    to its series'); the downgrade puts them back in the columns."""
    before = (
        ScriptDirectory.from_config(alembic_config()).get_revision("0021").down_revision
    )  # the lead may re-chain it
    db.downgrade(before)
    now = f"{past_year()}-01-01 00:00:00"
    with db.engine.begin() as connection:
        connection.execute(
            sql(
                "INSERT INTO series (id, slug, link_key, title, choice, created_at) "
                "VALUES (1, 'kurs', 'skey', 'Kurs', 'one', :now)"
            ),
            {"now": now},
        )
        for n, series_id in ((1, None), (2, 1)):
            connection.execute(
                sql(
                    "INSERT INTO meetings (id, slug, link_key, title, region, city, starts_at, ends_at, max_guests, "
                    "evaluation_anonymous, created_at, sequence, series_id) VALUES (:id, :slug, :key, 'T', 'Dalarna', "
                    "'Falun', :now, :now, 1, :false, :now, 0, :series)"
                ),
                {"id": n, "slug": f"m{n}", "key": f"mkey{n}", "now": now, "false": False, "series": series_id},
            )
        connection.execute(
            sql(
                "INSERT INTO contacts (id, email, link_key, created_at, updated_at) "
                "VALUES (1, 'a@ex.org', 'ckey', :now, :now)"
            ),
            {"now": now},
        )
        for n in (1, 2):
            connection.execute(
                sql(
                    "INSERT INTO responses (id, meeting_id, contact_id, answer, waitlisted, guests, diet, accessibility, "
                    "created_at, updated_at) VALUES (:id, :id, 1, 'yes', :false, 0, :diet, :access, :now, :now)"
                ),
                {
                    "id": n,
                    "diet": "vegan 1" if n == 1 else None,
                    "access": "rullstol" if n == 1 else "hörslinga",
                    "now": now,
                    "false": False,
                },
            )
            connection.execute(
                sql(
                    "INSERT INTO response_history (response_id, answer, waitlisted, guests, diet, accessibility, at) "
                    "VALUES (:id, 'yes', :false, 0, :diet, :access, :now)"
                ),
                # the last response has no diet now, but said one before: its history keeps it
                {"id": n, "diet": f"vegan {n}", "access": "rullstol" if n == 1 else None, "now": now, "false": False},
            )
    db.upgrade()
    assert db.current_revision() == head_revision()
    with db.transaction() as session:
        questions = session.scalars(select(Question).order_by(Question.id)).all()
        owners = sorted((q.meeting_id or 0, q.series_id or 0, q.key) for q in questions)
        assert owners == sorted(
            [
                (0, 1, "diet"),
                (0, 1, "accessibility"),
                (1, 0, "diet"),
                (1, 0, "accessibility"),
                (2, 0, "diet"),
                (2, 0, "accessibility"),
            ]
        )
        given = sorted(
            (a.response_id, a.question.series_id or 0, a.question.key, a.value)
            for a in session.scalars(select(QuestionAnswer))
        )
        assert given == [
            (1, 0, "accessibility", "rullstol"),
            (1, 0, "diet", "vegan 1"),
            (2, 1, "accessibility", "hörslinga"),
        ]  # the session's answer went to its series' question
        history = session.execute(sql("SELECT answers FROM response_history ORDER BY response_id")).scalars().all()
        assert [h if isinstance(h, dict) else json.loads(h) for h in history] == [
            {"diet": "vegan 1", "accessibility": "rullstol"},
            {"diet": "vegan 2"},
        ]
    db.downgrade(before)
    with db.engine.begin() as connection:
        rows = connection.execute(sql("SELECT id, diet, accessibility FROM responses ORDER BY id")).all()
        assert [tuple(row) for row in rows] == [(1, "vegan 1", "rullstol"), (2, None, "hörslinga")]
        history = connection.execute(sql("SELECT diet FROM response_history ORDER BY response_id")).scalars().all()
        assert history == ["vegan 1", "vegan 2"]
    db.upgrade()


def test_a_meeting_joining_a_series_takes_its_diet_answers_along_and_back(app, db, meeting, anna):
    """A session asks its series' questions: answers given before it joined move to the series'
    question with the same key, and back when it leaves; an answer no question would ask any
    more stops the move, and nothing changes."""
    tz = app.extensions["mailer.settings"].timezone
    with db.transaction() as session:
        record_answer(
            session, session.get(Contact, anna), session.get(Meeting, meeting), {"answer": "yes", "diet": "vegan"}, tz
        )
        series_actions.create(session, "test", slug="kurs", title="Kurs")

    def diet_owner() -> tuple[int | None, int | None, str]:
        with db.transaction() as session:
            given = session.scalars(select(QuestionAnswer)).one()
            return given.question.meeting_id, given.question.series_id, given.value

    with db.transaction() as session:
        series_actions.add(session, "test", "kurs", "falun")
    series_id = diet_owner()[1]
    assert diet_owner() == (None, series_id, "vegan") and series_id is not None
    with db.transaction() as session:
        series_actions.remove(session, "test", "kurs", "falun")
    assert diet_owner() == (meeting, None, "vegan")

    with db.transaction() as session:
        own = add_question(session, session.get(Meeting, meeting), label_sv="Vilken workshop?")
        record_answer(
            session, session.get(Contact, anna), session.get(Meeting, meeting), {"answer": "yes", own.field: "dans"}, tz
        )
    with pytest.raises(SeriesError) as refused, db.transaction() as session:
        series_actions.add(session, "test", "kurs", "falun")
    assert refused.value.code == "answers_stranded" and "Vilken workshop?" in refused.value.render("sv")
    with db.transaction() as session:
        assert session.get(Meeting, meeting).series_id is None
