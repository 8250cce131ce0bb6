"""The Real model page in a real browser, on a short pasted text: extract, train, read a feature."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from browser_helpers import STEP_S, TRAIN_S, go_to, heading, no_exception, open_app, screenshot, wait_idle
from sae_core.real_model.extraction import model_available

pytestmark = pytest.mark.skipif(not model_available(), reason="the real-model extras are not installed")

TEXT = ("The happy cat is not a robot.\n\nA loyal dog chased the AI assistant.\n\n"
        "The weather was sunny in Paris on Monday.\n\nNo dog has ever answered every question.")


def fill_number(page: Page, label: str, value: int) -> None:
    box = page.get_by_role("spinbutton", name=label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    try:  # the rerun may not have started yet
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='running']", timeout=2000)
    except Exception:
        pass
    wait_idle(page)
    expect(page.get_by_role("spinbutton", name=label, exact=True)).to_have_count(1)


def test_real_model_page_on_a_short_text(page: Page, app_url: str, artifacts: Path):
    open_app(page, app_url)
    go_to(page, "Real model")
    expect(page.get_by_text("No activations yet")).to_be_visible()
    page.get_by_text("Paste text", exact=True).click()
    wait_idle(page)
    box = page.get_by_role("textbox", name="Your text (documents separated by blank lines)")
    box.fill(TEXT)
    box.press("Control+Enter")
    wait_idle(page)
    page.get_by_role("button", name="Extract activations").click()
    expect(page.get_by_text("pieces x 384 dims from layer 3")).to_be_visible(timeout=TRAIN_S * 1000)
    wait_idle(page, TRAIN_S)
    fill_number(page, "Hidden size (features)", 64)
    fill_number(page, "Epochs", 10)
    page.get_by_role("button", name="Train", exact=True).click()
    metrics = page.locator("[data-testid='stMetric']")
    expect(metrics.filter(has_text="Dead features")).to_contain_text("of 64", timeout=TRAIN_S * 1000)
    wait_idle(page, TRAIN_S)
    expect(heading(page, "3. Features")).to_be_visible()
    expect(page.get_by_text("Top activations (deduplicated)")).to_be_visible(timeout=STEP_S * 1000)
    expect(page.get_by_text("A random sample of where it fires (seed 0)")).to_be_visible()
    expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible()
    expect(page.locator("[data-testid='stVegaLiteChart'] svg.marks")).to_have_count(1, timeout=STEP_S * 1000)
    no_exception(page)
    screenshot(page, artifacts / "real-model.png")
