"""AppTest of what every page shares: settings kept across pages, links, and stopping a training thread."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from apptest_helpers import DATA_PAGE, click, start_app

from sae_core import limits
from sae_core.state import TABLE_PARAM, AppState, link_query
from sae_core.table import values_of
from sae_core.training import ARTICLE, RECOMMENDED, Trainer

TRAIN_PAGE = "app_pages/train.py"
OTHER_PAGES = [DATA_PAGE, "app_pages/features.py", "app_pages/stability.py", "app_pages/sweep.py", "app_pages/lesson.py"]


def test_settings_typed_on_train_survive_every_other_page_and_reach_stability_and_the_url():
    at = start_app(TRAIN_PAGE)
    click(at, "Use the article's recipe")
    at.number_input(key="hidden_dim").set_value(7).run()
    expected = replace(ARTICLE, hidden_dim=7)
    for page in OTHER_PAGES:
        at.switch_page(page).run()
        assert not at.exception, page
        assert at.session_state["settings"]["hidden_dim"] == 7, page
        assert AppState.from_query(dict(at.query_params)).config == expected, page
    at.switch_page("app_pages/stability.py").run()
    assert any("hidden 7, sparsity weight 0.01, lr 0.01, 1,000 epochs" in c.value for c in at.caption)
    at.switch_page(TRAIN_PAGE).run()
    assert at.number_input(key="hidden_dim").value == 7
    assert at.number_input(key="lr").value == ARTICLE.lr and at.checkbox(key="tied_init").value is False


def test_a_shared_link_with_an_edited_table_trains_its_settings_with_one_click_and_says_so(seed_table):
    table = seed_table.copy()
    table.loc[0, "token"] = "kitten"
    state = AppState(config=replace(RECOMMENDED, hidden_dim=5, epochs=200, seed=3))
    at = start_app("app_pages/features.py", query=link_query(state, table).query)
    assert at.session_state["table"]["token"].tolist()[0] == "kitten"
    assert at.session_state["table_source"] == "table from a link"
    banner = [m.value for m in at.markdown if "You opened a shared link" in m.value]
    assert state.describe() == "ReLU + L1 (the article's), hidden 5, sparsity weight 0.07, lr 0.002, 200 epochs, seed 3"
    assert banner and f"table from a link, {state.describe()}." in banner[0]
    click(at, "Train these settings")
    result = at.session_state["result"]
    assert result.config.hidden_dim == 5 and result.epochs_done == 200 and result.config.seed == 3
    assert [s.value for s in at.success] == [f"Trained the shared link's settings: {state.describe()}."]
    assert at.session_state["result_tokens"][0] == "kitten"
    assert TABLE_PARAM in at.query_params  # the edited table travels on
    assert not [b for b in at.button if b.label == "Train these settings"]


def test_copy_link_shows_the_url_and_says_when_the_table_is_too_big_for_it():
    at = start_app(DATA_PAGE)
    (code,) = at.code
    assert code.value.startswith(f"?example=seed_tokens&hidden_dim={RECOMMENDED.hidden_dim}&")
    assert TABLE_PARAM not in code.value
    rows = "\n".join(f"t{i}," + ",".join(f"{np.sin(i * 7.1 + d):.6f}" for d in range(8)) for i in range(300))
    at.text_area(key="pasted").set_value("token," + ",".join(f"d{d}" for d in range(8)) + "\n" + rows).run()
    click(at, "Use pasted table")
    assert any("too large for a link" in c.value.lower() for c in at.caption)
    assert TABLE_PARAM not in at.query_params


# ---- Stop, with a real training thread ------------------------------------------------------


def start_training_thread(at):
    """What the Train page leaves in the session while its thread trains: the trainer and its events."""
    trainer = Trainer(values_of(at.session_state["table"]), replace(RECOMMENDED, epochs=limits.MAX_EPOCHS))
    stop, done = threading.Event(), threading.Event()
    logged: list[int] = []

    def log(step) -> None:
        logged.append(step.epoch)
        time.sleep(0.002)  # a page redraw

    def work() -> None:
        try:
            trainer.fit(on_step=log, every=1, stop=stop)
        finally:
            done.set()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # 20 epochs of an 8-token table take well under a second
    while trainer.epoch < 20:
        if not thread.is_alive() and trainer.epoch < 20:
            pytest.fail(f"the training thread ended at epoch {trainer.epoch}, before epoch 20")
        if time.monotonic() > deadline:
            stop.set()
            pytest.fail(f"the training thread reached only epoch {trainer.epoch} of 20 in 60 s")
        time.sleep(0.01)
    at.session_state["trainer"] = trainer
    at.session_state["trainer_events"] = (stop, done)
    return trainer, stop, done, logged, thread


@pytest.mark.parametrize("interrupt", ["Stop", "a widget change"])
def test_stop_or_a_widget_change_ends_the_thread_and_keeps_one_consistent_snapshot(interrupt):
    at = start_app(TRAIN_PAGE)
    trainer, stop, done, logged, thread = start_training_thread(at)
    if interrupt == "Stop":
        click(at, "Stop")
    else:
        at.number_input(key="seed").set_value(5).run()
    assert stop.is_set() and done.is_set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    result = at.session_state["result"]
    assert 20 <= result.epochs_done < limits.MAX_EPOCHS
    assert result.epochs_done == logged[-1] == trainer.epoch  # no epoch trained after the snapshot
    with torch.no_grad():
        again = result.model.encode(torch.as_tensor(values_of(at.session_state["table"]).copy()))[0].numpy()
    np.testing.assert_allclose(result.feature_activations, again, rtol=1e-5, atol=1e-6)
    assert f"Stopped at epoch {result.epochs_done:,} of {limits.MAX_EPOCHS:,}" in at.warning[0].value
    assert "trainer" not in at.session_state and "trainer_events" not in at.session_state


# ---- session keys named once ----------------------------------------------------------------


def test_session_keys_that_are_not_settings_are_named_once_in_app_ui_keys():
    import re
    from pathlib import Path

    from app_ui import keys
    from sae_core.sweep import grid_settings

    names = {value for name, value in vars(keys).items() if name.isupper()}
    assert len(names) == len([name for name in vars(keys) if name.isupper()])  # no key named twice
    settings = set(AppState().to_settings()) | set(grid_settings())
    assert not names & settings  # a key is a setting or not, never both
    root = Path(__file__).resolve().parents[1]
    bare = re.compile(r"""st\.session_state(?:\.(?:get|pop|setdefault)\(|\[)\s*["']([^"']+)["']"""
                      r"""|st\.session_state\.(?!get\b|pop\b|setdefault\b|update\b)([a-z_]+)""")
    spelled = []
    for path in [root / "streamlit_app.py", *sorted((root / "app_ui").glob("*.py")),
                 *sorted((root / "app_pages").glob("*.py"))]:
        for line_no, line in enumerate(path.read_text().splitlines(), 1):
            for match in bare.finditer(line.split("#")[0]):
                name = match.group(1) or match.group(2)
                if name not in settings:
                    spelled.append(f"{path.name}:{line_no}: {name}")
    assert not spelled, "session keys spelled out instead of app_ui.keys: " + ", ".join(spelled)
