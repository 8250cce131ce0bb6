"""Lesson page: the founding article's story in six steps, on the visitor's own table and model.

One chart and one action per step; each step links to the page that does it in full.
"""

from dataclasses import replace

import streamlit as st

from app_ui import keys
from app_ui.session import (current_table, example_label, load_table, result_is_stale, set_settings, setting,
                               show_chart, store_result, training_config)
from sae_core import charts, limits
from sae_core.errors import SAEInputError
from sae_core.examples import example_settings, load_example
from sae_core.features import FeatureGroup, group_duplicates
from sae_core.geometry import superposition_sentence, table_geometry
from sae_core.stability import stability
from sae_core.sweep import knob_of, sweep
from sae_core.table import dims_of, tokens_of, values_of
from sae_core.training import train

STEPS = {
    1: "The table",
    2: "Superposition",
    3: "Train an SAE",
    4: "Read the features",
    5: "Seeds and stability",
    6: "The sparsity trade-off",
}
SUPERPOSED_EXAMPLE = "colors_and_shapes"
LESSON_HIDDEN = [4, 8, 16]  # the small sweep's hidden sizes (x the architecture's knob values, seed 0)

st.title("Lesson")
st.markdown(
    "How a sparse autoencoder finds the concepts a model packs into its activations, in six steps "
    "on **your** table and **your** settings. Each step has one picture, one thing to do, and a link "
    "to the page that does it in full."
)
step = st.radio("Step", list(STEPS), key="lesson_step", horizontal=True,
                format_func=lambda n: f"{n}. {STEPS[n]}", label_visibility="collapsed")
st.header(f"{step}. {STEPS[step]}")
if st.session_state.get(keys.LESSON_NOTICE):
    st.success(st.session_state.pop(keys.LESSON_NOTICE), icon=":material/check:")
table = current_table()
result = st.session_state.get(keys.RESULT)


def next_step() -> None:
    st.session_state.lesson_step = min(len(STEPS), st.session_state.lesson_step + 1)


def action(label: str, work, **button) -> None:
    """The step's one action: a button that runs ``work()`` (one call into sae_core), errors said plainly."""
    if st.button(label, type="primary", icon=":material/play_arrow:", **button):
        try:
            with st.spinner("Training…"):
                work()
        except SAEInputError as error:
            st.error(f"Cannot train: {error}")


def run_sweep() -> None:
    config = training_config()
    st.session_state[keys.SWEEP] = sweep(values_of(table), config, LESSON_HIDDEN,
                                         knob_of(config.architecture).sweep_values)
    st.session_state[keys.SWEEP_TOKENS] = tokens_of(table)


def load_example_with_its_settings(name: str) -> None:
    """A guided lesson loads an example together with the settings it ships (your seed is kept)."""
    load_table(load_example(name), example_label(name), example=name)
    shipped = example_settings(name)
    if shipped is not None:
        set_settings(replace(shipped.config, seed=training_config().seed))
        st.session_state[keys.LESSON_NOTICE] = (f"Loaded {example_label(name)} with its recommended settings: "
                                          f"{shipped.config.describe()}.")
    st.rerun()


def link(page: str, label: str) -> None:
    st.page_link(f"app_pages/{page}.py", label=label, icon=":material/arrow_forward:")


if step == 1:
    st.markdown(
        f"Each row is a **token**, each column one **dimension** of a model's hidden activation "
        f"({st.session_state[keys.TABLE_SOURCE]}: {len(table)} tokens x {len(dims_of(table))} dimensions). "
        "Red is positive, blue negative. No single column means *animal* or *robot*: concepts are "
        "spread over several dimensions."
    )
    show_chart(charts.table_heatmap(table), width="stretch")
    if st.button("Load the founding example", icon=":material/restart_alt:"):
        load_example_with_its_settings("seed_tokens")
    link("data", "Edit the table on the Data page")

