"""Real-browser fixtures: the app served by ``streamlit run`` and Debian's chromium driven by Playwright.

Never ``playwright install``: the tests use the system chromium at ``/usr/bin/chromium``.
Without it the browser tests are skipped locally, and fail under CI (``CI=true``, ``1`` or
``yes``, in any case), where ``.ci/run`` installs it first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app_server import ROOT, serve_app
from ci import running_in_ci

ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

@pytest.fixture(scope="session")
def app_url():
    """The app, served once for the whole browser session (each test gets its own browser context)."""
    with serve_app() as url:
        yield url


@pytest.fixture
def fresh_app_url():
    """The app on a server that no visitor has reached yet (for first-request behaviour)."""
    with serve_app() as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing; install Debian's chromium (apt-get install chromium) to run browser tests"
        if running_in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, app_url):
    """A fresh browser context (so a fresh Streamlit session) per test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
