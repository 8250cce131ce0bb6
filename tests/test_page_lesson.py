"""AppTest of the Lesson page: the default page, seven steps, one chart and one action each, Presenter."""

from __future__ import annotations

import json

from apptest_helpers import click, start_app

from app_ui import keys
from sae_core.architectures import ARCHITECTURES
from sae_core.charts import TEXT_PX_PRESENTER
from sae_core.examples import example_settings

STEP_HEADERS = ["1. The table", "2. Superposition", "3. Train an SAE", "4. Read the features",
                "5. Seeds and stability", "6. The sparsity trade-off", "7. Hierarchy"]
LINKS = ["data", "data", "train", "features", "stability", "sweep", "stability"]  # each step's full page


def charts(at) -> list:
    return list(at.get("vega_lite_chart"))


def links(at) -> list[str]:
    return [link.proto.page for link in at.get("page_link")]


def test_the_lesson_is_the_default_page_and_walks_seven_steps_on_the_users_state():
    at = start_app(None)
    assert [t.value for t in at.title] == ["Lesson"]
    assert at.query_params["example"] == "seed_tokens"
    for step, header in enumerate(STEP_HEADERS, start=1):
        assert [h.value for h in at.header] == [header], step
        assert LINKS[step - 1] in links(at), (step, links(at))
        if step == 2:
            assert any("3 named concepts in 4 dimensions" in m.value and "**not superposition**" in m.value
                       for m in at.markdown)
            assert len(charts(at)) == 1  # the geometry: tokens, concept arrows
        if step == 3:
            at.session_state["epochs"] = 300  # a short run
            click(at, "Train with these settings")
            assert at.session_state["result"].epochs_done == 300
            assert len(charts(at)) == 1  # the loss curve
        if step == 4:
            assert len(charts(at)) == 1  # the founding figure of the grouped features
            assert any(c.value.endswith("after grouping near-copies.") for c in at.caption)
        if step == 5:
            at.session_state["stability_seeds"] = 3  # (kept in the app's settings, like the slider's value)
            at.run()
            click(at, "Train 3 seeds at once")
            assert len(at.session_state["stability"].seeds) == 3 and len(charts(at)) == 1
        if step == 6:
            click(at, "Run a small sweep")
            assert len(at.session_state["sweep"].table) == 12 and len(charts(at)) == 1
        if step == 7:
            assert "real_model" in links(at)
            click(at, "Train 3 seeds for 1,200 epochs")  # step 3's 300 epochs x 4, step 5's 3 seeds
            epochs, run = at.session_state["lesson_over_training"]
            assert epochs == 300 and run.seeds == [0, 1, 2] and run.epochs[-1] == 1200 and 300 in run.epochs
            assert len(charts(at)) == 1  # recovered seeds and absorption against epochs
            assert any(m.value.startswith("**The first run a class sees** (seed 0, your 300 epochs)")
                       for m in at.markdown)
            click(at, "Train every architecture")  # the same seeds, each architecture's own recipe
            side = at.session_state[keys.SIDE_BY_SIDE]
            assert side.seeds == [0, 1, 2] and set(side.runs) == set(ARCHITECTURES)
            (shown,) = at.table
            assert "not an animal > robot/AI: absorbed" in shown.value.columns
            assert len(shown.value) == len(ARCHITECTURES) and len(charts(at)) == 2
            assert not [b for b in at.button if b.label.startswith("Next:")]
            break
        if step == 1:
            assert len(charts(at)) == 1  # the table heatmap
        click(at, f"Next: {STEP_HEADERS[step][3:]}")
        assert at.query_params["lesson_step"] == str(step + 1)
    assert not at.exception


def test_the_superposition_step_says_when_a_table_has_more_concepts_than_dimensions():
    at = start_app(None, query={"lesson_step": "2"})
    assert [h.value for h in at.header] == ["2. Superposition"]
    assert any("You opened a shared link" in m.value for m in at.markdown)
    click(at, "Load the colours-and-shapes example (more concepts than dimensions)")
    concepts, dims = len(at.session_state["references"]), len(at.session_state["table"].columns) - 1
    assert concepts > dims
    assert any(f"{concepts} named concepts in {dims} dimensions" in m.value and "**is superposition**" in m.value
               for m in at.markdown)
    assert at.query_params["example"] == "colors_and_shapes"  # the URL follows the example loaded
    shipped = example_settings("colors_and_shapes").config
    assert at.session_state["settings"]["hidden_dim"] == shipped.hidden_dim  # with the settings it ships
    assert at.query_params["sparsity_weight"] == repr(shipped.sparsity_weight)
    assert [s.value for s in at.success][0].startswith("Loaded Colours and shapes")
    assert not any("You opened a shared link" in m.value for m in at.markdown)  # a table of one's own now


def test_the_lesson_works_in_presenter_mode():
    at = start_app(None, query={"presenter": "1", "lesson_step": "1"})
    assert at.toggle(key="presenter").value is True
    (chart,) = charts(at)
    assert json.loads(chart.proto.spec)["config"]["axis"]["labelFontSize"] == TEXT_PX_PRESENTER
    assert any("font-size" in h.proto.body for h in at.get("html"))


def test_the_hierarchy_step_trains_longer_and_says_what_seed_0_of_the_shipped_recipe_misses():
    """The shipped recipe (1,000 epochs) on seeds 0-19, trained to 4,000: the issue's measured counts
    (not an animal in 12 of 20 seeds at 1,000 epochs, 1 at 4,000), in Presenter mode."""
    at = start_app(None, query={"presenter": "1", "lesson_step": "7"})
    assert [h.value for h in at.header] == ["7. Hierarchy"]
    assert any("**not an animal** contains **robot/AI**" in m.value for m in at.markdown)
    assert not charts(at)
    click(at, "Train 20 seeds for 4,000 epochs")
    (chart,) = charts(at)
    spec = json.loads(chart.proto.spec)
    assert spec["config"]["axis"]["labelFontSize"] == TEXT_PX_PRESENTER
    assert len(spec["vconcat"]) == 2  # recovered seeds, then absorption
    _, run = at.session_state["lesson_over_training"]
    assert run.recovered(1000) == {"animal": 17, "robot/AI": 14, "not an animal": 12}
    (said,) = [m.value for m in at.markdown if m.value.startswith("**The first run a class sees**")]
    assert "(seed 0, your 1,000 epochs) does **not** show all 3 named concepts" in said
    assert "it misses **not an animal**." in said
    assert "(not cat and not dog) no longer fires on robot and AI assistant" in said
    assert "is recovered in 12 of 20; in 8 the *robot/AI* feature has absorbed its tokens completely" in said
    assert "At 4,000 epochs it is recovered in 1 of 20." in said
    assert {"stability", "real_model"} <= set(links(at))
