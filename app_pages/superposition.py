"""Superposition page: a ground-truth lab. Synthetic data with known features; did the SAE find them?"""

import threading
from dataclasses import fields, replace

import streamlit as st

from sae_core import charts, limits
from sae_core.architectures import ARCHITECTURES
from sae_core.errors import SAEInputError
from sae_core.ground_truth import charts as lab_charts
from sae_core.ground_truth.lab import EVAL_SAMPLES, LabSettings, matched_order

st.title("Superposition")
st.markdown(
    "With a real model nobody knows the true features. Here we **build** the activations from known "
    "feature directions, packed into fewer dimensions than features (superposition), train SAEs on "
    "fresh samples for a fixed time, and measure how close their decoder directions come to the truth. "
    "**MMCS**: for each true feature, the best cosine with any learned direction, averaged; **Hungarian**: "
    "the same after pairing true and learned features one-to-one. 1.0 = every true feature found."
)

SETTINGS_KEY = "lab_settings"  # the app's own copy of the choices (widget keys vanish off-page)
GENERATORS = {"toy": "Toy Models of Superposition (n features in m dims)",
              "sparse": "Sparse combinations (Sharkey et al.: k of F directions per sample)"}


def settle_interrupted_lab() -> None:
    """Keep what a lab run stopped by Stop (or any click) had learned, as in the Train page."""
    in_flight = st.session_state.pop("lab_in_flight", None)
    if in_flight is None:
        return
    lab, stop_event, done = in_flight
    stop_event.set()
    done.wait(timeout=30)
    result = lab.result()
    if result.runs:
        st.session_state.lab_result = result
        st.session_state.lab_notice = "Stopped early: the metrics below are for what was learned up to the stop."


settle_interrupted_lab()


def remember(name: str) -> None:
    """A widget changed: copy its value into the app's own settings (before the page reruns)."""
    value = st.session_state[f"lab_{name}"]
    st.session_state[SETTINGS_KEY] = replace(st.session_state[SETTINGS_KEY],
                                             **{name: tuple(value) if isinstance(value, list) else value})


def kept(name: str) -> dict:
    """Widget arguments that keep its value in the app's settings: key and change callback."""
    return {"key": f"lab_{name}", "on_change": remember, "args": (name,)}


settings = st.session_state.setdefault(SETTINGS_KEY, LabSettings())
# Widget keys are dropped while the page is hidden (and a stale key may come back): every run
# seeds each widget from the app's copy, which ``remember`` keeps up to date.
for f in fields(LabSettings):
    value = getattr(settings, f.name)
    st.session_state[f"lab_{f.name}"] = list(value) if isinstance(value, tuple) else value

# ---- the data -------------------------------------------------------------------------------
generator = st.radio("Data", list(GENERATORS), format_func=GENERATORS.get, **kept("generator"), horizontal=True)
c1, c2, c3, c4 = st.columns(4)
if generator == "toy":
    c1.number_input("True features (n)", 2, limits.MAX_TOY_FEATURES, step=1, **kept("toy_features"))
    c2.number_input("Dimensions (m)", 2, limits.MAX_TOY_DIMS, step=1, **kept("toy_dims"),
                    help="2 dimensions show the classic picture: true and learned directions as arrows.")
    c3.slider("Sparsity (chance a feature is off)", 0.0, 0.99, step=0.01, **kept("sparsity"),
              help="Sparse features can share dimensions: the toy model packs more features than dimensions.")
    c4.slider("Importance decay", 0.1, 1.0, step=0.05, **kept("importance_decay"),
              help="Feature i matters decay^i to the toy model: unimportant features get squeezed out.")
