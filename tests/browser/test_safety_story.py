"""Safe by default, in a real browser against `mailer serve` and `mailer worker` (issue 15): a test
mail to yourself whose links open the real pages but save nothing; a meeting moved to a new time,
with the update mail (same calendar UID, higher SEQUENCE) sent by the worker; and the meeting
called off, with its cancellation (METHOD:CANCEL).
"""

from __future__ import annotations

import datetime as dt
import re
from email import message_from_bytes
from email.policy import default

from browser_helpers import PASSWORD, STAFF, body, field, set_value, submit, wait
from icalendar import Calendar
from rsvp_fixtures import Browser, csrf_of, links_for
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from sqlalchemy import func, select

from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact
from mailer.meetings.models import Meeting
from mailer.rsvp.models import Response
from mailer.staff.accounts import add_staff


def mails(stack) -> dict[str, list]:
    """The outbox folder's messages by subject prefix (before the colon)."""
    found: dict[str, list] = {}
    for path in sorted((stack.instance / "outbox").glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=default)
        found.setdefault(str(message["Subject"]).split(":")[0], []).append(message)
    return found


def event_of(message):
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    calendar = Calendar.from_ical(part.get_content())
    return calendar, next(iter(calendar.walk("VEVENT")))


def test_a_test_send_a_time_change_and_a_cancellation(app, db, settings, runner, stack, driver, make_csv, make_meeting):
    day = dt.datetime.now(settings.timezone).date() + dt.timedelta(days=20)
    with db.transaction() as session:
        add_staff(session, STAFF, "Karin Kansli", PASSWORD)
        import_lists(
            session,
            [
                make_csv(
                    "korforbundet.csv", "email,name\nanna@kor.example.org,Anna Andersson\nbo@kor.example.org,Bo Berg\n"
                )
            ],
        )
    meeting = make_meeting(
        slug="falun",
        title="Dialogträff i Falun",
        city="Falun",
        venue="Dalarnas museum",
        starts=f"{day} 18:00",
        capacity=20,
    )
    with db.transaction() as session:
        anna = session.scalar(select(Contact.id).where(Contact.email == "anna@kor.example.org"))
    result = runner.invoke(
        ["campaigns", "create", "--meeting", "falun", "--template", "invitation", "--org", "korforbundet"]
    )
    assert result.exit_code == 0, result.output
    campaign_id = int(result.stdout)

    driver.get(f"{stack.base}/staff/login")
    field(driver, "email").send_keys(STAFF)
    field(driver, "password").send_keys(PASSWORD + Keys.ENTER)
    wait(driver, lambda d: d.current_url == f"{stack.base}/staff/")

    # A test to yourself: written for "Testa Testsson"; its links open the real pages and save nothing.
    driver.get(f"{stack.base}/staff/campaigns/{campaign_id}")
    assert "Testa Testsson" in body(driver)
    submit(driver, field(driver, "send-test"))
    assert f"Testmejlet är skickat till {STAFF}" in body(driver)
    [test_mail] = mails(stack)["[TEST] Inbjudan"]
    assert [a.addr_spec for a in test_mail["To"].addresses] == [STAFF]
    text = test_mail.get_body(("plain",)).get_content()
    assert "Hej Testa!" in text and "Anna" not in text
    yes_link = re.search(re.escape(stack.base) + r"(/r/\S+\?answer=yes)", text).group(1)
    driver.get(stack.base + yes_link)
    assert "Testlänk – inget sparas" in body(driver)
    submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Skicka svar']"))
    assert "Det här var en testlänk, så inget sparades." in body(driver)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Response)) == 0

    # Anna says yes on her own page, and gets her confirmation with the calendar entry.
    visitor = Browser(stack.base)
    path = links_for(app, anna, meeting.id)["rsvp_url"]
    status, _, page = visitor.get(path)
    assert status == 200
    status, _, _ = visitor.post(path, {"csrf_token": csrf_of(page.decode()), "answer": "yes", "guests": "0"})
    assert status == 200
    wait(driver, lambda d: "Du är anmäld" in mails(stack), timeout=60)
    _, booked = event_of(mails(stack)["Du är anmäld"][0])

    # The meeting moves an hour: the form asks whether to tell Anna, and does by default.
    driver.get(f"{stack.base}/staff/meetings/falun/edit")
    assert "Mejla de 1 som anmält sig eller står på väntelistan" in body(driver)
    set_value(driver, field(driver, "start"), "19:00")
    set_value(driver, field(driver, "end"), "21:00")
    submit(driver, driver.find_element(By.XPATH, "//main//button[normalize-space()='Spara']"))
    assert "1 mejl om ändringen skickas" in body(driver)
    wait(driver, lambda d: "Ändrad träff" in mails(stack), timeout=60)  # the worker sent it
    [update] = mails(stack)["Ändrad träff"]
    assert update["To"].addresses[0].addr_spec == "anna@kor.example.org"
    assert "Ny tid:" in update.get_body(("plain",)).get_content()
    calendar, event = event_of(update)
    assert str(calendar["METHOD"]) == "PUBLISH" and str(event["UID"]) == str(booked["UID"])
    assert int(event["SEQUENCE"]) == int(booked.get("SEQUENCE", 0)) + 1
    assert event.decoded("DTSTART").astimezone(settings.timezone).strftime("%H:%M") == "19:00"

    # Called off: one confirmation in the browser, a cancellation that removes the calendar entry.
    driver.get(f"{stack.base}/staff/meetings/falun/edit")
    field(driver, "cancel-meeting").click()
    wait(driver, EC.alert_is_present()).accept()
    wait(driver, lambda d: "Träffen är inställd." in body(d))
    assert "Inställd" in body(driver)
    wait(driver, lambda d: "Inställd" in mails(stack), timeout=60)
    [cancellation] = mails(stack)["Inställd"]
    calendar, event = event_of(cancellation)
    assert str(calendar["METHOD"]) == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == str(booked["UID"]) and int(event["SEQUENCE"]) == int(booked.get("SEQUENCE", 0)) + 2
    driver.get(stack.base + path)
    assert "Träffen är inställd." in body(driver)
    with db.transaction() as session:
        assert session.get(Meeting, meeting.id).cancelled_at is not None
