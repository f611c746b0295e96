"""Swagger UI in a real browser (Debian's Chromium, headless): Authorize with a client's id and
secret (the OAuth 2.0 client-credentials flow against the document's token URL), then try
``GET /movies/{year}/{title}`` for Rush (2013) and see 200.

Runs against the local stack, whose data set holds Rush; on AWS the pipelines' runners have no
browser, and the token URL is the Cognito domain's (the document's, tested in-process).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import Api, StackUnderTest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_S = 30
# Headless, and nothing that would reach the network on its own (updates, sync, background fetches).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1400",
)


@pytest.fixture
def browser(stack: StackUnderTest, tmp_path: Path) -> Iterator[Any]:
    if stack.on_aws:
        pytest.skip("the browser test runs on the local stack (no browser on the pipelines' runners)")
    for tool in (CHROMIUM, CHROMEDRIVER):
        assert shutil.which(tool), f"{tool} is missing: apt-get install chromium chromium-driver (.ci/run does)"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def test_swagger_ui_authorizes_with_client_credentials_and_gets_rush(
    browser: Any, api: Api, stack: StackUnderTest, tmp_path: Path
) -> None:
    screenshot = tmp_path / "swagger-ui.png"  # what the browser showed, kept with pytest's temporary files
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_S)

    def click(selector: str) -> None:
        wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, selector))).click()

    def type_into(selector: str, text: str) -> None:
        field = wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, selector)))
        field.clear()
        field.send_keys(text)

    browser.get(f"{api.base_url}/docs")
    # Authorize: the read-only client, through the document's client-credentials flow.
    click(".auth-wrapper .btn.authorize")
    type_into(".modal-ux input[id^='client_id']", stack.readonly.client_id)
    type_into(".modal-ux input[id^='client_secret']", stack.readonly.client_secret)
    click(".modal-ux .auth-btn-wrapper .btn.modal-btn.auth.authorize")
    wait.until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, ".modal-ux .auth-btn-wrapper"), "Logout"))
    click(".modal-ux .btn-done")
    # Try GET /movies/{year}/{title} for Rush (2013).
    operation = "#operations-movies-get_movie_movies__year___title__get"
    click(f"{operation} .opblock-summary")
    click(f"{operation} .try-out__btn")
    type_into(f"{operation} input[placeholder='year']", "2013")
    type_into(f"{operation} input[placeholder='title']", "Rush")
    click(f"{operation} .btn.execute")
    status = f"{operation} .live-responses-table tr.response .response-col_status"
    wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, status)))
    browser.save_screenshot(str(screenshot))
    assert browser.find_element(By.CSS_SELECTOR, status).text.strip() == "200"
    assert '"Ron Howard"' in browser.find_element(By.CSS_SELECTOR, f"{operation} .live-responses-table").text
