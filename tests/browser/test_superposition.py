"""The Superposition page in a real browser: two architectures on the toy model, Stop, at projector width."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from sae_core.architectures import ARCHITECTURES

from browser_helpers import TRAIN_S, go_to, no_exception, open_app, screenshot, wait_idle


def test_superposition_trains_two_architectures_and_shows_recovery(page: Page, app_url: str, artifacts: Path):
    page.set_viewport_size({"width": 1280, "height": 1000})
    open_app(page, app_url)
    go_to(page, "Superposition")
    expect(page.get_by_text("Choose the data and the architectures")).to_be_visible()

    # the article's SAE and TopK by default; drop TopK and add it back, as a visitor would
    chips = page.locator("[data-testid='stMultiSelect']")
    expect(chips).to_contain_text(ARCHITECTURES["standard"].label)
    chips.get_by_role("button", name=f"Remove {ARCHITECTURES['topk'].label}").click()
    wait_idle(page)
    box = chips.locator("input")
    box.click()
    box.fill("TopK")
    page.get_by_role("option", name=ARCHITECTURES["topk"].label, exact=True).click()
    page.keyboard.press("Escape")
    wait_idle(page)
    expect(chips).to_contain_text(ARCHITECTURES["topk"].label)
    seconds = page.get_by_role("spinbutton", name="Seconds per architecture", exact=True)
    seconds.fill("3")
    seconds.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Train", exact=True).click()
    # the article's SAE trains first; once TopK is under way, Stop keeps both
    expect(page.get_by_text(f"{ARCHITECTURES['topk'].label}:")).to_be_visible(timeout=TRAIN_S * 1000)
    page.get_by_role("button", name="Stop", exact=True).click()

    expect(page.get_by_role("heading", name="Recovery of the true features")).to_be_visible(timeout=TRAIN_S * 1000)
    wait_idle(page, TRAIN_S)
    expect(page.get_by_text("Stopped early")).to_be_visible()
    table = page.locator("[data-testid='stTable']")
    expect(table).to_contain_text("chance (random directions)")
    expect(table).to_contain_text(ARCHITECTURES["standard"].label)
    expect(table).to_contain_text(ARCHITECTURES["topk"].label)
    # recovery over time, labels, arrows (2-D toy), cosine matrix: every chart drawn
    expect(page.locator("[data-testid='stVegaLiteChart'] svg.marks")).to_have_count(4, timeout=TRAIN_S * 1000)
    expect(page.get_by_role("heading", name="True and learned directions")).to_be_visible()
    no_exception(page)
    # nothing wider than the window at 1280 px
    overflow = page.eval_on_selector("[data-testid='stMain']", "e => e.scrollWidth - e.clientWidth")
    assert overflow <= 0, overflow
    screenshot(page, artifacts / "superposition-1280.png")
