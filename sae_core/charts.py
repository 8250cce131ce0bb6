"""Altair charts from long-format DataFrames. One colour per feature, everywhere.

Every function returns an ``alt.Chart`` (or a layered/faceted chart) and never renders.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .table import TOKEN, dims_of

# A colour per feature, ordered so that neighbours (F3, F4) never share a hue family and every
# colour holds up on a projector (no pale yellows or greys); cycles past 12 features.
FEATURE_COLOURS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#7f7f00", "#003f5c", "#ff4f9a", "#b8860b",
]
TEXT_COLOUR = "#1a1a1a"  # axis text: dark, for a projector
TEXT_PX, TEXT_PX_PRESENTER = 14, 20  # smallest chart text, normal and in Presenter mode
ZERO_COLOUR = "#ffffff"  # a silent feature, in every heatmap
ZERO_TO_PEAK = ["#e5f5e0", "#00441b"]  # a feature's activation, faint to strong green
HEATMAP_ROW_PX = 26  # one feature row of the heatmap, whatever the number of features
DEAD_COLOUR = "#bbbbbb"
# total, reconstruction, then each penalty of the architecture in its order (lines told apart by colour)
LOSS_COLOURS = ["#333333", "#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756"]


def feature_name(j: int) -> str:
    return f"F{j}"


def feature_colour(j: int) -> str:
    return FEATURE_COLOURS[j % len(FEATURE_COLOURS)]


def _token_axis(title: str | None = None) -> alt.Axis:
    """Every token labelled (Vega otherwise drops labels that would overlap)."""
    return alt.Axis(labelAngle=-45, labelOverlap=False, labelLimit=160, title=title)


def readable(chart, presenter: bool = False):
    """Chart text at least 14 px (20 px in Presenter mode) and dark; Presenter also enlarges the panels."""
    px = TEXT_PX_PRESENTER if presenter else TEXT_PX
    if presenter and isinstance(chart, alt.FacetChart):
        inner = chart.spec
        chart = chart.copy(deep=True)
        chart.spec = inner.properties(width=int(inner.width * 1.35), height=int(inner.height * 1.35))
        chart.columns = min(chart.columns, 2)  # two larger panels a row still fit at 1280 px
    return (chart.configure_axis(labelFontSize=px, titleFontSize=px + 1, labelColor=TEXT_COLOUR, titleColor=TEXT_COLOUR)
            .configure_legend(labelFontSize=px, titleFontSize=px + 1, labelColor=TEXT_COLOUR, titleColor=TEXT_COLOUR)
            .configure_header(labelFontSize=px + 1, labelColor=TEXT_COLOUR, titleFontSize=px + 1)
            .configure_title(fontSize=px + 2, color=TEXT_COLOUR))


def _feature_scale(names: list[str], colours: list[str]) -> alt.Scale:
    return alt.Scale(domain=names, range=colours)


def activations_long(feature_activations_NH: np.ndarray, tokens: list[str]) -> pd.DataFrame:
    """(tokens x features) -> rows of feature, token, activation, token_order, dead."""
    acts = np.asarray(feature_activations_NH)
    dead = (acts > 0).sum(axis=0) == 0
    rows = [
        {"feature": feature_name(j), "feature_index": j, "token": tokens[i], "token_order": i,
         "activation": float(acts[i, j]), "dead": bool(dead[j])}
        for j in range(acts.shape[1]) for i in range(acts.shape[0])
    ]
    return pd.DataFrame(rows, columns=["feature", "feature_index", "token", "token_order", "activation", "dead"])


def table_heatmap(table: pd.DataFrame) -> alt.Chart:
    """The token x dimension table as a heatmap (diverging colours around 0)."""
    dims = dims_of(table)
    long = table.melt(id_vars=[TOKEN], value_vars=dims, var_name="dimension", value_name="value")
    return alt.Chart(long).mark_rect().encode(
        x=alt.X("dimension:N", sort=dims, title="Activation dimension"),
        y=alt.Y("token:N", sort=table[TOKEN].tolist(), title="Token", axis=alt.Axis(labelOverlap=False)),
        color=alt.Color("value:Q", scale=alt.Scale(scheme="redblue", domainMid=0, reverse=True), title="Value"),
        tooltip=[TOKEN, "dimension", alt.Tooltip("value:Q", format=".3f")],
    ).properties(height=alt.Step(HEATMAP_ROW_PX))  # a row per token, tall enough for its label


def loss_chart(history: pd.DataFrame) -> alt.Chart:
    """Total, reconstruction and the architecture's other loss terms against epoch, on a log scale."""
    names = [name for name in history.columns if name != "epoch"]
    colours = [LOSS_COLOURS[i % len(LOSS_COLOURS)] for i in range(len(names))]
    long = history.melt(id_vars=["epoch"], value_vars=names, var_name="loss", value_name="value")
    long = long[long["value"] > 0]
    return alt.Chart(long).mark_line().encode(
        x=alt.X("epoch:Q", title="Epoch"),
        y=alt.Y("value:Q", scale=alt.Scale(type="log"), title="Loss (log scale)"),
        color=alt.Color("loss:N", scale=alt.Scale(domain=names, range=colours),
                        title="Loss"),
        tooltip=["epoch", "loss", alt.Tooltip("value:Q", format=".5f")],
    ).properties(height=260)


