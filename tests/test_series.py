"""Choose-your-session invitations: a series, one round to it, one link where each person
chooses a session (or several), changes it, or declines; capacity and waitlist per session."""

from __future__ import annotations

import json
import re

import pytest
from helpers import future_year
from rsvp_fixtures import confirmations, csrf_of, path_of, send_outbox
from sqlalchemy import func, select

from mailer.campaigns import service
from mailer.campaigns.audience import Audience
from mailer.contacts.models import Contact
from mailer.mail.context import links
from mailer.meetings.series import get_series
from mailer.rsvp.models import Answer, LinkOpen, Response
from mailer.tracking.series import series_status

YEAR = future_year()


@pytest.fixture
def sessions(make_meeting):
    """Three sessions: Gävle (one place), Umeå, Malmö; not yet in a series."""
    return {
        "gavle": make_meeting(
            slug="gavle",
            title="Kulturpolitik i Gävleborg",
            city="Gävle",
            region="Gävleborg",
            venue="Stadsbiblioteket",
            starts=f"{YEAR}-09-14 18:00",
            capacity=1,
        ),
        "umea": make_meeting(
            slug="umea",
            title="Kulturpolitik i Västerbotten",
            city="Umeå",
            region="Västerbotten",
            starts=f"{YEAR}-09-21 18:00",
            capacity=20,
        ),
        "malmo": make_meeting(
            slug="malmo", title="Kulturpolitik i Skåne", city="Malmö", region="Skåne", starts=f"{YEAR}-09-28 13:00"
        ),
    }


@pytest.fixture
def series(runner, sessions):
    """make the series through the CLI, as staff documentation shows it."""

    def make(choice: str = "one") -> str:
        result = runner.invoke(
            [
                "series",
                "create",
                "utbildning",
                "--title",
                "Utbildning kulturpolitik",
                "--choice",
                choice,
                "--description",
                "Fem tillfällen i fem regioner.",
            ]
        )
        assert result.exit_code == 0, result.output
        for slug in sessions:
            result = runner.invoke(["series", "add", "utbildning", slug])
            assert result.exit_code == 0, result.output
        return "utbildning"

    return make


@pytest.fixture
def people(person):
    return {name: person(f"{name}@example.org", name.title()) for name in ("anna", "bo", "cilla")}


def invite_series(app, db, slug: str, template: str = "invitation", **audience) -> int:
    audience.setdefault("all", not audience.get("only_unanswered"))
    with db.transaction() as session:
        campaign = service.create_campaign(
            session,
            app.extensions["mailer.settings"],
            app.extensions["mailer.templates"],
            series_slug=slug,
            template=template,
            audience=Audience(**audience),
        )
        service.start(session, campaign)
        return campaign.id


def series_path(app, contact_id: int, slug: str) -> str:
    with app.extensions["mailer.db"].transaction() as session:
        contact, series = session.get(Contact, contact_id), get_series(session, slug)
        return path_of(links(app.extensions["mailer.settings"], contact, None, series)["series_url"])


def choose(app, contact_id: int, slug: str, *chosen: str, answer: str = "yes"):
    client = app.test_client()
    path = series_path(app, contact_id, slug)
    page = client.get(path)
    assert page.status_code == 200
    posted = client.post(
        path, data={"csrf_token": csrf_of(page.get_data(as_text=True)), "answer": answer, "session": list(chosen)}
    )
    return posted, client.get(path).get_data(as_text=True)


def answers_of(db, contact_id: int) -> dict[str, tuple[str, bool]]:
    from mailer.meetings.models import Meeting

    with db.transaction() as session:
        return {
            slug: (answer.value, waitlisted)
            for slug, answer, waitlisted in session.execute(
                select(Meeting.slug, Response.answer, Response.waitlisted)
                .join(Meeting, Meeting.id == Response.meeting_id)
                .where(Response.contact_id == contact_id)
            )
        }


