"""Superposition page: a ground-truth lab. Synthetic data with known features; did the SAE find them?"""

import streamlit as st

from app_ui import keys
from app_ui.runs import kept_result, keep_lab, run_row
from app_ui.session import APP_DEVICE, app_state
from sae_core.architectures import ARCHITECTURES
from sae_core.ground_truth import charts as lab_charts
from sae_core.ground_truth.lab import EVAL_SAMPLES, LAB_OPTIONS, matched_order
from sae_core.state import LAB_PREFIX

st.title("Superposition")
st.markdown(
    "With a real model nobody knows the true features. Here we **build** the activations from known "
    "feature directions, packed into fewer dimensions than features (superposition), train SAEs on "
    "fresh samples for a fixed time, and measure how close their decoder directions come to the truth. "
    "**MMCS**: for each true feature, the best cosine with any learned direction, averaged; **Hungarian**: "
    "the same after pairing true and learned features one-to-one. 1.0 = every true feature found."
)

GENERATORS = {"toy": "Toy Models of Superposition (n features in m dims)",
              "sparse": "Sparse combinations (Sharkey et al.: k of F directions per sample)",
              "hierarchical": "Hierarchy (SAELens: children fire only with their parent)"}


def lab_key(name: str) -> str:
    """The setting (and widget key) for LabSettings field ``name``: kept in the app's settings and the link."""
    return LAB_PREFIX + name


def lab_input(where, name: str, slider: bool = False):
    """One choice as its declaration says (``LAB_OPTIONS``: label, range, step, help); a checkbox for yes/no."""
    option = LAB_OPTIONS[name]
    if option.kind is bool:
        return where.checkbox(option.label, key=lab_key(name), help=option.help or None)
    kind = int if option.kind is int else float
    widget = where.slider if slider else where.number_input
    return widget(option.label, kind(option.low), kind(option.high), step=kind(option.step), key=lab_key(name),
                  help=option.help or None)


# ---- the data -------------------------------------------------------------------------------
generator = st.radio("Data", list(GENERATORS), format_func=GENERATORS.get, key=lab_key("generator"), horizontal=True)
c1, c2, c3, c4 = st.columns(4)
if generator == "toy":
    lab_input(c1, "toy_features")
    lab_input(c2, "toy_dims")
    lab_input(c3, "sparsity", slider=True)
    lab_input(c4, "importance_decay", slider=True)
elif generator == "hierarchical":
    lab_input(c1, "dims")
    lab_input(c2, "parents")
    lab_input(c3, "children")
    lab_input(c4, "independent")
    h1, h2, h3, h4 = st.columns(4)
    lab_input(h1, "parent_probability", slider=True)
    lab_input(h2, "child_probability", slider=True)
    lab_input(h3, "independent_probability", slider=True)
    lab_input(h4, "exclusive")
else:
    lab_input(c1, "dims")
    lab_input(c2, "features")
    lab_input(c3, "active")
    lab_input(c4, "frequency_decay", slider=True)
    g1, g2, _ = st.columns([1, 1, 2])
    lab_input(g1, "group_size")
    lab_input(g2, "group_correlation", slider=True)

# ---- the SAEs ---------------------------------------------------------------------------------
st.multiselect("Architectures", list(ARCHITECTURES), format_func=lambda k: ARCHITECTURES[k].label,
               key=lab_key("architectures"), help="Each is trained for the same time on the same stream of samples.")
a2, a3, a4, _ = st.columns([1, 1, 1, 1])
lab_input(a2, "width")
lab_input(a3, "seconds")
lab_input(a4, "seed")
settings = app_state().lab

run_row("Train", lambda: settings.lab(device=APP_DEVICE), keep_lab, notice=keys.LAB_NOTICE,
        keys_=(keys.LAB_TRAIN, keys.LAB_STOP))

# ---- what the SAEs recovered ----------------------------------------------------------------
result = kept_result(keys.LAB_RESULT, keys.LAB_NOTICE, "Choose the data and the architectures, then press **Train**.")

data = result.data
st.subheader("Recovery of the true features")
st.caption(f"{data.features} true features in {data.dims} dimensions; metrics on {EVAL_SAMPLES:,} "
           f"held-out samples. Chance: random directions, as many as the widest SAE has.")
