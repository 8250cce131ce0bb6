"""AppTest tests of the Features page: the no-model guard, the charts, the cards, the references."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from apptest_helpers import click, start_app

from sae_core.examples import example_names
from app_ui.feature_sections import CONCEPT_HEADING
from sae_core.charts import TEXT_PX, TEXT_PX_PRESENTER
from sae_core.features import FeatureGroup, active_sets, group_duplicates, top_tokens
from sae_core.limits import FEATURES_PER_PAGE, HEATMAP_MAX_FEATURES
from sae_core.table import values_of
from sae_core.training import RECOMMENDED, Trainer

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "streamlit_app.py")
DATA_PAGE, TRAIN_PAGE, FEATURES_PAGE = "app_pages/data.py", "app_pages/train.py", "app_pages/features.py"
EPOCHS = 300


def start() -> AppTest:
    return start_app(DATA_PAGE)


def trained(at: AppTest | None = None, epochs: int = EPOCHS, seed: int = 0, **numbers) -> AppTest:
    """Train on the Train page (as a visitor would), then open the Features page."""
    at = at or start()
    at.switch_page(TRAIN_PAGE).run()
    for key, value in {"epochs": epochs, "seed": seed, **numbers}.items():
        at.number_input(key=key).set_value(value)
    click(at, "Train")
    assert "result" in at.session_state
    at.switch_page(FEATURES_PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def cards(at: AppTest) -> list[str]:
    """Each feature card's heading (``#### F<j> ...``)."""
    return [m.value for m in at.markdown if m.value.startswith("#### F")]


def charts(at: AppTest) -> list:
    return list(at.get("vega_lite_chart"))


def live_and_dead(result) -> tuple[list[int], list[int]]:
    acts = result.feature_activations
    live = [j for j in range(acts.shape[1]) if (acts[:, j] > 0).any()]
    return live, [j for j in range(acts.shape[1]) if j not in live]


# ---- no model yet ---------------------------------------------------------------------------


def test_without_a_model_the_page_says_so_and_links_to_train():
    at = start()
    at.switch_page(FEATURES_PAGE).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Features"]
    assert [i.value for i in at.info] == ["No model yet. Train one on the Train page first."]
    assert [link.label for link in at.get("page_link")] == ["Go to Train"]
    assert charts(at) == [] and cards(at) == []


# ---- after training -------------------------------------------------------------------------


def test_after_training_the_page_shows_charts_and_a_card_per_group_of_copies():
    at = trained()
    result = at.session_state["result"]
    tokens = at.session_state["result_tokens"]
    live, dead = live_and_dead(result)
    assert live, "a trained model has at least one live feature"
    assert {"Activation of each feature on each token", "Heatmap: features x tokens", "Feature cards"} <= {
        s.value for s in at.subheader} and "Decoder direction of each feature" in {s.value for s in at.subheader}
    assert at.toggle(key="hide_dead").value is bool(dead)
    groups = group_duplicates(result.feature_activations, result.decoder_directions, tokens, live)
    # activations, decoder directions, heatmap (cards are text: fast with thousands of features), then
    # the geometry and the building blocks
    assert len(charts(at)) == 3 + 2
    assert sum(c.value.startswith("Decoder direction: ") for c in at.caption) == len(groups)
    headings = cards(at)
    assert len(headings) == len(groups)
    for group in groups:
        (heading,) = [h for h in headings if h.startswith(f"#### F{group.representative} ")]
        if len(group.features) > 1:
            copies = ", ".join(f"F{j}" for j in sorted(group.features))
            assert heading.endswith(f" · {len(group.features)} copies: {copies}"), heading
    top_lines = [m.value for m in at.markdown if m.value.startswith("Top tokens: ")]
    assert len(top_lines) == len(groups)
    for group in groups:
        token, activation = top_tokens(result.feature_activations, tokens, group.representative, k=1)[0]
        assert any(line.startswith(f"Top tokens: **{token}** ({activation:.2f})") for line in top_lines)
    assert sum(c.value.startswith("Active set (≥ 25% of peak): ") for c in at.caption) == len(groups)
    if dead:
        assert f"Dead features (fire on no token): {', '.join(f'F{j}' for j in dead)}." in [c.value for c in at.caption]
    assert not at.warning  # neither stale nor stopped
    assert not [s for s in at.subheader if s.value == "All features"]  # few features: no table, no pages
    # open one feature: only its card, and the link says which
    opened = groups[-1].representative
    at.selectbox(key="feature").set_value(opened).run()
    assert [h.split()[1] for h in cards(at)] == [f"F{opened}"] and at.query_params["feature"] == str(opened)


def test_show_every_copy_and_dead_features_gives_one_card_each():
    at = trained(epochs=150, hidden_dim=FEATURES_PER_PAGE, resample_dead_every=0)  # more features than the table needs
    live, dead = live_and_dead(at.session_state["result"])
    at.toggle(key="show_copies").set_value(True).run()
    assert len(cards(at)) == len(live)
    if not dead:
        pytest.skip("this run left no dead feature")
    at.toggle(key="hide_dead").set_value(False).run()
    assert not at.exception
    headings = cards(at)
    assert len(headings) == len(live) + len(dead)
    assert sum("dead — fires on no token" in h for h in headings) == len(dead)
    assert len(charts(at)) == 3 + 2
    assert len([m for m in at.markdown if m.value.startswith("Top tokens: ")]) == len(live)


