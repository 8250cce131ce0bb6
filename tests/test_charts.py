"""sae_core.charts: every chart serialises and carries the expected rows."""

from __future__ import annotations

import json

import altair as alt
import numpy as np
import pandas as pd
import pytest

from sae_core import charts
from sae_core.sweep import knob_of

TOKENS = ["cat", "dog", "robot"]
ACTS = np.array([  # 3 tokens x 4 features; F1 and F3 never fire
    [1.0, 0.0, 0.5, 0.0],
    [0.8, 0.0, 0.0, 0.0],
    [0.0, 0.0, 2.0, 0.0],
], dtype=np.float32)


def spec_and_rows(chart) -> tuple[dict, pd.DataFrame]:
    """The chart's Vega-Lite dict (must be JSON-serialisable) and its one dataset."""
    spec = chart.to_dict()
    json.dumps(spec)
    datasets = list(spec.get("datasets", {}).values())
    assert len(datasets) == 1
    return spec, pd.DataFrame(datasets[0])


def test_feature_colours():
    assert charts.feature_name(3) == "F3"
    assert charts.feature_colour(0) == charts.FEATURE_COLOURS[0]
    assert charts.feature_colour(len(charts.FEATURE_COLOURS)) == charts.FEATURE_COLOURS[0]  # cycles
    assert len(set(charts.FEATURE_COLOURS)) == len(charts.FEATURE_COLOURS)
    assert charts.DEAD_COLOUR not in charts.FEATURE_COLOURS


def test_activations_long():
    long = charts.activations_long(ACTS, TOKENS)
    assert len(long) == 12
    assert list(long.columns) == ["feature", "feature_index", "token", "token_order", "activation", "dead"]
    row = long[(long["feature"] == "F2") & (long["token"] == "robot")].iloc[0]
    assert row["activation"] == 2.0 and row["token_order"] == 2 and not row["dead"]
    assert set(long.loc[long["dead"], "feature"]) == {"F1", "F3"}


def test_feature_bars_has_tokens_times_features_rows_and_dead_titles():
    chart = charts.feature_bars(ACTS, TOKENS)
    assert isinstance(chart, alt.FacetChart)
    spec, rows = spec_and_rows(chart)
    assert len(rows) == 3 * 4
    titles = rows.drop_duplicates("feature_index").set_index("feature_index")["title"].to_dict()
    assert titles == {0: "F0", 1: "F1 (dead)", 2: "F2", 3: "F3 (dead)"}
    assert spec["facet"]["sort"] == ["F0", "F1 (dead)", "F2", "F3 (dead)"]
    assert spec["columns"] == 3  # three panels a row fit beside the sidebar at 1280 px
    scale = spec["spec"]["encoding"]["color"]["scale"]
    assert scale["range"][1] == charts.DEAD_COLOUR and scale["range"][0] == charts.FEATURE_COLOURS[0]
    assert scale["range"][2] == charts.FEATURE_COLOURS[2]  # a feature keeps its own colour
    assert rows.loc[(rows["title"] == "F2") & (rows["token"] == "robot"), "activation"].item() == 2.0


def test_feature_bars_shows_a_subset():
    spec, rows = spec_and_rows(charts.feature_bars(ACTS, TOKENS, columns=2, shown=[2, 1]))
    assert len(rows) == 3 * 2
    assert set(rows["title"]) == {"F2", "F1 (dead)"}
    assert spec["facet"]["sort"] == ["F2", "F1 (dead)"] and spec["columns"] == 2
    assert spec["spec"]["encoding"]["color"]["scale"]["range"] == [charts.FEATURE_COLOURS[2], charts.DEAD_COLOUR]


def test_feature_heatmap():
    spec, rows = spec_and_rows(charts.feature_heatmap(ACTS, TOKENS))
    assert len(rows) == 12
    assert spec["encoding"]["y"]["sort"] == ["F0", "F1", "F2", "F3"]
    assert spec["encoding"]["x"]["sort"] == TOKENS


def test_table_heatmap(seed_table):
    spec, rows = spec_and_rows(charts.table_heatmap(seed_table))
    assert len(rows) == 8 * 4
    assert set(rows.columns) == {"token", "dimension", "value"}
    assert rows.loc[(rows["token"] == "robot") & (rows["dimension"] == "d2"), "value"].item() == pytest.approx(0.9)
    assert spec["encoding"]["x"]["sort"] == ["d0", "d1", "d2", "d3"]


def test_loss_chart_drops_non_positive_values_for_the_log_scale():
    history = pd.DataFrame({"epoch": [1, 2, 3], "total": [1.0, 0.5, 0.25],
                            "reconstruction": [0.9, 0.45, 0.2], "sparsity": [0.1, 0.05, 0.0]})
    spec, rows = spec_and_rows(charts.loss_chart(history))
    assert len(rows) == 3 * 3 - 1
    assert set(rows["loss"]) == {"total", "reconstruction", "sparsity"}
    assert (rows["value"] > 0).all()
    assert spec["encoding"]["y"]["scale"]["type"] == "log"


def test_loss_chart_from_a_real_history(seed_x):
    from sae_core.training import TrainConfig, train

    history = train(seed_x, TrainConfig(epochs=30)).history
    _, rows = spec_and_rows(charts.loss_chart(history))
    assert len(rows) == 3 * len(history)


