"""Each role's day in a real browser, against `mailer serve` and `mailer worker`:
the admin invites a colleague by mail and changes a role; the new colleague (staff) sets a
password from the mailed link and downloads an organisation's quality report and the board
report; a viewer sees the dashboard and is refused a change; the admin reads it all in the log.
Saves the README's screenshots of these pages when STAFF_SCREENSHOTS_DIR is set.
"""

from __future__ import annotations

import datetime as dt
import re
from email import message_from_bytes
from email.policy import default

from browser_helpers import PASSWORD, STAFF, axe_problems, body, downloaded, field, submit
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from mailer.attendance.checkin import check_in
from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact, SuppressionReason
from mailer.contacts.subscriptions import suppress
from mailer.staff.accounts import add_staff, find_staff

COLLEAGUE = "sara.svensson@ax.example.org"
VIEWER = "ville.styrelse@ax.example.org"
COLLEAGUE_PASSWORD = "Saras eget långa lösenord"


def log_in_as(driver, base: str, email: str, password: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{base}/staff/login")
    field(driver, "email").send_keys(email)
    field(driver, "password").send_keys(password)
    submit(driver, driver.find_element(By.CSS_SELECTOR, "main button[type=submit]"))
    assert driver.current_url == f"{base}/staff/", body(driver)


def mailed_link(stack, to: str) -> str:
    for path in sorted((stack.instance / "outbox").glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
        message = message_from_bytes(path.read_bytes(), policy=default)
        if message["To"] == to:
            return re.search(r"https?://\S+/staff/set-password/\S+", message.get_content()).group(0)
    raise AssertionError(f"no mail to {to}")


def test_each_role_does_its_day(app, db, settings, stack, driver, screenshot, make_csv, make_meeting):
    today = dt.datetime.now(settings.timezone).date()
    with db.transaction() as session:
        add_staff(session, STAFF, "Karin Kansli", PASSWORD, role="admin")
        add_staff(session, VIEWER, "Ville i styrelsen", PASSWORD, role="staff")
        import_lists(
            session,
            [
                make_csv(
                    "fiktiva-korforbundet.csv",
                    "e-post;namn\nanna.andersson@kor.example.org;Anna Andersson\n"
                    "bo.berg@kor.example.org;Bo Berg\nbo.berg(at)kor.example.org;Bo igen\n",
                )
            ],
        )
        suppress(session, "bo.berg@kor.example.org", SuppressionReason.UNSUBSCRIBED)
    held = make_meeting(
        slug="gavle",
        title="Dialogträff med Region Gävleborg",
        city="Gävle",
        region="Gävleborg",
        starts=f"{(today - dt.timedelta(days=2)).isoformat()} 18:00",
    )
    with db.transaction() as session:
        anna = session.scalar(select(Contact).where(Contact.email == "anna.andersson@kor.example.org"))
        check_in(session, session.merge(held), [anna.email])

    # The admin invites a colleague as staff, and makes Ville a viewer.
    log_in_as(driver, stack.base, STAFF, PASSWORD)
    driver.find_element(By.LINK_TEXT, "Konton").click()
    field(driver, "invite-email").send_keys(COLLEAGUE)
    field(driver, "invite-name").send_keys("Sara Svensson")
    driver.find_element(By.CSS_SELECTOR, "input[name=role][value=staff]").click()
    submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Skicka inbjudan']"))
    assert f"Inbjudan är skickad till {COLLEAGUE}." in body(driver)
    with db.transaction() as session:
        ville = find_staff(session, VIEWER).id
    Select(field(driver, f"role-{ville}")).select_by_value("viewer")
    submit(driver, driver.find_element(By.XPATH, f"//form[.//select[@id='role-{ville}']]//button"))
    assert f"{VIEWER} har nu rollen läsare." in body(driver)
    screenshot("staff-accounts")
    driver.get(f"{stack.base}/staff/organisations/fiktiva-korforbundet")
    screenshot("staff-organisation-edit")

    # Sara sets her password from the mailed link, then downloads the quality report and the board report.
    link = mailed_link(stack, COLLEAGUE)
    driver.delete_all_cookies()
    driver.get(link)
    field(driver, "password").send_keys(COLLEAGUE_PASSWORD)
    field(driver, "repeat").send_keys(COLLEAGUE_PASSWORD)
    submit(driver, driver.find_element(By.CSS_SELECTOR, "main button[type=submit]"))
    assert "Lösenordet är sparat" in body(driver) and "(handläggare)" in body(driver)
    assert "Konton" not in driver.find_element(By.TAG_NAME, "nav").text
    driver.find_element(By.LINK_TEXT, "Organisationer").click()
    driver.find_element(By.PARTIAL_LINK_TEXT, "Fiktiva").click()
    driver.find_element(By.LINK_TEXT, "Kvalitetsrapport").click()
    assert "Avslutade utskick (1)" in body(driver) and "Rader som inte kunde importeras (1)" in body(driver)
    screenshot("staff-quality-report")
    driver.find_element(By.LINK_TEXT, "Ladda ner (CSV)").click()
    quality = downloaded(driver, "fiktiva-korforbundet-adresser-att-ratta")
    lines = quality.read_bytes().decode("utf-8-sig").splitlines()
    assert lines[0] == "Problem;E-post;Sedan;Detaljer" and any("bo.berg@kor.example.org" in line for line in lines)

    driver.find_element(By.LINK_TEXT, "Rapporter").click()
    field(driver, "from").clear()
    driver.execute_script(
        "arguments[0].value = arguments[1];", field(driver, "from"), (today - dt.timedelta(days=30)).isoformat()
    )
    submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Visa rapporten']"))
    assert "Styrelserapport" in body(driver) and "Gävle" in body(driver)
    assert "Medlemsorganisationer representerade: 1 av 1" in body(driver)
    assert driver.find_elements(By.CSS_SELECTOR, ".board-report .bar")
    screenshot("staff-board-report")
    driver.find_element(By.LINK_TEXT, "Ladda ner (CSV)").click()
    board = downloaded(driver, "styrelserapport")
    rows = board.read_bytes().decode("utf-8-sig").splitlines()
    assert rows[0].startswith("Träff;Region;Datum") and any(row.startswith("Gävle") for row in rows)

    # Ville, now a viewer, sees the dashboard and is refused when he tries to change a contact.
    log_in_as(driver, stack.base, VIEWER, PASSWORD)
    assert "Översikt" in body(driver) and "(läsare)" in body(driver)
    driver.get(f"{stack.base}/staff/contacts/{anna.id}")
    name = field(driver, "name")
    name.clear()
    name.send_keys("Någon annan")
    submit(driver, driver.find_element(By.XPATH, "//main//button[normalize-space()='Spara']"))
    assert "Det får du inte göra" in body(driver) and "Ingenting har ändrats" in body(driver)
    assert axe_problems(driver) == []
    screenshot("staff-forbidden")
    with db.transaction() as session:
        assert session.get(Contact, anna.id).name == "Anna Andersson"

    # The admin reads the day in the log: the invitation, the role, the log-ins and the downloads.
    log_in_as(driver, stack.base, STAFF, PASSWORD)
    driver.find_element(By.LINK_TEXT, "Logg").click()
    log = body(driver)
    for words in (
        "bjöd in",
        "bytte roll",
        "valde lösenord",
        "laddade ner kvalitetsrapport",
        "laddade ner styrelserapport",
        "loggade in",
    ):
        assert words in log, words
    Select(field(driver, "who")).select_by_value(VIEWER)
    submit(driver, driver.find_element(By.XPATH, "//main//button[normalize-space()='Visa']"))
    assert "loggade in" in body(driver) and "bjöd in" not in body(driver).split("händelser", 1)[1]
    screenshot("staff-audit-log")