else:
    c1.number_input("Dimensions (D)", 2, limits.MAX_DIMS, step=8, **kept("dims"))
    c2.number_input("True features (F)", 2, limits.MAX_SYNTH_FEATURES, step=16, **kept("features"))
    c3.number_input("Active per sample (k)", 0.1, float(limits.MAX_SYNTH_ACTIVE), step=1.0, **kept("active"),
                    help="Mean number of true features on in a sample, each with a magnitude from U[0, 1].")
    c4.slider("Frequency decay", 0.0, 2.0, step=0.1, **kept("frequency_decay"),
              help="0: every feature equally common; higher: feature i fires in proportion to (i + 1)^-decay.")
    g1, g2, _ = st.columns([1, 1, 2])
    g1.number_input("Correlated group size", 1, limits.MAX_SYNTH_FEATURES, step=1, **kept("group_size"),
                    help="Features 0..g-1, g..2g-1, ... form groups that tend to fire together (1: none).")
    g2.slider("Group correlation", 0.0, 0.99, step=0.05, **kept("group_correlation"))

# ---- the SAEs ---------------------------------------------------------------------------------
st.multiselect("Architectures", list(ARCHITECTURES), format_func=lambda k: ARCHITECTURES[k].label,
               **kept("architectures"), help="Each is trained for the same time on the same stream of samples.")
a2, a3, a4, _ = st.columns([1, 1, 1, 1])
a2.number_input("Width (learned per true feature)", 0.5, 16.0, step=0.5, **kept("width"))
a3.number_input("Seconds per architecture", 0.5, limits.MAX_SYNTH_SECONDS, step=1.0, **kept("seconds"))
a4.number_input("Random seed", 0, limits.MAX_SEED, step=1, **kept("seed"),
                help="Sets the true directions, the samples and the SAEs' initial weights.")
settings = st.session_state[SETTINGS_KEY]

b1, b2, _ = st.columns([1, 1, 6])
train_clicked = b1.button("Train", type="primary", icon=":material/play_arrow:", key="lab_train")
b2.button("Stop", icon=":material/stop:", key="lab_stop", help="Stop training and keep what was learned so far")

if train_clicked:
    st.session_state.pop("lab_notice", None)
    try:
        lab = settings.lab()
    except SAEInputError as error:
        st.error(f"Cannot train: {error}")
    else:
        stop_event, done = threading.Event(), threading.Event()
        st.session_state.lab_in_flight = (lab, stop_event, done)
        progress = st.progress(0.0, text="Starting…")
        order = {id(c): i for i, c in enumerate(lab.configs)}

        def show_point(config, point) -> None:
            i = order[id(config)]
            done_s = i * lab.seconds + point["seconds"]
            progress.progress(min(1.0, done_s / (lab.seconds * len(lab.configs))),
                              text=f"{ARCHITECTURES[config.architecture].label}: {point['seconds']:.1f} of "
                                   f"{lab.seconds:g} s, MMCS {point['mmcs']:.3f}")

        try:
            lab.run(on_point=show_point, stop=stop_event)
        finally:
            done.set()
        if stop_event.is_set():  # a newer run has taken this lab over
            st.stop()
        st.session_state.pop("lab_in_flight", None)
        st.session_state.lab_result = lab.result()
        progress.empty()

# ---- what the SAEs recovered ----------------------------------------------------------------
if st.session_state.get("lab_notice"):
    st.warning(st.session_state.lab_notice)
result = st.session_state.get("lab_result")
if result is None:
    st.info("Choose the data and the architectures, then press **Train**.")
    st.stop()

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

if data.dims == 2:
    st.subheader("True and learned directions")
    st.caption("The Toy Models picture: grey arrows are the true features (at the length the toy model gave "
               "them), dashed arrows the SAE's decoder directions (length 1).")
    st.altair_chart(lab_charts.direction_arrows_chart(data.embedding_FD.numpy(),
                                                  {run.label: run.decoder_HD for run in result.runs}),
                    width="content")

labels = [run.label for run in result.runs]
shown = st.selectbox("Cosine matrix of", labels, key="lab_matrix_model")
run = result.runs[labels.index(shown)] if shown in labels else result.runs[0]
_, learned_order = matched_order(run.cosines_FH)
st.caption("Rows: true features; columns: learned features, each true feature's partner in the matching on "
           "the diagonal, then the unmatched learned features most like the shown ones.")
st.altair_chart(lab_charts.cosine_matrix_chart(run.cosines_FH, learned_order), width="content")
with st.expander("Every true feature: its label and best match"):
    st.dataframe(run.feature_table(), hide_index=True, width="stretch")