def feature_bars(feature_activations_NH: np.ndarray, tokens: list[str], columns: int = 3,
                 shown: list[int] | None = None) -> alt.FacetChart:
    """The founding figure: one small bar chart per feature (all, or those in ``shown``)."""
    acts = np.asarray(feature_activations_NH)
    shown = list(range(acts.shape[1])) if shown is None else list(shown)
    dead = (acts[:, shown] > 0).sum(axis=0) == 0  # (only the shown columns: there may be thousands)
    titles = [f"{feature_name(j)} (dead)" if dead[n] else feature_name(j) for n, j in enumerate(shown)]
    colours = [DEAD_COLOUR if dead[n] else feature_colour(j) for n, j in enumerate(shown)]
    long = activations_long(acts[:, shown], tokens)
    long["title"] = [titles[n] for n in long["feature_index"]]
    long["feature"] = [feature_name(shown[n]) for n in long["feature_index"]]
    long["feature_index"] = [shown[n] for n in long["feature_index"]]
    return _small_multiples(long, tokens, titles, colours, "Activation", columns, y_scale="shared")


def _small_multiples(long: pd.DataFrame, tokens: list[str], titles: list[str], colours: list[str],
                     y_title: str, columns: int, y_scale: str) -> alt.FacetChart:
    """One small bar chart per ``title`` (tokens on x, ``activation`` on y), in a grid."""
    return alt.Chart(long).mark_bar().encode(
        x=alt.X("token:N", sort=tokens, axis=_token_axis()),
        y=alt.Y("activation:Q", title=y_title),
        color=alt.Color("title:N", scale=_feature_scale(titles, colours), legend=None),
        tooltip=["title", "token", alt.Tooltip("activation:Q", format=".3f")],
    ).properties(width=170, height=120).facet(
        facet=alt.Facet("title:N", sort=titles, title=None), columns=columns,
    ).resolve_scale(y=y_scale).resolve_axis(x="independent")  # token labels under every panel


