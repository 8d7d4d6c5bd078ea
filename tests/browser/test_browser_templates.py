"""Template editing in a real browser: the preview follows the typing, an error names its file and
line and blocks saving; and the pages switch to English and back."""

from __future__ import annotations

from browser_helpers import PASSWORD, STAFF, body, field, log_in, set_value, submit, wait
from selenium.webdriver.common.by import By

from mailer.staff.accounts import add_staff


def test_editing_a_template_with_a_live_preview(db, stack, driver):
    with db.transaction() as session:
        add_staff(session, STAFF, "Karin Kansli", PASSWORD)
    log_in(driver, stack.base)
    driver.find_element(By.LINK_TEXT, "Mallar").click()
    driver.find_element(By.LINK_TEXT, "sv/invitation.txt").click()
    path = stack.templates / "sv" / "invitation.txt"
    original = path.read_text(encoding="utf-8")
    area = field(driver, "text")
    assert "Hej Anna!" in field(driver, "preview-text").text

    # A typo: the preview says where, and saving is refused.
    broken = original.replace("Hej {{ contact.first_name }}!", "Hej {{ contact.förnamn }}!", 1)
    set_value(driver, area, broken)
    problem = field(driver, "preview-problem")
    wait(driver, lambda d: problem.is_displayed() and "sv/invitation.txt:" in problem.text)
    submit(driver, field(driver, "save"))
    assert "Mallen har ett fel och kan inte sparas" in body(driver) and "sv/invitation.txt:" in body(driver)
    assert path.read_text(encoding="utf-8") == original

    # Fixed while typing: the preview follows, and now it saves.
    set_value(
        driver,
        field(driver, "text"),
        original.replace("Hej {{ contact.first_name }}!", "Hej {{ contact.first_name }}", 1),
    )
    wait(driver, lambda d: not d.find_element(By.ID, "preview-problem").is_displayed())
    wait(driver, lambda d: "Hej Anna\n" in field(d, "preview-text").text)
    submit(driver, field(driver, "save"))
    assert "sv/invitation.txt är sparad." in body(driver)
    assert "Hej {{ contact.first_name }}{% else %}" in path.read_text(encoding="utf-8")

    # In English, and back.
    submit(driver, driver.find_element(By.XPATH, "//footer//button[@value='en']"))
    assert "Email templates" in body(driver) or "Edit sv/invitation.txt" in body(driver)
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    driver.find_element(By.LINK_TEXT, "Overview").click()
    assert "Coming meetings" in body(driver)
    submit(driver, driver.find_element(By.XPATH, "//footer//button[@value='sv']"))
    assert "Kommande träffar" in body(driver)
