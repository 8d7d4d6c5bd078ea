"""Meetings: local times in the configured zone, a default length, clear errors."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from helpers import future_year, last_sunday, when
from sqlalchemy import inspect, select, text

from mailer.meetings.models import Meeting
from mailer.meetings.service import MeetingError, add_meeting, get_meeting, list_meetings

UTC = dt.UTC
STOCKHOLM = ZoneInfo("Europe/Stockholm")
YEAR = future_year()  # a year still ahead; month and day keep each test's season (summer time or not)
CLOCKS_FORWARD, CLOCKS_BACK = last_sunday(YEAR, 3), last_sunday(YEAR, 10)
FALUN_WHEN = when(f"{YEAR}-09-16 18:00", "20:00")  # e.g. "tisdag 16 september … kl. 18.00–20.00"

FALUN = [
    "meetings",
    "add",
    "--slug",
    "falun",
    "--title",
    "Dialogträff med Landstinget Dalarna",
    "--region",
    "Dalarna",
    "--city",
    "Falun",
    "--host",
    "Landstinget Dalarna",
    "--venue",
    "Dalarnas museum, Stigaregatan 2, Falun",
    "--starts",
    f"{YEAR}-09-16 18:00",
]


def snapshot(db) -> dict[str, list[tuple]]:
    with db.engine.connect() as connection:
        tables = [t for t in inspect(connection).get_table_names() if t != "alembic_version"]
        return {t: [tuple(r) for r in connection.execute(text(f"SELECT * FROM {t} ORDER BY 1"))] for t in tables}


def stored(db, slug: str) -> Meeting:
    with db.transaction() as session:
        return get_meeting(session, slug)


# --- the domain function ---------------------------------------------------------


def test_local_time_is_stored_as_utc_with_a_default_length_of_two_hours(db, make_meeting):
    make_meeting(
        slug="Falun",
        title=" Dialogträff ",
        city="Falun",
        region="Dalarna",
        starts=f"{YEAR}-09-16 18:00",
        host="  ",
        venue="Dalarnas museum",
    )

    meeting = stored(db, "falun")
    assert meeting.starts_at == dt.datetime(YEAR, 9, 16, 16, 0, tzinfo=UTC)  # CEST, UTC+2
    assert meeting.ends_at == dt.datetime(YEAR, 9, 16, 18, 0, tzinfo=UTC)
    assert meeting.title == "Dialogträff"
    assert meeting.host is None
    assert meeting.venue == "Dalarnas museum"
    assert (meeting.capacity, meeting.rsvp_by, meeting.max_guests) == (None, None, 1)


def test_winter_time_and_every_optional_field(db, make_meeting):
    make_meeting(
        slug="lulea",
        starts=f"{YEAR}-12-02 18:00",
        ends=f"{YEAR}-12-02 21:30",
        capacity=40,
        rsvp_by=f"{YEAR}-11-25",
        host="Region Norrbotten",
        description="Två timmar.",
    )

    meeting = stored(db, "lulea")
    assert meeting.starts_at == dt.datetime(YEAR, 12, 2, 17, 0, tzinfo=UTC)  # CET, UTC+1
    assert meeting.ends_at == dt.datetime(YEAR, 12, 2, 20, 30, tzinfo=UTC)
    assert (meeting.capacity, meeting.rsvp_by, meeting.host) == (40, dt.date(YEAR, 11, 25), "Region Norrbotten")


@pytest.mark.parametrize("starts", [f"{CLOCKS_FORWARD} 01:30", f"{CLOCKS_BACK} 01:30"])
def test_default_length_is_two_real_hours_when_the_clocks_change(db, make_meeting, starts):
    make_meeting(slug="natt", starts=starts)

    meeting = stored(db, "natt")
    assert meeting.ends_at - meeting.starts_at == dt.timedelta(hours=2)


def test_rsvp_deadline_on_the_day_of_the_meeting_is_allowed(db, make_meeting):
    make_meeting(slug="gavle", starts=f"{YEAR}-09-16 18:00", rsvp_by=f"{YEAR}-09-16")

    assert stored(db, "gavle").rsvp_by == dt.date(YEAR, 9, 16)


def test_meetings_are_listed_in_date_order(db, make_meeting):
    make_meeting(slug="sen", starts=f"{YEAR}-11-01 18:00")
    make_meeting(slug="tidig", starts=f"{YEAR}-09-01 18:00")
    make_meeting(slug="mitten", starts=f"{YEAR}-10-01 18:00")

    with db.transaction() as session:
        assert [m.slug for m in list_meetings(session)] == ["tidig", "mitten", "sen"]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"starts": f"{YEAR}-02-30 18:00"}, "starts", "is not a date and time like"),
        ({"starts": f"16/9 {YEAR} 18:00"}, "starts", "is not a date and time like"),
        ({"starts": f"{YEAR}-09-16"}, "starts", "is not a date and time like"),
        ({"starts": f"{CLOCKS_FORWARD} 02:30"}, "starts", "does not exist in Europe/Stockholm"),
        ({"ends": f"{YEAR}-09-16 17:00"}, "ends", "must end after it starts"),
        ({"ends": f"{YEAR}-09-16 18:00"}, "ends", "must end after it starts"),
        ({"ends": f"{YEAR}-09-16 25:00"}, "ends", "is not a date and time like"),
        ({"rsvp_by": f"{YEAR}-09-31"}, "rsvp_by", "is not a date like"),
        ({"rsvp_by": f"{YEAR}-09-17"}, "rsvp_by", "after the meeting"),
        ({"capacity": 0}, "capacity", "must be at least 1"),
        ({"slug": f"Falun {YEAR}"}, "slug", "lower-case letters, digits and hyphens"),
        ({"title": "  "}, "title", "is required"),
        ({"city": ""}, "city", "is required"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(db, settings, changes, field, message):
    before = snapshot(db)
    values = {
        "slug": "falun",
        "title": "Dialogträff",
        "region": "Dalarna",
        "city": "Falun",
        "starts": f"{YEAR}-09-16 18:00",
    } | changes

    with pytest.raises(MeetingError, match=message) as caught, db.transaction() as session:
        add_meeting(session, settings.timezone, **values)

    assert caught.value.field == field
    assert snapshot(db) == before


@pytest.mark.parametrize("slug", ["falun", "FALUN", " falun "])
def test_duplicate_slug_is_refused_and_the_first_meeting_is_kept(db, make_meeting, slug):
    make_meeting(slug="falun", title="Första", starts=f"{YEAR}-09-16 18:00")
    before = snapshot(db)

    with pytest.raises(MeetingError, match="a meeting with slug 'falun' already exists"):
        make_meeting(slug=slug, title="Andra", starts=f"{YEAR}-10-16 18:00")

    assert snapshot(db) == before
    assert stored(db, "falun").title == "Första"


def test_a_meeting_ending_after_midnight_names_both_days():
    from zoneinfo import ZoneInfo

    from babel.dates import format_date

    from mailer.i18n import format_when

    tz = ZoneInfo("Europe/Stockholm")
    starts, ends = dt.datetime(YEAR, 10, 3, 20, 0, tzinfo=UTC), dt.datetime(YEAR, 10, 3, 23, 0, tzinfo=UTC)
    friday, saturday = dt.date(YEAR, 10, 3), dt.date(YEAR, 10, 4)  # weekday names from Babel (CLDR), as the year moves
    sv = [format_date(day, "EEEE d MMMM y", locale="sv") for day in (friday, saturday)]
    en = [format_date(day, "EEEE d MMMM y", locale="en") for day in (friday, saturday)]
    assert format_when(starts, ends, tz) == f"{sv[0]} kl. 22.00 – {sv[1]} kl. 01.00"
    assert format_when(starts, ends, tz, "en") == f"{en[0]} at 22:00 – {en[1]} at 01:00"


# --- the command line ---------------------------------------------------------------


def test_cli_add_and_list(runner, db):
    result = runner.invoke([*FALUN, "--capacity", "40", "--rsvp-by", f"{YEAR}-09-09"])

    assert result.exit_code == 0, result.output
    assert result.stdout == f"added falun: {FALUN_WHEN}\n"
    assert stored(db, "falun").starts_at == dt.datetime(YEAR, 9, 16, 16, 0, tzinfo=UTC)

    listed = runner.invoke(["meetings", "list"])
    assert listed.exit_code == 0
    assert listed.stdout.splitlines() == [
        f"{'falun':<22} {FALUN_WHEN:<45} Falun, Landstinget Dalarna",
        "1 meetings",
    ]
    (meeting,) = json.loads(runner.invoke(["meetings", "list", "--json"]).stdout)
    assert meeting == {
        "slug": "falun",
        "title": "Dialogträff med Landstinget Dalarna",
        "region": "Dalarna",
        "host": "Landstinget Dalarna",
        "city": "Falun",
        "venue": "Dalarnas museum, Stigaregatan 2, Falun",
        "starts": f"{YEAR}-09-16T18:00:00+02:00",
        "ends": f"{YEAR}-09-16T20:00:00+02:00",
        "when": FALUN_WHEN,
        "capacity": 40,
        "max_guests": 1,
        "rsvp_by": f"{YEAR}-09-09",
        "cancelled": False,
    }


def test_cli_times_are_local_to_the_configured_zone(runner, db):
    result = runner.invoke(FALUN, env={"MAILER_TIMEZONE": "Europe/London"})

    assert result.exit_code == 0, result.output
    assert stored(db, "falun").starts_at == dt.datetime(YEAR, 9, 16, 17, 0, tzinfo=UTC)  # BST, UTC+1
    (meeting,) = json.loads(runner.invoke(["meetings", "list", "--json"]).stdout)
    assert meeting["starts"] == f"{YEAR}-09-16T19:00:00+02:00"  # listed in the default zone, Stockholm


def test_cli_explicit_end(runner, db):
    result = runner.invoke([*FALUN, "--ends", f"{YEAR}-09-16 21:00"])

    assert result.exit_code == 0, result.output
    assert result.stdout == f"added falun: {when(f'{YEAR}-09-16 18:00', '21:00')}\n"


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        (
            ["--starts", f"{YEAR}-09-31 18:00"],
            f"--starts: '{YEAR}-09-31 18:00' is not a date and time like 2027-09-13 18:00",
        ),
        (["--ends", f"{YEAR}-09-16 17:59"], "--ends: the meeting must end after it starts"),
        (["--rsvp-by", "snart"], "--rsvp-by: 'snart' is not a date like 2027-09-06"),
        (["--rsvp-by", f"{YEAR}-09-20"], "--rsvp-by: the RSVP deadline is after the meeting"),
        (["--capacity", "0"], "--capacity: must be at least 1"),
    ],
)
def test_cli_bad_input_is_a_clear_error_and_changes_nothing(runner, db, extra, error):
    before = snapshot(db)

    result = runner.invoke([*FALUN, *extra])

    assert result.exit_code == 1
    assert result.stderr == f"mailer: {error}\n"
    assert result.stdout == ""
    assert snapshot(db) == before


def test_cli_duplicate_slug(runner, db):
    assert runner.invoke(FALUN).exit_code == 0
    before = snapshot(db)

    result = runner.invoke([*FALUN[:-1], f"{YEAR}-10-01 18:00"])

    assert result.exit_code == 1
    assert result.stderr == "mailer: --slug: a meeting with slug 'falun' already exists\n"
    assert snapshot(db) == before


def test_cli_required_options(runner):
    result = runner.invoke(["meetings", "add", "--slug", "falun", "--title", "T", "--region", "Dalarna", "--city", "C"])

    assert result.exit_code == 2
    assert "Missing option '--starts'" in result.stderr


def test_cli_capacity_must_be_a_number(runner, db):
    before = snapshot(db)

    result = runner.invoke([*FALUN, "--capacity", "många"])

    assert result.exit_code == 2
    assert "--capacity" in result.stderr
    assert snapshot(db) == before


def test_demo_meetings_are_six_weekday_evenings(db):
    from mailer.demo import add_demo_meetings

    with db.transaction() as session:
        added = add_demo_meetings(session, STOCKHOLM, dt.date(YEAR, 1, 1))
    with db.transaction() as session:
        meetings = list_meetings(session)
        again = add_demo_meetings(session, STOCKHOLM, dt.date(YEAR, 1, 1))

    assert added == ["eskilstuna", "goteborg", "gavle", "falun", "lulea", "ostersund"]
    assert again == []
    for m in meetings:
        local = m.starts_at.astimezone(STOCKHOLM)
        assert local.weekday() in (1, 2, 3) and local.time() == dt.time(18, 0)
        assert m.ends_at - m.starts_at == dt.timedelta(hours=2)
        assert m.rsvp_by < local.date()
    with db.transaction() as session:
        assert session.scalar(select(Meeting.id).where(Meeting.slug == "falun")) is not None


def test_update_changes_only_what_is_given_and_none_clears(db, settings, make_meeting):
    from mailer.meetings.models import Meeting
    from mailer.staff.meeting_changes import update_meeting

    meeting_id = make_meeting(slug="andras", capacity=30, rsvp_by=f"{YEAR}-05-01", venue="Kulturhuset").id
    with db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        length = meeting.ends_at - meeting.starts_at
        update_meeting(session, settings.timezone, meeting, starts=f"{YEAR}-05-20 17:00")
        assert (meeting.capacity, meeting.venue, meeting.ends_at - meeting.starts_at) == (30, "Kulturhuset", length)
        update_meeting(session, settings.timezone, meeting, capacity=None, rsvp_by=None)
        assert meeting.capacity is None and meeting.rsvp_by is None
        with pytest.raises(MeetingError) as missing:
            update_meeting(session, settings.timezone, meeting, title=None)
        assert missing.value.field == "title"