def feature_heatmap(feature_activations_NH: np.ndarray, tokens: list[str],
                    shown: list[int] | None = None) -> alt.Chart:
    """Features (rows; all, or those in ``shown``) x tokens (columns), colour = activation, 0 = white.

    Every row is ``HEATMAP_ROW_PX`` tall however many features there are (one row never fills
    the chart, 32 never collapse); thin grey cell borders keep white (zero) cells visible.
    """
    acts = np.asarray(feature_activations_NH)
    shown = list(range(acts.shape[1])) if shown is None else list(shown)
    long = activations_long(acts[:, shown], tokens)
    long["feature"] = [feature_name(shown[j]) for j in long["feature_index"]]
    peak = max(float(acts[:, shown].max()) if shown else 0.0, 1e-6)
    return alt.Chart(long).mark_rect(stroke="#d0d0d0", strokeWidth=0.5).encode(
        x=alt.X("token:N", sort=tokens, axis=_token_axis("Token")),
        y=alt.Y("feature:N", sort=[feature_name(j) for j in shown], title="Feature",
                axis=alt.Axis(labelOverlap=False)),
        # zero is white by rule, not by where it falls on the ramp (a theme may shift the ramp)
        color=alt.condition("datum.activation > 0",
                            alt.Color("activation:Q", scale=alt.Scale(domain=[0, peak], range=ZERO_TO_PEAK),
                                      title="Activation"),
                            alt.value(ZERO_COLOUR)),
        tooltip=["feature", "token", alt.Tooltip("activation:Q", format=".3f")],
    ).properties(height=alt.Step(HEATMAP_ROW_PX))


def decoder_bars(decoder_directions_HD: np.ndarray, dims: list[str], shown: list[int], columns: int = 3) -> alt.FacetChart:
    """Each shown feature's decoder row as a small bar chart (what it adds to each input dimension)."""
    rows = np.asarray(decoder_directions_HD)
    titles = [feature_name(j) for j in shown]
    long = pd.DataFrame([{"title": feature_name(j), "token": d, "activation": float(rows[j, i])}
                         for j in shown for i, d in enumerate(dims)], columns=["title", "token", "activation"])
    return _small_multiples(long, dims, titles, [feature_colour(j) for j in shown], "Decoder weight", columns,
                            y_scale="shared")


SWEEP_SELECTION = "pick"


def tradeoff_chart(sweep_table: pd.DataFrame, knob) -> alt.Chart:
    """Sparsity (mean L0) against reconstruction (explained variance), one point per model; the shape
    shows the swept knob (``knob``: its Option, whose name is the table's column).

    Clicking a point selects it (selection name ``SWEEP_SELECTION``, field ``point``).
    """
    pick = alt.selection_point(fields=["point"], name=SWEEP_SELECTION, on="click")
    hidden = sorted(sweep_table["hidden_dim"].unique().tolist())
    return alt.Chart(sweep_table).mark_point(filled=True, size=90).encode(
        x=alt.X("l0:Q", title="Mean L0: active features per token (lower = sparser)"),
        y=alt.Y("explained_variance:Q", title="Explained variance (higher = better reconstruction)",
                axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)),
        color=alt.Color("hidden_dim:O", title="Hidden size",
                        scale=alt.Scale(domain=hidden, range=FEATURE_COLOURS[: len(hidden)])),
        shape=alt.Shape(f"{knob.name}:O", title=knob.label),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.35)),
        tooltip=["point", "hidden_dim", knob.name, "seed",
                 alt.Tooltip("l0:Q", format=".2f", title="L0"),
                 alt.Tooltip("explained_variance:Q", format=".1%", title="explained variance"),
                 "dead_features"],
    ).add_params(pick).properties(height=380)


def consensus_bars(activations_KN: np.ndarray, titles: list[str], tokens: list[str], columns: int = 3) -> alt.FacetChart:
    """One small bar chart per consensus feature (its median activation on each token)."""
    rows = [{"title": titles[k], "index": k, "token": tokens[i], "activation": float(activations_KN[k, i])}
            for k in range(len(titles)) for i in range(len(tokens))]
    long = pd.DataFrame(rows, columns=["title", "index", "token", "activation"])
    colours = [feature_colour(k) for k in range(len(titles))]
    return _small_multiples(long, tokens, titles, colours, "Median activation", columns, y_scale="independent")


