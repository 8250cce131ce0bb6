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
