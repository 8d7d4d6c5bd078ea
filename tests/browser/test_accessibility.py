"""WCAG 2.1 AA in a real browser: a current axe-core (npm, `make axe`) on every staff page and the
recipients' pages, and answering an invitation by keyboard alone on a 320 px wide screen."""

from __future__ import annotations

from browser_helpers import PASSWORD, STAFF, axe_problems, axe_version, body, log_in, wait
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from sqlalchemy import select

from mailer.attendance.checkin import check_in
from mailer.campaigns import service
from mailer.campaigns.audience import Audience
from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact, SuppressionReason
from mailer.contacts.subscriptions import suppress
from mailer.mail.context import links
from mailer.staff.accounts import add_staff, find_staff
from mailer.staff.meeting_changes import edit_meeting
from mailer.staff.tokens import create_token
from mailer.webhooks import EVENTS
from mailer.webhooks.endpoints import register


def world(app, db, settings, stack, make_csv, make_meeting):
    with db.transaction() as session:
        add_staff(session, STAFF, "Karin Kansli", PASSWORD, role="admin")
        import_lists(
            session,
            [
                make_csv(
                    "fiktiva-korforbundet.csv",
                    "e-post;namn;roll\nanna.andersson@kor.example.org;Anna Andersson;ordförande\n"
                    "bo.berg@kor.example.org;Bo Berg;ledamot\ninte-en-adress;Cilla;\n",
                )
            ],
        )
        suppress(session, "bo.berg@kor.example.org", SuppressionReason.UNSUBSCRIBED)
    meeting = make_meeting(
        slug="ostersund",
        title="Dialogträff med Region Jämtland Härjedalen",
        city="Östersund",
        venue="Jamtli, Museiplan, Östersund",
        host="Region Jämtland Härjedalen",
    )
    with db.transaction() as session:
        campaign = service.create_campaign(
            session,
            settings,
            app.extensions["mailer.templates"],
            meeting_slug="ostersund",
            template="invitation",
            audience=Audience(all=True),
        )
        anna = session.scalar(select(Contact).where(Contact.email == "anna.andersson@kor.example.org"))
        check_in(session, session.merge(meeting), [anna.email])
        recipient = links(settings.with_overrides(base_url=stack.base), anna, meeting)
        register(session, "http://127.0.0.1:9/crm", EVENTS, allow_private=True, description="Medlemsregistret")
        edit_meeting(session, settings.timezone, "sv", "test", session.merge(meeting), venue="Jamtli")  # a delivery
    return anna, campaign, recipient


def test_every_page_has_no_serious_accessibility_problem(app, db, settings, stack, driver, make_csv, make_meeting):
    anna, campaign, recipient = world(app, db, settings, stack, make_csv, make_meeting)
    with db.transaction() as session:  # the token page with a token listed
        create_token(session, find_staff(session, STAFF), "read", "Webbplatsen", "test")
    assert int(axe_version().split(".")[0]) >= 4  # the npm registry's axe-core, not a 2018 copy
    log_in(driver, stack.base)
    pages = [
        "/staff/",
        "/staff/organisations",
        "/staff/organisations/fiktiva-korforbundet",
        "/staff/organisations/fiktiva-korforbundet/quality",
        f"/staff/contacts/{anna.id}",
        f"/staff/contacts/{anna.id}/erase",
        "/staff/upload",
        "/staff/meetings",
        "/staff/meetings/new",
        "/staff/meetings/ostersund/edit",
        "/staff/meetings/ostersund/responses",
        "/staff/meetings/ostersund/checkin",
        "/staff/campaigns",
        "/staff/campaigns/new",
        f"/staff/campaigns/{campaign.id}",
        "/staff/templates",
        "/staff/templates/sv/invitation.html",
        "/staff/reports/board?from=2000-01-01",
        "/staff/accounts",
        "/staff/password",
        "/staff/audit",
        "/staff/webhooks",
        "/staff/tokens",
    ]
    problems = {}
    for page in pages:
        driver.get(stack.base + page)
        found = axe_problems(driver)
        if found:
            problems[page] = found
    driver.delete_all_cookies()  # the recipients' pages, as a recipient; and the log-in page
    for page in (
        recipient["rsvp_url"],
        recipient["unsubscribe_url"],
        recipient["evaluation_url"],
        f"{stack.base}/staff/login",
    ):
        driver.get(page)
        found = axe_problems(driver)
        if found:
            problems[page] = found
    assert problems == {}


def test_answering_works_by_keyboard_alone_on_a_320_px_screen(app, db, settings, stack, driver, make_csv, make_meeting):
    _anna, _campaign, recipient = world(app, db, settings, stack, make_csv, make_meeting)
    driver.set_window_size(320, 800)
    driver.get(recipient["rsvp_url"])
    assert driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth;") <= 0
    keys = ActionChains(driver)

    def tab_to(css: str, limit: int = 40) -> None:
        for _ in range(limit):
            if driver.execute_script("return document.activeElement.matches(arguments[0]);", css):
                return
            keys.send_keys(Keys.TAB).perform()
        raise AssertionError(f"Tab never reached {css}")

    tab_to("input[name=answer][value=yes]")
    keys.send_keys(Keys.SPACE).perform()
    assert driver.execute_script("return document.querySelector('input[name=answer][value=yes]').checked;")
    tab_to("button[type=submit], input[type=submit]")
    keys.send_keys(Keys.ENTER).perform()
    wait(driver, lambda d: "Tack! Ditt svar är sparat." in body(d))
    assert driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth;") <= 0
    assert axe_problems(driver) == []
