"""Small helpers for the browser tests: waiting, reading the page, filling pickers, submitting."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import WebDriverWait

STAFF = "karin@ax.example.org"
PASSWORD = "en lång mening som lösenord"


def wait(driver, condition, timeout: float = 20):
    """Until `condition(driver)` is true; a page being replaced meanwhile (scripts reload it) is retried."""
    return WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=(WebDriverException,)).until(condition)


def body(driver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def field(driver, element_id: str):
    return driver.find_element(By.ID, element_id)


def set_value(driver, element, value: str) -> None:
    """What choosing in the browser's own date or time picker leaves in the field."""
    driver.execute_script("arguments[0].value = arguments[1];"
                          "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
                          "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));", element, value)


def _left(element):
    """True once the element's page has been replaced (stale, or caught mid-navigation)."""

    def check(_driver) -> bool:
        try:
            element.is_enabled()
        except WebDriverException:
            return True
        return False

    return check


def submit(driver, button) -> None:
    """Click and wait until the next page has replaced this one and finished loading."""
    old = driver.find_element(By.TAG_NAME, "html")
    button.click()
    wait(driver, _left(old))
    wait(driver, lambda d: d.execute_script("return document.readyState") == "complete")


def log_in(driver, base: str) -> None:
    driver.get(f"{base}/staff/login")
    field(driver, "email").send_keys(STAFF)
    field(driver, "password").send_keys(PASSWORD + Keys.ENTER)
    wait(driver, lambda d: d.current_url == f"{base}/staff/")
