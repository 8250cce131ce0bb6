"""In a real browser: a concept that misses kitten reads "+kitten", adding kitten makes it exact;
turning a feature off changes the token's reconstruction (issue 8, points 3 and 7)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from browser_helpers import STEP_S, TRAIN_S, go_to, no_exception, open_app, screenshot, set_number, wait_idle

KITTEN_TABLE = ("token,d0,d1,d2,d3\ncat,0.8,0.3,0.1,0.05\nkitten,0.81,0.31,0.11,0.05\nhappy cat,0.82,0.32,0.12,0.06\n"
                "dog,0.7,0.2,0.05,0.2\nloyal dog,0.75,0.3,0.1,0.25\nnot cat,0.05,0.9,0.4,0.4\n"
                "not dog,0.15,0.85,0.35,0.5\nrobot,0,0.7,0.9,0.8\nAI assistant,0.1,0.6,0.85,0.75")
CONCEPTS = "Named concepts and the closest learned feature:"
OPTION_MS = 5_000  # an open list shows its options at once; longer means a rerun closed it


def pick(page: Page, box, tokens: list[str]) -> None:
    """Choose tokens in a Streamlit multiselect by typing each one, until its chip shows.

    A rerun that lands while the text is typed can swallow a choice or close the list under the
    click, so each token is tried again (at most three times) until the multiselect shows it as chosen.
    """
    def chosen() -> list[str]:
        return [line.strip() for line in box.inner_text().splitlines()]

    for token in tokens:
        for _ in range(3):
            wait_idle(page)
            box.locator("input").click()  # the text field, not a chip's remove button
            page.keyboard.type(token)
            try:
                page.get_by_role("option", name=token, exact=True).click(timeout=OPTION_MS)
            except PlaywrightTimeoutError:  # the list closed or was redrawn by a rerun: type it again
                page.keyboard.press("Escape")
                continue
            wait_idle(page)
            if token in chosen():
                break
            page.keyboard.press("Escape")
        assert token in chosen(), (token, chosen())
    page.keyboard.press("Escape")


def train(page: Page) -> None:
    go_to(page, "Train")
    set_number(page, "Random seed", 100, "seed")
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.locator("[data-testid='stMetric']").first).to_be_visible(timeout=TRAIN_S * 1000)
    wait_idle(page, TRAIN_S)
    go_to(page, "Features")


def test_kitten_then_building_blocks(page: Page, app_url: str, artifacts: Path):
    open_app(page, app_url)
    page.get_by_text("Paste a whole table as CSV text").click()
    page.get_by_label("CSV text").fill(KITTEN_TABLE)
    page.get_by_role("button", name="Use pasted table").click()
    expect(page.get_by_role("heading", name="Table: 9 tokens x 4 dimensions")).to_be_visible(timeout=STEP_S * 1000)
    wait_idle(page)
    page.get_by_text("Add a concept, or download and upload the concepts").click()
    page.get_by_label("New concept name").fill("animal")
    page.get_by_label("New concept name").press("Enter")
    wait_idle(page)
    pick(page, page.locator("[data-testid='stMultiSelect']").filter(has_text="Its tokens"),
         ["cat", "happy cat", "dog", "loyal dog"])
    page.get_by_role("button", name="Add concept").click()
    expect(page.get_by_text("1 named concept in 4 dimensions")).to_be_visible(timeout=STEP_S * 1000)
    wait_idle(page)

    train(page)
    expect(page.get_by_text(CONCEPTS)).to_be_visible()
    expect(page.get_by_text(re.compile(r"animal ≈ F\d+: \+kitten \(Jaccard 0\.80\)"))).to_be_visible()
    no_exception(page)
    screenshot(page, artifacts / "concepts-plus-kitten.png")

    # ---- add kitten to the concept on the Data page: the same kind of feature is now exact ----------
    go_to(page, "Data")
    pick(page, page.locator("[data-testid='stMultiSelect']").filter(has_text="loyal dog").first, ["kitten"])
    train(page)
    expect(page.get_by_text(re.compile(r"animal → F\d+, exact"))).to_be_visible()

    # ---- building blocks: switch one feature off and the reconstruction error changes --------------
    heading = page.get_by_role("heading", name="Features as building blocks")
    heading.scroll_into_view_if_needed()
    error_line = page.get_by_text(re.compile(r"^Reconstruction error \(mean squared\) for"))
    expect(error_line).to_contain_text("as learned.")
    page.locator("[data-testid='stCheckbox']").filter(has_text=re.compile(r"^F\d+ on$")).first.click()
    expect(error_line).to_contain_text("with your edit.", timeout=STEP_S * 1000)
    wait_idle(page)
    learned, edited = (float(v) for v in re.findall(r"(\d+\.\d{4})", error_line.inner_text()))
    assert edited != learned
    no_exception(page)
    screenshot(page, artifacts / "building-blocks.png")
