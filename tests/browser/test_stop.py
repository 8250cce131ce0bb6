"""In a real browser: Stop, clicked while a long run trains, keeps the partial comparison (Stability)
and the partial grid (Sweep), each with its "Stopped at epoch" notice.

AppTest cannot click during a run (its ``run()`` returns only when the script ends), so only a
browser shows that the click reaches the run in flight and that the page's own keep function,
not the Train page's, stores what was learned.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from sae_core import limits

from browser_helpers import TRAIN_S, go_to, no_exception, open_app, set_number, wait_idle

EPOCHS = limits.MAX_EPOCHS  # long enough that Stop always comes first
IN_FLIGHT = re.compile(rf"Epoch [\d,]+ of {EPOCHS:,}")
STOPPED = re.compile(rf"Stopped at epoch [\d,]+ of {EPOCHS:,}; ")


def stop_mid_run(page: Page, start: str) -> int:
    """Press ``start``, wait until the progress bar shows the run under way, press Stop; the epoch kept."""
    page.get_by_role("button", name=start).click()
    expect(page.get_by_text(IN_FLIGHT)).to_be_visible(timeout=TRAIN_S * 1000)
    page.get_by_role("button", name="Stop", exact=True).click()
    notice = page.get_by_text(STOPPED)
    expect(notice).to_be_visible(timeout=TRAIN_S * 1000)
    wait_idle(page, TRAIN_S)
    epoch = int(re.search(r"Stopped at epoch ([\d,]+)", notice.inner_text()).group(1).replace(",", ""))
    assert 0 < epoch < EPOCHS
    return epoch


def test_stop_keeps_the_partial_stability_comparison_and_sweep(page: Page, app_url: str):
    open_app(page, app_url)
    go_to(page, "Train")
    set_number(page, "Epochs", EPOCHS, "epochs")  # the Stability and Sweep pages use the Train settings

    go_to(page, "Stability")
    stop_mid_run(page, "Train all seeds")
    expect(page.get_by_text("the seeds are compared as learned so far")).to_be_visible()
    expect(page.get_by_text(re.compile(r"20 seeds trained together in"))).to_be_visible()
    expect(page.get_by_role("heading", name="Consensus features")).to_be_visible()
    no_exception(page)

    go_to(page, "Sweep")
    stop_mid_run(page, "Run sweep")
    expect(page.get_by_text("the models are shown as learned so far")).to_be_visible()
    expect(page.get_by_text(re.compile(r"24 models trained together in"))).to_be_visible()
    expect(page.locator("[data-testid='stVegaLiteChart']")).to_have_count(1)
    no_exception(page)

    # the partial runs were the Stability and Sweep pages' own: the Train page still has no model
    go_to(page, "Train")
    expect(page.get_by_text("No model yet")).to_be_visible()
