"""In a real browser: the Stability view and the Sweep page, on the founding table."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from browser_helpers import STEP_S, TRAIN_S, go_to, no_exception, open_app, screenshot, set_number, wait_idle


def test_stability_then_sweep_then_open_a_model(page: Page, app_url: str, artifacts: Path):
    open_app(page, app_url)
    go_to(page, "Train")
    set_number(page, "Epochs", 600, "epochs")  # the Stability and Sweep pages use the Train settings
    go_to(page, "Stability")
    page.get_by_role("button", name="Train all seeds").click()
    expect(page.get_by_text("20 seeds trained together")).to_be_visible(timeout=TRAIN_S * 1000)
    wait_idle(page, TRAIN_S)
    expect(page.get_by_role("heading", name="Named features: in how many seeds were they recovered?")).to_be_visible()
    expect(page.locator("[data-testid='stVegaLiteChart']")).to_have_count(2)
    no_exception(page)
    screenshot(page, artifacts / "stability.png")

    go_to(page, "Sweep")
    page.get_by_role("button", name="Run sweep").click()
    expect(page.get_by_text("24 models trained together")).to_be_visible(timeout=TRAIN_S * 1000)
    wait_idle(page, TRAIN_S)
    expect(page.locator("[data-testid='stVegaLiteChart']")).to_have_count(1)
    no_exception(page)
    screenshot(page, artifacts / "sweep.png")
    # a click on a point picks that model, and the link says which
    page.locator("[data-testid='stVegaLiteChart'] .mark-symbol.role-mark path").last.click(force=True)
    expect(page).to_have_url(re.compile(r"[?&]sweep_point=[1-9]\d*(&|$)"), timeout=STEP_S * 1000)
    wait_idle(page)
    picked = re.search(r"sweep_point=(\d+)", page.url).group(1)
    expect(page.get_by_role("combobox", name="Model")).to_have_value(re.compile(rf"^#{picked}: hidden"))
    page.get_by_role("button", name="Open its features").click()
    expect(page.get_by_role("heading", name="Features", exact=True)).to_be_visible(timeout=TRAIN_S * 1000)
    wait_idle(page)
    expect(page.get_by_text("Top tokens:").first).to_be_visible()
    no_exception(page)