def recovery_chart(recovered: dict[str, int], seeds: int) -> alt.Chart:
    """In how many of the seeds each named reference feature was recovered."""
    labels = [f"{name}: {count}/{seeds}" for name, count in recovered.items()]
    long = pd.DataFrame({"feature": labels, "seeds": list(recovered.values())})
    return alt.Chart(long).mark_bar(color=FEATURE_COLOURS[0]).encode(
        y=alt.Y("feature:N", sort=labels, title=None, axis=alt.Axis(labelLimit=250)),
        x=alt.X("seeds:Q", scale=alt.Scale(domain=[0, seeds]), title=f"Seeds (of {seeds}) that recovered it"),
        tooltip=["feature", "seeds"],
    ).properties(height=alt.Step(30))


def activation_histogram(hist: pd.DataFrame, feature: int) -> alt.Chart:
    """How often a feature reaches each activation (non-zero rows only; from dashboards.histogram)."""
    return alt.Chart(hist).mark_bar(color=feature_colour(feature)).encode(
        x=alt.X("start:Q", bin="binned", title="Activation (rows where the feature fires)"),
        x2="end:Q",
        y=alt.Y("count:Q", title="Rows"),
        tooltip=[alt.Tooltip("start:Q", format=".3f", title="from"), alt.Tooltip("end:Q", format=".3f", title="to"),
                 "count"],
    ).properties(height=200).configure_axis(labelFontSize=14, titleFontSize=14)


CONCEPT_COLOUR = "#222222"
LABEL_SIZE = 14


def _arrow_heads(arrows: pd.DataFrame) -> pd.DataFrame:
    """Arrow tips with the clockwise angle from 'up' that Vega's triangle needs to point along them."""
    heads = arrows.copy()
    dx = heads["x"].astype(float) - heads["x0"].astype(float)
    dy = heads["y"].astype(float) - heads["y0"].astype(float)
    heads["angle"] = np.degrees(np.arctan2(dx, dy)) % 360
    return heads


def _staggered_labels(points: pd.DataFrame, limit: float, size: int, placed: list | None = None,
                      first_dy: float = -8.0) -> pd.DataFrame:
    """Labels moved down, one line at a time, off labels already placed nearby (in pixels).

    Tokens close in the plane (cat, happy cat) would otherwise print on top of each other.
    ``placed`` collects the labels' pixel positions, so a second call (arrow names) avoids the first.
    """
    placed = [] if placed is None else placed
    offsets = []
    for x, y in zip(points["x"], points["y"]):
        px, py = (x + limit) / (2 * limit) * size, (limit - y) / (2 * limit) * size
        dy = first_dy
        while any(abs(px - qx) < 90 and abs(py + dy - qy) < LABEL_SIZE for qx, qy in placed):
            dy += LABEL_SIZE + 2
        placed.append((px, py + dy))
        offsets.append(dy)
    # Vega-Lite's yOffset is not drawn for text here, so move the label in data units instead.
    return points.assign(label_dy=offsets, label_y=points["y"] - np.array(offsets, dtype=float) * (2 * limit / size))