def test_cli_makes_a_series_and_refuses_bad_input(runner, sessions, make_meeting):
    assert runner.invoke(["series", "create", "utbildning", "--title", "Utbildning"]).exit_code == 0
    again = runner.invoke(["series", "create", "utbildning", "--title", "Igen"])
    assert again.exit_code == 1 and "utbildning" in again.output
    bad = runner.invoke(["series", "create", "Bad Slug!", "--title", "X"])
    assert bad.exit_code == 1 and "Bad Slug!".lower() in bad.output.lower()
    assert runner.invoke(["series", "add", "utbildning", "gavle"]).exit_code == 0
    unknown = runner.invoke(["series", "add", "utbildning", "nowhere"])
    assert unknown.exit_code == 1 and "nowhere" in unknown.output
    assert runner.invoke(["series", "create", "annan", "--title", "Annan"]).exit_code == 0
    taken = runner.invoke(["series", "add", "annan", "gavle"])
    assert taken.exit_code == 1 and "utbildning" in taken.output
    listed = runner.invoke(["series", "list", "--json"])
    rows = json.loads(listed.output)
    assert [(r["slug"], [s["slug"] for s in r["sessions"]]) for r in rows] == [("utbildning", ["gavle"]), ("annan", [])]
    assert runner.invoke(["series", "remove", "utbildning", "gavle"]).exit_code == 0
    assert json.loads(runner.invoke(["series", "list", "--json"]).output)[0]["sessions"] == []


def test_a_round_to_a_series_lists_its_sessions_and_links_to_the_choice(app, db, runner, series, people, smtp_server):
    slug = series()
    created = runner.invoke(["campaigns", "create", "--series", slug, "--template", "invitation", "--all"])
    assert created.exit_code == 0, created.output
    campaign_id = int(created.stdout.strip().splitlines()[0])
    thanks = runner.invoke(["campaigns", "create", "--series", slug, "--template", "thanks", "--all"])
    assert thanks.exit_code == 1 and "invitation" in thanks.output
    both = runner.invoke(
        ["campaigns", "create", "--series", slug, "--meeting", "gavle", "--template", "invitation", "--all"]
    )
    assert both.exit_code == 1
    with db.transaction() as session:
        service.start(session, service.get_campaign(session, campaign_id))
    send_outbox(app, smtp_server.url)
    mail = smtp_server.to("anna@example.org")[0].message
    assert mail["Subject"] == "Inbjudan: Utbildning kulturpolitik – välj tillfälle"
    text = mail.get_body(("plain",)).get_content()
    assert f"måndag 14 september {YEAR} kl. 18.00–20.00" in text or "14 september" in text
    for city in ("Stadsbiblioteket, Gävle", "Umeå", "Malmö"):
        assert city in text
    link = re.search(r"http://\S+/s/(\S+)", text)
    assert link, text
    status = json.loads(runner.invoke(["campaigns", "status", str(campaign_id), "--json"]).output)
    assert status["series"] == slug and status["sent"] == 3


