"""Helpers shared by the browser tests: waiting for Streamlit, navigating, screenshots."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from sae_core.examples import DATA_DIR as ROOT_DATA  # noqa: F401  (the browser tests import it from here)
from sae_core.training import RECOMMENDED

IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
FOUNDING_TOKENS = ["cat", "happy cat", "dog", "loyal dog", "not cat", "not dog", "robot", "AI assistant"]
METRICS = ["Reconstruction MSE", "Explained variance", "Mean L0", "Dead features"]
LOAD_S, STEP_S, TRAIN_S = 60, 30, 60


def wait_idle(page: Page, timeout_s: float = STEP_S) -> None:
    page.wait_for_selector(IDLE, timeout=timeout_s * 1000)


def heading(page: Page, text: str):
    return page.get_by_role("heading", name=text, exact=True)


def open_app(page: Page, url: str) -> None:
    """Open the Data page (the app itself opens on the Lesson)."""
    page.goto(f"{url}/data", timeout=LOAD_S * 1000)
    wait_idle(page, LOAD_S)
    expect(heading(page, "Data")).to_be_visible(timeout=LOAD_S * 1000)


def go_to(page: Page, title: str) -> None:
    """Follow the sidebar's navigation link, as a visitor would."""
    page.locator("[data-testid='stSidebarNav'] a", has_text=title).click()
    expect(heading(page, title)).to_be_visible(timeout=STEP_S * 1000)
    wait_idle(page)


def sidebar(page: Page):
    return page.locator("[data-testid='stSidebarUserContent']")


def set_number(page: Page, label: str, value: int, url_key: str) -> None:
    box = page.get_by_role("spinbutton", name=label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    expect(page).to_have_url(re.compile(rf"[?&]{url_key}={value}(&|$)"), timeout=STEP_S * 1000)
    wait_idle(page)


def shown_hidden_size(page: Page) -> int:
    """The hidden size a fresh visitor starts from (the number box first draws its minimum, 1)."""
    box = page.get_by_role("spinbutton", name="Hidden size (features)", exact=True)
    expect(box).to_have_value(str(RECOMMENDED.hidden_dim))
    return RECOMMENDED.hidden_dim


def no_exception(page: Page) -> None:
    expect(page.locator("[data-testid='stException']")).to_have_count(0)


def screenshot(page: Page, path: Path) -> None:
    """The whole page: Streamlit scrolls inside its main block, so grow the viewport to fit it."""
    page.mouse.move(0, 0)  # no hover tooltip in the picture
    size = page.viewport_size
    height = page.eval_on_selector("[data-testid='stMain']", "e => e.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
