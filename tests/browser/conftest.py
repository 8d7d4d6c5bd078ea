"""Browser tests: a real headless Chromium (Debian's `chromium` + `chromium-driver`) driving
`mailer serve` and `mailer worker`, both real subprocesses over the test's database.

`make test` installs nothing: without /usr/bin/chromium and /usr/bin/chromedriver these tests
are not collected and one line says so (tests/conftest.py); `sudo make browser` installs them,
and .ci/run does that first so CI always runs them. Set STAFF_SCREENSHOTS_DIR (e.g. docs/screenshots)
to have the story save the README's screenshots there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import wait_until
from smtp_server import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = os.environ.get("STAFF_SCREENSHOTS_DIR")  # read at import: MAILER_* is cleared per test
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--lang=sv-SE",
    "--window-size=1280,900",
)


def _wait_for(url: str, process: subprocess.Popen, log: Path, what: str) -> None:
    def up() -> bool:
        if process.poll() is not None:
            pytest.fail(f"{what} stopped: {log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                return reply.status == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    wait_until(up, timeout=30, what=f"{what} to come up", interval=0.1, detail=lambda: log.read_text(errors="replace"))


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Stack:
    base: str
    env: dict[str, str]
    instance: Path
    templates: Path


@pytest.fixture
def stack(app, cli_env: dict[str, str], tmp_path: Path):
    """`mailer serve` and `mailer worker` over the database of `app`, mail to the file outbox."""
    templates = tmp_path / "templates" / "email"
    shutil.copytree(ROOT / "templates" / "email", templates)  # edits must never touch the checkout
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
    env.update(cli_env, MAILER_BASE_URL=base, MAILER_TEMPLATES_PATH=str(templates), MAILER_SEND_RATE_PER_MINUTE="60000")
    instance = Path(cli_env["MAILER_INSTANCE_PATH"])
    instance.mkdir(parents=True, exist_ok=True)
    processes, logs = [], []
    try:
        for name, args in (("serve", ["serve", "--port", str(port), "--threads", "8"]), ("worker", ["worker"])):
            logs.append((instance / f"{name}.log").open("wb"))
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "mailer", *args],
                    cwd=ROOT,
                    env=env,
                    stdout=logs[-1],
                    stderr=subprocess.STDOUT,
                )
            )
        _wait_for(base + "/healthz", processes[0], instance / "serve.log", "mailer serve")
        yield Stack(base, env, instance, templates)
    finally:
        for process in processes:
            _stop(process)
        for log in logs:
            log.close()


@pytest.fixture
def driver(tmp_path: Path):
    """Headless Chromium through Debian's chromedriver, given by path (Selenium Manager never runs)."""
    if not CHROMEDRIVER.exists() or not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} and {CHROMEDRIVER} are needed: run `make browser` (apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "intl.accept_languages": "sv-SE,sv",
        },
    )
    # Chromium on Linux takes its locale (date and time pickers) from the environment, not --lang.
    env = {**os.environ, "LANG": "sv_SE.UTF-8", "LANGUAGE": "sv"}
    browser = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER), env=env), options=options)
    browser.downloads = downloads
    browser.implicitly_wait(0)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def screenshot(driver) -> Callable[..., None]:
    """screenshot("staff-dashboard"): the page (up to `max_height` pixels) as a PNG, when
    STAFF_SCREENSHOTS_DIR asks for it."""

    def take(name: str, max_height: int = 1600) -> None:
        if not SCREENSHOTS:
            return
        folder = Path(SCREENSHOTS)
        if not folder.is_absolute():
            folder = ROOT / folder
        folder.mkdir(parents=True, exist_ok=True)
        width = driver.get_window_size()["width"]
        height, chrome = driver.execute_script(
            "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]"
        )
        driver.set_window_size(width, min(max(height, 600), max_height) + chrome)
        driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"  # laid out and painted
            "requestAnimationFrame(() => requestAnimationFrame(done));"
        )
        driver.save_screenshot(str(folder / f"{name}.png"))
        driver.set_window_size(1280, 900)

    return take
