"""In a real browser: settings survive every page, the features heatmap stays readable from 1 to
32 features, and a shared link reproduces a run with one click."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import Page, expect

from sae_core.charts import HEATMAP_ROW_PX, TEXT_PX, ZERO_COLOUR
from sae_core.state import AppState, link_query
from sae_core.table import read_table
from sae_core.training import ARTICLE, RECOMMENDED

from browser_helpers import (ROOT_DATA, STEP_S, TRAIN_S, go_to, heading, no_exception, open_app, screenshot,
                             set_number, sidebar, wait_idle)

PAGES = ["Lesson", "Data", "Features", "Stability", "Sweep"]

# Per heatmap: every cell's height, and the y-axis ("F<j>") labels' boxes and font sizes.
HEATMAP_GEOMETRY = """chart => {
  const paths = [...chart.querySelectorAll('.mark-rect.role-mark path')];
  const cells = paths.map(p => p.getBoundingClientRect().height);
  const fills = paths.map(p => p.getAttribute('fill'));
  const labels = [...chart.querySelectorAll('.role-axis-label text')].filter(t => /^F\\d+$/.test(t.textContent))
    .map(t => { const r = t.getBoundingClientRect();
                return {top: r.top, bottom: r.bottom, px: parseFloat(getComputedStyle(t).fontSize)}; });
  return {cells, fills, labels};
}"""


def test_hidden_size_7_and_the_articles_recipe_survive_every_page(page: Page, app_url: str):
    open_app(page, app_url)
    go_to(page, "Train")
    page.get_by_text("Training options").click()
    wait_idle(page)
    article_url = re.compile(rf"[?&]lr={ARTICLE.lr}(&|$)")
    for _ in range(3):  # a rerun in flight on a busy machine can swallow the click: the recipe is idempotent
        page.get_by_role("button", name="Use the article's recipe").click()
        wait_idle(page)
        if article_url.search(page.url):
            break
    expect(page).to_have_url(article_url, timeout=STEP_S * 1000)
    wait_idle(page)
    set_number(page, "Hidden size (features)", 7, "hidden_dim")
    expected = replace(ARTICLE, hidden_dim=7)
    for title in PAGES:
        go_to(page, title)
        no_exception(page)
        assert AppState.from_query(dict(re.findall(r"[?&]([^=&]+)=([^&]*)", page.url))).config == expected, title
        if title == "Stability":  # it trains exactly what the user chose
            expect(page.get_by_text(re.compile(r"hidden 7, sparsity weight 0\.01, lr 0\.01, 1,000 epochs"))).to_be_visible()
    go_to(page, "Train")
    expect(page.get_by_role("spinbutton", name="Hidden size (features)", exact=True)).to_have_value("7")
    expect(page.get_by_role("spinbutton", name="Learning rate", exact=True)).to_have_value(str(ARTICLE.lr))
    expect(page).to_have_url(re.compile(r"[?&]hidden_dim=7(&|$)"))


def train_and_open_features(page: Page, hidden: int) -> None:
    go_to(page, "Train")
    set_number(page, "Hidden size (features)", hidden, "hidden_dim")
    set_number(page, "Epochs", 100, "epochs")
    page.get_by_role("button", name="Train", exact=True).click()
    expect(sidebar(page)).to_contain_text(f"Model: {hidden} features, 100 epochs", timeout=TRAIN_S * 1000)
    wait_idle(page, TRAIN_S)
    go_to(page, "Features")


def test_the_heatmap_is_readable_with_1_and_with_32_features(page: Page, app_url: str, artifacts: Path):
    page.set_viewport_size({"width": 1280, "height": 900})  # a projector
    open_app(page, app_url)
    for hidden in (1, 32):
        train_and_open_features(page, hidden)
        if hidden == 32:  # one row per feature: every copy and every dead feature
            for name in ("Show every copy", "Hide dead features"):
                page.get_by_text(name, exact=True).click()
                wait_idle(page)
        chart = page.locator("[data-testid='stVegaLiteChart']").nth(2)  # (after the activations and decoder panels)
        expect(chart.locator(".mark-rect.role-mark path")).to_have_count(8 * hidden, timeout=STEP_S * 1000)
        geometry = chart.evaluate(HEATMAP_GEOMETRY)
        assert len(geometry["cells"]) == 8 * hidden
        assert min(geometry["cells"]) >= HEATMAP_ROW_PX - 2, geometry["cells"][:5]  # no collapsed rows
        counts = page.get_by_text(re.compile(rf"^{hidden} features: \d+ live, \d+ dead")).inner_text()
        dead = int(re.search(r"(\d+) dead", counts).group(1))
        assert dead > 0  # (these short runs leave dead features: a dead feature's row is all zeros)
        assert geometry["fills"].count(ZERO_COLOUR) >= 8 * dead  # zero is drawn white
        labels = sorted(geometry["labels"], key=lambda box: box["top"])
        assert len(labels) == hidden
        assert all(a["bottom"] <= b["top"] + 0.5 for a, b in zip(labels, labels[1:]))  # no overlapping labels
        assert min(box["px"] for box in labels) >= TEXT_PX
        box = chart.bounding_box()
        assert box["x"] + box["width"] <= 1280, box  # nothing cut off at 1280 px
        no_exception(page)
        screenshot(page, artifacts / f"features-heatmap-{hidden}.png")


def test_a_shared_link_reproduces_the_run_with_one_click(page: Page, app_url: str):
    table = read_table(ROOT_DATA / "seed_tokens.csv")
    table.loc[0, "token"] = "kitten"
    state = AppState(config=replace(RECOMMENDED, hidden_dim=5, epochs=200, seed=3))
    url = f"{app_url}/features?{urlencode(link_query(state, table).query)}"
    page.goto(url)
    wait_idle(page, TRAIN_S)
    expect(page.get_by_text("You opened a shared link")).to_be_visible()
    page.get_by_role("button", name="Train these settings").click()
    expect(page.get_by_text(f"Trained the shared link's settings: {state.describe()}")).to_be_visible(
        timeout=TRAIN_S * 1000)
    wait_idle(page, TRAIN_S)
    expect(heading(page, "Features")).to_be_visible()
    expect(sidebar(page)).to_contain_text("Model: 5 features, 200 epochs")
    expect(page.get_by_text("Top tokens:").first).to_be_visible()
    assert re.search(r"[?&]hidden_dim=5(&|$)", page.url) and re.search(r"[?&]table=", page.url)
    page.get_by_text("Copy link").click()
    code = page.locator("[data-testid='stSidebarUserContent'] [data-testid='stCode']")
    expect(code).to_contain_text(f"{app_url}/features?example=seed_tokens&hidden_dim=5")
    assert code.inner_text().strip().split("?")[1] == page.url.split("?")[1]  # the link is the page's URL
    no_exception(page)
