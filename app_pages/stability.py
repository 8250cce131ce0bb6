"""Stability page: train many seeds at once and see which features are stable and which are luck."""

from functools import partial

import numpy as np
import streamlit as st

from app_ui import keys
from app_ui.feature_sections import absorption_lines, architectures_section, stability_concepts_section
from app_ui.runs import keep_stability, run_row
from app_ui.session import APP_DEVICE, current_table, show_chart, training_config
from sae_core import charts, limits
from sae_core.stability import MATCH_COSINE, seeds_trainer
from sae_core.table import tokens_of, values_of

st.title("Stability")
st.markdown(
    "One training run is one random draw: a different seed can find different features. Here "
    "the settings from the Train page are trained under many seeds **at once** (one batched "
    "model), and features are matched across seeds. A feature found in 19 of 20 seeds is a "
    "property of the data; one found in 3 of 20 was luck."
)

table = current_table()
config = training_config()
st.caption(f"Settings from the Train page: {config.describe(seed=False)}.")
c1, c2 = st.columns([3, 1])
seeds = c1.slider("Number of seeds", 2, limits.MAX_SEEDS, key="stability_seeds",
                  help="Seeds S, S+1, ..., S+K-1 are trained together (S: the first seed).")
first_seed = c2.number_input("First seed", 0, limits.MAX_SEED - limits.MAX_SEEDS, step=1, key="stability_first_seed",
                             help="Train seeds S..S+K-1: another block of seeds shows whether a result was luck.")
seed_list = list(range(int(first_seed), int(first_seed) + seeds))
references = st.session_state.get(keys.REFERENCES, [])


def seeds_compared(run) -> None:
    """The kept comparison of the seeds of one architecture."""
    if st.session_state.get(keys.STABILITY_NOTICE):
        st.warning(st.session_state[keys.STABILITY_NOTICE])
    if run.tokens != tokens_of(table):
        st.warning("The table has changed since this comparison; train again to use the new table.")
    k = len(run.seeds)
    st.caption(f"{k} seeds trained together in {run.train_seconds:.2f} s (seeds {run.seeds[0]}–{run.seeds[-1]}).")
    if run.recovered:
        st.subheader("Named features: in how many seeds were they recovered?")
        show_chart(charts.recovery_chart(run.recovered, k), width="stretch")
        stability_concepts_section(run, references)
        absorbed = absorption_lines(run, references)
        if absorbed:
            st.markdown(absorbed)

    st.subheader("Consensus features")
    st.caption("Features from different seeds with the same active tokens, or decoder directions that "
               f"agree (cosine >= {MATCH_COSINE:g}), are one consensus feature. Bars show its median activation.")
    shown = [c for c in run.consensus if c.seeds >= 2][:16]
    if not shown:
        st.info("No feature appeared in two or more seeds.")
    else:
        titles = [f"{c.seeds}/{k} seeds" + (f": {c.reference}" if c.reference else "") + f" (#{i})"
                  for i, c in enumerate(shown)]
        show_chart(charts.consensus_bars(np.stack([c.activation for c in shown]), titles, run.tokens),
                   width="content")
    rare = len(run.consensus) - len(shown)
    if rare > 0:
        st.caption(f"{rare} more feature group(s) appeared in a single seed only or are not shown.")


one, side = st.tabs(["Seeds of one architecture", "Architectures side by side"])
with one:
    run_row("Train all seeds", lambda: seeds_trainer(values_of(table), config, seed_list, device=APP_DEVICE),
            partial(keep_stability, tokens=tokens_of(table), references=references))
    run = st.session_state.get(keys.STABILITY)
    if run is None:
        st.info("Press **Train all seeds** to see which features are stable.")
    else:
        seeds_compared(run)
with side:  # a tab of its own: one Stop button in view at a time
    architectures_section(table, references, seed_list)