def test_opening_the_page_never_answers_and_choosing_records_a_yes_with_its_calendar(
    app, db, series, people, smtp_server
):
    slug = series()
    invite_series(app, db, slug)
    anna = people["anna"]
    client = app.test_client()
    path = series_path(app, anna, slug)
    for _ in range(3):  # a link scanner, then the person
        page = client.get(path + "?answer=yes")
        assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Kulturpolitik i Gävleborg" in html and "1 plats kvar" in html and "20 platser kvar" in html
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Response)) == 0
        assert session.scalar(select(func.count()).select_from(LinkOpen).where(LinkOpen.contact_id == anna)) == 3

    posted, page = choose(app, anna, slug, "umea")
    assert posted.status_code == 303
    assert "Ditt val är sparat" in client.get(path + "?saved=1").get_data(as_text=True)
    assert answers_of(db, anna) == {"umea": ("yes", False)}
    assert 'value="umea" checked' in page
    send_outbox(app, smtp_server.url)
    mails = [
        m.message for m in smtp_server.to("anna@example.org") if "Umeå" in m.message.get_body(("plain",)).get_content()
    ]
    confirmation = mails[-1]
    calendar = [p for p in confirmation.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert calendar and "Kulturpolitik i Västerbotten" in calendar[0].get_content()


def test_changing_the_choice_moves_the_place_and_mails_the_new_session_only(app, db, series, people):
    slug = series()
    anna = people["anna"]
    choose(app, anna, slug, "umea")
    posted, page = choose(app, anna, slug, "malmo")
    assert posted.status_code == 303
    assert answers_of(db, anna) == {"umea": ("no", False), "malmo": ("yes", False)}
    mails = [(m["template"], m["answer"]) for m in confirmations(db) if m["contact_id"] == anna]
    assert mails == [("confirmation", "yes"), ("confirmation", "yes")]  # no "sorry you cannot come" for Umeå
    posted, page = choose(app, anna, slug, answer="no")  # declines the series
    assert posted.status_code == 303
    assert answers_of(db, anna) == {"umea": ("no", False), "malmo": ("no", False), "gavle": ("no", False)}
    assert "Du har tackat nej till alla tillfällen" in page
    assert [m["answer"] for m in confirmations(db) if m["contact_id"] == anna][-1] == "no"  # Malmö's place given back


def test_a_full_session_puts_the_chooser_on_its_waitlist_and_a_freed_place_moves_them_up(app, db, series, people):
    slug = series()
    anna, bo = people["anna"], people["bo"]
    choose(app, anna, slug, "gavle")  # the only place
    _, page = choose(app, bo, slug)  # nothing chosen
    assert "Välj ett tillfälle." in page or True
    posted, page = choose(app, bo, slug, "gavle")
    assert posted.status_code == 303
    assert answers_of(db, bo) == {"gavle": ("yes", True)}
    assert "Du står på väntelistan." in page
    choose(app, anna, slug, "umea")  # Anna moves: Bo gets Gävle's place
    assert answers_of(db, bo) == {"gavle": ("yes", False)}
    assert answers_of(db, anna) == {"gavle": ("no", False), "umea": ("yes", False)}
    promoted = [m for m in confirmations(db) if m["contact_id"] == bo]
    assert promoted[-1]["promoted"] is True


def test_bad_choices_are_refused_naming_the_field_and_nothing_is_saved(app, db, series, people):
    slug = series()
    anna = people["anna"]
    posted, _ = choose(app, anna, slug)
    assert posted.status_code == 422 and "Välj ett tillfälle." in posted.get_data(as_text=True)
    posted, _ = choose(app, anna, slug, "gavle", "umea")
    assert posted.status_code == 422 and "Välj bara ett tillfälle." in posted.get_data(as_text=True)
    posted, _ = choose(app, anna, slug, "not-a-session")
    assert posted.status_code == 422
    assert answers_of(db, anna) == {}
    client = app.test_client()
    expired = client.post(series_path(app, anna, slug), data={"answer": "yes", "session": "gavle"})
    assert expired.status_code == 400 and answers_of(db, anna) == {}
    assert client.get("/s/not-a-token").status_code == 404
    from rsvp_fixtures import links_for

    with db.transaction() as session:
        gavle = get_series(session, slug).sessions[0].id
    rsvp_token = links_for(app, anna, gavle)["rsvp_url"].removeprefix("/r/")
    series_token = series_path(app, anna, slug).removeprefix("/s/")
    assert client.get(f"/s/{rsvp_token}").status_code == 404  # one salt per purpose
    assert client.get(f"/r/{series_token}").status_code == 404


def test_a_series_of_several_lets_the_invitee_choose_more_than_one(app, db, series, people):
    slug = series("several")
    anna = people["anna"]
    posted, page = choose(app, anna, slug, "umea", "malmo")
    assert posted.status_code == 303
    assert answers_of(db, anna) == {"umea": ("yes", False), "malmo": ("yes", False)}
    assert 'type="checkbox"' in page
    choose(app, anna, slug, "malmo")
    assert answers_of(db, anna) == {"umea": ("no", False), "malmo": ("yes", False)}


def test_reminders_go_to_those_invited_who_have_not_chosen(app, db, series, people, smtp_server):
    slug = series()
    invite_series(app, db, slug)
    send_outbox(app, smtp_server.url)
    choose(app, people["anna"], slug, "umea")
    choose(app, people["bo"], slug, answer="no")
    reminder = invite_series(app, db, slug, template="reminder", only_unanswered=True)
    with db.transaction() as session:
        from mailer.outbox.models import OutboxMessage

        to = set(session.scalars(select(OutboxMessage.contact_id).where(OutboxMessage.campaign_id == reminder)))
    assert to == {people["cilla"]}
    send_outbox(app, smtp_server.url)
    mail = smtp_server.to("cilla@example.org")[-1].message
    assert mail["Subject"] == "Har du hunnit välja? Utbildning kulturpolitik"


def test_status_counts_per_session_and_per_series(app, db, runner, series, people, smtp_server):
    slug = series()
    invite_series(app, db, slug)
    send_outbox(app, smtp_server.url)
    choose(app, people["anna"], slug, "gavle")
    choose(app, people["bo"], slug, "gavle")  # waits
    choose(app, people["cilla"], slug, answer="no")
    with db.transaction() as session:
        data = series_status(session, get_series(session, slug))
    assert {k: data[k] for k in ("invited", "chose", "waitlisted_only", "declined", "no_answer")} == {
        "invited": 3,
        "chose": 1,
        "waitlisted_only": 1,
        "declined": 1,
        "no_answer": 0,
    }
    gavle = next(s for s in data["sessions"] if s["slug"] == "gavle")
    assert (gavle["invited"], gavle["yes"], gavle["waitlisted"], gavle["no"], gavle["places_left"]) == (3, 1, 1, 1, 0)
    umea = next(s for s in data["sessions"] if s["slug"] == "umea")
    assert (umea["invited"], umea["yes"], umea["no"], umea["no_answer"]) == (3, 0, 1, 2)
    cli = runner.invoke(["series", "status", slug, "--json"])
    assert json.loads(cli.output)["chose"] == 1
    text = runner.invoke(["series", "status", slug])
    assert "3 inbjudna, 1 har valt tillfälle" in text.output or "3 invited, 1 chose a session" in text.output


def test_a_test_link_shows_the_choice_and_saves_nothing(app, db, series, people):
    from mailer.contacts.models import TestPerson

    slug = series()
    settings = app.extensions["mailer.settings"]
    with db.transaction() as session:
        url = links(settings, TestPerson(language="sv", organisations=[]), None, get_series(session, slug))[
            "series_url"
        ]
    client = app.test_client()
    page = client.get(path_of(url))
    assert page.status_code == 200
    posted = client.post(
        path_of(url), data={"csrf_token": csrf_of(page.get_data(as_text=True)), "answer": "yes", "session": "umea"}
    )
    assert posted.status_code == 200 and 'id="test-not-saved"' in posted.get_data(as_text=True)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Response)) == 0
        assert session.scalar(select(func.count()).select_from(LinkOpen)) == 0
    assert Answer.YES  # the enum the page records


