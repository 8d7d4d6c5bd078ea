"""Signing up through the public form in a real browser, confirming from the mail in the file outbox
(issue 20 point 3): `mailer serve` and `mailer worker` as real processes."""

from __future__ import annotations

import email
import re
from email import policy

import pytest
from browser_helpers import body, field, submit, wait
from helpers import wait_until
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from mailer.contacts.consent import ConsentRecord
from mailer.contacts.models import Contact, Organisation
from mailer.rsvp.models import Answer, Response

ADDRESS = "maja.webb@example.org"
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/signup/confirm/[A-Za-z0-9_-]+)")


@pytest.fixture
def cli_env(cli_env):
    """The time check off: a browser driven by a program fills the form faster than any person
    (tests/test_signup.py tests the check itself)."""
    return {**cli_env, "MAILER_SIGNUP_MIN_SECONDS": "0"}


def confirmation_mail(outbox) -> str:
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["To"].addresses[0].addr_spec == ADDRESS:
            return message.get_body(("plain",)).get_content()
    return ""


def test_signing_up_on_the_public_form_and_confirming_from_the_mail(db, stack, driver, make_meeting):
    with db.transaction() as session:
        session.add(Organisation(slug="dansforbundet", name="Dansförbundet"))
    meeting = make_meeting(slug="lulea", title="Dialogträff med Region Norrbotten", city="Luleå", capacity=30)
    driver.get(f"{stack.base}/signup/{meeting.link_key}")
    assert "Dialogträff med Region Norrbotten" in body(driver)
    field(driver, "name").send_keys("Maja Webb")
    field(driver, "email").send_keys(ADDRESS)
    Select(field(driver, "organisation")).select_by_visible_text("Dansförbundet")
    field(driver, "consent").click()
    submit(driver, driver.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    assert "Kolla din e-post" in body(driver)

    text = wait_until(
        lambda: confirmation_mail(stack.instance / "outbox"),
        timeout=60,
        what="the confirmation mail in the file outbox",
    )
    link = LINK.search(text).group(1)
    driver.get(link)
    submit(driver, field(driver, "confirm"))
    wait(driver, lambda d: "Du är anmäld till Dialogträff med Region Norrbotten" in body(d))

    with db.reading() as session:
        contact = session.scalar(select(Contact).where(Contact.email == ADDRESS))
        assert contact is not None and contact.name == "Maja Webb"
        response = session.scalar(select(Response).where(Response.contact_id == contact.id))
        assert response.meeting_id == meeting.id and response.answer is Answer.YES
        consent = session.scalar(select(ConsentRecord).where(ConsentRecord.contact_id == contact.id))
        assert consent.purpose == "meeting:lulea" and consent.confirmed_at is not None
