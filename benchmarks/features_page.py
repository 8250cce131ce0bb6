"""How long the Features page takes to be ready in a real browser, at 32 and at 4,096 features.

    python benchmarks/features_page.py [--epochs 20]

Serves the app on loopback, trains the founding table with hidden 32 (the baseline) and with
hidden 4,096 (the cap), then times the click on "Features" until the page is idle with every
chart drawn; then the same with "Show every copy" on (one table row per feature, cards for one
page of them). Prints seconds and the ratio to the baseline from the same run (the design's
target: ready in under 3 s at 4,096 features).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from app_server import serve_app  # noqa: E402
from load_test import CHROMIUM_ARGS, IDLE  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

TIMEOUT_MS = 180_000


def ready(page) -> None:
    """Idle, and every Vega chart on the page has drawn its marks."""
    page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => [...document.querySelectorAll(\"[data-testid='stVegaLiteChart']\")]"
        ".every(c => c.querySelector('svg.marks, canvas'))", timeout=TIMEOUT_MS)


def time_features(browser, url: str, hidden: int, epochs: int) -> tuple[float, float, int]:
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    page.goto(f"{url}/train?hidden_dim={hidden}&epochs={epochs}", timeout=TIMEOUT_MS)
    page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.locator("[data-testid='stSidebarUserContent']")).to_contain_text(
        f"Model: {hidden} features, {epochs} epochs", timeout=TIMEOUT_MS)
    page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)
    start = time.perf_counter()
    page.locator("[data-testid='stSidebarNav'] a", has_text="Features").click()
    page.get_by_role("heading", name="Feature cards").wait_for(timeout=TIMEOUT_MS)
    ready(page)
    grouped = time.perf_counter() - start
    start = time.perf_counter()
    page.get_by_text("Show every copy", exact=True).click()
    page.wait_for_timeout(100)
    ready(page)
    every_copy = time.perf_counter() - start
    charts = page.locator("[data-testid='stVegaLiteChart']").count()
    page.context.close()
    return grouped, every_copy, charts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    with serve_app() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        rows = {hidden: time_features(browser, url, hidden, args.epochs) for hidden in (32, 4096)}
        browser.close()
    base = rows[32]
    print(f"{'features':>8}  {'page ready s':>12}  {'x baseline':>10}  {'every copy s':>12}  {'x baseline':>10}  charts")
    for hidden, (grouped, every_copy, charts) in rows.items():
        print(f"{hidden:>8,}  {grouped:>12.2f}  {grouped / base[0]:>10.2f}  {every_copy:>12.2f}  "
              f"{every_copy / base[1]:>10.2f}  {charts}")


if __name__ == "__main__":
    main()