def test_tradeoff_chart():
    table = pd.DataFrame({
        "point": [0, 1, 2, 3], "hidden_dim": [4, 4, 8, 8], "sparsity_weight": [0.01, 0.1, 0.01, 0.1],
        "seed": [0, 0, 0, 0], "mse": [0.1, 0.2, 0.05, 0.1], "explained_variance": [0.9, 0.8, 0.95, 0.9],
        "l0": [2.0, 1.0, 3.0, 1.5], "dead_features": [0, 1, 2, 3],
    })
    spec, rows = spec_and_rows(charts.tradeoff_chart(table, knob_of("standard")))
    assert len(rows) == 4
    assert spec["encoding"]["shape"]["field"] == "sparsity_weight" and spec["encoding"]["shape"]["title"] == "Sparsity weight"
    assert spec["params"][0]["name"] == charts.SWEEP_SELECTION
    assert spec["params"][0]["select"]["fields"] == ["point"]
    assert spec["encoding"]["color"]["scale"]["domain"] == [4, 8]


def test_consensus_bars():
    acts = np.array([[1.0, 0.0, 0.5], [0.0, 2.0, 0.0]])
    spec, rows = spec_and_rows(charts.consensus_bars(acts, ["animal (5 seeds)", "other"], TOKENS))
    assert len(rows) == 2 * 3
    assert rows.loc[(rows["title"] == "other") & (rows["token"] == "dog"), "activation"].item() == 2.0
    assert spec["facet"]["sort"] == ["animal (5 seeds)", "other"]


def test_recovery_chart():
    chart = charts.recovery_chart({"animal": 4, "robot/AI": 1, "not an animal": 0}, 5)
    spec, rows = spec_and_rows(chart)
    assert rows["feature"].tolist() == ["animal: 4/5", "robot/AI: 1/5", "not an animal: 0/5"]
    assert rows["seeds"].tolist() == [4, 1, 0]
    assert spec["encoding"]["x"]["scale"]["domain"] == [0, 5]
    _, rows = spec_and_rows(charts.recovery_chart({}, 0))  # no references, no seeds: no division by zero
    assert rows.empty


def _rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)


def test_neighbouring_feature_colours_differ_and_are_dark_enough_for_a_projector():
    colours = charts.FEATURE_COLOURS
    for j in range(len(colours)):  # F_j next to F_j+1, also where the palette wraps around
        assert np.linalg.norm(_rgb(colours[j]) - _rgb(colours[(j + 1) % len(colours)])) > 100, j
    for colour in colours:  # no pale colour that vanishes on white
        assert _rgb(colour) @ [0.299, 0.587, 0.114] < 190, colour


@pytest.mark.parametrize("features", [1, 32])
def test_heatmap_rows_keep_their_height_from_one_to_32_features(features):
    acts = np.abs(np.random.default_rng(0).normal(size=(8, features))).astype(np.float32)
    acts[0, 0] = 0.0
    tokens = [f"token {i}" for i in range(8)]
    spec, rows = spec_and_rows(charts.feature_heatmap(acts, tokens))
    assert spec["height"] == {"step": charts.HEATMAP_ROW_PX} and charts.HEATMAP_ROW_PX >= 20
    assert spec["encoding"]["y"]["sort"] == [f"F{j}" for j in range(features)] and len(rows) == 8 * features
    assert spec["encoding"]["y"]["axis"]["labelOverlap"] is False
    color = spec["encoding"]["color"]
    assert color["condition"]["test"] == "datum.activation > 0" and color["value"] == charts.ZERO_COLOUR == "#ffffff"
    assert color["condition"]["scale"]["domain"] == [0, pytest.approx(float(acts.max()))]


def test_heatmap_of_a_subset_keeps_feature_names():
    spec, rows = spec_and_rows(charts.feature_heatmap(ACTS, TOKENS, shown=[2, 0]))
    assert spec["encoding"]["y"]["sort"] == ["F2", "F0"] and set(rows["feature"]) == {"F2", "F0"}


def test_small_multiples_label_tokens_under_every_panel():
    spec = charts.feature_bars(ACTS, TOKENS).to_dict()
    assert spec["resolve"]["axis"]["x"] == "independent"
    assert spec["spec"]["encoding"]["x"]["axis"]["labelOverlap"] is False


@pytest.mark.parametrize("presenter, px", [(False, charts.TEXT_PX), (True, charts.TEXT_PX_PRESENTER)])
def test_readable_sets_dark_text_of_at_least_14_px(presenter, px):
    spec = charts.readable(charts.feature_bars(ACTS, TOKENS), presenter=presenter).to_dict()
    assert px >= 14
    for part in ("axis", "legend"):
        assert spec["config"][part]["labelFontSize"] == px and spec["config"][part]["labelColor"] == charts.TEXT_COLOUR
    assert spec["config"]["header"]["labelFontSize"] >= px
    assert spec["spec"]["width"] == (int(170 * 1.35) if presenter else 170)
    assert spec["columns"] == (2 if presenter else 3)


def test_decoder_bars_one_panel_per_shown_feature_in_its_colour():
    directions = np.array([[0.5, -0.25], [1.0, 0.0], [0.0, 2.0]])
    spec, rows = spec_and_rows(charts.decoder_bars(directions, ["d0", "d1"], shown=[2, 0]))
    assert spec["facet"]["sort"] == ["F2", "F0"] and len(rows) == 4
    assert rows.loc[(rows["title"] == "F0") & (rows["token"] == "d1"), "activation"].item() == -0.25
    assert spec["spec"]["encoding"]["color"]["scale"]["range"] == [charts.FEATURE_COLOURS[2], charts.FEATURE_COLOURS[0]]
