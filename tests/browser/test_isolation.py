"""Two visitors at once never see each other's table, model or results."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from browser_helpers import (STEP_S, TRAIN_S, go_to, heading, no_exception, open_app, screenshot,
                             set_number, sidebar, wait_idle)

TABLES = {
    "alice": "token,a0,a1,a2\napple,1,0,0.5\napricot,0.9,0.1,0.4\navocado,0.1,1,0.2\n",
    "bob": "token,b0,b1\nbanana,0.2,0.9\nblueberry,0.8,0.1\nbroccoli,0.5,0.5\nbread,0.1,0.1\n",
}


def tokens_of(name: str) -> list[str]:
    return [line.split(",")[0] for line in TABLES[name].splitlines()[1:]]


def paste_table(page, text: str) -> None:
    page.get_by_text("Paste a whole table as CSV text").click()
    box = page.get_by_role("textbox", name="CSV text")
    box.fill(text)
    box.press("Control+Enter")  # commit the text area's value
    wait_idle(page)
    page.get_by_role("button", name="Use pasted table").click()
    wait_idle(page)


def test_two_sessions_keep_their_own_table_and_model(browser, app_url: str, artifacts: Path):
    contexts = {name: browser.new_context(viewport={"width": 1400, "height": 1000}) for name in TABLES}
    try:
        pages = {name: ctx.new_page() for name, ctx in contexts.items()}
        for page in pages.values():
            page.set_default_timeout(STEP_S * 1000)
            open_app(page, app_url)
        # both edit their tables before either trains: the edits interleave on one server
        for name, page in pages.items():
            paste_table(page, TABLES[name])
        alice, bob = pages["alice"], pages["bob"]
        expect(heading(alice, "Table: 3 tokens x 3 dimensions")).to_be_visible()
        expect(heading(bob, "Table: 4 tokens x 2 dimensions")).to_be_visible()

        # alice trains 4 features, bob trains 6, at the same time
        for page, hidden in ((alice, 4), (bob, 6)):
            go_to(page, "Train")
            set_number(page, "Hidden size (features)", hidden, "hidden_dim")
            set_number(page, "Epochs", 200, "epochs")
        for page in (alice, bob):
            page.get_by_role("button", name="Train", exact=True).click()
        for page, hidden in ((alice, 4), (bob, 6)):
            expect(page.locator("[data-testid='stMetric']").filter(has_text="Dead features")).to_contain_text(
                f"of {hidden}", timeout=TRAIN_S * 1000)
            wait_idle(page, TRAIN_S)
            expect(sidebar(page)).to_contain_text(f"Model: {hidden} features, 200 epochs")

        # each Features page shows its own tokens and only its own
        for page, own, other in ((alice, "alice", "bob"), (bob, "bob", "alice")):
            go_to(page, "Features")
            expect(page.get_by_text("Top tokens:").first).to_be_visible()
            cards = " ".join(page.locator("[data-testid='stMarkdownContainer']", has_text="Top tokens:").all_inner_texts())
            assert any(token in cards for token in tokens_of(own)), cards
            main = page.locator("[data-testid='stMain']").inner_text()
            assert not any(token in main for token in tokens_of(other)), main
            no_exception(page)
        go_to(alice, "Data")
        go_to(bob, "Data")
        expect(heading(alice, "Table: 3 tokens x 3 dimensions")).to_be_visible()
        expect(heading(bob, "Table: 4 tokens x 2 dimensions")).to_be_visible()
        expect(sidebar(alice)).to_contain_text("Model: 4 features")
        expect(sidebar(bob)).to_contain_text("Model: 6 features")
        screenshot(alice, artifacts / "isolation-alice.png")
        screenshot(bob, artifacts / "isolation-bob.png")
    finally:
        for ctx in contexts.values():
            ctx.close()
