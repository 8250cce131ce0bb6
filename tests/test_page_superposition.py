"""AppTest: the Superposition page trains architectures on synthetic data and shows what they recovered."""

from __future__ import annotations

from apptest_helpers import click, start_app

from sae_core.architectures import ARCHITECTURES
from sae_core.ground_truth.lab import LabSettings
from sae_core.state import AppState

PAGE = "app_pages/superposition.py"


def test_guard_then_two_architectures_on_the_toy_model():
    at = start_app(PAGE)
    assert at.title[0].value == "Superposition"
    assert any("press **Train**" in i.value for i in at.info)
    assert at.radio(key="lab_generator").value == "toy"
    at.multiselect(key="lab_architectures").set_value(["standard", "topk"])
    at.number_input(key="lab_seconds").set_value(0.5).run()
    click(at, "Train")
    result = at.session_state["lab_result"]
    assert [run.architecture for run in result.runs] == ["standard", "topk"]
    assert all(0.4 < run.seconds < 2.0 and run.steps > 0 for run in result.runs)
    assert not at.warning and "trainer" not in at.session_state  # a finished run: no "Stopped early"
    table = at.table[0].value
    assert table["Model"].tolist() == [ARCHITECTURES["standard"].label, ARCHITECTURES["topk"].label,
                                       "chance (random directions)"]
    assert [s.value for s in at.subheader] == ["Recovery of the true features", "What became of each true feature",
                                               "True and learned directions"]
    # metric table, recovery over time, label counts, arrows (2-D), cosine matrix
    assert len(at.get("vega_lite_chart")) == 4
    assert at.selectbox(key="lab_matrix_model").options == [ARCHITECTURES["standard"].label,
                                                            ARCHITECTURES["topk"].label]
    assert any("5 true features in 2 dimensions" in c.value for c in at.caption)


def test_sparse_data_without_arrows_and_settings_survive_another_page():
    at = start_app(PAGE)
    at.radio(key="lab_generator").set_value("sparse").run()
    at.number_input(key="lab_dims").set_value(16)
    at.number_input(key="lab_features").set_value(32)
    at.number_input(key="lab_active").set_value(3.0)
    at.multiselect(key="lab_architectures").set_value(["topk"])
    at.number_input(key="lab_seconds").set_value(0.5).run()
    assert AppState.from_settings(at.session_state["settings"]).lab == LabSettings(
        generator="sparse", dims=16, features=32, active=3.0, architectures=("topk",), seconds=0.5)
    assert AppState.from_query(dict(at.query_params)).lab == AppState.from_settings(at.session_state["settings"]).lab
    at.switch_page("app_pages/data.py").run()
    at.switch_page(PAGE).run()
    assert at.number_input(key="lab_features").value == 32 and at.radio(key="lab_generator").value == "sparse"
    click(at, "Train")
    (run,) = at.session_state["lab_result"].runs
    assert run.cosines_FH.shape == (32, 64) and 2.9 <= run.metrics.l0 <= 3.0  # TopK k = 3 (ReLU may zero one)
    assert "True and learned directions" not in [s.value for s in at.subheader]
    assert len(at.get("vega_lite_chart")) == 3


def test_bad_settings_say_why_and_keep_the_last_result():
    at = start_app(PAGE)
    at.multiselect(key="lab_architectures").set_value(["topk"])
    at.number_input(key="lab_seconds").set_value(0.5).run()
    click(at, "Train")
    kept = at.session_state["lab_result"]
    at.radio(key="lab_generator").set_value("sparse").run()
    at.number_input(key="lab_features").set_value(8)
    at.number_input(key="lab_active").set_value(20.0).run()
    click(at, "Train")
    assert [e.value for e in at.error] == [
        "Cannot train: active features per sample must be a number from 0.01 to 8 (got 20.0)"]
    assert at.session_state["lab_result"] is kept
    at.multiselect(key="lab_architectures").set_value([]).run()
    click(at, "Train")
    assert [e.value for e in at.error] == ["Cannot train: choose at least one architecture"]


def test_a_link_opens_the_page_with_its_choices_and_bad_ones_fall_back():
    at = start_app(PAGE, query={"lab_generator": "sparse", "lab_features": "48", "lab_dims": "1",
                                "lab_architectures": "batchtopk", "lab_seconds": "0.5"})
    assert at.radio(key="lab_generator").value == "sparse"
    assert at.number_input(key="lab_features").value == 48
    assert at.number_input(key="lab_dims").value == LabSettings.dims  # 1 is below the range: the default
    assert at.multiselect(key="lab_architectures").value == ["batchtopk"]
    assert at.query_params["lab_features"] == "48" and "lab_dims" not in at.query_params
    at.switch_page("app_pages/train.py").run()  # another page: the choices stay in the settings and the link
    assert at.query_params["lab_architectures"] == "batchtopk"


def test_the_hierarchy_shows_absorption_per_architecture_and_its_choices_travel_in_the_link():
    at = start_app(PAGE, query={"lab_generator": "hierarchical", "lab_parents": "3", "lab_exclusive": "1",
                                "lab_children": "99"})
    assert at.radio(key="lab_generator").value == "hierarchical"
    assert at.number_input(key="lab_parents").value == 3 and at.checkbox(key="lab_exclusive").value is True
    assert at.number_input(key="lab_children").value == LabSettings.children  # 99 is above the range: the default
    at.number_input(key="lab_dims").set_value(16)
    at.number_input(key="lab_children").set_value(2)
    at.number_input(key="lab_independent").set_value(4)
    at.slider(key="lab_parent_probability").set_value(0.3)
    at.checkbox(key="lab_exclusive").uncheck()
    at.multiselect(key="lab_architectures").set_value(["standard", "topk"])
    at.number_input(key="lab_seconds").set_value(0.5).run()
    chosen = LabSettings(generator="hierarchical", dims=16, parents=3, children=2, independent=4,
                         parent_probability=0.3, architectures=("standard", "topk"), seconds=0.5)
    assert AppState.from_settings(at.session_state["settings"]).lab == chosen
    assert AppState.from_query(dict(at.query_params)).lab == chosen and "lab_exclusive" not in at.query_params
    click(at, "Train")
    result = at.session_state["lab_result"]
    assert result.data.features == 3 + 3 * 2 + 4 and result.data.config.exclusive is False
    assert "Feature absorption" in [s.value for s in at.subheader]
    assert any("does the parent's own latent still fire" in m.value for m in at.markdown)
    table = next(t.value for t in at.table if "Absorption" in t.value.columns)
    expected = result.absorption_table()
    assert table["Model"].tolist() == [ARCHITECTURES["standard"].label, ARCHITECTURES["topk"].label]
    assert table["Absorption"].tolist() == expected["absorption"].tolist()
    assert table["Missed alone"].tolist() == expected["missed_alone"].tolist()
    assert table["Child lean"].tolist() == expected["child_lean"].tolist()
    worst = max(expected.to_dict("records"), key=lambda r: r["absorption"] - r["missed_alone"])
    assert any(f"with **{worst['model']}**" in m.value and f"silent on **{worst['absorption']:.0%}**" in m.value
               and f"against **{worst['missed_alone']:.0%}** where the parent fires alone" in m.value
               for m in at.markdown)


def test_other_generators_show_no_absorption():
    at = start_app(PAGE)
    at.multiselect(key="lab_architectures").set_value(["topk"])
    at.number_input(key="lab_seconds").set_value(0.5).run()
    click(at, "Train")
    assert "Feature absorption" not in [s.value for s in at.subheader]
