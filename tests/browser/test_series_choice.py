"""An invitee answers a series invitation on a phone: opens the link, sees each session with
its date, place and places left, chooses one, and later changes the choice."""

from __future__ import annotations

from browser_helpers import body, submit, wait
from helpers import future_year
from selenium.webdriver.common.by import By
from sqlalchemy import select

from mailer.contacts.models import Contact
from mailer.i18n import format_when
from mailer.mail.context import links
from mailer.meetings.models import Meeting
from mailer.rsvp.models import Response
from mailer.staff import series_actions

UNLABELLED = """
return Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(e => !['hidden', 'submit', 'button'].includes(e.type))
  .filter(e => !(e.id && document.querySelector('label[for="' + CSS.escape(e.id) + '"]')) && !e.closest('label'))
  .map(e => e.outerHTML.slice(0, 120));
"""


def test_an_invitee_chooses_a_session_of_a_series_and_changes_it(app, db, settings, stack, driver, make_meeting):
    year = future_year()
    gavle = make_meeting(
        slug="gavle",
        title="Kulturpolitik i Gävleborg",
        city="Gävle",
        venue="Stadsbiblioteket",
        starts=f"{year}-09-14 18:00",
        capacity=1,
    )
    make_meeting(
        slug="umea", title="Kulturpolitik i Västerbotten", city="Umeå", starts=f"{year}-09-21 18:00", capacity=25
    )
    with db.transaction() as session:
        series = series_actions.create(session, "test", slug="utbildning", title="Utbildning kulturpolitik")
        for slug in ("gavle", "umea"):
            series_actions.add(session, "test", "utbildning", slug)
        anna = Contact(email="anna@example.org", name="Anna Andersson")
        session.add(anna)
        session.flush()
        url = links(settings.with_overrides(base_url=stack.base), anna, None, series)["series_url"]
        anna_id = anna.id

    driver.set_window_size(390, 844)
    driver.get(url)
    text = body(driver)
    assert "Utbildning kulturpolitik" in text and "Stadsbiblioteket, Gävle" in text
    when = format_when(gavle.starts_at, gavle.ends_at, settings.timezone)
    assert when.endswith("14 september " + str(year) + " kl. 18.00–20.00") and when in text  # "tisdag 14 sep..."
    assert "1 plats kvar" in text and "25 platser kvar" in text
    assert driver.execute_script(UNLABELLED) == []
    assert driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth;") <= 0

    driver.find_element(By.CSS_SELECTOR, "label[for=session-umea]").click()  # the whole label is the target
    submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Spara mitt val']"))
    wait(driver, lambda d: "Ditt val är sparat" in body(d))
    assert driver.find_element(By.ID, "session-umea").is_selected()
    assert "Du har en plats." in body(driver)

    driver.find_element(By.CSS_SELECTOR, "label[for=session-gavle]").click()
    submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Spara mitt val']"))
    wait(driver, lambda d: "Ditt val är sparat" in body(d))
    with db.transaction() as session:
        answers = dict(
            session.execute(
                select(Meeting.slug, Response.answer).join(Meeting).where(Response.contact_id == anna_id)
            ).all()
        )
    assert {slug: answer.value for slug, answer in answers.items()} == {"gavle": "yes", "umea": "no"}
