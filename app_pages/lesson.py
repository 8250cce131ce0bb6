"""Lesson page: the founding article's story in seven steps, on the visitor's own table and model.

One chart and one action per step; each step links to the page that does it in full.
"""

from dataclasses import replace

import streamlit as st

from app_ui import keys
from app_ui.feature_sections import architectures_section
from app_ui.words import in_words
from app_ui.session import (APP_DEVICE, current_table, example_label, load_table, result_is_stale, set_setting,
                            set_settings, setting, show_chart, store_result, training_config)
from sae_core import charts, limits
from sae_core.errors import SAEInputError
from sae_core.examples import example_settings, load_example
from sae_core.absorption import nested_pairs, pair_name
from sae_core.features import FeatureGroup, group_duplicates
from sae_core.geometry import superposition_sentence, table_geometry
from sae_core.over_training import OverTraining, checkpoint_epochs, over_training
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
    7: "Hierarchy",
}
SUPERPOSED_EXAMPLE = "colors_and_shapes"
LESSON_HIDDEN = [4, 8, 16]  # the small sweep's hidden sizes (x the architecture's knob values, seed 0)
LONGER = 4  # step 7 trains this many times your epochs (at most limits.MAX_EPOCHS) ...
LONGER_CHECKPOINTS = 16  # ... measured this many times, evenly, and at your epochs

st.title("Lesson")
st.markdown(
    "How a sparse autoencoder finds the concepts a model packs into its activations, in seven steps "
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
    set_setting("lesson_step", min(len(STEPS), st.session_state.lesson_step + 1))


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
                                         knob_of(config.architecture).sweep_values, device=APP_DEVICE)
    st.session_state[keys.SWEEP_TOKENS] = tokens_of(table)


def run_longer() -> None:
    """Step 7's action: your settings on seeds 0..K-1, trained LONGER x your epochs, measured on the way."""
    config = training_config()
    horizon = min(limits.MAX_EPOCHS, LONGER * config.epochs)
    marks = sorted(set(checkpoint_epochs(horizon, LONGER_CHECKPOINTS)) | {config.epochs})
    st.session_state[keys.LESSON_OVER_TRAINING] = (config.epochs, over_training(
        values_of(table), replace(config, epochs=horizon), tokens_of(table),
        st.session_state.get(keys.REFERENCES, []), setting("stability_seeds"), marks, device=APP_DEVICE))


def in_order(tokens, order: list[str]) -> str:
    """The tokens in table order, in words: "not cat and not dog", "a, b and c"."""
    return in_words(t for t in order if t in tokens)


def first_run(run: OverTraining, epochs: int, references) -> str:
    """What the first model a class sees (the settings' seed, else seed 0, at your epochs) shows, why a
    missed concept went missing, and how often that happens over the run's seeds."""
    seed = run.config.seed if run.config.seed in run.seeds else run.seeds[0]
    names = ", ".join(run.concepts)
    missed = [c for c in run.concepts if not run.seed_match(seed, epochs, c).exact]
    head = f"**The first run a class sees** (seed {seed}, your {epochs:,} epochs) "
    if not missed:
        text = [head + f"recovers all {len(run.concepts)} named concepts ({names})."]
    else:
        text = [head + f"does **not** show all {len(run.concepts)} named concepts ({names}): it misses "
                + ", ".join(f"**{c}**" for c in missed) + "."]
    for parent, child in nested_pairs(references):
        if parent.name not in missed:
            continue
        pair = pair_name(parent, child)
        if run.seed_absorption(seed, epochs)[pair] == 1.0:
            text.append(f"Why: its feature for the rest of *{parent.name}* ({in_order(parent.tokens - child.tokens, run.tokens)}) "
                        f"no longer fires on {in_order(child.tokens, run.tokens)}; the *{child.name}* feature took "
                        "them, because one active feature per token costs less sparsity than two.")
        else:
            match = run.seed_match(seed, epochs, parent.name)
            text.append(f"Its closest feature to *{parent.name}* is off by {match.difference() or 'every token'}.")
        count = run.recovered(epochs)[parent.name]
        absorbed = sum(run.seed_absorption(s, epochs)[pair] == 1.0 for s in run.seeds)
        last = run.epochs[-1]
        text.append(f"Over seeds {run.seeds[0]}-{run.seeds[-1]} at {epochs:,} epochs, *{parent.name}* is recovered in "
                    f"{count} of {len(run.seeds)}; in {absorbed} the *{child.name}* feature has absorbed its tokens "
                    f"completely. At {last:,} epochs it is recovered in {run.recovered(last)[parent.name]} of "
                    f"{len(run.seeds)}.")
    for concept in missed:
        if not any(p.name == concept for p, _ in nested_pairs(references)):
            match = run.seed_match(seed, epochs, concept)
            text.append(f"Its closest feature to *{concept}* is off by {match.difference() or 'every token'}.")
    return " ".join(text)


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
    action("Train with these settings", lambda: store_result(train(values_of(table), config, device=APP_DEVICE)))
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
        values_of(table), config, tokens_of(table), st.session_state.get(keys.REFERENCES, []), seeds,
        device=APP_DEVICE)}))
    run = st.session_state.get(keys.STABILITY)
    if run is None:
        st.info(f"Press **Train {seeds} seeds at once**.")
    elif not run.recovered:
        st.caption("This table names no concepts to count; the Stability page shows the consensus features.")
    else:
        show_chart(charts.recovery_chart(run.recovered, len(run.seeds)), width="stretch")
    link("stability", "Consensus features and more seeds: the Stability page")

