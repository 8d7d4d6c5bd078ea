"""Meetings from the browser: the date and time pickers' values become the service's local times."""

from __future__ import annotations

from helpers import future_year, last_sunday
from sqlalchemy import select
from staff_helpers import post, text

from mailer.meetings.models import Meeting
from mailer.web.staff.meetings import suggest_slug

YEAR = future_year()  # a year still ahead: the tests keep their month and day, never go stale


FORM = {
    "title": "Dialogträff med Region Gävleborg",
    "slug": "",
    "region": "Gävleborg",
    "city": "Gävle",
    "host": "Region Gävleborg",
    "venue": "Kulturkvarteret, Slottstorget 2, Gävle",
    "date": f"{YEAR}-09-16",
    "start": "18:00",
    "end": "",
    "capacity": "40",
    "max_guests": "1",
    "rsvp_by": f"{YEAR}-09-09",
    "description": "Två timmar en vardagskväll.",
}


def stored(db, slug: str) -> Meeting | None:
    with db.transaction() as session:
        return session.scalar(select(Meeting).where(Meeting.slug == slug))


def test_a_slug_is_made_from_town_and_date():
    assert suggest_slug("Östersund", f"{YEAR}-09-16") == f"ostersund-{YEAR}-09-16"
    assert suggest_slug("Gävle / Sandviken", "") == "gavle-sandviken"


def test_create_a_meeting(db, settings, staff_client):
    reply = post(staff_client, "/staff/meetings/new", FORM, follow_redirects=True)
    assert "Träffen är sparad." in text(reply) and "Dialogträff med Region Gävleborg" in text(reply)
    meeting = stored(db, f"gavle-{YEAR}-09-16")
    local = meeting.starts_at.astimezone(settings.timezone)
    assert (local.strftime("%Y-%m-%d %H:%M"), meeting.ends_at.astimezone(settings.timezone).strftime("%H:%M")) == (
        f"{YEAR}-09-16 18:00",
        "20:00",
    )  # two hours by default, Stockholm time
    assert (meeting.capacity, meeting.max_guests, meeting.rsvp_by.isoformat()) == (40, 1, f"{YEAR}-09-09")


def test_the_form_names_the_field_to_fix_and_keeps_what_was_typed(db, staff_client):
    for changes, message in (
        ({"date": ""}, "Välj ett datum."),
        ({"end": "17:00"}, "Träffen måste sluta efter att den börjar."),
        ({"rsvp_by": f"{YEAR}-10-01"}, "Sista svarsdagen måste vara före träffen."),
        ({"capacity": "många"}, "Antal platser: skriv en siffra"),
        ({"city": " "}, "Skriv orten."),
        ({"date": str(last_sunday(YEAR, 3)), "start": "02:30"}, "Välj en starttid som finns"),
    ):
        reply = post(staff_client, "/staff/meetings/new", {**FORM, **changes})
        assert reply.status_code == 422 and message in text(reply), changes
        assert 'value="Kulturkvarteret, Slottstorget 2, Gävle"' in reply.get_data(as_text=True)
    post(staff_client, "/staff/meetings/new", FORM)
    taken = post(staff_client, "/staff/meetings/new", FORM)
    assert taken.status_code == 422 and "Kortnamnet är upptaget" in text(taken)


def test_edit_a_meeting(db, settings, staff_client):
    post(staff_client, "/staff/meetings/new", {**FORM, "slug": "gavle"})
    form = staff_client.get("/staff/meetings/gavle/edit").get_data(as_text=True)
    assert f'type="date" id="date" name="date" value="{YEAR}-09-16"' in form
    assert 'type="time" id="start" name="start" value="18:00"' in form
    reply = post(
        staff_client,
        "/staff/meetings/gavle/edit",
        {
            **FORM,
            "start": "17:30",
            "end": "19:00",
            "capacity": "60",
            "venue": "",
            "max_guests": "3",
            "rsvp_by": f"{YEAR}-09-12",
        },
    )
    assert reply.status_code == 303
    meeting = stored(db, "gavle")
    assert meeting.starts_at.astimezone(settings.timezone).strftime("%H:%M") == "17:30"
    assert (meeting.capacity, meeting.venue, meeting.max_guests) == (60, None, 3)
    assert meeting.rsvp_by.isoformat() == f"{YEAR}-09-12"
    cleared = post(staff_client, "/staff/meetings/gavle/edit", {**FORM, "capacity": "", "rsvp_by": ""})
    assert cleared.status_code == 303
    assert (stored(db, "gavle").capacity, stored(db, "gavle").rsvp_by) == (None, None)  # no limit, no deadline
    post(staff_client, "/staff/meetings/gavle/edit", {**FORM, "capacity": "60"})
    bad = post(staff_client, "/staff/meetings/gavle/edit", {**FORM, "end": "16:00"})
    assert bad.status_code == 422
    assert stored(db, "gavle").capacity == 60  # nothing of the bad form was saved
    assert staff_client.get("/staff/meetings/nope/edit").status_code == 404
    assert "Dialogträff med Region Gävleborg" in text(staff_client.get("/staff/meetings"))
