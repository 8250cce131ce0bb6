"""A visitor's journey in a real browser: Data -> bad upload -> Train -> Features; Stop; deep links.

Full-page screenshots go to tests/artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from sae_core import limits

from browser_helpers import (FOUNDING_TOKENS, LOAD_S, METRICS, STEP_S, TRAIN_S, go_to, heading, no_exception,
                             open_app, screenshot, set_number, shown_hidden_size, sidebar, wait_idle)


def test_journey_data_upload_train_features(page: Page, app_url: str, artifacts: Path):
    # ---- Data: the founding table --------------------------------------------------------------
    open_app(page, app_url)
    table = page.locator("[data-testid='stDataFrame']")
    expect(table).to_be_visible()
    for row, token in enumerate(FOUNDING_TOKENS):
        expect(table.locator(f"[data-testid='glide-cell-1-{row}']")).to_have_text(token)
    expect(heading(page, "Table: 8 tokens x 4 dimensions")).to_be_visible()
    expect(sidebar(page)).to_contain_text("Model: not trained yet")
    # the table's heatmap and its geometry
    expect(page.locator("[data-testid='stVegaLiteChart'] svg.marks")).to_have_count(2, timeout=STEP_S * 1000)
    no_exception(page)
    screenshot(page, artifacts / "journey-data.png")

    # ---- a bad CSV through the real file uploader ------------------------------------------------
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(files=[{
        "name": "bad.csv", "mimeType": "text/csv", "buffer": b"name,d0,d1\ncat,0.8,0.3\ndog,0.7,0.2\n",
    }])
    error = page.locator("[data-testid='stAlertContentError']")
    expect(error).to_contain_text("Upload not used: bad.csv: the first column must be named 'token' (found 'name')",
                                  timeout=STEP_S * 1000)
    expect(error).to_contain_text("Your table is unchanged.")
    wait_idle(page)
    expect(heading(page, "Table: 8 tokens x 4 dimensions")).to_be_visible()
    expect(table.locator("[data-testid='glide-cell-1-0']")).to_have_text("cat")
    screenshot(page, artifacts / "journey-upload-error.png")

    # ---- Train ----------------------------------------------------------------------------------
    go_to(page, "Train")
    expect(page.get_by_text("No model yet")).to_be_visible()
    hidden = shown_hidden_size(page)
    set_number(page, "Epochs", 300, "epochs")
    page.get_by_role("button", name="Train", exact=True).click()
    metrics = page.locator("[data-testid='stMetric']")
    expect(metrics.filter(has_text="Explained variance")).to_be_visible(timeout=TRAIN_S * 1000)
    wait_idle(page, TRAIN_S)
    expect(page.locator("[data-testid='stMetricLabel']")).to_have_text(METRICS)
    expect(page.get_by_text(re.compile(r"^300 epochs in [\d.]+ s, seed \d+\.$"))).to_be_visible()
    expect(page.locator("[data-testid='stVegaLiteChart'] svg.marks")).to_have_count(1, timeout=STEP_S * 1000)
    # the sidebar reports the new model straight away, not one rerun later
    expect(sidebar(page)).to_contain_text(f"Model: {hidden} features, 300 epochs, explained variance")
    no_exception(page)
    screenshot(page, artifacts / "journey-train.png")

    # ---- Features -------------------------------------------------------------------------------
    go_to(page, "Features")
    expect(page.get_by_text("Named concepts and the closest learned feature:")).to_be_visible()
    charts = page.locator("[data-testid='stVegaLiteChart']")
    expect(charts.first.locator("svg.marks")).to_be_visible(timeout=STEP_S * 1000)
    # founding figure, decoder directions, heatmap (cards are text), geometry, building blocks
    expect(charts).to_have_count(5, timeout=STEP_S * 1000)
    expect(page.get_by_text("Top tokens:").first).to_be_visible()
    expect(heading(page, "Heatmap: features x tokens")).to_be_visible()
    no_exception(page)
    page.wait_for_timeout(500)  # let the last charts draw
    screenshot(page, artifacts / "journey-features.png")


def test_stop_keeps_the_partial_model(page: Page, app_url: str, artifacts: Path):
    open_app(page, app_url)
    go_to(page, "Train")
    hidden = shown_hidden_size(page)
    assert len(FOUNDING_TOKENS) * hidden * limits.MAX_EPOCHS <= limits.MAX_TRAINING_WORK
    set_number(page, "Epochs", limits.MAX_EPOCHS, "epochs")
    page.get_by_role("button", name="Train", exact=True).click()
    progress = page.locator("[data-testid='stProgress']")
    expect(progress).to_contain_text("Epoch", timeout=TRAIN_S * 1000)  # training is under way
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Stop", exact=True).click()
    notice = page.get_by_text(re.compile(rf"Stopped at epoch [\d,]+ of {limits.MAX_EPOCHS:,}"))
    expect(notice).to_be_visible(timeout=STEP_S * 1000)
    wait_idle(page)
    stopped_at = int(re.search(r"Stopped at epoch ([\d,]+)", notice.inner_text()).group(1).replace(",", ""))
    assert 0 < stopped_at < limits.MAX_EPOCHS
    expect(page.locator("[data-testid='stMetricLabel']")).to_have_text(METRICS)
    expect(page.get_by_text(f"{stopped_at:,} epochs in ")).to_be_visible()
    expect(sidebar(page)).to_contain_text(f"Model: {hidden} features, {stopped_at} epochs")
    expect(progress).to_have_count(0)
    no_exception(page)
    screenshot(page, artifacts / "journey-stopped.png")

    go_to(page, "Features")
    expect(page.get_by_text(f"Training was stopped at epoch {stopped_at:,} of {limits.MAX_EPOCHS:,}.")).to_be_visible()
    no_exception(page)


def test_a_deep_link_works_as_the_first_request_after_a_restart(browser, fresh_app_url: str, artifacts: Path):
    """The page folder is app_pages/, not pages/: Streamlit would treat pages/ as a v1 multipage app
    on a fresh server and run /train without streamlit_app.py (no session set-up)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{fresh_app_url}/train", timeout=LOAD_S * 1000)
        wait_idle(page, LOAD_S)
        page.wait_for_timeout(500)
        screenshot(page, artifacts / "deep-link-train.png")
        nav = page.locator("[data-testid='stSidebarNav'] a [data-testid='stMarkdownContainer']").all_inner_texts()
        assert nav[:4] == ["Lesson", "Data", "Train", "Features"] and "session" not in " ".join(nav).lower(), nav
        expect(heading(page, "Train")).to_be_visible()
        no_exception(page)
        expect(page.get_by_role("spinbutton", name="Epochs", exact=True)).to_be_visible()
    finally:
        context.close()
