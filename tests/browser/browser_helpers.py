"""Small helpers for the browser tests: waiting, reading the page, filling pickers, submitting."""

from __future__ import annotations

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

STAFF = "karin@ax.example.org"
PASSWORD = "en lång mening som lösenord"


def wait(driver, condition, timeout: float = 20):
    """Until `condition(driver)` is true; a page being replaced meanwhile (scripts reload it) is retried."""
    return WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=(WebDriverException,)).until(condition)


def downloaded(driver, prefix: str, suffix: str = ".csv"):
    """The finished download whose name starts with `prefix`.

    Why: Chromium writes `<name>.crdownload` first and renames it when done, so a file seen by
    one listing may be gone by the next look; only a finished, non-empty file counts.
    """

    def finished(_driver):
        for path in driver.downloads.iterdir():
            try:
                if path.name.startswith(prefix) and path.name.endswith(suffix) and path.stat().st_size > 0:
                    return path
            except FileNotFoundError:
                continue
        return None

    return wait(driver, finished)


def body(driver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def field(driver, element_id: str):
    return driver.find_element(By.ID, element_id)


def set_value(driver, element, value: str) -> None:
    """What choosing in the browser's own date or time picker leaves in the field."""
    driver.execute_script(
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
        "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
        element,
        value,
    )


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


# -- accessibility: a current axe-core from the npm registry (make axe) --------------------

from pathlib import Path  # noqa: E402

AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
_axe_source: list[str] = []


def require_axe() -> None:
    """Fail with the one command that brings axe-core, not with a file error."""
    import pytest

    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make axe` (npm install axe-core into tests/browser/axe)")


def axe_problems(driver) -> list[str]:
    """Serious and critical WCAG 2.1 A/AA violations on the current page, one line each."""
    require_axe()
    if not _axe_source:
        _axe_source.append(AXE.read_text(encoding="utf-8"))
    driver.set_script_timeout(60)
    driver.execute_script(_axe_source[0])
    violations = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))), e => done([{id: 'axe-error', impact:"
        " 'critical', help: String(e), nodes: []}]));",
        AXE_TAGS,
    )
    return [
        f"{v['impact']}: {v['id']} ({v['help']}) at {', '.join(v['nodes'])}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def axe_version() -> str:
    import json

    require_axe()
    return json.loads((AXE.parent / "package.json").read_text(encoding="utf-8"))["version"]
