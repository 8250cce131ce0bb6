"""sae_core.charts: the geometry chart and the building-blocks chart (lesson-concepts)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sae_core import charts
from sae_core.contributions import TokenContributions, contributions_long
from sae_core.features import ReferenceFeature
from sae_core.geometry import table_geometry

X = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
TOKENS = ["east", "west", "north", "south"]


def datasets(chart) -> list[pd.DataFrame]:
    spec = chart.to_dict()
    json.dumps(spec)
    return [pd.DataFrame(rows) for rows in spec.get("datasets", {}).values()]


def font_sizes(node) -> list[float]:
    """Every font size set anywhere in a Vega-Lite spec."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("fontSize", "labelFontSize", "titleFontSize") and isinstance(value, (int, float)):
                found.append(value)
            found += font_sizes(value)
    elif isinstance(node, list):
        for value in node:
            found += font_sizes(value)
    return found


def test_geometry_chart_draws_points_and_arrows_with_heads_pointing_along_them():
    acts = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.5], [0.0, 0.0]])
    W = np.array([[-1.0, 0.0], [0.0, 2.0]])
    g = table_geometry(X, TOKENS, [ReferenceFeature("east", frozenset({"east"}))], acts, W, np.array([0.0, 1.0]))
    chart = charts.geometry_chart(g)
    points, heads, bias = datasets(chart)
    assert bias.to_dict("records") == [{"x": 0.0, "y": 1.0, "label": "decoder bias"}]
    assert points["token"].tolist() == TOKENS
    assert heads["name"].tolist() == ["east", "F0", "F1"] and heads["kind"].tolist() == ["concept", "feature", "feature"]
    # east arrow points right (90 degrees clockwise from up), F0 left (270), F1 up (0)
    assert heads["angle"].tolist() == pytest.approx([90.0, 270.0, 0.0])
    spec = chart.to_dict()
    assert min(font_sizes(spec)) >= 14
    x_domain = spec["layer"][0]["encoding"]["x"]["scale"]["domain"]
    assert x_domain == spec["layer"][0]["encoding"]["y"]["scale"]["domain"]  # one scale: true angles
    assert x_domain[1] == pytest.approx(2.0 * 1.25)
    assert heads[["x0", "y0"]].to_numpy().tolist() == [[0, 0], [0, 1], [0, 1]]  # features start at the bias


def test_geometry_chart_without_arrows_has_only_points():
    chart = charts.geometry_chart(table_geometry(X, TOKENS))
    assert len(datasets(chart)) == 1 and len(chart.to_dict()["layer"]) == 2


def test_contributions_chart_has_one_panel_per_part_in_order():
    tc = TokenContributions("cat", np.array([1.0, 2.0]), np.array([0.5, 0.5]), np.array([0.0, 2.0, 1.0]),
                            {1: np.array([0.25, 1.0]), 2: np.array([0.0, 0.0])}, {1: 1.0, 2: 0.0},
                            np.array([0.75, 1.5]), np.array([1.0, 2.0]))
    long = contributions_long(tc, ["d0", "d1"])
    assert list(dict.fromkeys(long["part"])) == ["cat", "bias", "+ F1 (2.00)", "+ F2 (1.00), off", "= rebuilt"]
    assert long[long["kind"] == "reconstruction"]["value"].tolist() == [0.75, 1.5]
    assert long["input"].tolist() == [1.0, 2.0] * 5
    chart = charts.contributions_chart(long, ["d0", "d1"])
    (rows,) = datasets(chart)
    assert len(rows) == 10
    spec = chart.to_dict()
    assert min(font_sizes(spec)) >= 14
    assert spec["columns"] == 5 and spec["spec"]["width"] == 125  # one row, read as a sum
    many = pd.concat([long.assign(part=long["part"] + f" {k}", order=long["order"] + 10 * k) for k in range(2)])
    wide = charts.contributions_chart(many, ["d0", "d1"]).to_dict()
    assert wide["columns"] == 10 and wide["spec"]["width"] == 70  # narrower, never under 70 px


def test_labels_of_tokens_close_together_are_staggered():
    x = np.array([[1.0, 0.0], [1.001, 0.0], [1.002, 0.001], [-1.0, 0.0]])
    g = table_geometry(x, ["cat", "happy cat", "kitten", "robot"])
    points, = datasets(charts.geometry_chart(g))
    assert points["label_dy"].tolist() == [-8.0, 8.0, 24.0, -8.0]  # robot is far away: not moved