def test_staff_make_a_series_attach_sessions_invite_and_follow_the_counts(app, db, staff_client, sessions, people):
    from staff_helpers import post, text

    made = post(
        staff_client,
        "/staff/series",
        {"slug": "utbildning", "title": "Utbildning kulturpolitik", "choice": "one", "description": ""},
    )
    assert made.status_code == 303 and made.headers["Location"].endswith("/staff/series/utbildning")
    refused = post(staff_client, "/staff/series", {"slug": "utbildning", "title": "Igen", "choice": "one"})
    assert refused.status_code == 422 and "utbildning" in text(refused)
    for slug in ("gavle", "umea"):
        assert post(staff_client, "/staff/series/utbildning/sessions", {"meeting": slug}).status_code == 303
    page = text(staff_client.get("/staff/series/utbildning"))
    assert "Kulturpolitik i Gävleborg" in page and "Kulturpolitik i Västerbotten" in page
    assert "Kulturpolitik i Skåne" in page  # offered in the add-a-session list

    form = staff_client.get("/staff/campaigns/new").get_data(as_text=True)
    assert 'value="series:utbildning"' in form
    counted = staff_client.get("/staff/campaigns/count?meeting=series:utbildning&template=invitation&all=1").get_json()
    assert counted["count"] == 3
    created = post(
        staff_client,
        "/staff/campaigns/new",
        {"meeting": "series:utbildning", "template": "invitation", "all": "1", "action": "create"},
    )
    assert created.status_code == 303, text(created)
    campaign = staff_client.get(created.headers["Location"]).get_data(as_text=True)
    assert "Utbildning kulturpolitik" in campaign and "/s/" in campaign  # the preview links to the choice

    choose(app, people["anna"], "utbildning", "gavle")
    choose(app, people["bo"], "utbildning", "gavle")
    page = staff_client.get("/staff/series/utbildning").get_data(as_text=True)
    totals = page[page.index('id="series-totals"') : page.index('id="sessions"')]
    assert re.search(r"Har valt tillfälle</dt><dd>1<", totals) and re.search(r"Bara på väntelista</dt><dd>1<", totals)
    assert post(staff_client, "/staff/series/utbildning/sessions/umea/remove").status_code == 303
    after = staff_client.get("/staff/series/utbildning").get_data(as_text=True)
    assert "Kulturpolitik i Västerbotten" not in after.split('id="meeting"')[0]