def test_many_features_get_a_sortable_table_and_one_page_of_cards():
    at = trained(epochs=3, hidden_dim=400, seed=1)
    at.toggle(key="show_copies").set_value(True).run()  # one card per feature: hundreds of them
    live, _ = live_and_dead(at.session_state["result"])
    groups = [FeatureGroup((j,)) for j in live]
    assert len(groups) > 2 * FEATURES_PER_PAGE
    assert "All features" in [s.value for s in at.subheader]
    (summary,) = at.dataframe
    assert len(summary.value) == len(groups)
    assert list(summary.value.columns) == ["feature", "density", "max activation", "top tokens", "copies"]
    assert len(cards(at)) == FEATURES_PER_PAGE
    assert len(charts(at)) == 3  # never one chart per feature (geometry and building blocks left out)
    assert any(c.value.endswith(f"they need at most {HEATMAP_MAX_FEATURES}).") for c in at.caption)
    at.number_input(key="features_page").set_value(2).run()
    second = [g.representative for g in groups[FEATURES_PER_PAGE:2 * FEATURES_PER_PAGE]]
    assert sorted(int(h.split()[1][1:]) for h in cards(at)) == second  # (cards fill two columns)
    assert at.query_params["features_page"] == "2"
    at.selectbox(key="feature").set_value(groups[-1].representative).run()
    assert [int(h.split()[1][1:]) for h in cards(at)] == [groups[-1].representative]
    assert at.query_params["feature"] == str(groups[-1].representative)
    at.selectbox(key="feature").set_value(-1).run()
    at.toggle(key="show_copies").set_value(False).run()  # (fewer groups: page 2 may no longer exist)
    at.session_state["features_page"] = 999  # e.g. from an old link: falls back to page 1
    at.run()
    assert not at.exception and cards(at)


def test_presenter_switch_enlarges_chart_text_and_stays_on_across_pages():
    at = trained()
    assert at.toggle(key="presenter").value is False
    font = lambda: json.loads(charts(at)[0].proto.spec)["config"]["axis"]["labelFontSize"]
    assert font() == TEXT_PX
    at.toggle(key="presenter").set_value(True).run()
    assert font() == TEXT_PX_PRESENTER and at.query_params["presenter"] == "1"
    at.switch_page(DATA_PAGE).run()
    at.switch_page(FEATURES_PAGE).run()
    assert at.toggle(key="presenter").value is True and font() == TEXT_PX_PRESENTER


def concept_lines(at) -> list[str]:
    (block,) = [m.value for m in at.markdown if m.value.startswith(CONCEPT_HEADING)]
    return block.split("\n")[1:]


def test_concept_lines_show_the_closest_feature_of_each_named_concept():
    at = trained()
    result = at.session_state["result"]
    refs = at.session_state["result_references"]
    assert {r.name for r in refs} == {"animal", "robot/AI", "not an animal"}
    lines = concept_lines(at)
    assert len(lines) == 3
    sets = active_sets(result.feature_activations, at.session_state["result_tokens"])
    for ref, line in zip(refs, lines):
        exact = [j for j, s in enumerate(sets) if s == ref.tokens]
        if exact:
            assert line == f"- :material/check_circle: *{ref.name}* → **F{exact[0]}**, exact"
        else:
            assert line.startswith(f"- :material/change_history: *{ref.name}* ≈ **F") or "shares a token" in line
    assert any(c.value.startswith("A feature's active set is the tokens where it reaches at least 25%") for c in at.caption)


def test_concept_lines_follow_the_example_trained_on():
    other = next(n for n in example_names() if n != "seed_tokens")
    at = start()
    at.selectbox(key="example").set_value(other)
    click(at, "Load example")
    trained(at)
    text = "\n".join(concept_lines(at))
    names = {r.name for r in at.session_state["result_references"]}
    assert names and all(f"*{name}*" in text for name in names)
    assert "*animal*" not in text


def test_a_table_without_named_features_shows_no_concept_lines():
    at = start()
    at.text_area(key="pasted").set_value("token,a,b,c\nsun,1,0,0.2\nmoon,0,1,0.1\nstar,0.5,0.5,1")
    click(at, "Use pasted table")
    trained(at, epochs=100)
    assert not any(m.value.startswith(CONCEPT_HEADING) for m in at.markdown)
    assert cards(at)


def test_features_of_a_changed_table_are_flagged_stale():
    at = trained(epochs=100)
    at.switch_page(DATA_PAGE).run()
    at.selectbox(key="remove_dim").set_value("d3")
    click(at, "Remove dimension")
    at.switch_page(FEATURES_PAGE).run()
    assert not at.exception
    assert [w.value for w in at.warning] == [
        "The table has changed since this model was trained; these are the features of the table it was trained on."]
    assert at.session_state["result_dims"] == ["d0", "d1", "d2", "d3"]  # the charts use what it saw
    assert cards(at)


def test_a_stopped_run_says_where_it_stopped():
    at = start()
    trainer = Trainer(values_of(at.session_state["table"]), replace(RECOMMENDED, epochs=1000))
    trainer.fit(stop=lambda: trainer.epoch >= 75)
    at.session_state["trainer"] = trainer  # what a click on Stop leaves behind
    at.switch_page(TRAIN_PAGE).run()
    at.switch_page(FEATURES_PAGE).run()
    assert not at.exception
    assert "Training was stopped at epoch 75 of 1,000." in [c.value for c in at.caption]
    assert cards(at)


def test_a_run_interrupted_from_another_page_is_kept_there():
    """A click on Features during training interrupts the run; Features then shows its partial model."""
    at = start()
    trainer = Trainer(values_of(at.session_state["table"]), replace(RECOMMENDED, epochs=500))
    trainer.fit(stop=lambda: trainer.epoch >= 75)
    at.session_state["trainer"] = trainer
    at.switch_page(FEATURES_PAGE).run()
    assert not at.exception
    assert "trainer" not in at.session_state
    assert at.session_state["result"].epochs_done == 75
    assert any("Training was stopped at epoch 75 of 500." in c.value for c in at.caption)
