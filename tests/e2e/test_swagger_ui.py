"""Swagger UI in a real browser (Debian's Chromium, headless): Authorize with a client's id and
secret (the OAuth 2.0 client-credentials flow against the document's token URL), then try
``GET /movies/{year}/{title}`` for Rush (2013) and see 200; from the page as the README names it
(``http://127.0.0.1:<port>``) and as ``http://localhost:<port>``, from which the token request is
cross-origin, as from a stage's page to Cognito's domain. Each takes ~6-9 s with the stack up (two
cores, load 2-5).

Runs against the local stack, whose data set holds Rush; on AWS the pipelines' runners have no
browser, and the token URL is the Cognito domain's (the document's, tested in-process).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.support import Api, ClientCredentials, StackUnderTest

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


@pytest.fixture(scope="module")
def browser(stack: StackUnderTest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Chromium for the module (~1 s to start and stop): each test loads its page afresh, and
    Swagger UI keeps an authorization only in the page's memory."""
    if stack.on_aws:
        pytest.skip("the browser test runs on the local stack (no browser on the pipelines' runners)")
    for tool in (CHROMIUM, CHROMEDRIVER):
        assert shutil.which(tool), f"{tool} is missing: apt-get install chromium chromium-driver (.ci/run does)"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def test_swagger_ui_authorizes_with_client_credentials_and_gets_rush(
    browser: Any, api: Api, stack: StackUnderTest, tmp_path: Path
) -> None:
    _authorize_and_get_rush(browser, f"{api.base_url}/docs", stack.readonly, tmp_path / "swagger-ui.png")


def test_swagger_ui_opened_as_localhost_authorizes_at_the_token_url_on_127_0_0_1(
    browser: Any, api: Api, stack: StackUnderTest, tmp_path: Path
) -> None:
    # The document's token URL stays http://127.0.0.1:<port>/oauth2/token: from a page opened as
    # localhost the token request is cross-origin, with a preflight (it carries Authorization), as a
    # page on the API's domain calling Cognito's domain is in AWS.
    page = urlsplit(f"{api.base_url}/docs")
    assert page.hostname == "127.0.0.1"
    as_localhost = page._replace(netloc=f"localhost:{page.port}").geturl()

    _authorize_and_get_rush(browser, as_localhost, stack.readonly, tmp_path / "swagger-ui-localhost.png")


def _authorize_and_get_rush(browser: Any, docs_url: str, client: ClientCredentials, screenshot: Path) -> None:
    """Open ``docs_url``, Authorize as ``client``, try GET /movies/2013/Rush and see 200 (page in ``screenshot``)."""
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

    browser.get(docs_url)
    # Authorize: the client, through the document's client-credentials flow.
    click(".auth-wrapper .btn.authorize")
    type_into(".modal-ux input[id^='client_id']", client.client_id)
    type_into(".modal-ux input[id^='client_secret']", client.client_secret)
    click(".modal-ux .auth-btn-wrapper .btn.modal-btn.auth.authorize")
    try:
        wait.until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, ".modal-ux .auth-btn-wrapper"), "Logout"))
    except Exception:
        browser.save_screenshot(str(screenshot))  # what the dialog said instead ("Auth Error ...")
        raise
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
