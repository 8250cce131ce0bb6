"""Sweep page: many hidden sizes x values of the architecture's sparsity knob at once; pick an SAE on the
trade-off chart."""

from functools import partial

import streamlit as st

from app_ui import keys
from app_ui.runs import kept_result, keep_sweep, run_row
from app_ui.session import APP_DEVICE, current_table, set_setting, show_chart, store_result, training_config
from sae_core import charts, limits
from sae_core.architectures import ARCHITECTURES
from sae_core.sweep import grid_key, knob_of, sweep_trainer
from sae_core.table import tokens_of, values_of

st.title("Sweep")
st.markdown(
    "Sparsity and reconstruction pull against each other: more sparsity means fewer features "
    "per token but a worse reconstruction. This page trains a whole grid of SAEs **at once** "
    "and plots each one as a point. Good SAEs sit in the top-left corner (sparse and faithful). "
    "Click a point to open its features."
)

table = current_table()
base = training_config()
knob = knob_of(base.architecture)  # what this architecture's sweep varies beside the hidden size
c1, c2, c3 = st.columns(3)
hidden = c1.multiselect("Hidden sizes", [2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64], key="sweep_hidden")
knob_values = c2.multiselect(f"{knob.label} values", list(knob.sweep_choices), key=grid_key(knob), help=knob.help)
n_seeds = c3.number_input("Seeds per setting", 1, limits.MAX_SWEEP_SEEDS, key="sweep_seeds")
st.caption(f"Other settings from the Train page: {ARCHITECTURES[base.architecture].label}, lr {base.lr:g}, "
           f"{base.epochs:,} epochs. At most {limits.MAX_GRID} models per sweep.")

run_row("Run sweep", lambda: sweep_trainer(values_of(table), base, hidden, knob_values, list(range(int(n_seeds))),
                                           device=APP_DEVICE),
        partial(keep_sweep, tokens=tokens_of(table)), cannot="Cannot run the sweep")

result = kept_result(keys.SWEEP, keys.SWEEP_NOTICE, "Choose the grid and press **Run sweep**.")
if st.session_state[keys.SWEEP_TOKENS] != tokens_of(table):
    st.warning("The table has changed since this sweep; run it again to use the new table.")

st.caption(f"{len(result.table)} models trained together in {result.train_seconds:.2f} s.")


def pick_clicked_point() -> None:
    """A click on the chart picks that model (the choice the URL carries)."""
    picked = st.session_state[keys.SWEEP_CHART].selection.get(charts.SWEEP_SELECTION, [])
    if picked:
        set_setting("sweep_point", int(picked[0]["point"]))


show_chart(charts.tradeoff_chart(result.table, result.knob), width="stretch", on_select=pick_clicked_point,
           selection_mode=charts.SWEEP_SELECTION, key=keys.SWEEP_CHART)
labels = {int(r["point"]): f"#{int(r['point'])}: hidden {int(r['hidden_dim'])}, "
                           f"{result.knob.what} {r[result.knob.name]:g}, seed {int(r['seed'])} "
                           f"(L0 {r['l0']:.2f}, EV {r['explained_variance']:.1%})"
          for r in result.table.to_dict(orient="records")}
if st.session_state.get("sweep_point") not in labels:
    set_setting("sweep_point", 0)
point = st.selectbox("Model", list(labels), format_func=labels.get, key="sweep_point")
if st.button("Open its features", icon=":material/insights:"):
    store_result(result.results[point])
    st.switch_page("app_pages/features.py")
with st.expander("All models as a table"):
    st.dataframe(result.table, hide_index=True)