COLUMNS = {"model": "Model", "mmcs": "MMCS", "hungarian": "Hungarian", "explained_variance": "Explained variance",
           "l0": "L0", "dead_fraction": "Dead fraction", "steps": "Steps", "seconds": "Seconds"}
FORMATS = {"MMCS": "{:.3f}", "Hungarian": "{:.3f}", "Explained variance": "{:.3f}", "L0": "{:.2f}",
           "Dead fraction": "{:.3f}", "Steps": "{:,.0f}", "Seconds": "{:.1f}"}
table = result.metric_table().rename(columns=COLUMNS)
st.table(table.style.format(FORMATS, na_rep="—").hide(axis="index"))
st.caption("Recovery over training time: solid lines MMCS, dashed lines Hungarian; dotted: chance MMCS.")
st.altair_chart(lab_charts.recovery_over_time_chart(result.curves(), result.chance.mmcs), width="stretch")

st.subheader("What became of each true feature")
st.caption("**Recovered**: a learned direction has cosine >= 0.9 with it. **Merged**: a learned direction "
           "with cosine >= 0.5 also points along another true feature. **Split**: two or more learned "
           "directions have cosine >= 0.5 with it, none 0.9. **Missed**: none of these.")
st.altair_chart(lab_charts.label_count_chart(result.label_counts()), width="stretch")

absorption = result.absorption_table()
if len(absorption):
    st.subheader("Feature absorption")
    st.markdown(
        "**Absorption**: when a child fires (always together with its parent), does the parent's own latent "
        "still fire, or has the child's latent taken over the parent's part? It is the share of samples with "
        "the parent and a child on where the parent's latent stays silent (0: it always fires; 1: never).")
    st.caption("The parent's latent: the learned feature whose decoder is closest (cosine) to the parent's true "
               "direction; it fires when its activation is above 0. **Missed alone**: the same share on samples "
               "with the parent and no child: what it misses anyway (weak samples, or only k latents may fire); "
               "absorption above it is what the children took. **Child lean**: the cosine of each child's own "
               "latent with the parent's direction, averaged: a child latent that absorbed its parent points "
               f"partly along it. Means over the parents, on {EVAL_SAMPLES:,} held-out samples.")
    st.table(absorption.rename(columns={"model": "Model", "absorption": "Absorption", "missed_alone": "Missed alone",
                                        "child_lean": "Child lean"})
             .style.format("{:.3f}", subset=["Absorption", "Missed alone", "Child lean"], na_rep="—")
             .hide(axis="index"))
    excess = absorption["absorption"] - absorption["missed_alone"]
    if excess.notna().any():
        worst = absorption.loc[excess.idxmax()]
        took = "the gap is what its children took" if excess.max() > 0 else "the children took nothing"
        st.markdown(f"Most absorbed: with **{worst['model']}**, the parent's latent stays silent on "
                    f"**{worst['absorption']:.0%}** of the samples where a child fires, against "
                    f"**{worst['missed_alone']:.0%}** where the parent fires alone: {took}.")

if data.dims == 2:
    st.subheader("True and learned directions")
    st.caption("The Toy Models picture: grey arrows are the true features (at the length the toy model gave "
               "them), dashed arrows the SAE's decoder directions (length 1).")
    st.altair_chart(lab_charts.direction_arrows_chart(data.embedding_FD.numpy(),
                                                  {run.label: run.decoder_HD for run in result.runs}),
                    width="content")

labels = [run.label for run in result.runs]
shown = st.selectbox("Cosine matrix of", labels, key=keys.LAB_MATRIX_MODEL)
run = result.runs[labels.index(shown)] if shown in labels else result.runs[0]
_, learned_order = matched_order(run.cosines_FH)
st.caption("Rows: true features; columns: learned features, each true feature's partner in the matching on "
           "the diagonal, then the unmatched learned features most like the shown ones.")
st.altair_chart(lab_charts.cosine_matrix_chart(run.cosines_FH, learned_order), width="content")
with st.expander("Every true feature: its label and best match"):
    st.dataframe(run.feature_table(), hide_index=True, width="stretch")
