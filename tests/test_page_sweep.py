"""AppTest: the Sweep page trains a grid at once, plots it and opens a chosen model's features."""

from apptest_helpers import click, start_app

SWEEP_PAGE = "app_pages/sweep.py"


def test_sweep_grid_then_open_a_model():
    at = start_app(SWEEP_PAGE)
    assert at.title[0].value == "Sweep"
    at.session_state["epochs"] = 200
    at.multiselect(key="sweep_hidden").set_value([4, 8]).run()
    at.multiselect(key="sweep_weights").set_value([0.01, 0.1]).run()
    at.number_input(key="sweep_seeds").set_value(1).run()
    click(at, "Run sweep")
    table = at.session_state["sweep"].table
    assert len(table) == 4 and sorted(table.hidden_dim.unique()) == [4, 8]
    assert any("4 models trained together" in c.value for c in at.caption)
    assert len(at.get("vega_lite_chart")) == 1
    point = at.selectbox[0]
    point.set_value(3).run()
    chosen = at.session_state["sweep"].results[3]
    click(at, "Open its features")
    assert at.session_state["result"] is chosen
    assert at.title[0].value == "Features"


def test_a_sweep_over_the_grid_limit_is_refused_with_a_message():
    at = start_app(SWEEP_PAGE)
    at.multiselect(key="sweep_hidden").set_value([2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64]).run()
    at.multiselect(key="sweep_weights").set_value([0.0, 0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.3, 1.0]).run()
    at.number_input(key="sweep_seeds").set_value(3).run()
    click(at, "Run sweep")
    assert any("the limit is 256" in e.value for e in at.error)
    assert "sweep" not in at.session_state
