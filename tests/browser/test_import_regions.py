"""In a real browser: a list with a region nobody spells that way is held in the preview until staff
choose the region; the known variants are read silently; then the import goes through."""

from __future__ import annotations

from browser_helpers import PASSWORD, STAFF, body, field, submit
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from mailer.contacts.models import Contact, Membership, Organisation
from mailer.staff.accounts import add_staff


def test_an_unknown_region_is_resolved_in_the_preview(db, stack, driver, tmp_path):
    with db.transaction() as session:
        add_staff(session, STAFF, "Karin Kansli", PASSWORD)
        session.add(Organisation(slug="vasteras-korforbund", name="Västerås Körförbund"))
    lista = tmp_path / "korforbundet.csv"
    lista.write_text(
        "Mejladress;Förnamn;Efternamn;Län\n"
        "anna@kor.example.org;Anna;Andersson;Vastmanlnd\n"
        "bo@kor.example.org;Bo;Berg;Region Västmanland\n"
        "cia@kor.example.org;Cia;Carlsson;VGR\n"
        "dan@kor.example.org;Dan;Dahl;Vastmanlnd\n",
        encoding="utf-8",
    )

    driver.get(f"{stack.base}/staff/login")
    field(driver, "email").send_keys(STAFF)
    field(driver, "password").send_keys(PASSWORD)
    submit(driver, driver.find_element(By.CSS_SELECTOR, "main button[type=submit]"))
    driver.get(f"{stack.base}/staff/upload")
    Select(field(driver, "org")).select_by_visible_text("Västerås Körförbund")
    field(driver, "file").send_keys(str(lista))
    submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Granska filen']"))

    # Held: the unknown value, its lines, the closest region offered; no import button yet.
    blocking = field(driver, "blocking").text
    assert "Att rätta eller välja innan import (1)" in blocking
    assert "Rad 2" in blocking and "(2 rader)" in blocking and "Förslag: Västmanland." in blocking
    choice = Select(driver.find_element(By.CSS_SELECTOR, "select[name='region:Vastmanlnd']"))
    assert choice.first_selected_option.text == "Västmanland"
    assert not driver.find_elements(By.XPATH, "//button[normalize-space()='Importera listan']")
    with db.transaction() as session:
        assert session.scalar(select(Contact)) is None

    # Staff choose another region than the suggestion, check again, and import.
    choice.select_by_visible_text("Uppsala")
    submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Använd valen och granska igen']"))
    assert not driver.find_elements(By.ID, "blocking")
    assert "Om du importerar: 4 nya, 0 ändrade" in field(driver, "counts").text
    submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Importera listan']"))
    assert "Klart: 4 nya, 0 ändrade, 0 oförändrade, 0 borttagna från listan" in body(driver)

    with db.transaction() as session:
        regions = dict(session.execute(select(Contact.email, Membership.region).join(Membership)).all())
    assert regions == {
        "anna@kor.example.org": "Uppsala",
        "dan@kor.example.org": "Uppsala",
        "bo@kor.example.org": "Västmanland",
        "cia@kor.example.org": "Västra Götaland",
    }
