"""The ground-truth lab's charts: readable text, the matching on the diagonal, one arrow per direction."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from sae_core.ground_truth import charts as lab_charts


def spec_of(chart) -> dict:
    spec = chart.to_dict()
    json.dumps(spec)
    return spec


def assert_readable(spec: dict) -> None:
    config = spec["config"]
    sizes = [config["axis"]["labelFontSize"], config["axis"]["titleFontSize"], config["legend"]["labelFontSize"]]
    assert min(sizes) >= 14, sizes


def rows(spec: dict) -> pd.DataFrame:
    (data,) = spec["datasets"].values()
    return pd.DataFrame(data)


def test_recovery_over_time_chart():
    curves = pd.DataFrame({"model": ["A", "A", "B", "B"] * 2, "seconds": [0, 1, 0, 1] * 2, "step": [0, 9, 0, 7] * 2,
                           "metric": ["mmcs"] * 4 + ["hungarian"] * 4, "value": [0.2, 0.9, 0.2, 0.5] * 2})
    spec = spec_of(lab_charts.recovery_over_time_chart(curves, chance_mmcs=0.2))
    assert_readable(spec)
    line = spec["layer"][0]
    assert line["encoding"]["x"]["title"] == "Training time (seconds)"
    assert line["encoding"]["y"]["scale"]["domain"] == [pytest.approx(0.15), 1.0]
    assert line["encoding"]["color"]["scale"]["domain"] == ["A", "B"]
    datasets = list(spec["datasets"].values())
    assert {"MMCS", "Hungarian"} == set(pd.DataFrame(datasets[0])["metric"])
    assert pd.DataFrame(datasets[1])["text"].tolist() == ["chance MMCS 0.20"]


def test_cosine_matrix_puts_each_partner_on_the_diagonal_and_fits_the_window():
    cos = np.array([[0.1, 0.9, 0.0, 0.3], [0.95, 0.2, 0.1, 0.0]])
    spec = spec_of(lab_charts.cosine_matrix_chart(cos, np.array([1, 0, 3, 2])))
    assert_readable(spec)
    assert spec["encoding"]["x"]["sort"] == ["L1", "L0", "L3", "L2"]
    table = rows(spec)
    assert table.loc[(table["true"] == "T0") & (table["learned"] == "L1"), "cosine"].item() == pytest.approx(0.9)
    big = np.random.default_rng(0).uniform(-1, 1, (512, 1024))
    spec = spec_of(lab_charts.cosine_matrix_chart(big, np.arange(1024)))
    shown = rows(spec)
    assert shown["true"].nunique() == 24 and shown["learned"].nunique() == 30  # 24 partners + 6 others
    assert spec["width"]["step"] * 30 <= 560


def test_label_counts_stack_in_a_fixed_colour_per_label():
    counts = pd.DataFrame({"model": ["A"] * 4, "label": list(lab_charts.LABEL_COLOURS), "count": [3, 1, 1, 0]})
    spec = spec_of(lab_charts.label_count_chart(counts))
    assert_readable(spec)
    assert spec["encoding"]["color"]["scale"]["range"] == list(lab_charts.LABEL_COLOURS.values())


def test_direction_arrows_one_per_true_and_learned_direction():
    pentagon = np.array([[math.cos(a), math.sin(a)] for a in np.linspace(0, 2 * math.pi, 5, endpoint=False)])
    learned = {"TopK": pentagon * 3.0, "ReLU": pentagon[:3]}
    spec = spec_of(lab_charts.direction_arrows_chart(pentagon * 1.1, learned))
    assert_readable(spec)
    table = rows(spec)
    assert (table["kind"] == "true feature").sum() == 10 and (table["kind"] == "learned (SAE)").sum() == 8
    topk = table[(table["model"] == "TopK") & (table["kind"] == "learned (SAE)")]
    np.testing.assert_allclose(np.hypot(topk["x"], topk["y"]), 1.0)  # learned arrows at length 1
    assert table.loc[table["name"] == "T0", "angle"].iloc[0] == pytest.approx(90.0)  # pointing right
