"""Charts of the ground-truth lab (the Superposition page): recovery over time, the sorted cosine
matrix, what became of each true feature, and the 2-D arrows picture."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ..charts import FEATURE_COLOURS, readable

LABEL_COLOURS = {"recovered": "#54a24b", "split": "#f58518", "merged": "#b279a2", "missed": "#bbbbbb"}
TRUE_COLOUR = "#333333"


def _model_scale(models: list[str]) -> alt.Scale:
    return alt.Scale(domain=models, range=FEATURE_COLOURS[: len(models)])


def recovery_over_time_chart(curves: pd.DataFrame, chance_mmcs: float | None = None):
    """MMCS (solid) and Hungarian cosine (dashed) against training seconds, one colour per model.

    ``curves``: long format with model, seconds, step, metric ("mmcs"/"hungarian"), value.
    A grey rule marks chance MMCS (random directions).
    """
    names = {"mmcs": "MMCS", "hungarian": "Hungarian"}
    long = curves.assign(metric=curves["metric"].map(names))
    models = list(dict.fromkeys(long["model"]))
    low = min([float(long["value"].min()) if len(long) else 0.0] + ([chance_mmcs] if chance_mmcs is not None else []))
    lines = alt.Chart(long).mark_line(point=alt.OverlayMarkDef(size=30)).encode(
        x=alt.X("seconds:Q", title="Training time (seconds)"),
        y=alt.Y("value:Q", title="Cosine with the true features",
                scale=alt.Scale(domain=[max(0.0, np.floor(low * 10) / 10 - 0.05), 1.0])),
        color=alt.Color("model:N", scale=_model_scale(models), title="Architecture",
                        legend=alt.Legend(orient="bottom", direction="vertical")),
        strokeDash=alt.StrokeDash("metric:N", scale=alt.Scale(domain=list(names.values()), range=[[1, 0], [6, 4]]),
                                  legend=None),  # solid MMCS, dashed Hungarian: said in the page's caption
        tooltip=["model", "metric", "step", alt.Tooltip("seconds:Q", format=".2f"),
                 alt.Tooltip("value:Q", format=".3f")],
    )
    if chance_mmcs is None:
        return readable(lines.properties(height=340))
    chance = alt.Chart(pd.DataFrame({"value": [chance_mmcs], "text": [f"chance MMCS {chance_mmcs:.2f}"]}))
    rule = chance.mark_rule(color="#999999", strokeDash=[2, 2]).encode(y="value:Q")
    text = chance.mark_text(align="right", dx=-4, dy=12, fontSize=14, color="#666666").encode(
        y="value:Q", x=alt.value("width"), text="text:N")
    return readable(alt.layer(lines, rule, text).properties(height=340))


def cosine_matrix_chart(cos_FH: np.ndarray, learned_order: np.ndarray, max_true: int = 24, extra_learned: int = 6):
    """True features (rows) x learned features (columns), colour = cosine, columns sorted by
    the matching: learned j at column i is true i's Hungarian partner (a good recovery is a
    bright diagonal). At most ``max_true`` true features and their partners are shown,
    then ``extra_learned`` unmatched learned features most aligned with the shown ones."""
    cos = np.asarray(cos_FH)
    n_true = min(max_true, cos.shape[0])
    partners = [int(j) for j in learned_order[:n_true]]
    taken = set(learned_order[: cos.shape[0]].tolist())
    others = [j for j in np.argsort(-cos[:n_true].max(axis=0), kind="stable").tolist() if j not in taken]
    columns = partners + others[:extra_learned]
    rows = [{"true": f"T{i}", "learned": f"L{j}", "cosine": float(cos[i, j])}
            for i in range(n_true) for j in columns]
    long = pd.DataFrame(rows, columns=["true", "learned", "cosine"])
    size = max(8, min(32, 560 // max(1, len(columns))))  # the matrix fits 1280 px windows with its legend
    every_label = size >= 18  # 14 px labels need about 18 px apart
    return readable(alt.Chart(long).mark_rect().encode(
        x=alt.X("learned:N", sort=[f"L{j}" for j in columns], title="Learned feature (sorted by the matching)",
                axis=alt.Axis(labelOverlap=not every_label, labelAngle=-90)),
        y=alt.Y("true:N", sort=[f"T{i}" for i in range(n_true)], title="True feature",
                axis=alt.Axis(labelOverlap=not every_label)),
        color=alt.Color("cosine:Q", title="Cosine",
                        scale=alt.Scale(scheme="redblue", domain=[-1, 1], reverse=True)),
        tooltip=["true", "learned", alt.Tooltip("cosine:Q", format=".3f")],
    ).properties(width=alt.Step(size), height=alt.Step(size)))


def label_count_chart(counts: pd.DataFrame):
    """Per model, how many true features were recovered, split, merged or missed (stacked bars)."""
    labels = list(LABEL_COLOURS)
    return readable(alt.Chart(counts).mark_bar().encode(
        y=alt.Y("model:N", title=None, sort=list(dict.fromkeys(counts["model"])), axis=alt.Axis(labelLimit=320)),
        x=alt.X("count:Q", title="True features", stack="zero", axis=alt.Axis(format="d", tickMinStep=1)),
        color=alt.Color("label:N", scale=alt.Scale(domain=labels, range=list(LABEL_COLOURS.values())),
                        title="What became of it", legend=alt.Legend(orient="bottom")),
        order=alt.Order("label_order:Q"),
        tooltip=["model", "label", "count"],
    ).transform_calculate(label_order=f"indexof({labels}, datum.label)").properties(height=alt.Step(44)))


def direction_arrows_chart(true_FD: np.ndarray, learned: dict[str, np.ndarray], columns: int = 3):
    """The Toy-Models picture for 2-D data: each true feature (grey, its embedded length) and each
    learned decoder direction (colour, length 1) as an arrow from the origin, one panel per model."""
    true_FD = np.asarray(true_FD, dtype=float)
    rows = []
    models = list(learned)
    for model in models:
        for i, (x, y) in enumerate(true_FD[:, :2]):
            rows.append({"model": model, "kind": "true feature", "name": f"T{i}", "x": x, "y": y})
        for j, (x, y) in enumerate(_unit_rows(learned[model])[:, :2]):
            rows.append({"model": model, "kind": "learned (SAE)", "name": f"L{j}", "x": x, "y": y})
    long = pd.DataFrame(rows)
    long["angle"] = 90 - np.degrees(np.arctan2(long["y"], long["x"]))
    reach = float(max(1.0, np.abs(long[["x", "y"]].to_numpy()).max())) * 1.1
    scale = alt.Scale(domain=[-reach, reach])
    kinds = alt.Scale(domain=["true feature", "learned (SAE)"], range=[TRUE_COLOUR, FEATURE_COLOURS[1]])
    base = alt.Chart(long).encode(color=alt.Color("kind:N", scale=kinds, title=None,
                                                  legend=alt.Legend(orient="bottom")))
    shafts = base.mark_rule(strokeWidth=3).encode(
        x=alt.X("zero_x:Q", scale=scale, title="Dimension 1"), y=alt.Y("zero_y:Q", scale=scale, title="Dimension 2"),
        x2="x:Q", y2="y:Q", strokeDash=alt.StrokeDash("kind:N", scale=alt.Scale(
            domain=["true feature", "learned (SAE)"], range=[[1, 0], [5, 3]]), legend=None),
        tooltip=["kind", "name", alt.Tooltip("x:Q", format=".2f"), alt.Tooltip("y:Q", format=".2f")],
    ).transform_calculate(zero_x="0", zero_y="0")
    heads = base.mark_point(shape="triangle", filled=True, size=140, opacity=1).encode(
        x=alt.X("x:Q", scale=scale), y=alt.Y("y:Q", scale=scale), angle=alt.Angle("angle:Q", scale=None),
        tooltip=["kind", "name"])
    layered = alt.layer(shafts, heads).properties(width=300, height=300)
    return readable(layered.facet(facet=alt.Facet("model:N", title=None, sort=models), columns=columns))


def _unit_rows(rows_HD: np.ndarray) -> np.ndarray:
    rows_HD = np.asarray(rows_HD, dtype=float)
    return rows_HD / np.maximum(np.linalg.norm(rows_HD, axis=1, keepdims=True), 1e-12)
