"""The whole staff story in a real browser, against `mailer serve` and `mailer worker`:
a set-password link, log in, upload a member organisation's list (see the row with an
error, confirm), create a meeting, compose an invitation with a live count, preview it,
send a test to yourself, schedule it, send it now, watch it reach its final counts, see
answers arrive, check someone in on a phone, and download the attendee list.
"""

from __future__ import annotations

import datetime as dt
import re
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from browser_helpers import PASSWORD, STAFF, body, field, set_value, submit, wait
from rsvp_fixtures import Browser, csrf_of, links_for
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact, Membership, Organisation, SuppressionReason
from mailer.contacts.subscriptions import suppress
from mailer.demo import add_demo_meetings
from mailer.meetings.models import Meeting

ROOT = Path(__file__).resolve().parents[2]
UPLOADED = "fiktiva-korforbundet"


def load_the_other_lists(db, settings) -> None:
    """21 member organisations' lists and the six demo meetings are there; one list is not."""
    files = [p for p in sorted((ROOT / "contacts").glob("*.csv")) if p.stem != UPLOADED]
    with db.transaction() as session:
        import_lists(session, files)
        add_demo_meetings(session, settings.timezone, dt.date.today())
        session.add(Organisation(slug=UPLOADED, name="Fiktiva Körförbundet"))
        bounced = session.scalar(select(Contact.email).order_by(Contact.id).limit(1))
        suppress(session, bounced, SuppressionReason.BOUNCED, detail="550 5.1.1 mailbox unavailable")


def answer_over_http(app, base: str, contact_id: int, meeting_id: int, answer: str, **more: str) -> None:
    visitor = Browser(base)
    path = links_for(app, contact_id, meeting_id)["rsvp_url"]
    status, _, page = visitor.get(path)
    assert status == 200
    form = {"csrf_token": csrf_of(page.decode()), "answer": answer, "guests": "0", **more}
    status, _, _ = visitor.post(path, form)
    assert status == 200


def outbox_mails(stack) -> list:
    """The messages in the file outbox (names come from random Message-IDs: read the subjects)."""
    return [message_from_bytes(path.read_bytes(), policy=default) for path in (stack.instance / "outbox").glob("*.eml")]