def geometry_chart(geometry, size: int = 520) -> alt.LayerChart:
    """Tokens as points in the table's PCA plane; concepts (dashed, dark) and features (coloured) as arrows.

    Both axes share one scale, so angles and lengths on screen are true to the projection.
    Feature arrows start at the decoder bias, marked with a cross, when the geometry has one.
    """
    points, arrows = geometry.points, geometry.arrows
    extent = [points["x"].abs().max(), points["y"].abs().max(), *arrows["x"].abs(), *arrows["y"].abs(),
              *arrows["x0"].abs(), *arrows["y0"].abs()]
    limit = max([float(v) for v in extent if pd.notna(v)] + [1e-6]) * 1.25
    axis_x = alt.X("x:Q", scale=alt.Scale(domain=[-limit, limit]), title="principal direction 1",
                   axis=alt.Axis(labelFontSize=LABEL_SIZE, titleFontSize=LABEL_SIZE, labelColor="#222", titleColor="#222"))
    axis_y = alt.Y("y:Q", scale=alt.Scale(domain=[-limit, limit]), title="principal direction 2",
                   axis=alt.Axis(labelFontSize=LABEL_SIZE, titleFontSize=LABEL_SIZE, labelColor="#222", titleColor="#222"))
    placed: list[tuple[float, float]] = []
    points = _staggered_labels(points, limit, size, placed)
    dots = alt.Chart(points).mark_circle(size=110, color="#555555", opacity=0.9).encode(
        x=axis_x, y=axis_y, tooltip=["token", alt.Tooltip("x:Q", format=".3f"), alt.Tooltip("y:Q", format=".3f")])
    labels = alt.Chart(points).mark_text(
        align="left", dx=8, fontSize=LABEL_SIZE, color="#222222").encode(
        x="x:Q", y="label_y:Q", text="token:N")
    layers = [dots, labels]
    if len(arrows):
        names = arrows["name"].tolist()
        colours = [CONCEPT_COLOUR if kind == "concept" else feature_colour(int(name[1:]))
                   for kind, name in zip(arrows["kind"], names)]
        colour = alt.Color("name:N", scale=alt.Scale(domain=names, range=colours), legend=None)
        heads = _staggered_labels(_arrow_heads(arrows), limit, size, placed, first_dy=12.0)
        layers += [
            alt.Chart(heads).mark_rule(strokeWidth=3).encode(
                x="x0:Q", y="y0:Q", x2="x:Q", y2="y:Q", color=colour,
                strokeDash=alt.StrokeDash("kind:N", scale=alt.Scale(domain=["concept", "feature"], range=[[6, 4], [1, 0]]),
                                          legend=None),
                tooltip=["kind", "name"]),
            alt.Chart(heads).mark_point(shape="triangle", filled=True, size=160, opacity=1).encode(
                x="x:Q", y="y:Q", angle=alt.Angle("angle:Q", scale=None), color=colour),
            alt.Chart(heads).mark_text(align="left", dx=10, fontSize=LABEL_SIZE, fontWeight="bold").encode(
                x="x:Q", y="label_y:Q", text="name:N", color=colour),
        ]
    if geometry.bias is not None:
        bias = pd.DataFrame({"x": [geometry.bias[0]], "y": [geometry.bias[1]], "label": ["decoder bias"]})
        layers += [
            alt.Chart(bias).mark_point(shape="cross", filled=True, size=200, color="#222222").encode(x="x:Q", y="y:Q"),
            alt.Chart(bias).mark_text(align="right", dx=-10, dy=-10, fontSize=LABEL_SIZE, color="#222222").encode(
                x="x:Q", y="y:Q", text="label:N"),
        ]
    return alt.layer(*layers).properties(width=size, height=size)