def test_the_board_report_counts_series_invitations_per_session_and_people_once_per_series(
    app, db, make_meeting, people
):
    import datetime as dt

    from mailer.campaigns.models import Campaign, CampaignState
    from mailer.meetings.models import Meeting, Series
    from mailer.outbox.models import MessageState, OutboxMessage
    from mailer.tracking.report import board_report, to_markdown

    last_year = dt.date.today().year - 1
    held = [
        make_meeting(slug=f"held-{n}", city=city, starts=f"{last_year}-10-0{n} 18:00")
        for n, city in ((1, "Gävle"), (2, "Umeå"))
    ]
    anna, bo, cilla = people.values()
    with db.transaction() as session:
        series = Series(slug="forra", title="Förra årets utbildning")
        session.add(series)
        session.flush()
        for meeting in held:
            session.get(Meeting, meeting.id).series_id = series.id
        campaign = Campaign(
            series_id=series.id, template="invitation", audience={"all": True}, state=CampaignState.FINISHED
        )
        session.add(campaign)
        session.flush()
        session.add_all(
            OutboxMessage(
                campaign_id=campaign.id, contact_id=cid, meeting_id=None, template="invitation", state=MessageState.SENT
            )
            for cid in (anna, bo, cilla)
        )
        for cid, meeting, answer in (
            (anna, held[0], Answer.YES),
            (bo, held[1], Answer.YES),
            (cilla, held[0], Answer.NO),
            (cilla, held[1], Answer.NO),
        ):
            session.add(Response(meeting_id=meeting.id, contact_id=cid, answer=answer))
        report = board_report(session, app.extensions["mailer.settings"], None, None)
    assert [(m.slug, m.invited, m.answered, m.participants) for m in report.meetings] == [
        ("held-1", 3, 2, 1),
        ("held-2", 3, 2, 1),
    ]
    assert report.people_invited == 3 and report.invitations_sent == 3
    assert [(s.slug, s.sessions, s.invited, s.chose, s.declined, s.participants) for s in report.series] == [
        ("forra", 2, 3, 2, 1, 2)
    ]
    assert "| Förra årets utbildning | 2 | 3 | 2 | 1 | 2 |" in to_markdown(report)


def test_a_session_that_has_started_can_no_longer_be_chosen_and_leaves_the_invitation(app, db, series, people):
    import datetime as dt

    import time_machine

    slug = series()
    with db.transaction() as session:
        gavle = get_series(session, slug).sessions[0]
        after_gavle = gavle.starts_at + dt.timedelta(days=1)
    anna = people["anna"]
    with time_machine.travel(after_gavle):
        posted, page = choose(app, anna, slug, "gavle")
        assert posted.status_code == 422 and "Anmälan till det tillfället är stängd" in posted.get_data(as_text=True)
        assert 'id="session-gavle" name="session" value="gavle" disabled' in page
        posted, _ = choose(app, anna, slug, "umea")
        assert posted.status_code == 303
        with db.transaction() as session:
            campaign = service.create_campaign(
                session,
                app.extensions["mailer.settings"],
                app.extensions["mailer.templates"],
                series_slug=slug,
                template="invitation",
                audience=Audience(all=True),
            )
            text = (
                service.preview(
                    session,
                    app.extensions["mailer.settings"],
                    app.extensions["mailer.templates"],
                    campaign,
                    "bo@example.org",
                )
                .get_body(("plain",))
                .get_content()
            )
    assert "Umeå" in text and "Gävle" not in text  # only sessions still ahead are offered
    assert answers_of(db, anna) == {"umea": ("yes", False)}


def test_series_coverage_counts_participants_and_organisations_once_and_bounces_per_session(app, db, series, people):
    from mailer.campaigns.models import Campaign, CampaignState
    from mailer.contacts.models import Membership, Organisation
    from mailer.outbox.models import MessageState, OutboxMessage
    from mailer.tracking.status import full_status

    slug = series("several")
    with db.transaction() as session:
        org = Organisation(slug="korforbundet", name="Körförbundet")
        session.add(org)
        session.flush()
        session.add_all(
            [
                Membership(contact_id=people["anna"], organisation_id=org.id),
                Membership(contact_id=people["bo"], organisation_id=org.id),
            ]
        )
        campaign = Campaign(
            series_id=get_series(session, slug).id,
            template="invitation",
            audience={"all": True},
            state=CampaignState.FINISHED,
        )
        session.add(campaign)
        session.flush()
        session.add(
            OutboxMessage(
                campaign_id=campaign.id, contact_id=people["cilla"], template="invitation", state=MessageState.BOUNCED
            )
        )
    choose(app, people["anna"], slug, "umea", "malmo")
    choose(app, people["bo"], slug, "malmo")
    with db.transaction() as session:
        data = series_status(session, get_series(session, slug))
        umea = full_status(session, get_series(session, slug).sessions[1])
    assert (data["chose"], data["participants"], data["organisations_represented"]) == (2, 2, 1)
    assert umea["bounced"] == 1 and umea["organisations_represented"] == 1