elif step == 2:
    refs = st.session_state.get(keys.REFERENCES, [])
    st.markdown(
        "A model has far more concepts to represent than it has dimensions, so it stores them as "
        "**directions** that overlap: one dimension takes part in many concepts. "
        + superposition_sentence(len(refs), len(dims_of(table)))
    )
    fresh = result is not None and not result_is_stale()  # a model of this very table draws its features too
    geometry = table_geometry(values_of(table), tokens_of(table), refs,
                              result.feature_activations if fresh else None, result.decoder_directions if fresh else None)
    show_chart(charts.geometry_chart(geometry), width="content")
    st.caption(f"Tokens in the table's two main directions (PCA, {geometry.explained:.0%} of its variance); dashed "
               "arrows: each named concept's direction" + ("; coloured arrows: the features your SAE learned." if fresh
                                                           else "."))
    if st.button("Load the colours-and-shapes example (more concepts than dimensions)", icon=":material/layers:"):
        load_example_with_its_settings(SUPERPOSED_EXAMPLE)
    link("data", "Edit the table and its concepts on the Data page")

elif step == 3:
    config = training_config()
    st.markdown(
        "The SAE re-expresses each token as a **sparse** mix of more features than there are "
        "dimensions: its loss is reconstruction error plus a penalty on how much the features fire. "
        f"Your settings: {config.describe()}."
    )
    action("Train with these settings", lambda: store_result(train(values_of(table), config)))
    result = st.session_state.get(keys.RESULT)
    if result is None:
        st.info("No model yet: press **Train with these settings**.")
    else:
        m = result.metrics
        st.caption(f"Explained variance {m.explained_variance:.1%}, on average {m.l0:.2f} features "
                   f"active per token, {m.dead_features} of {m.hidden_dim} features dead.")
        show_chart(charts.loss_chart(result.history), width="stretch")
    link("train", "Change the settings on the Train page")

elif step == 4:
    st.markdown(
        "A good feature fires on tokens that share a concept and stays at zero elsewhere. Near-copies "
        "of one feature (same tokens, or decoder directions with cosine ≥ 0.9) count as one."
    )
    if result is None:
        st.info("Train a model first (step 3).")
    else:
        acts, tokens = result.feature_activations, st.session_state[keys.RESULT_TOKENS]
        live = [j for j in range(acts.shape[1]) if (acts[:, j] > 0).any()]
        copies = st.toggle("Show every copy", key=keys.LESSON_COPIES)
        groups = ([FeatureGroup((j,)) for j in live] if copies
                  else group_duplicates(acts, result.decoder_directions, tokens, live))
        shown = [g.representative for g in groups][:limits.FEATURES_PER_PAGE]
        st.caption(f"{len(live)} live features, {len(groups)} shown"
                   + ("" if copies else " after grouping near-copies") + ".")
        if shown:
            show_chart(charts.feature_bars(acts, tokens, shown=shown), width="content")
    link("features", "Every feature, its copies and its decoder direction: the Features page")

elif step == 5:
    config = training_config()
    seeds = setting("stability_seeds")
    st.markdown(
        "One training run is one random draw. Train the same settings under many seeds: a feature "
        "found in nearly every seed belongs to the data; one found in a few was luck."
    )
    action(f"Train {seeds} seeds at once", lambda: st.session_state.update({keys.STABILITY: stability(
        values_of(table), config, tokens_of(table), st.session_state.get(keys.REFERENCES, []), seeds)}))
    run = st.session_state.get(keys.STABILITY)
    if run is None:
        st.info(f"Press **Train {seeds} seeds at once**.")
    elif not run.recovered:
        st.caption("This table names no concepts to count; the Stability page shows the consensus features.")
    else:
        show_chart(charts.recovery_chart(run.recovered, len(run.seeds)), width="stretch")
    link("stability", "Consensus features and more seeds: the Stability page")

else:
    st.markdown(
        "More sparsity means fewer features per token but a worse reconstruction. Train a grid of "
        "SAEs at once and plot each: good ones sit top-left (sparse **and** faithful)."
    )
    knob = knob_of(training_config().architecture)
    action("Run a small sweep", run_sweep, help=f"Hidden sizes {LESSON_HIDDEN} x {knob.what} "
                                                f"{list(knob.sweep_values)}, seed 0, your other settings.")
    done = st.session_state.get(keys.SWEEP)
    if done is None:
        st.info("Press **Run a small sweep**.")
    else:
        show_chart(charts.tradeoff_chart(done.table, done.knob), width="stretch")
    link("sweep", "Choose the grid and open any model: the Sweep page")

if step < len(STEPS):
    st.button(f"Next: {STEPS[step + 1]}", on_click=next_step, icon=":material/skip_next:")