def contributions_chart(long: pd.DataFrame, dims: list[str], row_width: int = 760) -> alt.FacetChart:
    """A token as building blocks: input, bias, each active feature's part, reconstruction (one panel each).

    ``long`` comes from ``sae_core.contributions.contributions_long``. All panels sit in one row,
    read left to right as a sum (narrower when there are many), and the reconstruction panel
    marks the input with black ticks, so a gap shows what an edit broke.
    """
    titles = list(dict.fromkeys(long.sort_values("order")["part"]))
    width = max(70, min(125, row_width // max(1, len(titles)) - 20))
    kinds = list(dict.fromkeys(long.sort_values("order")["kind"]))
    colours = ["#555555" if k == "input" else "#999999" if k == "bias" else "#222222" if k == "reconstruction"
               else feature_colour(int(k[1:])) for k in kinds]
    axis_font = dict(labelFontSize=LABEL_SIZE, titleFontSize=LABEL_SIZE, labelColor="#222", titleColor="#222")
    bars = alt.Chart().mark_bar().encode(
        x=alt.X("dimension:N", sort=dims, title=None, axis=alt.Axis(labelAngle=0, labelOverlap=False, **axis_font)),
        y=alt.Y("value:Q", title="Value", axis=alt.Axis(**axis_font)),
        color=alt.Color("kind:N", scale=alt.Scale(domain=kinds, range=colours), legend=None),
        tooltip=["part", "dimension", alt.Tooltip("value:Q", format=".3f")],
    )
    ticks = alt.Chart().mark_tick(color="#000000", thickness=3, size=26).encode(
        x=alt.X("dimension:N", sort=dims), y="input:Q",
        tooltip=["dimension", alt.Tooltip("input:Q", format=".3f", title="input")],
    ).transform_filter(alt.datum.kind == "reconstruction")
    return alt.layer(bars, ticks, data=long).properties(width=width, height=170).facet(
        facet=alt.Facet("part:N", sort=titles, title=None,
                        header=alt.Header(labelFontSize=LABEL_SIZE, labelColor="#222", labelLimit=0)),
        columns=len(titles),
    )


def over_training_chart(long: pd.DataFrame, seeds: int, marked_epoch: int | None = None,
                        width: int = 480) -> alt.VConcatChart:
    """Longer training, two panels on one epoch axis: top, in how many of the seeds each named concept
    is recovered (a line per concept, coloured in the concepts' order); bottom, the mean absorption of
    each nested pair (0 to 1, dark dashed lines).

    ``long``: ``sae_core.over_training.OverTraining.table`` (epoch, kind "recovered" or "absorption",
    what, value). ``marked_epoch``: a dotted rule there on both panels, named in the epoch axis's title
    (axis text, so Presenter mode enlarges it).
    """
    counts = long[long["kind"] == "recovered"].astype({"value": float})
    absorbed = long[long["kind"] == "absorption"].astype({"value": float})
    concepts = list(dict.fromkeys(counts["what"]))
    pairs = list(dict.fromkeys(absorbed["what"]))
    last = int(long["epoch"].max()) if len(long) else 1
    domain = alt.Scale(domain=[0, max(last, marked_epoch or 0)])
    title = "Epochs trained" + (f" (dotted line: your {marked_epoch:,})" if marked_epoch is not None else "")
    x = alt.X("epoch:Q", title=title, scale=domain)
    top = alt.Chart(counts).mark_line(point=alt.OverlayMarkDef(size=70, filled=True), strokeWidth=3).encode(
        x=alt.X("epoch:Q", title=None if pairs else title, scale=domain),
        y=alt.Y("value:Q", title=f"Seeds (of {seeds}) that recover it", scale=alt.Scale(domain=[0, seeds])),
        color=alt.Color("what:N", title="Concept", sort=concepts,
                        scale=alt.Scale(domain=concepts, range=[feature_colour(i) for i in range(len(concepts))]),
                        legend=alt.Legend(orient="right", labelLimit=240)),
        tooltip=["epoch", alt.Tooltip("what:N", title="concept"), alt.Tooltip("value:Q", title="seeds")],
    ).properties(width=width, height=230)
    bottom = alt.Chart(absorbed).mark_line(point=alt.OverlayMarkDef(size=60, filled=True), strokeWidth=3,
                                           strokeDash=[7, 4]).encode(
        x=x,
        y=alt.Y("value:Q", title="Absorption", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".0%")),
        color=alt.Color("what:N", title="Nested pair", sort=pairs,
                        scale=alt.Scale(domain=pairs, range=["#222222", "#8c564b", "#7f7f00"][: max(1, len(pairs))]),
                        legend=alt.Legend(orient="right", labelLimit=240)),
        tooltip=["epoch", alt.Tooltip("what:N", title="pair"), alt.Tooltip("value:Q", title="absorption", format=".0%")],
    ).properties(width=width, height=150)
    if marked_epoch is not None:
        rule = pd.DataFrame({"epoch": [marked_epoch]})
        mark = alt.Chart(rule).mark_rule(color="#555555", strokeWidth=2, strokeDash=[2, 3]).encode(
            x="epoch:Q", tooltip=[alt.Tooltip("epoch:Q", title="your epochs", format=",")])
        top, bottom = alt.layer(top, mark), alt.layer(bottom, mark)
    panels = [top, bottom] if pairs else [top]
    return alt.vconcat(*panels, spacing=14).resolve_scale(color="independent")


def architectures_chart(recovery_long: pd.DataFrame, seeds: int, labels: dict[str, str] | None = None) -> alt.Chart:
    """Architectures side by side: per architecture (a row), one bar per named concept, as long as the
    number of seeds (of ``seeds``) that recovered it exactly, labelled "18/20".

    ``recovery_long``: architecture, concept, seeds (``stability.SideBySide.recovery_long``);
    ``labels``: the text shown for each architecture (its key otherwise).
    """
    long = recovery_long.copy()
    long["architecture"] = [(labels or {}).get(a, a) for a in long["architecture"]]
    long["text"] = [f"{n}/{seeds}" for n in long["seeds"]]
    order = list(dict.fromkeys(long["architecture"]))
    concepts = list(dict.fromkeys(long["concept"]))
    colour = alt.Color("concept:N", sort=concepts, title="Named concept",
                       scale=_feature_scale(concepts, [feature_colour(i) for i in range(len(concepts))]),
                       legend=alt.Legend(orient="top", labelLimit=300))
    base = alt.Chart(long).encode(
        y=alt.Y("architecture:N", sort=order, title=None, axis=alt.Axis(labelLimit=320, labelOverlap=False)),
        yOffset=alt.YOffset("concept:N", sort=concepts),
        x=alt.X("seeds:Q", scale=alt.Scale(domain=[0, seeds]), title=f"Seeds (of {seeds}) that recovered it exactly",
                axis=alt.Axis(format="d", tickMinStep=1)),  # whole seeds
    )
    bars = base.mark_bar().encode(color=colour, tooltip=["architecture", "concept", "seeds"])
    text = base.mark_text(align="left", dx=4, fontSize=TEXT_PX, color=TEXT_COLOUR).encode(text="text:N")
    return alt.layer(bars, text).properties(height=alt.Step(20 if len(concepts) > 1 else 30))



def split_chart(long: pd.DataFrame) -> alt.Chart:
    """Dictionary sizes: explained variance (black) and, per concept (a colour), the best single feature's F1
    (solid) against the best random direction's (dashed, the chance level), by size on a log axis.

    ``long``: size, series (explained variance first, then the concepts), line (explained variance, the
    best feature's F1, then the chance level: the last kind is dashed), value (``splitting.SplitResult.long``)."""
    series, lines = list(dict.fromkeys(long["series"])), list(dict.fromkeys(long["line"]))
    colours = [TEXT_COLOUR] + [feature_colour(i) for i in range(len(series) - 1)]
    sizes = sorted(long["size"].unique().tolist())
    return alt.Chart(long).mark_line(point=True, strokeWidth=3).encode(
        x=alt.X("size:Q", scale=alt.Scale(type="log", **({"domain": [sizes[0], sizes[-1]]} if len(sizes) > 1 else {})),
                title="Dictionary size (features)",
                axis=alt.Axis(values=sizes, format=",")),
        y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title="Explained variance, F1"),
        color=alt.Color("series:N", sort=series, title=None, scale=_feature_scale(series, colours),
                        legend=alt.Legend(orient="top", labelLimit=300)),
        strokeDash=alt.StrokeDash("line:N", sort=lines, title=None,
                                  scale=alt.Scale(domain=lines, range=[[1, 0]] * (len(lines) - 1) + [[6, 4]]),
                                  legend=None),  # said in the page's caption: solid the SAE, dashed chance
        detail="line:N",
        tooltip=["series", "line", alt.Tooltip("size:Q", format=","), alt.Tooltip("value:Q", format=".2f")],
    ).properties(height=360)
