"""Every staff page, and the recipients' pages, on a phone-sized screen in a real browser: nothing
wider than the screen, and every form field with a label a screen reader can announce."""

from __future__ import annotations

from browser_helpers import PASSWORD, STAFF, log_in
from sqlalchemy import select

from mailer.campaigns import service
from mailer.campaigns.audience import Audience
from mailer.contacts.importer import import_lists
from mailer.contacts.models import Contact
from mailer.mail.context import links
from mailer.staff.accounts import add_staff

# Fields a screen reader would announce without a name: inputs other than hidden ones and
# buttons, selects and text areas that have no <label for>, no wrapping <label>, no aria-label.
UNLABELLED = """
return Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(e => !['hidden', 'submit', 'button'].includes(e.type))
  .filter(e => !(e.id && document.querySelector('label[for="' + CSS.escape(e.id) + '"]'))
               && !e.closest('label') && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
  .map(e => e.outerHTML.slice(0, 120));
"""
OVERFLOW = "return document.documentElement.scrollWidth - window.innerWidth;"


def test_every_page_fits_a_phone_and_labels_every_field(app, db, settings, stack, driver, make_csv, make_meeting):
    with db.transaction() as session:
        add_staff(session, STAFF, "Karin Kansli", PASSWORD)
        import_lists(
            session,
            [
                make_csv(
                    "fiktiva-korforbundet.csv",
                    "e-post;namn;roll\nanna.andersson@kor.example.org;Anna Andersson;ordförande\n"
                    "bo.berg@kor.example.org;Bo Berg;ledamot\n",
                )
            ],
        )
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
        recipient = links(settings.with_overrides(base_url=stack.base), anna, meeting)
    log_in(driver, stack.base)
    driver.set_window_size(390, 844)
    pages = [
        "/staff/",
        "/staff/organisations",
        "/staff/organisations/fiktiva-korforbundet",
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
    ]
    problems = {}
    for page in pages:
        driver.get(stack.base + page)
        overflow, unlabelled = driver.execute_script(OVERFLOW), driver.execute_script(UNLABELLED)
        if overflow > 0 or unlabelled:
            problems[page] = {"wider than the screen by": overflow, "fields without a label": unlabelled}
    driver.delete_all_cookies()  # the recipients' pages, as a recipient
    for page in (recipient["rsvp_url"], recipient["unsubscribe_url"]):
        driver.get(page)
        overflow, unlabelled = driver.execute_script(OVERFLOW), driver.execute_script(UNLABELLED)
        if overflow > 0 or unlabelled:
            problems[page] = {"wider than the screen by": overflow, "fields without a label": unlabelled}
    assert problems == {}