def test_the_whole_staff_story(app, db, settings, runner, stack, driver, screenshot):
    load_the_other_lists(db, settings)
    result = runner.invoke(["staff", "add", STAFF, "--name", "Karin Kansli", "--link"])
    assert result.exit_code == 0, result.output
    token = re.search(r"/staff/set-password/(\S+)", result.output).group(1)

    # A new colleague chooses a password through the one-time link, and is logged in.
    driver.get(f"{stack.base}/staff/set-password/{token}")
    field(driver, "password").send_keys(PASSWORD)
    field(driver, "repeat").send_keys(PASSWORD)
    submit(driver, driver.find_element(By.CSS_SELECTOR, "main button[type=submit]"))
    assert "Lösenordet är sparat" in body(driver)
    driver.get(f"{stack.base}/staff/set-password/{token}")
    assert "Länken fungerar inte" in body(driver)  # one use only

    # Log out; every staff page now asks for a log-in, which leads back to the page.
    driver.get(f"{stack.base}/staff/")
    submit(driver, driver.find_element(By.XPATH, "//footer//button[normalize-space()='Logga ut']"))
    driver.get(f"{stack.base}/staff/organisations")
    assert driver.current_url.startswith(f"{stack.base}/staff/login")
    field(driver, "email").send_keys(STAFF)
    field(driver, "password").send_keys(PASSWORD)
    submit(driver, driver.find_element(By.CSS_SELECTOR, "main button[type=submit]"))
    assert driver.current_url == f"{stack.base}/staff/organisations"

    # Upload the missing organisation's list: the row with a bad address is shown first.
    driver.find_element(By.LINK_TEXT, "Ladda upp en lista").click()
    Select(field(driver, "org")).select_by_visible_text("Fiktiva Körförbundet")
    field(driver, "file").send_keys(str(ROOT / "contacts" / f"{UPLOADED}.csv"))
    submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Granska filen']"))
    rejected = field(driver, "rejected").text
    assert "44" in rejected and "lars.blom.korforbundet.example.org" in rejected
    assert "Ingenting är sparat ännu" in body(driver)
    with db.transaction() as session:
        assert session.scalar(select(Membership).join(Organisation).where(Organisation.slug == UPLOADED)) is None
    submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Importera listan']"))
    assert re.search(
        r"Klart: \d+ nya, 0 ändrade, \d+ oförändrade, 0 borttagna från listan, 1 rader med fel hoppades över",
        body(driver),
    )
    with db.transaction() as session:
        people = session.execute(
            select(Contact.id, Contact.email)
            .join(Membership)
            .join(Organisation)
            .where(Organisation.slug == UPLOADED)
            .order_by(Contact.email)
        ).all()
    members = len(people)
    assert members > 50

    # Create a meeting with the date and time pickers.
    day = dt.date.today() + dt.timedelta(days=12)
    driver.get(f"{stack.base}/staff/meetings/new")
    for name, value in (
        ("title", "Dialogträff med Region Örebro län"),
        ("region", "Örebro"),
        ("city", "Örebro"),
        ("host", "Region Örebro län"),
        ("venue", "Kulturhuset, Olaigatan 17, Örebro"),
        ("capacity", "40"),
    ):
        field(driver, name).send_keys(value)
    set_value(driver, field(driver, "date"), day.isoformat())
    set_value(driver, field(driver, "start"), "17:30")
    set_value(driver, field(driver, "end"), "19:30")
    set_value(driver, field(driver, "rsvp_by"), (day - dt.timedelta(days=5)).isoformat())
    submit(driver, driver.find_element(By.XPATH, "//main//button[normalize-space()='Spara']"))
    assert "Träffen är sparad" in body(driver)
    slug = f"orebro-{day.isoformat()}"
    with db.transaction() as session:
        meeting = session.scalar(select(Meeting).where(Meeting.slug == slug))
        assert meeting.starts_at.astimezone(settings.timezone).strftime("%H:%M") == "17:30"
        meeting_id = meeting.id

    # Compose the invitation; the count follows the ticked boxes.
    driver.get(f"{stack.base}/staff/campaigns/new")
    Select(field(driver, "meeting")).select_by_value(slug)
    driver.find_element(By.CSS_SELECTOR, f"input[name=org][value={UPLOADED}]").click()
    wait(driver, lambda d: field(d, "recipient-count").text == f"{members} mottagare")
    driver.find_element(By.CSS_SELECTOR, "input[name=org][value=fiktiva-spelmansforbundet]").click()
    wait(driver, lambda d: field(d, "recipient-count").text not in (f"{members} mottagare", ""))
    driver.find_element(By.CSS_SELECTOR, "input[name=org][value=fiktiva-spelmansforbundet]").click()
    wait(driver, lambda d: field(d, "recipient-count").text == f"{members} mottagare")
    submit(driver, driver.find_element(By.XPATH, "//button[@value='create']"))
    campaign_url = driver.current_url
    assert "Inbjudan: Dialogträff med Region Örebro län" in field(driver, "preview-subject").text
    assert "Hej " in field(driver, "preview-text").text
    html = field(driver, "preview-html").get_attribute("srcdoc")
    assert "Dialogträff med Region Örebro län" in html and "Ja, jag kommer" in html
    screenshot("staff-campaign-preview")

    # Preview it as another recipient.
    other = people[5].email
    field(driver, "contact").send_keys(other)
    submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Visa']"))
    assert other in field(driver, "preview-to").text

    # A test to yourself lands in the outbox folder, marked [TEST].
    submit(driver, field(driver, "send-test"))
    assert f"Testmejlet är skickat till {STAFF}" in body(driver)
    [mail] = [m for m in outbox_mails(stack) if m["Subject"].startswith("[TEST]")]
    assert mail["Subject"].startswith("[TEST] Inbjudan: Dialogträff med Region Örebro län")
    assert mail["To"].addresses[0].addr_spec == STAFF

    # Schedule it for tomorrow morning, then change our mind and send it now.
    set_value(driver, field(driver, "date"), (dt.date.today() + dt.timedelta(days=1)).isoformat())
    set_value(driver, field(driver, "time"), "08:00")
    submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Schemalägg utskicket']"))
    assert "schemalagt" in field(driver, "state").text and "08:00" in body(driver)
    field(driver, "send-now").click()
    wait(driver, EC.alert_is_present()).accept()
    wait(driver, lambda d: field(d, "state").text in ("skickas", "klart"))
    wait(driver, lambda d: field(d, "state").text == "klart", timeout=90)  # the page follows the worker
    assert field(driver, "count-sent").text == str(members) and field(driver, "count-failed").text == "0"
    assert len([m for m in outbox_mails(stack) if not m["Subject"].startswith("[TEST]")]) == members

    # Answers arrive: one in this browser on the recipient's own page, others over HTTP.
    anna_id, anna = people[0]
    driver.get(stack.base + links_for(app, anna_id, meeting_id)["rsvp_yes_url"])
    submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Skicka svar']"))
    assert "Tack! Ditt svar är sparat." in body(driver)
    extras = [
        {"diet": "Vegetarisk"},
        {"accessibility": "Hörslinga"},
        {"guests": "1"},
        {"comment": "Vi kommer två från kören i Örebro."},
        {},
        {"diet": "Glutenfri"},
        {},
    ]
    for (contact_id, _), extra in zip(people[1:8], extras, strict=True):
        answer_over_http(app, stack.base, contact_id, meeting_id, "yes", **extra)
    for contact_id, _ in people[8:11]:
        answer_over_http(app, stack.base, contact_id, meeting_id, "no")

    driver.get(f"{stack.base}/staff/meetings/{slug}/responses")
    assert field(driver, "figure-yes").text == "8" and field(driver, "figure-no").text == "3"
    assert field(driver, "figure-guests").text == "1"
    assert field(driver, "figure-no_answer").text == str(members - 11)
    Select(field(driver, "answer")).select_by_value("no")
    submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Visa']"))
    rows = driver.find_elements(By.CSS_SELECTOR, "#responses tbody tr")
    assert len(rows) == 3 and all("Nej" in row.text for row in rows)

    # Check-in on the day, on a phone.
    driver.set_window_size(390, 844)
    driver.get(f"{stack.base}/staff/meetings/{slug}/checkin")
    row = field(driver, f"row-{anna_id}")
    button = row.find_element(By.TAG_NAME, "button")
    assert button.is_displayed() and button.size["height"] >= 44
    submit(driver, button)
    assert "har kommit" in body(driver) and f"{anna} är incheckad" in body(driver)
    driver.set_window_size(1280, 900)

    # Download the attendee list.
    driver.get(f"{stack.base}/staff/meetings/{slug}/responses")
    assert field(driver, "figure-checked_in").text == "1"
    screenshot("staff-responses", max_height=1500)
    field(driver, "export-csv").click()
    target = driver.downloads / f"{slug}.csv"
    # Chromium writes to a .crdownload file and renames it when done: the name appears complete.
    wait(driver, lambda d: target.exists() and target.stat().st_size > 0)
    lines = target.read_bytes().decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Namn;Organisationer;E-post;Svar")
    assert len(lines) == 1 + 11 and any(anna in line and ";ja;" in line for line in lines)

    # A reminder to those who have not answered, scheduled for the day before the deadline.
    driver.get(f"{stack.base}/staff/campaigns/new")
    Select(field(driver, "meeting")).select_by_value(slug)
    Select(field(driver, "template")).select_by_value("reminder")
    driver.find_element(By.CSS_SELECTOR, f"input[name=org][value={UPLOADED}]").click()
    driver.find_element(By.CSS_SELECTOR, "input[name=only][value=unanswered]").click()
    wait(driver, lambda d: field(d, "recipient-count").text == f"{members - 11} mottagare")
    submit(driver, driver.find_element(By.XPATH, "//button[@value='create']"))
    set_value(driver, field(driver, "date"), (day - dt.timedelta(days=6)).isoformat())
    set_value(driver, field(driver, "time"), "09:00")
    submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Schemalägg utskicket']"))
    assert "schemalagt" in field(driver, "state").text

    # The overview shows the round: the meeting's bar, what is scheduled, who is still missing.
    driver.get(f"{stack.base}/staff/")
    assert "Påminnelse: Dialogträff med Region Örebro län" in body(driver)
    assert "Dialogträff med Region Örebro län" in body(driver) and "Ännu inte representerade" in body(driver)
    screenshot("staff-dashboard")
    driver.get(campaign_url)
    assert field(driver, "state").text == "klart"