elif step == 6:
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

else:
    config = training_config()
    refs = st.session_state.get(keys.REFERENCES, [])
    seeds, horizon = setting("stability_seeds"), min(limits.MAX_EPOCHS, LONGER * config.epochs)
    pairs = nested_pairs(refs)
    if pairs:
        parent, child = pairs[0]
        st.markdown(
            f"Concepts can nest: **{parent.name}** contains **{child.name}** (every {child.name} token, "
            f"{in_order(child.tokens, tokens_of(table))}, is also {parent.name}). An SAE can learn both, one feature "
            f"each (the article's did), so a {next(t for t in tokens_of(table) if t in child.tokens)} token lights two "
            "features. The sparsity penalty charges for every active "
            f"feature, and flat clusters are cheaper: give {in_order(child.tokens, tokens_of(table))} to the "
            f"{child.name} feature alone and keep {parent.name}'s feature for "
            f"{in_order(parent.tokens - child.tokens, tokens_of(table))}. Train longer and the SAE drifts there: "
            f"{parent.name}'s feature loses {child.name}'s tokens (**absorption**, 0 to 100%) and {parent.name} is "
            "no longer recovered."
        )
    else:
        st.markdown(
            "Concepts can nest: in the founding example *robot/AI* lies inside *not an animal*. Trained longer, "
            "the sparsity penalty prefers flat clusters and the broad feature loses the narrow concept's tokens "
            "(**absorption**). Your table names no concept inside another, so only the recovered counts are drawn."
        )
    action(f"Train {seeds} seeds for {horizon:,} epochs", run_longer,
           help=f"Your settings on seeds 0-{seeds - 1}, {LONGER}x your {config.epochs:,} epochs, measured "
                f"{LONGER_CHECKPOINTS} times on the way.")
    done = st.session_state.get(keys.LESSON_OVER_TRAINING)
    if done is None:
        st.info(f"Press **Train {seeds} seeds for {horizon:,} epochs**.")
    elif not done[1].concepts:
        st.caption("This table names no concepts to count; name some on the Data page.")
    else:
        yours, run = done
        show_chart(charts.over_training_chart(run.table, len(run.seeds), marked_epoch=yours), width="content")
        st.caption(f"{run.config.describe(seed=False)}, seeds {run.seeds[0]}-{run.seeds[-1]}, measured "
                   f"{len(run.epochs)} times: how many seeds recover each concept exactly, and how much of the nested "
                   "concept its parent's feature lost (absorption).")
        st.markdown(first_run(run, yours, refs))
    st.markdown("Is absorption a law or a choice of architecture? Each architecture trains its own recipe for this "
                "table on the same seeds; the *absorbed* column is the same measure as above.")
    architectures_section(table, refs, list(range(seeds)))
    link("stability", "More seeds, another block of seeds: the Stability page")
    link("real_model", "Broad concepts split into narrower features as the dictionary grows: dictionary sizes on "
                       "the Real model page")

if step < len(STEPS):
    st.button(f"Next: {STEPS[step + 1]}", on_click=next_step, icon=":material/skip_next:")
