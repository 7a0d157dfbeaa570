"""Real browsers for the pages: Debian's headless Chromium driven by Selenium.

Skipped, with the reason, where ``chromium`` or ``chromedriver`` is missing
(Debian: ``apt-get install chromium chromium-driver``; ``.ci/run`` installs both).
Screenshots go to ``var/screenshots/`` (``LIVESTREAM_SCREENSHOTS`` to change it);
the run's summary prints where.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support import ROOT

SCREENSHOTS = Path(os.environ.get("LIVESTREAM_SCREENSHOTS", ROOT / "var" / "screenshots"))
WAIT = 20
_taken: list[Path] = []


def _chromium() -> tuple[str, str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/lib/chromium/chromedriver"
        if os.path.exists("/usr/lib/chromium/chromedriver")
        else None
    )
    if binary is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    if driver is None:
        pytest.skip("chromedriver is not installed (Debian: apt-get install chromium-driver)")
    return binary, driver


@pytest.fixture
def browser(tmp_path):
    """``browser(name)`` opens one headless Chromium session (its own profile) per call."""
    binary, driver_path = _chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers = []

    def open_browser(name: str):
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for argument in (
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--window-size=1280,900", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--mute-audio",
            f"--user-data-dir={tmp_path / name}",
        ):  # fmt: skip
            options.add_argument(argument)
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
        driver.implicitly_wait(0)
        drivers.append(driver)
        return driver

    yield open_browser
    for driver in drivers:
        driver.quit()


@pytest.fixture
def screenshot():
    """``screenshot(driver, name)`` saves a PNG of what the browser shows now."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(driver, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        driver.execute_script("window.scrollTo(0, 0)")
        assert driver.save_screenshot(str(path)), f"no screenshot for {name}"
        _taken.append(path)
        return path

    return take


def pytest_terminal_summary(terminalreporter) -> None:
    if _taken:
        names = ", ".join(sorted({p.name for p in _taken}))
        terminalreporter.write_line(f"browser screenshots in {SCREENSHOTS}: {names}")
