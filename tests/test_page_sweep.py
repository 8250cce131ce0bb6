"""AppTest: the Sweep page trains a grid at once, plots it and opens a chosen model's features."""

from apptest_helpers import click, start_app

SWEEP_PAGE = "app_pages/sweep.py"


def test_sweep_grid_then_open_a_model():
    at = start_app(SWEEP_PAGE)
    assert at.title[0].value == "Sweep"
    at.session_state["epochs"] = 200
    at.multiselect(key="sweep_hidden").set_value([4, 8]).run()
    at.multiselect(key="sweep_sparsity_weight").set_value([0.01, 0.1]).run()
    at.number_input(key="sweep_seeds").set_value(1).run()
    click(at, "Run sweep")
    table = at.session_state["sweep"].table
    assert len(table) == 4 and sorted(table.hidden_dim.unique()) == [4, 8]
    assert any("4 models trained together" in c.value for c in at.caption)
    assert len(at.get("vega_lite_chart")) == 1
    point = at.selectbox(key="sweep_point")
    point.set_value(3).run()
    assert at.query_params["sweep_point"] == "3"  # the link carries the model picked
    chosen = at.session_state["sweep"].results[3]
    click(at, "Open its features")
    assert at.session_state["result"] is chosen
    assert at.title[0].value == "Features"


def test_a_sweep_over_the_grid_limit_is_refused_with_a_message():
    at = start_app(SWEEP_PAGE)
    at.multiselect(key="sweep_hidden").set_value([2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64]).run()
    at.multiselect(key="sweep_sparsity_weight").set_value([0.0, 0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.3, 1.0]).run()
    at.number_input(key="sweep_seeds").set_value(3).run()
    click(at, "Run sweep")
    assert any("the limit is 256" in e.value for e in at.error)
    assert "sweep" not in at.session_state


def test_the_grid_and_the_picked_model_survive_a_visit_to_another_page():
    at = start_app(SWEEP_PAGE)
    at.session_state["epochs"] = 100
    at.multiselect(key="sweep_hidden").set_value([4, 8]).run()
    at.number_input(key="sweep_seeds").set_value(1).run()
    click(at, "Run sweep")
    at.selectbox(key="sweep_point").set_value(2).run()
    at.switch_page("app_pages/data.py").run()
    at.switch_page(SWEEP_PAGE).run()
    assert at.multiselect(key="sweep_hidden").value == [4, 8] and at.number_input(key="sweep_seeds").value == 1
    assert at.selectbox(key="sweep_point").value == 2 and at.query_params["sweep_point"] == "2"
